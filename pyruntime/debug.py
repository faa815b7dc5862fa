"""pyruntime.debug: goroutine introspection (``goroutines()``, ``dump()``),
``stw(reason)`` (stop-the-world) and ``nopreempt()`` (a section sysmon does not preempt)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ._core.debug_impl import GoroutineInfo, dump, goroutines
from ._core.futex import RuntimeLock

__all__ = ["GoroutineInfo", "goroutines", "dump", "stw", "nopreempt", "threads", "RuntimeLock",
           "sched_lock_statistics"]


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


class nopreempt:
    """``with debug.nopreempt(): ...``: the calling goroutine is not preempted inside.

    Go's ``m.locks > 0``.  A goroutine can be preempted (switched out for another one on
    the same M) at any bytecode of user code, also while it holds a plain
    ``threading.Lock``: if another goroutine of that M then calls ``acquire`` on the same
    lock, the M's thread blocks in the kernel, and the holder, bound to that thread for
    life, can never run to release it: the M is wedged for good.  Use
    :class:`pyruntime.sync.Mutex` between goroutines (it parks the goroutine, not the
    thread); where a ``threading.Lock`` must be shared with plain threads or C code,
    hold it inside this section::

        with debug.nopreempt(), lock:
            ...  # short, and never blocking on the runtime (no channel op, no sleep)

    Inside, a preemption request from sysmon (or a stop-the-world) is deferred: it stays
    pending and is honoured when the outermost section ends (the goroutine then yields
    to the tail of its P's queue).  Sections nest.  Blocking inside (a channel operation,
    ``time.sleep``, ``Mutex.lock``) still parks the goroutine and lets others run on the
    M, so it does not protect a ``threading.Lock`` held across it: never block while
    holding one.  A long section delays every other goroutine of its P and a
    stop-the-world, exactly as a long C call does.  Outside a goroutine it does nothing.
    """

    __slots__ = ("_g",)

    def __enter__(self) -> "nopreempt":
        from ._core import proc

        g = self._g = proc.getg()
        if g is not None:
            g.nopreempt += 1
        return self

    def __exit__(self, *exc: object) -> None:
        g = self._g
        if g is None:
            return
        g.nopreempt -= 1
        if g.nopreempt == 0 and g.preempt:
            from ._core import proc

            # The deferred request: yield now, as the hook would have (a safe point: the
            # caller is user code and no runtime lock is held here).
            if g._status == proc.Grunning and g is not proc.sched.stw_g and g.m is not None and g.m.curg is g:
                proc._clear_preempt(g, g.m)
                proc.gopreempt(g)


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
