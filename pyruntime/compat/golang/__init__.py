"""pyruntime.compat.golang: the ``golang`` module's shape over pyruntime.

Programs written for pygolang (``from golang import go, chan, select, default, nilchan,
func, defer, panic, recover, error, b, u`` and ``from golang import sync, context, time,
errors, fmt``) run with ``golang`` replaced by ``pyruntime.compat.golang``; ``import
pyruntime.compat.golang.errors`` works like ``import golang.errors``.  Written from
pygolang's documented API (its README and change log); no pygolang code is used.

What is here
============

* ``go``, ``chan(size=0, dtype=object)``, ``select``, ``default``, ``nilchan``.  Only
  Python-object channels exist: pygolang's C-typed dtypes (``'C.int'`` ...) raise
  ``NotImplementedError``, anything else ``TypeError``.  ``chan.nil(dtype)`` is
  ``nilchan``; ``isinstance(x, chan)`` holds for every pyruntime channel.
* ``func`` — a decorator that gives the function a ``defer`` stack.  ``@func(Cls)``
  defines the decorated function as ``Cls.<name>`` (with defer support); a
  ``staticmethod``, ``classmethod`` or ``property`` under it stays one (a property's
  getter, setter and deleter each get a defer stack).  Like pygolang, ``@func(Cls)``
  leaves a name already bound in the defining scope alone (a method called ``close``
  does not clobber a module-level ``close``); otherwise the name is bound to what was
  defined.
* ``defer(f)`` — run ``f()`` when the enclosing ``@func`` function returns or raises,
  last-in first-out.  Called by a function that is not ``@func`` itself (even one that a
  ``@func`` function calls), it panics, as pygolang does: ``Panic("function g uses defer,
  but not @func")``, which is also a ``RuntimeError``.  A deferred call that raises replaces the exception in flight, and
  the replaced one is kept in the new one's ``__context__`` chain exactly where Python's
  own chaining would put it had the deferred call run in an ``except`` block for it
  (PEP 3134): across nested deferred ``@func``\\ s a chain reads ``d1 -> d21 -> d2 -> err``,
  never dropping the original.  The remaining deferred calls still run.
* ``panic(arg)`` raises ``Panic(arg)`` (also named ``_PanicError``, pygolang's name).
  ``recover()`` follows Go's rule: it stops the exception in flight only when called
  *directly by a deferred function* — the deferred callable itself, or the body of a
  ``@func`` function that is itself deferred — and returns the ``panic`` argument (the
  exception object for other exceptions).  Called anywhere else (in a helper the
  deferred function calls, in the function body, outside ``@func``), or with nothing in
  flight, it returns ``None`` and stops nothing.  It never stops the runtime's own
  unwinding of a goroutine (``GreenletExit`` at program end).
* ``error`` — an ``Exception`` subclass to use directly (``error("problem")``) or to
  subclass; a subclass defines ``Error()`` for its text (used by ``str``) and may define
  ``Unwrap()`` to wrap another error.  ``errors``: ``New``, ``Is``, ``As``, ``Unwrap``
  (Go 1.13 semantics; ``raise X from Y`` counts as X wrapping Y; Go 1.20 multi-wrapping
  when ``Unwrap()`` returns a list).  ``fmt``: ``Errorf``/``errorf`` with ``%w``, and
  ``sprintf``.
* ``b(s)`` / ``u(s)`` — bytes/str conversion that never fails: UTF-8 with
  ``surrogateescape``, so ``b(u(x)) == x`` for every bytes ``x`` (invalid UTF-8
  included) and ``u(b(s)) == s`` for every ``s`` without lone surrogates outside
  U+DC80..U+DCFF (those are kept by ``surrogatepass`` one way only).
* ``sync``: ``Mutex``, ``RWMutex`` (pygolang's ``Lock``/``Unlock``/``RLock``/``RUnlock``/
  ``UnlockToRLock`` besides the lower-case names), ``Sema`` (a counting semaphore,
  ``acquire``/``release``), ``Once``, ``WaitGroup``, ``WorkGroup`` (``go``, ``wait``,
  ``with``).  ``context``: ``background``, ``with_cancel``, ``with_value``,
  ``with_timeout``, ``with_deadline``, ``merge``, ``canceled``, ``deadlineExceeded``.
  ``time``: ``now``, ``sleep``, ``after``, ``after_func``, ``tick``, ``Timer``, ``Ticker``
  and the duration constants; an ``after_func`` timer's ``.c`` is ``nilchan`` (Go's nil
  ``C``).  Like ``go()``, a timer (``time.*``, ``context.with_timeout``/``with_deadline``)
  started with no runtime running starts the implicit runtime, so pygolang programs,
  which never call ``run()``, work unchanged.

What is left out, and why
=========================

* C-typed channels (``chan(dtype='C.int')`` ...), ``pychan``/``chan_*()`` conversions, the
  Cython/nogil API (``golang.pyx``, ``libgolang.h``), ``pyerror``, ``topyexc``: they are
  C/Cython internals with no pure-Python meaning here.
* ``bstr``/``ustr`` (pygolang's newer string types), ``qq``/``strconv``, ``gimport``,
  ``io``, ``os.signal``, ``strings``, ``cxx``, ``py.bench``/``testing``, ``gpython``:
  not part of what a pygolang program needs from the runtime; out of scope.
* pygolang's traceback-dump patches (its own exception-chain printing for Python 2,
  IPython and pytest): Python 3 prints ``__context__`` chains itself.

Where it differs from pygolang
==============================

* Bad input gets pyruntime's errors: ``select`` with something that is not a case raises
  ``TypeError`` naming the case (pygolang: an ``AttributeError`` from its C code); an
  unknown ``dtype`` raises ``TypeError("chan: invalid dtype ...")`` (pygolang's text is
  ``"pychan: invalid dtype: ..."``).
* Tracebacks show this module's frames (``wrapper``, ``_run_defers``) where pygolang's
  show its own; the exception chains are the same.
* ``context.with_value`` contexts are not their parent's children internally (they
  need no cancel bookkeeping); only pygolang's C test hooks could tell.

The defer/recover state belongs to the *goroutine*: it lives on the running greenlet
(every goroutine has its own; a plain OS thread has its root greenlet), never in a
thread-local, because many goroutines share one M's thread.  Each ``@func`` call removes
its own frame when it returns, and an emptied stack is dropped from the greenlet, so a
pooled greenlet that later runs another goroutine starts with no frames.

How ``recover`` knows who called it: while a ``@func`` frame runs its deferred calls it
records the Python frame that calls them (``_Frame.runner``).  ``recover`` looks at its
caller's ``f_back``: it is that runner for a deferred callable (a lambda, function,
bound method, ``functools.partial``), and a ``@func`` wrapper whose own ``f_back`` is the
runner for the body of a deferred ``@func``.  ``defer(recover)`` itself, as in Go,
recovers nothing.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

from ... import go as _go
from ..._core import proc as _proc
from ..._core.chan import _NilChan
from ..._core.chan import chan as _chan, default, nilchan, select
from ..._core.errors import Panic
from ._runtime import ensure_runtime as _ensure_runtime  # noqa: F401 - used by the submodules
from .errors import error
from ._strings import b, u

__all__ = ["go", "chan", "select", "default", "nilchan", "func", "defer", "panic", "recover", "Panic",
           "error", "b", "u", "time", "sync", "context", "errors", "fmt"]

go = _go
_PanicError = Panic  # pygolang's name for the exception panic() raises

_getcurrent = _proc.getcurrent
_GreenletExit = _proc.GreenletExit
_ATTR = "_rt_golang_frames"  # the running greenlet's @func frame stack (a list), while non-empty
_WRAPPER_CODE: Any = None  # set below, once the first wrapper exists


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

    __slots__ = ("defers", "exc", "deferring", "outer", "runner")

    def __init__(self, outer: "_Frame | None") -> None:
        self.defers: list[Callable[[], Any]] = []
        self.exc: BaseException | None = None
        self.deferring = False  # running its deferred calls (recover() may act on .exc)
        # The frame whose deferred calls were running when this @func was entered: a
        # @func-decorated deferred function recovers that frame's panic.
        self.outer = outer
        # While deferring: the Python frame that calls the deferred functions.  recover()
        # acts only when its caller was called by this frame (Go: "called directly by a
        # deferred function").
        self.runner: Any = None


def _frames() -> "list[_Frame] | None":
    return getattr(_getcurrent(), _ATTR, None)


def _chain(new: BaseException, old: BaseException, outer: BaseException | None) -> None:
    """Keep ``old``, the exception that deferred-call exception ``new`` replaces, in
    ``new``'s ``__context__`` chain where Python would have put it had the deferred call
    run in an ``except`` block for ``old``: every exception raised during the call got
    ``outer`` (the exception our caller was handling, or None) as its context from Python;
    the first link in ``new``'s chain that ends there now points to ``old`` instead (and
    ``old``'s own chain already ends in ``outer``)."""
    in_old = set()
    e: BaseException | None = old
    while e is not None and id(e) not in in_old:
        in_old.add(id(e))
        e = e.__context__
    seen = set()
    e = new
    while id(e) not in seen:
        if id(e) in in_old:  # already chained to old (or linking would make a cycle)
            return
        seen.add(id(e))
        c = e.__context__
        if c is None or c is outer:
            e.__context__ = old
            return
        e = c


