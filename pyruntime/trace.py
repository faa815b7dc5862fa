"""pyruntime.trace: an execution trace in Chrome Trace Event JSON (opens in Perfetto).

``start(path)`` installs a tracer on the scheduler's single event hook; ``stop()``
writes the file: one track (thread) per P, a slice per G run (``GoStart`` → the event
that ended it, named after the goroutine, with the wait reason on exit), instant
events for ``GoCreate``/``GoUnblock``/``Steal``/syscalls, and flow arrows from waker to
wakee.  While no trace runs the hook costs one ``is not None`` check per transition.
"""

from __future__ import annotations

import json
import os
import threading
import time as _time
from typing import Any

from ._core import proc

__all__ = ["start", "stop", "is_tracing"]


class _Tracer:
    def __init__(self, path: str, max_events: int | None) -> None:
        self.path = path
        self.events: list[tuple] = []
        self.max_events = max_events
        self.lock = threading.Lock()
        self.t0 = _time.perf_counter_ns()

    def emit(self, name: str, **f: Any) -> None:
        ev = (name, _time.perf_counter_ns(), f)
        with self.lock:
            self.events.append(ev)
            if self.max_events is not None and len(self.events) > 2 * self.max_events:
                del self.events[: len(self.events) - self.max_events]

    def to_chrome(self) -> dict:
        with self.lock:
            evs = list(self.events)
        if self.max_events is not None:
            evs = evs[-self.max_events:]
        out: list[dict] = []
        pid = 1
        running: dict[int, tuple[int, float]] = {}  # p -> (g, ts)
        flow = 0
        pending_flow: dict[int, int] = {}
        ps = set()
        for name, ts_ns, f in evs:
            ts = (ts_ns - self.t0) / 1000.0
            p = f.get("p", -1)
            ps.add(p)
            if name == "GoStart":
                prev = running.pop(p, None)
                if prev is not None:
                    out.append({"name": f"G{prev[0]}", "ph": "X", "pid": pid, "tid": p, "ts": prev[1],
                                "dur": max(ts - prev[1], 0.001), "args": {"end": "switch"}})
                running[p] = (f["g"], ts)
                fid = pending_flow.pop(f["g"], None)
                if fid is not None:
                    out.append({"name": "wake", "cat": "flow", "ph": "f", "bp": "e", "id": fid, "pid": pid, "tid": p, "ts": ts})
            elif name in ("GoBlock", "GoStop", "GoDestroy", "GoSyscallBegin"):
                prev = running.get(p)
                if prev is not None and prev[0] == f.get("g"):
                    running.pop(p)
                    out.append({"name": f"G{prev[0]}", "ph": "X", "pid": pid, "tid": p, "ts": prev[1],
                                "dur": max(ts - prev[1], 0.001),
                                "args": {"end": name, "reason": f.get("reason", "")}})
                out.append({"name": name, "ph": "i", "s": "t", "pid": pid, "tid": p, "ts": ts, "args": f})
            elif name == "GoUnblock":
                flow += 1
                pending_flow[f["g"]] = flow
                src = f.get("by", 0)
                out.append({"name": "wake", "cat": "flow", "ph": "s", "id": flow, "pid": pid, "tid": p, "ts": ts,
                            "args": {"by": src}})
                out.append({"name": name, "ph": "i", "s": "t", "pid": pid, "tid": p, "ts": ts, "args": f})
            else:
                out.append({"name": name, "ph": "i", "s": "t", "pid": pid, "tid": p, "ts": ts, "args": f})
        meta = [{"name": "process_name", "ph": "M", "pid": pid, "args": {"name": "pyruntime"}}]
        for p in sorted(ps):
            meta.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": p,
                         "args": {"name": f"P{p}" if p >= 0 else "outside"}})
        return {"traceEvents": meta + out, "displayTimeUnit": "ns"}


_current: _Tracer | None = None
_lock = threading.Lock()


def start(path: str, max_events: int | None = None) -> None:
    """Start tracing into ``path`` (written by ``stop()``); ``max_events`` keeps only the
    last N events (a flight recorder)."""
    global _current
    with _lock:
        if _current is not None:
            raise RuntimeError("trace.start: a trace is already running; call trace.stop() first")
        d = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(d) or not os.access(d, os.W_OK):
            raise OSError(f"trace.start: cannot write a trace into {d!r}")
        if max_events is not None and (not isinstance(max_events, int) or max_events < 1):
            raise ValueError(f"trace.start: max_events must be a positive int, got {max_events!r}")
        _current = _Tracer(path, max_events)
        proc.set_tracer(_current)


def stop() -> str:
    """Stop tracing and write the trace; return its path."""
    global _current
    with _lock:
        t = _current
        if t is None:
            raise RuntimeError("trace.stop: no trace is running (call trace.start(path) first)")
        proc.set_tracer(None)
        _current = None
    with open(t.path, "w") as f:
        json.dump(t.to_chrome(), f)
    return t.path


def is_tracing() -> bool:
    return _current is not None
