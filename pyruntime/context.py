"""pyruntime.context: Go's ``context`` package.

``background()`` is never canceled (its ``done()`` is the nil channel).  Derived
contexts cancel their children when they are canceled; ``with_timeout`` and
``with_deadline`` arm a runtime timer.  Deadlines are absolute times on the
``pyruntime.time.now()`` clock (seconds since the epoch).  Timeouts and deadlines follow
``pyruntime.time``'s duration rules: NaN is a ``ValueError``; a timeout <= 0 (``-inf``
included) or a deadline already past gives a context that is done at once with
:data:`deadline_exceeded`; ``math.inf`` (or a timeout past Go's ~292-year maximum) means
no deadline in practice: ``deadline()`` reports it, and no timer is armed.  ``err()`` returns ``None``,
:data:`canceled` or :data:`deadline_exceeded` (exception instances, compare with ``is``).
"""

from __future__ import annotations

import threading
import time as _time
from typing import Any, Callable

from ._core import proc
from ._core.chan import chan, nilchan

_MAX_DURATION = (2**63 - 1) * 1e-9  # Go's largest Duration, in seconds (pyruntime.time.MAX_DURATION)

__all__ = ["Context", "background", "todo", "with_cancel", "with_timeout", "with_deadline", "with_value",
           "canceled", "deadline_exceeded", "Canceled", "DeadlineExceeded"]


class Canceled(Exception):
    """The error of a canceled context."""


class DeadlineExceeded(TimeoutError):
    """The error of a context whose deadline passed."""


canceled = Canceled("context canceled")
deadline_exceeded = DeadlineExceeded("context deadline exceeded")


class Context:
    """A context: ``done()``, ``err()``, ``value(key)``, ``deadline()``."""

    def done(self) -> Any:
        """A channel closed when this context is canceled (``nilchan`` if it never is)."""
        return nilchan

    def err(self) -> BaseException | None:
        """``None`` until canceled, then :data:`canceled` or :data:`deadline_exceeded`."""
        return None

    def value(self, key: Any) -> Any:
        """The value of the nearest ancestor ``with_value(..., key, v)``, else ``None``."""
        return None

    def deadline(self) -> float | None:
        """The nearest deadline (``time.now()`` clock, epoch seconds), or ``None``."""
        return None

    def _add_child(self, child: "_CancelCtx") -> None:
        pass

    def _remove_child(self, child: "_CancelCtx") -> None:
        pass


class _Background(Context):
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


_background = _Background("context.Background")
_todo = _Background("context.TODO")


def background() -> Context:
    """The root context: never canceled, no values, no deadline."""
    return _background


def todo() -> Context:
    """A root context like :func:`background`, for code that has no context yet (Go's ``TODO``)."""
    return _todo


def _check_parent(parent: Any, fn: str) -> None:
    if not isinstance(parent, Context):
        raise TypeError(f"context.{fn}: parent must be a Context (e.g. context.background()), got {parent!r}")


class _CancelCtx(Context):
    def __init__(self, parent: Context) -> None:
        self._parent = parent
        self._lk = threading.Lock()
        self._done = chan()
        self._err: BaseException | None = None
        self._children: set[_CancelCtx] = set()
        perr = parent.err()
        if perr is not None:
            self._cancel(perr, remove=False)
        else:
            parent._add_child(self)

    def done(self) -> Any:
        return self._done

    def err(self) -> BaseException | None:
        return self._err

    def value(self, key: Any) -> Any:
        return self._parent.value(key)

    def deadline(self) -> float | None:
        return self._parent.deadline()

    def _add_child(self, child: "_CancelCtx") -> None:
        with self._lk:
            if self._err is None:
                self._children.add(child)
                return
            err = self._err
        child._cancel(err, remove=False)

    def _remove_child(self, child: "_CancelCtx") -> None:
        with self._lk:
            self._children.discard(child)

    def _cancel(self, err: BaseException, remove: bool = True) -> None:
        with self._lk:
            if self._err is not None:
                return
            self._err = err
            children, self._children = self._children, set()
        self._done.close()
        for c in children:
            c._cancel(err, remove=False)
        if remove:
            self._parent._remove_child(self)

    def __repr__(self) -> str:
        return f"{self._parent!r}.WithCancel"


class _TimerCtx(_CancelCtx):
    def __init__(self, parent: Context, d: float) -> None:
        self._deadline = d
        self._timer: Any = None
        super().__init__(parent)
        if self._err is None:
            left = d - _time.time()
            if left <= 0:
                self._cancel(deadline_exceeded)
            elif left < _MAX_DURATION:  # beyond: never fires (saturated, as in Go)
                self._timer = proc.Timer(lambda _a, _w, _s: self._cancel(deadline_exceeded))
                self._timer.start(_time.monotonic() + left)

    def deadline(self) -> float | None:
        return self._deadline

    def _cancel(self, err: BaseException, remove: bool = True) -> None:
        super()._cancel(err, remove)
        t = getattr(self, "_timer", None)
        if t is not None:
            t.stop()

    def __repr__(self) -> str:
        return f"{self._parent!r}.WithDeadline({self._deadline})"


class _ValueCtx(Context):
    def __init__(self, parent: Context, key: Any, val: Any) -> None:
        self._parent = parent
        self._key = key
        self._val = val

    def done(self) -> Any:
        return self._parent.done()

    def err(self) -> BaseException | None:
        return self._parent.err()

    def value(self, key: Any) -> Any:
        if key == self._key:
            return self._val
        return self._parent.value(key)

    def deadline(self) -> float | None:
        return self._parent.deadline()

    def _add_child(self, child: "_CancelCtx") -> None:
        self._parent._add_child(child)

    def _remove_child(self, child: "_CancelCtx") -> None:
        self._parent._remove_child(child)


def with_cancel(parent: Context) -> tuple[Context, Callable[[], None]]:
    """A child of ``parent`` and a function that cancels it (and its children)."""
    _check_parent(parent, "with_cancel")
    c = _CancelCtx(parent)
    return c, lambda: c._cancel(canceled)


def with_deadline(parent: Context, d: float) -> tuple[Context, Callable[[], None]]:
    """A child canceled at time ``d`` (``time.now()`` clock) or by the returned cancel."""
    _check_parent(parent, "with_deadline")
    if isinstance(d, bool) or not isinstance(d, (int, float)):
        raise TypeError(f"context.with_deadline: deadline must be a time in seconds since the epoch, got {d!r}")
    if d != d:
        raise ValueError("context.with_deadline: deadline is NaN")
    pd = parent.deadline()
    if pd is not None and pd <= d:
        return with_cancel(parent)
    c = _TimerCtx(parent, float(d))
    return c, lambda: c._cancel(canceled)


def with_timeout(parent: Context, dt: float) -> tuple[Context, Callable[[], None]]:
    """``with_deadline(parent, now() + dt)``."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise TypeError(f"context.with_timeout: timeout must be seconds, got {dt!r}")
    if dt != dt:
        raise ValueError("context.with_timeout: timeout is NaN")
    return with_deadline(parent, _time.time() + dt)


def with_value(parent: Context, key: Any, val: Any) -> Context:
    """A child carrying ``key`` → ``val``."""
    _check_parent(parent, "with_value")
    if key is None:
        raise TypeError("context.with_value: nil key")
    return _ValueCtx(parent, key, val)