def _run_defers(frame: _Frame) -> None:
    """Run ``frame``'s deferred calls, last first; each one's exception replaces the one in flight."""
    outer = sys.exc_info()[1]
    frame.deferring = True
    frame.runner = sys._getframe()
    defers = frame.defers
    try:
        while defers:
            d = defers.pop()
            try:
                d()
            except BaseException as e2:  # noqa: BLE001 - the new panic replaces the old one
                if frame.exc is not None:
                    _chain(e2, frame.exc, outer)
                frame.exc = e2
    finally:
        frame.runner = None
        outer = None


def _wrap(f: Callable[..., Any]) -> Callable[..., Any]:
    if getattr(f, "__code__", None) is _WRAPPER_CODE:
        return f  # already a @func (a property's getter reused by ``@x.setter``, say)

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
                if not frame.defers:
                    raise
                frame.exc = e
            if frame.defers:
                _run_defers(frame)
            exc = frame.exc
            if exc is not None:
                frame.exc = None
                ctx = exc.__context__
                try:
                    raise exc
                except BaseException:
                    # ``raise exc`` set its context to the exception our caller is handling;
                    # the chain the body and the deferred calls built is the right one.
                    exc.__context__ = ctx
                    raise
                finally:
                    exc = ctx = None  # no frame <-> exception reference cycle
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


