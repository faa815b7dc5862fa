"""pyruntime.time: Go's ``time`` package over the runtime's per-P timers.

``sleep(dt)`` parks the goroutine on a timer of its P (the P's M sleeps exactly until
its next timer when idle); from a plain thread it is ``time.sleep``.  Durations are
float seconds; the constants ``nanosecond`` … ``hour`` make Go-style code read the same
(``sleep(10 * millisecond)``).  Times (``now()``, the values timer channels deliver)
are seconds since the epoch, like ``time.time()``.

Timer channels follow Go 1.23+: ``len(t.c)`` and ``t.c.cap()`` are 0, and no stale
value can be received after ``stop()`` or ``reset()`` returns (both drain the channel
under its lock, and a firing that raced with them is dropped by its sequence number).
A ``Ticker`` whose reader falls behind drops ticks.

Durations (Go's rules; Go's ``Duration`` is an int64 count of nanoseconds):

* A duration is an ``int`` or ``float`` of seconds; anything else is a ``TypeError``,
  and NaN, which is no duration at all, a ``ValueError`` (``sleep``, ``after``,
  ``after_func``, ``Timer``, ``reset``, ``Ticker``, ``tick``, and ``context``'s
  timeouts and deadlines, and ``net``'s).
* Zero and negative durations, ``-inf`` included, are "now": ``sleep`` returns at once,
  a ``Timer`` fires at once (Go).
* A duration past Go's largest (``2**63 - 1`` ns, about 292 years), ``+inf`` included,
  saturates (Go's ``when()`` saturates an overflowing expiry the same way): the timer is
  armed but never fires, and ``sleep(math.inf)`` parks until the goroutine is
  interrupted (Ctrl-C).  The armed timer counts as pending work, so it is not a
  deadlock, as in Go.  This makes ``math.inf`` usable as "no timeout".
* A period is a duration too, so below 1 ns it is 0: ``Ticker`` panics with Go's
  "non-positive interval for NewTicker" (``Ticker.reset``: "... for Ticker.Reset"; a
  ``PanicValueError``) and ``tick`` returns the nil channel.  A valid period shorter than ``MIN_PERIOD`` (1 µs) ticks
  every microsecond at most: each firing costs microseconds here, and the runtime fires
  a periodic timer at most once per timer check, re-armed after now, so even a 1 ns
  ticker cannot keep its P in the timer loop (it used to: ``Ticker(1e-81)`` never
  advanced its expiry and livelocked the runtime while its firings piled up in memory).
  The tick channel has capacity 1 and a full channel drops the tick, so a slow reader
  costs no memory.
"""

from __future__ import annotations

import time as _time
from typing import Any, Callable

from ._core import proc
from ._core.chan import chan, nilchan
from ._core.errors import PanicValueError

__all__ = [
    "sleep", "now", "since", "after", "after_func", "tick", "Timer", "Ticker",
    "nanosecond", "microsecond", "millisecond", "second", "minute", "hour",
]

nanosecond = 1e-9
microsecond = 1e-6
millisecond = 1e-3
second = 1.0
minute = 60.0
hour = 3600.0

_monotonic = _time.monotonic

MIN_PERIOD = proc.MIN_PERIOD      # a Ticker's shortest effective period (1 µs)
MAX_DURATION = (2**63 - 1) * 1e-9  # Go's largest Duration, in seconds (~292 years)


def _dur(dt: Any, what: str) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise TypeError(f"{what}: duration must be a number of seconds, got {type(dt).__name__} {dt!r}")
    if dt != dt:
        raise ValueError(f"{what}: duration is NaN")
    return float(dt)


def _goready(g: Any, when: float, seq: int) -> None:
    proc.ready(g)


def sleep(dt: float) -> None:
    """Pause the current goroutine for at least ``dt`` seconds (``dt <= 0`` returns at once)."""
    dt = _dur(dt, "sleep")
    g = proc.getg()
    if g is None:
        if dt > 0:
            end = _monotonic() + dt
            while True:  # in steps: time.sleep() refuses ~292 years and inf
                left = end - _monotonic()
                if left <= 0:
                    break
                _time.sleep(min(left, 86400.0))
        return
    if dt <= 0:
        return
    t = g.timer
    if t is None:
        t = g.timer = proc.Timer(_goready, g)
    t.start(_monotonic() + dt)
    try:
        proc.park("sleep")
    except BaseException:
        t.stop()  # interrupted (Ctrl-C caught, say): the timer must not wake us later
        raise


def now() -> float:
    """The current time, in seconds since the epoch (``time.time()``)."""
    return _time.time()


def since(t: float) -> float:
    """Seconds elapsed since ``t`` (a value of ``now()``)."""
    return _time.time() - t


