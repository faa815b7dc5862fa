"""pyruntime.compat.golang.context: pygolang's ``golang.context`` over ``pyruntime.context``.

``background``, ``with_cancel``, ``with_timeout``, ``with_deadline``, ``canceled`` and
``deadlineExceeded`` (pygolang's spelling of ``deadline_exceeded``, the same object) are
``pyruntime.context``'s; ``with_timeout``/``with_deadline`` start the implicit runtime
when none is running (their timer needs one), as ``go()`` does.

``with_value(parent, key, val)`` matches keys by identity (``is``), as pygolang does;
``pyruntime.context.with_value`` compares them with ``==`` (Go's ``==`` on interface
values).  Use a module-level object as the key and both agree.

``merge(parent1, parent2) -> (ctx, cancel)`` is pygolang's addition: ``ctx`` is done as
soon as either parent is (its ``err()`` is that parent's), or when ``cancel()`` is called
(``canceled``); ``ctx.value(key)`` looks in ``parent1`` first, then ``parent2``;
``ctx.deadline()`` is the earlier of the two parents' deadlines.
"""

from __future__ import annotations

from typing import Any, Callable

from ... import context as _ctx
from ...context import Context, background, canceled, deadline_exceeded, todo, with_cancel
from ._runtime import ensure_runtime

__all__ = ["Context", "background", "todo", "with_cancel", "with_value", "with_timeout", "with_deadline", "merge",
           "canceled", "deadlineExceeded", "deadline_exceeded"]

deadlineExceeded = deadline_exceeded


def with_deadline(parent: Context, d: float) -> tuple[Context, Callable[[], None]]:
    """A child canceled at time ``d`` (``time.now()`` clock) or by the returned cancel."""
    ensure_runtime()
    return _ctx.with_deadline(parent, d)


def with_timeout(parent: Context, dt: float) -> tuple[Context, Callable[[], None]]:
    """``with_deadline(parent, now() + dt)``."""
    ensure_runtime()
    return _ctx.with_timeout(parent, dt)


class _IdValueCtx(_ctx._ValueCtx):
    """``with_value``'s context: its key matches by identity."""

    def value(self, key: Any) -> Any:
        if key is self._key:
            return self._val
        return self._parent.value(key)


def with_value(parent: Context, key: Any, val: Any) -> Context:
    """A child carrying ``key`` -> ``val`` (``key`` matched by identity)."""
    _ctx._check_parent(parent, "with_value")
    if key is None:
        raise TypeError("context.with_value: nil key")
    return _IdValueCtx(parent, key, val)


class _MergeCtx(_ctx._CancelCtx):
    """A cancel context with two parents: canceled when either one is (or by its cancel)."""

    def __init__(self, parent1: Context, parent2: Context) -> None:
        self._parent2 = parent2
        super().__init__(parent1)  # registers with parent1, or is canceled already
        if self._err is None:
            err2 = parent2.err()
            if err2 is not None:
                self._cancel(err2)
            else:
                parent2._add_child(self)  # cancels us at once if parent2 was canceled meanwhile

    def value(self, key: Any) -> Any:
        v = self._parent.value(key)
        return self._parent2.value(key) if v is None else v

    def deadline(self) -> float | None:
        d1, d2 = self._parent.deadline(), self._parent2.deadline()
        if d1 is None:
            return d2
        return d1 if d2 is None else min(d1, d2)

    def _cancel(self, err: BaseException, remove: bool = True) -> None:
        # Whichever parent canceled us, leave *both*: the other one must not keep us
        # (and our subtree) alive as its child.
        super()._cancel(err, remove=True)
        p2 = getattr(self, "_parent2", None)
        if p2 is not None:
            p2._remove_child(self)

    def __repr__(self) -> str:
        return f"context.merge({self._parent!r}, {self._parent2!r})"


def merge(parent1: Context, parent2: Context) -> tuple[Context, Callable[[], None]]:
    """A context done when either parent is done, and a function that cancels it."""
    _ctx._check_parent(parent1, "merge")
    _ctx._check_parent(parent2, "merge")
    c = _MergeCtx(parent1, parent2)
    return c, lambda: c._cancel(canceled)
