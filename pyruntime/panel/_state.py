"""``GET /api/state``: a snapshot of the scheduler, read from the panel's thread.

The panel never takes the runtime lock (``sched.lock``) to read: a paused, stopped or
wedged runtime may hold it.  It copies each P's queue under that P's ``threading.Lock``
with a short timeout and falls back to a lock-free copy (retried if the deque moved under
it), so the answer may be a few microseconds inconsistent across Ps, never blocked.
"""

from __future__ import annotations

import math
import time
from typing import Any

from .._core import proc
from .._core.g import STATUS_NAMES, Grunning, Gsyscall, Gwaiting

SCHEMA = 1


def _goids(seq: Any) -> list[int]:
    for _ in range(8):
        try:
            return [g._goid for g in list(seq)]
        except RuntimeError:
            continue
    return []


def _p_status(p: Any) -> str:
    if p.dead:
        return "dead"
    if p.stopped:
        return "gcstop"
    if p.idle:
        return "idle"
    return "running"


def g_name(g: Any) -> str:
    """A G's start function as the tracer names it (``module:qualname``; "main" for the
    main goroutine).  A G keeps its function until it ends, so no frame walk is needed."""
    from .._tracefmt import fn_name

    return "main" if g is proc.sched.main_g else fn_name(g.fn)


def _p_state(p: Any) -> dict:
    got = p.lock.acquire(timeout=0.01)
    try:
        rn = p.runnext
        runq = _goids(p.runq)
    finally:
        if got:
            p.lock.release()
    m = p.m
    curg = m.curg if m is not None else None
    running = curg is not None and curg._status == Grunning
    return {"id": p.id, "status": _p_status(p), "m": m.id if m is not None else None,
            "curg": curg._goid if running else None,
            "runnext": rn._goid if rn is not None else None, "runq": runq,
            "schedtick": p.schedtick}


def _m_state(m: Any) -> dict:
    curg = m.curg
    running = curg is not None and curg._status == Grunning
    t = m.thread
    return {"id": m.id, "tid": m.tid or (t.native_id if t is not None else None),
            "p": m.p.id if m.p is not None else None,
            "curg": curg._goid if running else None, "blocked": bool(m.blocked),
            "syscall": False, "spinning": bool(m.spinning), "in_netpoll": bool(m.in_netpoll)}


def _syscall_ms() -> list[dict]:
    """The syscall Ms (threads without a P) and, for each, the G whose call it runs."""
    out = []
    pool = proc._syscalls
    busy = dict(pool.busy)
    for t in sorted(list(pool.threads), key=lambda t: t.name):
        g = busy.get(t.ident)
        out.append({"id": "s" + t.name.rsplit("-", 1)[-1], "tid": t.native_id,
                    "p": None, "curg": g._goid if g is not None else None, "blocked": False,
                    "syscall": g is not None})
    return out


MAX_SUSPECTS = 32


def goroutine_rows(leak_after: float | None = 5.0) -> list[dict]:
    """One row per goroutine; one blocked at least ``leak_after`` seconds also gets
    ``"leak"``: on what it waits and who could still wake it (``_leak.detail``)."""
    from . import _leak

    now_ns = time.perf_counter_ns()
    wall = time.time()
    rows = []
    live = dict(proc.sched.allgs)
    nsus = 0
    for goid, g in sorted(live.items()):
        st = g._status
        ws = None
        if st in (Gwaiting, Gsyscall) and g.waitsince:
            ws = wall - max(0, now_ns - g.waitsince) / 1e9  # debug.goroutines()' clock
        row = {"goid": goid, "status": STATUS_NAMES.get(st, "?"),
               "wait_reason": g.waitreason if st in (Gwaiting, Gsyscall) else "",
               "wait_since": ws, "home_p": g.p.id if g.p is not None else None,
               "created_by": g.created_by, "fn": g_name(g), "created_at": _where(g.created_at)}
        if (leak_after is not None and st == Gwaiting and ws is not None and wall - ws >= leak_after
                and nsus < MAX_SUSPECTS):
            row["leak"] = _leak.detail(g)
            nsus += 1
        rows.append(row)
    return rows


def _where(at: Any) -> str | None:
    """``created_at`` (the creator's code object and line) as "file:line", or None."""
    if at is None:
        return None
    try:
        code, line = at
        return f"{code.co_filename}:{line}"
    except (TypeError, ValueError, AttributeError):
        return str(at)


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "buckets") and hasattr(v, "counts"):
        return {"buckets": _jsonable(list(v.buckets)), "counts": list(v.counts)}
    return v


def metrics_snapshot() -> dict:
    from .. import metrics

    try:
        return _jsonable(metrics.read())
    except Exception as e:  # never let a metric break the state endpoint
        return {"error": str(e)}


def snapshot(seq: int, paused: bool, breakpoint: Any, with_metrics: bool = True,
             leak_after: float | None = 5.0) -> dict:
    s = proc.sched
    ps = [_p_state(p) for p in list(s.allp)]
    ms = [_m_state(m) for m in list(s.allm)] + _syscall_ms()
    gs = goroutine_rows(leak_after) if s.running else []
    counts = {"runnable": 0, "running": 0, "waiting": 0, "syscall": 0}
    for r in gs:
        if r["status"] in counts:
            counts[r["status"]] += 1
    return {"schema": SCHEMA, "seq": seq, "paused": paused, "running": bool(s.running),
            "gomaxprocs": s.gomaxprocs if s.running else 0, "ps": ps, "ms": ms,
            "global_runq": _goids(s.runq), "goroutines": gs, "counts": counts,
            "breakpoint": breakpoint,
            "metrics": metrics_snapshot() if with_metrics else {}}