def _chan_fire(tm: "Timer", when: float, gen: int) -> None:
    """Deliver a tick to ``tm.c`` unless a stop/reset since this arming drained it."""
    from ._core.chan import _dequeue, _wake

    c = tm.c
    value = _time.time() - max(0.0, _monotonic() - when)  # back-dated: lateness is not observable
    lk = c._lock
    lk.acquire()
    if gen != tm._gen:
        lk.release()
        return
    sg = _dequeue(c._recvq)
    if sg is not None:
        lk.release()
        sg.val = value
        sg.ok = True
        _wake(sg)
        return
    if not c._buf:
        c._buf.append(value)
    lk.release()  # a full buffer drops the tick (a slow Ticker reader)


class Timer:
    """A single event: after ``dt`` seconds the current time is delivered on ``c``
    (or ``f`` runs in its own goroutine, for ``after_func``)."""

    def __init__(self, dt: float, f: Callable[[], Any] | None = None, *, _period: float = 0.0) -> None:
        dt = _dur(dt, "Timer")
        if f is not None and not callable(f):
            raise TypeError(f"after_func: {f!r} is not callable")
        self._f = f
        self._gen = 0  # bumped (under c's lock) by every stop/reset
        # An after_func timer delivers nothing: its ``c`` is the nil channel (Go's nil C),
        # so ``select``/``recv`` on it block instead of failing on None.
        self.c: Any = nilchan
        if f is None:
            self.c = chan(1)
            self.c._timer = self
        self._rt = proc.Timer(self._fire, 0)
        self._period = _period
        self._rt.start(_monotonic() + max(dt, 0.0), _period)

    def _fire(self, gen: int, when: float, seq: int) -> None:
        if self._f is not None:
            proc.newproc(self._f, (), {})
        else:
            _chan_fire(self, when, gen)

    def _drain(self) -> bool:
        """Invalidate in-flight firings and drop an undelivered value; True if one was dropped."""
        if self._f is not None:  # an after_func timer: c is nilchan, nothing to drain
            return False
        c = self.c
        with c._lock:
            self._gen += 1
            self._rt.arg = self._gen
            had = bool(c._buf)
            c._buf.clear()
        return had

    def stop(self) -> bool:
        """Stop the timer.  True if it had not yet delivered: still pending, or fired
        with its value not received (Go 1.23: such a timer still counts as running).
        No stale value can be received afterwards."""
        was = self._rt.stop()
        return self._drain() or was

    def reset(self, dt: float) -> bool:
        """Re-arm for ``dt`` seconds from now; True as for ``stop``."""
        dt = _dur(dt, "reset")
        was = self._rt.stop()
        had = self._drain()
        self._rt.start(_monotonic() + max(dt, 0.0), self._period)
        return had or was

    # hooks used by channel operations (Go's maybeRunChan / blockTimerChan)
    def _maybe_run(self) -> None:
        """Fire an expired one-shot timer on the spot, so a busy P cannot delay it."""
        rt = self._rt
        if not self._period and rt.p is not None and rt.when <= _monotonic():
            when = rt.when
            if rt.stop():
                _chan_fire(self, when, self._gen)

    def _blocked(self, delta: int) -> None:
        pass


def _period(dt: Any, what: str, panic: str) -> float:
    """A Ticker's period (module docstring): below 1 ns it is Go's 0 and panics."""
    dt = _dur(dt, what)
    if not dt >= nanosecond:
        raise PanicValueError(f"{panic} (got {dt!r} s: a period must be at least 1 ns)")
    return min(max(dt, MIN_PERIOD), MAX_DURATION)


class Ticker(Timer):
    """Delivers the time on ``c`` every ``dt`` seconds; drops ticks for a slow reader.
    ``dt`` below 1 ns panics; the effective period is at least ``MIN_PERIOD``."""

    def __init__(self, dt: float) -> None:
        p = _period(dt, "Ticker", "non-positive interval for NewTicker")
        super().__init__(p, _period=p)

    def reset(self, dt: float) -> bool:
        p = _period(dt, "reset", "non-positive interval for Ticker.Reset")
        self._period = p
        return super().reset(p)


def after(dt: float) -> chan:
    """A channel that receives the current time after ``dt`` seconds."""
    return Timer(dt).c


def after_func(dt: float, f: Callable[[], Any]) -> Timer:
    """Run ``f()`` in its own goroutine after ``dt`` seconds; ``stop()`` cancels it.
    The timer's ``c`` is ``nilchan`` (Go's ``AfterFunc`` timer has a nil ``C``)."""
    return Timer(dt, f)


def tick(dt: float) -> Any:
    """``Ticker(dt).c``; a non-positive ``dt`` (below 1 ns) gives the nil channel, as in Go."""
    dt = _dur(dt, "tick")
    if not dt >= nanosecond:
        return nilchan
    return Ticker(dt).c
