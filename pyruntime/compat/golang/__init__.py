"""pyruntime.compat.golang: the ``golang`` module's shape over pyruntime.

Programs written for pygolang's ``from golang import go, chan, select, default,
nilchan`` (and ``from golang import time, sync, context``) run unchanged with
``from pyruntime.compat.golang import ...``.  Written from pygolang's documented API;
no pygolang code is used.

Extras that pygolang programs commonly use:

* ``func`` — a decorator that gives the function a ``defer`` stack; ``@func(Cls)``
  defines the decorated function as method ``Cls.<name>`` (with defer support; a
  ``staticmethod``/``classmethod`` under it stays one).  Like pygolang, ``@func(Cls)``
  leaves a name that was already bound in the defining scope alone (so a method called
  ``close`` does not clobber a module-level ``close``); otherwise the name is bound to
  the new method's function.
* ``defer(f)`` — run ``f()`` when the enclosing ``@func`` function returns or raises,
  last-in first-out.  A deferred call that raises replaces the exception in flight
  (the earlier one is kept as its ``__context__``) and the remaining deferred calls
  still run.
* ``panic(arg)`` raises ``Panic(arg)``; ``recover()`` inside a deferred call stops the
  exception in flight and returns it (the ``panic`` argument for a ``Panic``, the
  exception object otherwise), or ``None`` when nothing is in flight.  ``recover`` also
  works in the body of a ``@func`` function that is itself deferred.  It never stops
  the runtime's own unwinding of a goroutine (``GreenletExit`` at program end).
* ``chan(size=0, dtype=object)`` — pygolang's ``dtype`` keyword is accepted; only
  Python-object channels exist here, so pygolang's C-typed dtypes (``'C.int'`` ...)
  raise ``NotImplementedError`` and anything else ``TypeError``.  ``chan.nil(dtype)`` is
  ``nilchan``, and ``isinstance(x, chan)`` holds for every pyruntime channel.

The defer/recover state belongs to the *goroutine*: it lives on the running greenlet
(every goroutine has its own; a plain OS thread has its root greenlet), never in a
thread-local, because many goroutines share one M's thread.  Each ``@func`` call removes
its own frame when it returns, and an emptied stack is dropped from the greenlet, so a
pooled greenlet that later runs another goroutine starts with no frames.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from ..import context, sync, time
from .._core import proc as _proc
from .._core.chan import chan as _chan, default, nilchan, select
from .._core.chan import _NilChan
from .._core.errors import Panic
from .. import go as _go

__all__ = ["go", "chan", "select", "default", "nilchan", "time", "sync", "context", "func", "defer",
           "panic", "recover", "Panic"]

go = _go

_getcurrent = _proc.getcurrent
_GreenletExit = _proc.GreenletExit
_ATTR = "_rt_golang_frames"  # the running greenlet's @func frame stack (a list), while non-empty


# --------------------------------------------------------------------------- channels

# pygolang's C-typed channel element types: valid there, not implemented here.
_C_DTYPES = frozenset({"C.structZ", "C.bool", "C.int", "C.double", "C.int8_t", "C.int16_t", "C.int32_t",
                       "C.int64_t", "C.uint8_t", "C.uint16_t", "C.uint32_t", "C.uint64_t", "C.float"})


def _check_dtype(dtype: Any) -> None:
    if dtype is object or dtype == "object":
        return
    if isinstance(dtype, str) and (dtype in _C_DTYPES or dtype.startswith("C.")):
        raise NotImplementedError(f"chan: dtype {dtype!r} is not supported: pyruntime channels carry Python "
                                  f"objects only (use dtype=object)")
    raise TypeError(f"chan: invalid dtype {dtype!r}: pyruntime channels carry Python objects only "
                    f"(dtype=object or 'object')")


class _ChanMeta(type):
    # ``isinstance(ch, chan)`` is true for every pyruntime channel (time.after's, nilchan, ...),
    # not only for the ones created through this module.
    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, (_chan, _NilChan))

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, (_chan, _NilChan))


class chan(_chan, metaclass=_ChanMeta):
    """pygolang's ``chan(size=0, dtype=object)``: a pyruntime channel (see ``pyruntime.chan``)."""

    __slots__ = ()

    def __init__(self, size: int = 0, dtype: Any = object) -> None:
        _check_dtype(dtype)
        super().__init__(size)

    @staticmethod
    def nil(dtype: Any = object) -> Any:
        """The nil channel of ``dtype`` (always :data:`nilchan` here)."""
        _check_dtype(dtype)
        return nilchan


