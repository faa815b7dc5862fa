"""pyruntime.compat.golang.fmt: ``Errorf`` (``errorf``) with ``%w``, and ``sprintf``.

Formats are Python's ``%`` formats.  ``%w`` formats its argument like ``%s`` and makes the
result wrap it: ``errors.Unwrap(fmt.Errorf("reading %s: %w", name, err)) is err``; with
several ``%w`` the result wraps all of them (Go 1.20: ``Unwrap()`` returns a list).
The result is an ``error`` (its ``Unwrap()`` gives what ``%w`` wrapped).  An
argument of ``%w`` that is not an error is written Go's way, ``%!w(int=3)`` (``%!w(<nil>)``
for ``None``), and is not wrapped.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import error

__all__ = ["Errorf", "errorf", "sprintf"]

# One %-conversion: optional (key), flags, width (or *), .precision (or .*), length, type.
_SPEC = re.compile(r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<w>\*|\d+)?(?:\.(?P<p>\*|\d+))?[hlL]?(?P<c>.|$)", re.S)


def _is_error(x: Any) -> bool:
    return isinstance(x, BaseException) or callable(getattr(x, "Error", None))


def _bad_w(x: Any) -> str:
    return "%!w(<nil>)" if x is None else f"%!w({type(x).__name__}={x!r})"


def Errorf(format: str, *args: Any) -> error:
    """An error with text ``format % args``; ``%w`` arguments are wrapped (see the module doc)."""
    if not isinstance(format, str):
        raise TypeError(f"fmt.Errorf: format must be a str, got {type(format).__name__}")
    mapping = args[0] if len(args) == 1 and isinstance(args[0], dict) else None
    parts: list[str] = []
    newargs = list(args)
    wrapped: list[Any] = []
    pos = 0
    last = 0
    for m in _SPEC.finditer(format):
        c = m.group("c")
        if c == "%":
            continue
        if mapping is None:
            pos += (m.group("w") == "*") + (m.group("p") == "*")
        if c == "w":
            x = mapping.get(m.group("key")) if mapping is not None else (args[pos] if pos < len(args) else None)
            spec = m.group(0)[:-1] + "s"
            if _is_error(x):
                wrapped.append(x)
                parts.append(format[last:m.start()] + spec)
            else:  # Go writes a bad %w verb and does not wrap
                parts.append(format[last:m.start()] + "%s")
                if mapping is None and pos < len(args):
                    newargs[pos] = _bad_w(x)
                elif mapping is not None:
                    mapping = dict(mapping)
                    key = f"\0w{m.start()}"
                    mapping[key] = _bad_w(x)
                    parts[-1] = format[last:m.start()] + f"%({key})s"
            last = m.end()
        if mapping is None:
            pos += 1
    parts.append(format[last:])
    fmt2 = "".join(parts)
    if mapping is not None:
        text = fmt2 % mapping
    else:
        text = fmt2 % tuple(newargs)
    e = error(text)
    if wrapped:
        e._wrapped = wrapped[0] if len(wrapped) == 1 else list(wrapped)
    return e


errorf = Errorf


def sprintf(format: str, *args: Any) -> str:
    """``format % args``."""
    return format % args
