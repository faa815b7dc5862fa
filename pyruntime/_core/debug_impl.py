"""Goroutine introspection: ``goroutines()`` and ``dump()`` in Go's traceback format.

A G's stack comes from where it is: the calling frame for the current G, the
thread's current frame for a G running on another M (``sys._current_frames``), and
the suspended greenlet's ``gr_frame`` for a parked G.  Runtime-internal frames
(pyruntime/_core) are left out of the printed stack, like Go's default traceback
level hides ``runtime.`` frames.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from types import FrameType

from . import proc
from .g import G, Grunning, Gwaiting, Gsyscall, Grunnable, STATUS_NAMES

__all__ = ["GoroutineInfo", "goroutines", "dump", "format_stack"]

_CORE_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class GoroutineInfo:
    """One goroutine as ``debug.goroutines()`` reports it."""

    goid: int
    status: str
    wait_reason: str
    wait_since: float | None  # when it started waiting (time.now() clock, epoch seconds), or None
    home_p: int | None
    created_by: int
    stack: tuple[str, ...]  # "func()\n\tfile:line" entries, innermost first
    gc_pause_seconds: float = 0.0


def _frames_of(g: G) -> list[FrameType]:
    f: FrameType | None = None
    cur = proc.getg()
    if g is cur:
        f = sys._getframe(2)
    elif g._status == Grunning and g.m is not None and g.m.thread is not None:
        f = sys._current_frames().get(g.m.thread.ident)
    elif g.glet is not None:
        f = getattr(g.glet, "gr_frame", None)
    out = []
    while f is not None:
        out.append(f)
        f = f.f_back
    return out


_LAUNCHER = {os.path.join(os.path.dirname(_CORE_DIR), n) for n in ("cli.py", "__main__.py")}


def _user_frames(frames: list[FrameType]) -> list[FrameType]:
    """A goroutine's own frames: not the runtime's, and not the launcher's (``pyruntime
    run`` starts the program through cli.py and runpy)."""
    out = []
    for f in frames:
        fn = f.f_code.co_filename
        if (os.path.abspath(fn).startswith(_CORE_DIR) or "greenlet" in fn or fn == "<frozen runpy>"
                or os.path.basename(fn) == "runpy.py" or os.path.abspath(fn) in _LAUNCHER):
            continue
        out.append(f)
    return out


def format_stack(frames: list[FrameType]) -> tuple[str, ...]:
    return tuple(f"{f.f_code.co_qualname if hasattr(f.f_code, 'co_qualname') else f.f_code.co_name}(...)\n"
                 f"\t{f.f_code.co_filename}:{f.f_lineno}" for f in frames)


def _info(g: G) -> GoroutineInfo:
    st = g._status
    reason = g.waitreason if st == Gwaiting else ""
    # The runtime stamps waits in perf_counter_ns (cheap, immune to clock steps);
    # the API speaks epoch seconds, like pyruntime.time.now().
    since = time.time() - (time.perf_counter_ns() - g.waitsince) / 1e9 if st in (Gwaiting, Gsyscall) else None
    if g.glet is None and g.fn is not None:
        fn = g.fn
        code = getattr(fn, "__code__", None)
        name = getattr(fn, "__qualname__", repr(fn))
        stack: tuple[str, ...] = (f"{name}(...)\n\t{code.co_filename}:{code.co_firstlineno}",) if code else (f"{name}(...)",)
    else:
        stack = format_stack(_user_frames(_frames_of(g)))
    return GoroutineInfo(g.goid, STATUS_NAMES[st], reason, since, g.home_p, g.created_by, stack, g.gcpause_ns / 1e9)


def goroutines() -> list[GoroutineInfo]:
    """A snapshot of every live goroutine, by goid."""
    gs = sorted(list(proc.sched.allgs.values()), key=lambda g: g.goid)
    return [_info(g) for g in gs]


def _header(i: GoroutineInfo) -> str:
    status = i.wait_reason or i.status
    extra = ""
    if i.wait_since is not None:
        mins = int((time.time() - i.wait_since) // 60)
        if mins >= 1:
            extra = f", {mins} minutes"
    return f"goroutine {i.goid} [{status}{extra}]:"


def dump() -> str:
    """Every goroutine in Go's traceback format (``goroutine 7 [chan receive]:`` + stack)."""
    parts = []
    for i in goroutines():
        lines = [_header(i)]
        if i.status == "running" and not i.stack:
            lines.append("goroutine running on other thread; stack unavailable")
        lines.extend(i.stack)
        if i.created_by:
            lines.append(f"created by goroutine {i.created_by}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
