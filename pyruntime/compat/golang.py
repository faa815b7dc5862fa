"""pyruntime.compat.golang: the ``golang`` module's shape over pyruntime.

Programs written for pygolang's ``from golang import go, chan, select, default,
nilchan`` (and ``from golang import time, sync, context``) run unchanged with
``from pyruntime.compat.golang import ...``.  Written from pygolang's documented API;
no pygolang code is used.

Extras that pygolang programs commonly use: ``func`` (a decorator that gives the
function a ``defer`` stack), ``defer(f)``, ``panic(arg)`` and ``recover()`` inside a
deferred call.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from ..import context, sync, time
from .._core.chan import chan, default, nilchan, select
from .._core.errors import Panic
from .. import go as _go

__all__ = ["go", "chan", "select", "default", "nilchan", "time", "sync", "context", "func", "defer",
           "panic", "recover", "Panic"]

go = _go
_tls = threading.local()


def _frames() -> list:
    try:
        return _tls.frames  # type: ignore[no-any-return]
    except AttributeError:
        _tls.frames = []
        return _tls.frames  # type: ignore[no-any-return]


def func(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``f`` so that ``defer(...)`` inside it runs deferred calls, LIFO, on return."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frames = _frames()
        frame: list[Callable[[], Any]] = []
        frames.append([frame, None])
        try:
            try:
                return f(*args, **kwargs)
            except BaseException as e:
                frames[-1][1] = e
            finally:
                exc = frames[-1][1]
                while frame:
                    d = frame.pop()
                    try:
                        d()
                    except BaseException as e2:
                        frames[-1][1] = e2
                exc = frames[-1][1]
            if exc is not None:
                raise exc
            return None
        finally:
            frames.pop()

    return wrapper


def defer(f: Callable[[], Any]) -> None:
    """Run ``f()`` when the enclosing ``@func`` function returns (or panics)."""
    frames = _frames()
    if not frames:
        raise RuntimeError("defer: called outside a @func function")
    frames[-1][0].append(f)


def panic(arg: Any) -> None:
    """Raise a Go panic carrying ``arg``."""
    raise Panic(arg)


def recover() -> Any:
    """Inside a deferred call: stop the panic in flight and return its value (else None)."""
    frames = _frames()
    if not frames:
        return None
    e = frames[-1][1]
    frames[-1][1] = None
    if isinstance(e, Panic) and e.args:
        return e.args[0]
    return e
