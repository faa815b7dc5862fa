"""``b`` and ``u``: make sure an object is bytes or str, never failing, never losing data.

UTF-8 with ``surrogateescape``: bytes that are not valid UTF-8 decode to lone surrogates
U+DC80..U+DCFF and encode back to the same bytes, so ``b(u(x)) == x`` for every bytes
``x``.  A str holding other lone surrogates (U+D800..U+DFFF outside that range) cannot
round-trip through bytes that way; ``b`` encodes those with ``surrogatepass`` (it still
never fails), and ``u`` of the result gives escapes, not the original surrogates.
"""

from __future__ import annotations

from typing import Any

__all__ = ["b", "u"]


def _encode(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # A lone surrogate that is not an escaped byte: encode each part with the handler that fits.
        out = bytearray()
        for ch in s:
            try:
                out += ch.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                out += ch.encode("utf-8", "surrogatepass")
        return bytes(out)


def b(s: Any) -> bytes:
    """``s`` as bytes: a str is UTF-8 encoded (lossless for decoded bytes, see the module doc)."""
    if type(s) is bytes:
        return s
    if isinstance(s, (bytes, bytearray, memoryview)):
        return bytes(s)
    if isinstance(s, str):
        return _encode(s)
    raise TypeError(f"b: invalid type {type(s).__name__}: expected str or bytes (or bytearray)")


def u(s: Any) -> str:
    """``s`` as str: bytes are decoded as UTF-8, invalid bytes kept as escapes (see the module doc)."""
    if type(s) is str:
        return s
    if isinstance(s, str):
        return str.__str__(s)
    if isinstance(s, (bytes, bytearray, memoryview)):
        return bytes(s).decode("utf-8", "surrogateescape")
    raise TypeError(f"u: invalid type {type(s).__name__}: expected str or bytes (or bytearray)")
