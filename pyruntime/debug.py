"""pyruntime.debug: goroutine introspection (``goroutines()``, ``dump()``) and
``stw(reason)`` (stop-the-world)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ._core.debug_impl import GoroutineInfo, dump, goroutines
from ._core.futex import RuntimeLock

__all__ = ["GoroutineInfo", "goroutines", "dump", "stw", "RuntimeLock", "sched_lock_statistics"]


def sched_lock_statistics():  # type: ignore[no-untyped-def]
    """Counters of the scheduler's runtime lock (``sched.lock``): acquisitions,
    contention, spins, yields, futex sleeps and wake latency."""
    from ._core.proc import sched

    return sched.lock.statistics()


@contextlib.contextmanager
def stw(reason: str) -> Iterator[None]:
    """Stop the world while inside (no other goroutine runs on any P).

    Stop-the-world needs sysmon's preemption to stop running Gs; it lands with the
    sysmon issue.  Until then this raises NotImplementedError instead of pretending."""
    raise NotImplementedError("debug.stw: stop-the-world arrives with sysmon/preemption (issue 3)")
    yield  # pragma: no cover