# --------------------------------------------------------------------------- func / defer / recover

class _Frame:
    """One running ``@func`` call: its deferred calls and the exception in flight."""

    __slots__ = ("defers", "exc", "deferring", "outer")

    def __init__(self, outer: "_Frame | None") -> None:
        self.defers: list[Callable[[], Any]] = []
        self.exc: BaseException | None = None
        self.deferring = False  # running its deferred calls (recover() may act on .exc)
        # The frame whose deferred calls were running when this @func was entered: a
        # @func-decorated deferred function recovers that frame's panic.
        self.outer = outer


def _frames() -> "list[_Frame] | None":
    return getattr(_getcurrent(), _ATTR, None)


def _chain(new: BaseException, old: BaseException) -> None:
    """Keep ``old`` (the exception a deferred call's exception replaces) as ``new.__context__``."""
    if new is old or new.__context__ is not None:
        return
    e: BaseException | None = old
    while e is not None:  # never make a cycle
        if e is new:
            return
        e = e.__context__
    new.__context__ = old


def _wrap(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        glet = _getcurrent()
        stack = getattr(glet, _ATTR, None)
        if stack is None:
            stack = []
            setattr(glet, _ATTR, stack)
        outer = stack[-1] if stack and stack[-1].deferring else None
        frame = _Frame(outer)
        stack.append(frame)
        try:
            ret = None
            try:
                ret = f(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - deferred calls see it; re-raised below
                frame.exc = e
            frame.deferring = True
            defers = frame.defers
            while defers:
                d = defers.pop()
                try:
                    d()
                except BaseException as e2:  # noqa: BLE001 - the new panic replaces the old one
                    if frame.exc is not None:
                        _chain(e2, frame.exc)
                    frame.exc = e2
            exc = frame.exc
            if exc is not None:
                frame.exc = None
                try:
                    raise exc
                finally:
                    exc = None  # no frame <-> exception reference cycle
            return ret
        finally:
            # Remove exactly our frame and drop an emptied stack, so nothing outlives this
            # call on the greenlet (a pooled greenlet later runs other goroutines).
            if stack and stack[-1] is frame:
                stack.pop()
            else:  # pragma: no cover - frames are strictly nested on one greenlet
                try:
                    stack.remove(frame)
                except ValueError:
                    pass
            if not stack and getattr(glet, _ATTR, None) is stack:
                try:
                    delattr(glet, _ATTR)
                except AttributeError:  # pragma: no cover
                    pass

    return wrapper


def _func(f: Any) -> Any:
    if isinstance(f, (staticmethod, classmethod)):
        return type(f)(_wrap(f.__func__))
    if not callable(f):
        raise TypeError(f"func: {f!r} is not callable")
    return _wrap(f)


def func(f: Any) -> Any:
    """``@func``: give ``f`` a defer stack.  ``@func(Cls)``: define the decorated function
    as method ``Cls.<name>``, with a defer stack."""
    if isinstance(f, type):
        cls = f
        caller = sys._getframe(1)

        def define(m: Any) -> Any:
            w = _func(m)
            name = (w.__func__ if isinstance(w, (staticmethod, classmethod)) else w).__name__
            setattr(cls, name, w)
            already = caller.f_locals.get(name, _missing)
            return w if already is _missing else already

        return define
    return _func(f)


_missing = object()


def defer(f: Callable[[], Any]) -> None:
    """Run ``f()`` when the enclosing ``@func`` function returns (or panics)."""
    if not callable(f):
        raise TypeError(f"defer: {f!r} is not callable")
    frames = _frames()
    if not frames:
        raise RuntimeError("defer: called outside a @func function")
    frames[-1].defers.append(f)


def panic(arg: Any) -> None:
    """Raise a Go panic carrying ``arg``."""
    raise Panic(arg)


def recover() -> Any:
    """Inside a deferred call: stop the panic in flight and return its value (else None)."""
    frames = _frames()
    if not frames:
        return None
    fr = frames[-1]
    if not fr.deferring:
        if fr.outer is None:
            return None
        fr = fr.outer  # the body of a @func that is itself a deferred call
    e = fr.exc
    if e is None or isinstance(e, _GreenletExit):
        return None
    fr.exc = None
    if isinstance(e, Panic) and e.args:
        return e.args[0]
    return e