_WRAPPER_CODE = _wrap(lambda: None).__code__  # every @func wrapper runs this code object
# (while _wrap builds that first wrapper, _WRAPPER_CODE is the placeholder below)


def _func(f: Any) -> Any:
    if isinstance(f, (staticmethod, classmethod)):
        return type(f)(_wrap(f.__func__))
    if isinstance(f, property):
        return property(*(None if a is None else _wrap(a) for a in (f.fget, f.fset, f.fdel)), f.__doc__)
    if not callable(f):
        raise TypeError(f"func: {f!r} is not callable")
    return _wrap(f)


def _name_of(w: Any) -> str:
    if isinstance(w, (staticmethod, classmethod)):
        return w.__func__.__name__
    if isinstance(w, property):
        for a in (w.fget, w.fset, w.fdel):
            if a is not None:
                return a.__name__
        raise TypeError("func: a property with neither getter, setter nor deleter has no name")
    return w.__name__


def func(f: Any) -> Any:
    """``@func``: give ``f`` a defer stack.  ``@func(Cls)``: define the decorated function
    (or staticmethod, classmethod, property) as ``Cls.<name>``, with a defer stack."""
    if isinstance(f, type):
        cls = f
        caller = sys._getframe(1)

        def define(m: Any) -> Any:
            w = _func(m)
            name = _name_of(w)
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
    caller = sys._getframe(1)
    back = caller.f_back
    # Only the body of a @func may defer: its caller is the @func wrapper (the innermost
    # one, whose frame is frames[-1]).  A helper that defers on its caller's behalf would
    # have its call run at the wrong function's return.
    if not frames or back is None or back.f_code is not _WRAPPER_CODE:
        raise _DeferOutsideFunc(f"function {caller.f_code.co_name} uses defer, but not @func")
    frames[-1].defers.append(f)


class _DeferOutsideFunc(Panic, RuntimeError):
    """``defer`` called by a function that is not decorated with ``@func`` (pygolang panics)."""


def panic(arg: Any) -> None:
    """Raise a Go panic carrying ``arg``."""
    raise Panic(arg)


def recover() -> Any:
    """Called directly by a deferred function: stop the panic in flight and return its
    value.  Anywhere else, or with nothing in flight: ``None`` (and nothing is stopped)."""
    frames = _frames()
    if not frames:
        return None
    fr = frames[-1]
    back = sys._getframe(1).f_back  # who called recover()'s caller
    if fr.deferring:
        if back is None or back is not fr.runner:
            return None
    else:
        # The body of a @func that is itself the deferred function: our caller was
        # called by its @func wrapper, which was called by the outer frame's runner.
        out = fr.outer
        if out is None or back is None or back.f_code is not _WRAPPER_CODE or back.f_back is not out.runner:
            return None
        fr = out
    e = fr.exc
    if e is None or isinstance(e, _GreenletExit):
        return None
    fr.exc = None
    if isinstance(e, Panic) and e.args:
        return e.args[0]
    return e


from . import context, errors, fmt, sync, time  # noqa: E402 - the subpackages need the names above
