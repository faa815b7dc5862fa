"""Errors, split by who can recover (STYLE habit 7).

* :class:`Panic` — a user mistake Go reports with ``panic`` (send on a closed channel,
  negative WaitGroup counter, ...).  Raised in the goroutine that made it; if nothing
  catches it the program ends like a Go panic.
* :class:`Deadlock` — every goroutine is blocked and nothing can wake one.
* :class:`RuntimeFatal` — a broken runtime invariant (Go's ``throw``): please file a bug.
"""

from __future__ import annotations

__all__ = ["Panic", "PanicValueError", "Deadlock", "RuntimeFatal"]


class Panic(Exception):
    """A Go panic raised by the runtime, with Go's message (e.g. "send on closed channel")."""


class PanicValueError(Panic, ValueError):
    """A Go panic about a bad argument (``makechan: size out of range``, ``non-positive
    interval for NewTicker``): catchable as :class:`Panic` (Go) or ``ValueError``
    (Python's habit for bad values)."""


class Deadlock(Exception):
    """``fatal error: all goroutines are asleep - deadlock!``"""

    def __init__(self, msg: str = "all goroutines are asleep - deadlock!", dump: str = "") -> None:
        super().__init__(msg)
        self.dump = dump


class RuntimeFatal(Exception):
    """A broken runtime invariant (Go's ``throw``).  This is a pyruntime bug: please report it."""
