"""Leak suspects: for a goroutine blocked a long time, on what, and who could still wake it.

Go 1.26's goroutine leak profile asks the garbage collector whether the object a blocked
goroutine waits on is reachable from any goroutine that can still run; if not, nothing can
ever wake it.  We answer the same question on demand, for suspects only (it costs a
``gc.get_referrers`` walk, milliseconds on a large heap, never on a hot path):

1. *On what*: the innermost frame of the parked greenlet that is a channel operation, a
   ``select`` or a ``sync`` primitive; its ``self`` (or the select's cases) is the object.
2. *Who could wake it*: walk referrers of that object up to a few levels (closure cells,
   containers, bound methods, instances, module dicts), then look for the object and
   those holders in every goroutine's and plain thread's frame locals (a live frame hides
   its locals from the collector).  A module's ``__dict__`` means any code could reach it
   ("global"); a frame on a plain thread means "outside thread".  The blocked goroutine itself does not count, nor do
   goroutines blocked the same way on the same object (other receivers cannot send).

The answer is a heuristic of reachability, as Go's: an object reachable from a goroutine
that will itself never run again still shows that goroutine as a possible waker.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any

from .._core import proc
from .._core.g import Gsyscall, Gwaiting

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHAN = os.path.join(_PKG, "_core", "chan.py")
_SYNC = os.path.join(_PKG, "sync.py")
_cache: dict[tuple[int, int], tuple[float, dict]] = {}
CACHE_S = 5.0


def _frames(g: Any) -> list:
    """The G's frames: its parked greenlet's, or its M's thread's while it runs."""
    from .._core import debug_impl

    try:
        return debug_impl._frames_of(g)
    except Exception:
        return []


def _wait_object(g: Any) -> tuple[Any, str]:
    for f in _frames(g):
        fn = f.f_code.co_filename
        if fn == _CHAN or fn == _SYNC:
            loc = f.f_locals
            if "self" in loc:
                return loc["self"], f.f_code.co_name
            if "cases" in loc:
                chans = []
                for c in loc["cases"]:
                    c = c[0] if isinstance(c, tuple) and c else c
                    ch = getattr(c, "__self__", None)
                    if ch is not None:
                        chans.append(ch)
                return tuple(chans), "select"
    return None, ""


def _describe(obj: Any) -> str:
    if obj is None:
        return ""
    st = getattr(obj, "statistics", None)
    if callable(st):
        try:
            s = st()
            fields = getattr(s, "__dataclass_fields__", None)
            if fields:
                return f"{type(obj).__name__}(" + ", ".join(f"{k}={getattr(s, k)!r}" for k in fields) + ")"
        except Exception:
            pass
    if isinstance(obj, tuple):
        return f"select over {len(obj)} cases"
    return type(obj).__name__


def _holders() -> list[tuple[Any, list]]:
    """(who, frames) for every live goroutine and every plain thread."""
    out: list[tuple[Any, list]] = [(goid, _frames(g)) for goid, g in list(proc.sched.allgs.items())]
    import threading

    skip = {m.ident for m in list(proc.sched.allm)}  # an M's frames: its goroutine's, above
    skip.add(threading.get_ident())                  # this very walk holds the object
    skip.update(t.ident for t in threading.enumerate() if t.name.startswith("pyruntime-panel"))
    for ident, f in sys._current_frames().items():
        if ident in skip:
            continue
        fs = []
        while f is not None:
            fs.append(f)
            f = f.f_back
        out.append(("outside thread", fs))
    return out


def who_could_wake(obj: Any, me: int) -> list:
    """Goroutines (goids), 'global', 'timer', 'outside thread' that can reach ``obj``.

    A running or suspended frame does not show its locals to ``gc.get_referrers`` (its
    traverse skips them while the frame is live), so the walk has two halves: referrers
    of the object up to a few levels (containers, cells, bound methods, instances; a
    module dict means 'global', a runtime timer 'timer'), then every goroutine's and
    plain thread's frame locals are checked against the object and everything found
    to hold it."""
    if obj is None:
        return []
    targets = list(obj) if isinstance(obj, tuple) else [obj]
    found: set = set()
    reach: set[int] = {id(t) for t in targets}
    keep: list = list(targets)  # the objects behind the ids stay alive while we look
    frontier = targets
    for _depth in range(4):
        nxt = []
        for o in frontier:
            for r in gc.get_referrers(o):
                rid = id(r)
                if rid in reach or r is frontier or r is targets or r is nxt or r is keep:
                    continue
                tn = type(r).__name__
                if tn == "frame":
                    continue  # handled through the frames' locals below
                if isinstance(r, dict) and "__name__" in r and "__builtins__" in r:
                    found.add("global")
                    continue
                if tn in ("Timer", "Ticker"):
                    found.add("timer")  # a runtime timer will deliver on it
                    continue
                if tn in ("G", "_Sudog", "_SelectDone"):
                    continue  # the runtime's own bookkeeping of the waiters
                reach.add(rid)
                keep.append(r)
                nxt.append(r)
        frontier = nxt
        if not frontier:
            break
    for who, frames in _holders():
        if who == me or who in found:
            continue
        for f in frames:
            try:
                vals = list(f.f_locals.values())
            except Exception:
                continue
            if any(id(v) in reach for v in vals):
                found.add(who)
                break
    found.discard(me)
    # goroutines blocked on the same object in the same way cannot wake each other
    same = set()
    for goid in [x for x in found if isinstance(x, int)]:
        g = proc.sched.allgs.get(goid)
        if g is not None and g._status == Gwaiting:
            o2, op2 = _wait_object(g)
            if o2 is obj or (isinstance(o2, tuple) and isinstance(obj, tuple) and o2 == obj):
                same.add(goid)
    return sorted(found - same, key=str)


def detail(g: Any) -> dict:
    """On what ``g`` waits and who could still wake it (cached CACHE_S per wait)."""
    key = (g._goid, g.waitsince or 0)
    now = time.monotonic()
    c = _cache.get(key)
    if c is not None and now - c[0] < CACHE_S:
        return c[1]
    obj, op = _wait_object(g)
    try:
        wakers = who_could_wake(obj, g._goid)
    except Exception as e:  # a heap walk must never break the state endpoint
        wakers = [f"? ({type(e).__name__})"]
    d = {"on": _describe(obj), "op": op, "wakers": wakers,
         "verdict": ("no goroutine can reach what it waits on: leaked" if obj is not None and not wakers
                     else "unknown wait object" if obj is None else "could still be woken")}
    if len(_cache) > 256:
        _cache.clear()
    _cache[key] = (now, d)
    return d
