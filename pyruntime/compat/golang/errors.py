"""pyruntime.compat.golang.errors: pygolang's ``error`` type and Go's ``errors`` package.

``error`` is an ``Exception`` to raise and to return: ``error("text")`` as it is, or a
subclass that defines ``Error()`` (its text, used by ``str``) and optionally ``Unwrap()``
(the error it wraps, or a list of them: Go 1.20's multi-wrapping).  Errors of any other
type take part too: any exception, and any object with an ``Error()``/``Unwrap()``
method.  Python's explicit chaining counts as wrapping: after ``raise X from Y``, X wraps
Y (pygolang's rule); the implicit ``__context__`` does not (it records what was being
handled, not what caused the error).

* ``New(text)`` — a new ``error`` with that text.  Errors are values, as in pygolang (not
  pointers, as in Go): ``New("x") == New("x")``, so ``Is(err, New("x"))`` matches any
  plain error with that text.
* ``Unwrap(err)`` — what ``err`` wraps (``err.Unwrap()``, else ``err.__cause__``), or
  ``None``; ``None`` too for a multi-wrapping error, as in Go.
* ``Is(err, target)`` — whether any error in ``err``'s tree (depth first: ``err``, then
  what it wraps) is ``target`` (``is`` or ``==``), or has an ``Is(target)`` method that
  says so.
* ``As(err, cls)`` — the first error in ``err``'s tree that is an instance of ``cls``
  (a class or tuple of classes), or that an ``As(cls)`` method of it returns; ``None`` if
  none is.  Go's ``As(err, &target) bool`` stores into ``target``; Python returns it.
"""

from __future__ import annotations

from typing import Any, Iterator

__all__ = ["error", "New", "Is", "As", "Unwrap"]


class error(Exception):
    """An error: ``error("text")``, or a subclass defining ``Error()`` and maybe ``Unwrap()``.

    ``error("text")`` takes exactly one str (or UTF-8 bytes).  Errors are values: two
    errors of the same type with the same ``Error()`` text are equal (and hash alike),
    as in pygolang; a subclass may define its own ``__eq__``."""

    _text: "str | None" = None
    _wrapped: Any = None  # what fmt.Errorf's %w wrapped (an error, or a list of them)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if type(self) is error:
            if len(args) != 1:
                raise ValueError(f"error: takes exactly one text argument, got {len(args)}: error(\"text\")")
            text = args[0]
            if isinstance(text, (bytes, bytearray)):
                from ._strings import u

                text = u(text)
            if not isinstance(text, str):
                raise TypeError(f"error: text must be a str, got {type(text).__name__} {text!r}")
            self._text = text

    def Error(self) -> str:
        """The error's text (a subclass overrides this; the default is the constructor's text)."""
        if self._text is not None:
            return self._text
        if type(self).__str__ is not error.__str__:
            return str(self)  # a subclass that defined __str__ instead
        return Exception.__str__(self)

    def Unwrap(self) -> Any:
        """The error this one wraps (``None`` unless made by ``fmt.Errorf`` with ``%w``)."""
        return self._wrapped

    def __str__(self) -> str:
        return self.Error()

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(self) is not type(other) or not isinstance(other, error):
            return NotImplemented
        return self.Error() == other.Error()

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash((type(self), self.Error()))

    def __repr__(self) -> str:
        t = type(self)
        if t is error:
            return f'<{t.__module__}.error error="{self.Error()}">'
        return f"{t.__module__}.{t.__qualname__}({', '.join(map(repr, self.args))})"


error.__module__ = "pyruntime.compat.golang"  # it is golang.error


def New(text: Any) -> error:
    """A new error whose text is ``text`` (a str, or UTF-8 bytes)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"errors.New: text must be a str, got {type(text).__name__} {text!r}")
    return error(text)


def _check(err: Any, fn: str) -> None:
    if err is not None and not isinstance(err, BaseException) and not callable(getattr(err, "Error", None)):
        raise TypeError(f"errors.{fn}: {err!r} is not an error (an exception, an object with Error(), or None)")


def _unwrapped(err: Any) -> list[Any]:
    """What ``err`` wraps, in order: ``Unwrap()``'s result(s), then ``__cause__``."""
    out: list[Any] = []
    m = getattr(err, "Unwrap", None)
    if callable(m) and not isinstance(err, type):
        r = m()
        if isinstance(r, (list, tuple)):
            out.extend(x for x in r if x is not None)
        elif r is not None:
            out.append(r)
    c = getattr(err, "__cause__", None)
    if c is not None and all(c is not x for x in out):
        out.append(c)
    return out


def Unwrap(err: Any) -> Any:
    """The error ``err`` wraps, or ``None`` (also for an error that wraps several)."""
    _check(err, "Unwrap")
    if err is None:
        return None
    m = getattr(err, "Unwrap", None)
    if callable(m) and not isinstance(err, type):
        r = m()
        if isinstance(r, (list, tuple)):
            return None
        if r is not None:
            return r
    return getattr(err, "__cause__", None)


def _tree(err: Any) -> Iterator[Any]:
    """``err`` and everything it wraps, depth first, each error once."""
    seen: set[int] = set()
    todo = [err]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(reversed(_unwrapped(e)))


def Is(err: Any, target: Any) -> bool:
    """Whether some error in ``err``'s tree matches ``target``."""
    _check(err, "Is")
    if err is None or target is None:
        return err is target
    for e in _tree(err):
        if e is target:
            return True
        try:
            if e == target:
                return True
        except Exception:  # noqa: BLE001 - an uncomparable error is not a match (Go: not comparable)
            pass
        m = getattr(e, "Is", None)
        if callable(m) and not isinstance(e, type) and m(target):
            return True
    return False


def As(err: Any, cls: Any) -> Any:
    """The first error in ``err``'s tree that is a ``cls`` (a class or tuple of classes), or None."""
    if not (isinstance(cls, type) or (isinstance(cls, tuple) and cls and all(isinstance(c, type) for c in cls))):
        raise TypeError(f"errors.As: target must be a class (or a tuple of classes), got {cls!r}")
    _check(err, "As")
    for e in _tree(err):
        if isinstance(e, cls):
            return e
        m = getattr(e, "As", None)
        if callable(m) and not isinstance(e, type):
            r = m(cls)
            if r is not None:
                return r
    return None
