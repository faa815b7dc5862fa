"""pyruntime.debug: goroutine introspection (``goroutines()``, ``dump()``) and
``stw(reason)`` (stop-the-world)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ._core.debug_impl import GoroutineInfo, dump, goroutines
from ._core.futex import RuntimeLock

__all__ = ["GoroutineInfo", "goroutines", "dump", "stw", "threads", "RuntimeLock", "sched_lock_statistics"]


def sched_lock_statistics():  # type: ignore[no-untyped-def]
    """Counters of the scheduler's runtime lock (``sched.lock``): acquisitions,
    contention, spins, yields, futex sleeps and wake latency."""
    from ._core.proc import sched

    return sched.lock.statistics()


@contextlib.contextmanager
def stw(reason: str) -> Iterator[None]:
    """Stop the world while inside: no other goroutine runs on any P.

    Every other P stops at its next safe point (a running goroutine is preempted, as
    Go's ``stopTheWorld`` does with ``preemptall``); the pause is traced as
    ``STWBegin``/``STWEnd`` and measured in ``/sched/pauses/*/other:seconds``.  Call it
    from a goroutine; the body must not block (RuntimeError if it tries).  Nested use
    raises RuntimeError."""
    from ._core import proc

    proc.stop_the_world(reason)
    try:
        yield
    finally:
        proc.start_the_world()


def threads() -> list[dict]:
    """Per-M facts: id, OS thread id, P, CPU time (the thread's CPU clock), voluntary
    and involuntary context switches (psutil, per thread), CPU affinity, blocked flag."""
    import time as _time

    from ._core import proc

    out = []
    for m in list(proc.sched.allm):
        cpu = None
        if m.cpu_clock is not None:
            try:
                cpu = _time.clock_gettime_ns(m.cpu_clock) / 1e9
            except OSError:
                cpu = None
        vol = invol = None
        aff = None
        try:
            import psutil

            pt = psutil.Process(m.tid)
            cs = pt.num_ctx_switches()
            vol, invol = cs.voluntary, cs.involuntary
            aff = sorted(pt.cpu_affinity())
        except Exception:
            pass
        out.append({"m": m.id, "tid": m.tid, "p": m.p.id, "cpu_seconds": cpu, "ctx_switches_voluntary": vol,
                    "ctx_switches_involuntary": invol, "affinity": aff, "blocked": m.blocked,
                    "curg": m.curg.goid if m.curg is not None else None})
    return out
