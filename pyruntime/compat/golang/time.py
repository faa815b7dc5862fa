"""pyruntime.compat.golang.time: pygolang's ``golang.time`` over ``pyruntime.time``.

Everything is ``pyruntime.time``'s (durations in float seconds, times on the
``time.time()`` clock, Go 1.23 timer channels; an ``after_func`` timer's ``c`` is
``nilchan``), except that making a timer — ``Timer``, ``Ticker``, ``after``,
``after_func``, ``tick`` — when no runtime is running starts the implicit one, as
``go()`` does: pygolang programs use timers without ever calling ``run()``.
``sleep`` outside any runtime is ``time.sleep`` and starts nothing.
"""

from __future__ import annotations

from typing import Any, Callable

from ... import time as _t
from ...time import hour, microsecond, millisecond, minute, nanosecond, now, second, since, sleep
from ._runtime import ensure_runtime

__all__ = ["sleep", "now", "since", "after", "after_func", "tick", "Timer", "Ticker",
           "nanosecond", "microsecond", "millisecond", "second", "minute", "hour"]


class Timer(_t.Timer):
    """``pyruntime.time.Timer``, starting the implicit runtime if none is running."""

    def __init__(self, dt: float, f: Callable[[], Any] | None = None, **kw: Any) -> None:
        ensure_runtime()
        super().__init__(dt, f, **kw)


class Ticker(_t.Ticker):
    """``pyruntime.time.Ticker``, starting the implicit runtime if none is running."""

    def __init__(self, dt: float) -> None:
        ensure_runtime()
        super().__init__(dt)


def after(dt: float) -> Any:
    """A channel that receives the current time after ``dt`` seconds."""
    return Timer(dt).c


def after_func(dt: float, f: Callable[[], Any]) -> Timer:
    """Run ``f()`` in its own goroutine after ``dt`` seconds; the timer's ``c`` is ``nilchan``."""
    return Timer(dt, f)


def tick(dt: float) -> Any:
    """``Ticker(dt).c``; a non-positive ``dt`` gives the nil channel, as in Go."""
    dt = _t._dur(dt, "tick")
    if dt <= 0:
        return _t.nilchan
    return Ticker(dt).c
