"""pyruntime.testing: synchronise tests on runtime state, never on sleeps.

* ``wait_blocked(op, count=1, timeout=10.0)`` — return once at least ``count``
  goroutines (or outside threads) are blocked in ``op`` (``ch.recv``/``ch.recv_`` count
  receivers of ``ch`` including select cases, ``ch.send`` counts senders).
* ``leaked()`` / ``check_leaks(timeout)`` — goroutines other than main that are still
  alive.
"""

from __future__ import annotations

import time as _time
from typing import Any

from ._core import proc
from ._core.chan import chan
from ._core.debug_impl import GoroutineInfo, dump, goroutines

__all__ = ["wait_blocked", "blocked_count", "leaked", "check_leaks"]


def blocked_count(op: Any) -> int:
    """How many goroutines/threads are blocked in ``op`` right now."""
    ch = getattr(op, "__self__", None)
    name = getattr(op, "__name__", "")
    if not isinstance(ch, chan) or name not in ("recv", "recv_", "send"):
        raise TypeError(f"wait_blocked: op must be ch.recv, ch.recv_ or ch.send of a pyruntime chan, got {op!r}")
    return ch._count_waiters(send=(name == "send"))


def _pause(dt: float) -> None:
    if proc.getg() is not None:
        from . import time as rtime

        rtime.sleep(dt)
    else:
        _time.sleep(dt)


def wait_blocked(op: Any, count: int = 1, timeout: float = 10.0) -> None:
    """Return once at least ``count`` parties are blocked in ``op``; ``TimeoutError`` after ``timeout`` s."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"wait_blocked: count must be a non-negative int, got {count!r}")
    deadline = _time.monotonic() + timeout
    dt = 0.0002
    while blocked_count(op) < count:
        if _time.monotonic() >= deadline:
            raise TimeoutError(f"wait_blocked: fewer than {count} blocked in {op!r} after {timeout}s "
                               f"(now {blocked_count(op)})")
        _pause(dt)
        dt = min(dt * 2, 0.005)


def leaked() -> list[GoroutineInfo]:
    """Goroutines other than main that are alive now."""
    mg = proc.sched.main_g
    return [i for i in goroutines() if mg is None or i.goid != mg.goid]


def check_leaks(timeout: float = 5.0) -> None:
    """Wait up to ``timeout`` s for every goroutine but main to end; else AssertionError with a dump."""
    deadline = _time.monotonic() + timeout
    while leaked():
        if _time.monotonic() >= deadline:
            raise AssertionError("leaked goroutines:\n" + dump())
        _pause(0.001)
