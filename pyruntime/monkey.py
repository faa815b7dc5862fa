"""pyruntime.monkey: make blocking stdlib modules cooperate with the runtime.

Status: this needs the netpoller (issue 4).  Until it lands, the patch functions raise
NotImplementedError rather than pretending to patch anything."""

from __future__ import annotations

__all__ = ["patch_all", "patch_socket", "patch_time", "patch_select"]


def _todo(name: str) -> None:
    raise NotImplementedError(f"pyruntime.monkey.{name}: arrives with the netpoller (issue 4)")


def patch_all() -> None:
    _todo("patch_all")


def patch_socket() -> None:
    _todo("patch_socket")


def patch_time() -> None:
    _todo("patch_time")


def patch_select() -> None:
    _todo("patch_select")
