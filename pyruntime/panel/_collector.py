"""The panel's data path: scheduler records in, numbered JSON events and snapshots out.

Glossary
    record   what the scheduler's event hook produces (``pyruntime.trace``'s tuple
             ``(name, ts_ns, goid, pid, x)``), appended on whichever M made the transition.
    sink     the list the hook appends to (``list.append``: one C call, atomic on GIL and
             free-threaded builds, never blocks an M).
    ring     the last RING_SIZE records as ``(seq, record)`` (turned into JSON by the reader, so
             the collector stays cheap); SSE clients read from it and
             resume from it by ``Last-Event-ID``.
    seq      the event's number, 1, 2, 3 ... in the order the collector drained them
             (per M it is the transition order; across Ms it is the order of the appends,
             which the single list makes a total order).

Invariants
    * Only the collector thread removes records from the sink and assigns seq.
    * ``ring`` holds consecutive seqs; a reader that asks for a seq older than the ring's
      first gets one ``gap`` message with the exact number it missed, never a silent hole.
    * The sink is bounded: if the collector falls behind by more than SINK_MAX records,
      the oldest are dropped and counted (``dropped``) and a gap appears in the stream.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from typing import Any

from .._core import proc

RING_SIZE = 65536
SINK_MAX = 262144
DRAIN_INTERVAL = 0.02

# The one extra field of each record (trace._XKEYS), as named JSON fields.
_X_FIELDS: dict[str, Any] = {
    "GoCreate": ("by", "fn"),
    "GoStart": "m",
    "GoBlock": "reason",
    "GoStop": "reason",
    "GoUnblock": "by",
    "GoSyscallEnd": "sm",
    "ProcStart": "m",
    "ProcStop": "m",
    "ProcSteal": "m",
    "ProcsChange": ("old", "new"),
    "Steal": ("victim", "n"),
    "BlockedM": ("m", "stack"),
    "STWBegin": "reason",
    "GCBegin": "gen",
    "GCEnd": ("gen", "collected"),
}

# What state each event moves its G into (the state graph's edges).
_TO_STATE = {
    "GoCreate": "runnable",
    "GoStart": "running",
    "GoBlock": "waiting",
    "GoUnblock": "runnable",
    "GoSyscallBegin": "syscall",
    "GoSyscallEnd": "runnable",
    "GoDestroy": "dead",
}


def _fn_name(fn: Any) -> str:
    if fn is None:
        return ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return str(name) if name else type(fn).__name__


def _plain(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_plain(a) for a in v]
    if callable(v):
        return _fn_name(v)
    return str(v)


def record_to_event(rec: tuple, seq: int) -> dict:
    """One scheduler record as the panel's event object (SPEC §3.5)."""
    name, ts, goid, pid, x = rec
    ev: dict[str, Any] = {"seq": seq, "t_ns": ts, "kind": name, "g": goid or None,
                          "p": None if pid is None or pid < 0 else pid, "m": None}
    keys = _X_FIELDS.get(name)
    if keys is not None and x is not None:
        if isinstance(keys, str):
            ev[keys] = _plain(x)
        elif isinstance(x, (tuple, list)):
            for k, v in zip(keys, x):
                ev[k] = _plain(v)
    elif x is not None and isinstance(x, dict):
        for k, v in x.items():
            ev.setdefault(k, _plain(v))
    if name == "GoStop" and ev.get("reason") in ("yield", "preempted"):
        ev["to"] = "runnable"
    if name in ("GoStart", "ProcStart", "ProcStop") and isinstance(ev.get("m"), int):
        pass
    elif ev["p"] is not None:
        allp = proc.sched.allp
        if ev["p"] < len(allp):
            pm = allp[ev["p"]].m
            ev["m"] = pm.id if pm is not None else None
    if "m" in ev and not isinstance(ev["m"], (int, type(None))):
        ev["m"] = None
    return ev


class Collector:
    """The sink the scheduler appends to, and the thread that numbers and rings it."""

    def __init__(self) -> None:
        from .. import trace as _trace

        self.sink: list = []
        self.put = self.sink.append          # the hot-path entry (no Python frame)
        self.emit = _trace._make_emit(self.put, proc.sched)
        self.ring: collections.deque[tuple[int, tuple]] = collections.deque(maxlen=RING_SIZE)
        self.drains = 0
        self.seq = 0
        self.dropped = 0                     # records dropped before numbering (sink full)
        self.cond = threading.Condition()
        self.edges: collections.Counter[str] = collections.Counter()
        self.gstate: dict[int, str] = {}
        self.kinds: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpu_ns = 0                      # the collector thread's CPU time (its own cost)
        self.tick: Any = None                # called after each drain (the panel's controls)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pyruntime-panel-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self.cond:
            self.cond.notify_all()

    def _loop(self) -> None:
        while not self._stop.wait(DRAIN_INTERVAL):
            self.drain()
            if self.tick is not None:
                try:
                    self.tick()
                except Exception:
                    pass
        self.drain()

    # -- draining ----------------------------------------------------------------------

    def drain(self) -> int:
        """Number and ring every record appended since the last drain; return how many."""
        t0 = time.thread_time_ns()
        sink = self.sink
        n = len(sink)
        if not n:
            self.drains += 1
            with self.cond:
                self.cond.notify_all()
            return 0
        batch = sink[:n]
        del sink[:n]   # only this thread removes: the first n are exactly the batch
        if n > SINK_MAX:
            skip = n - SINK_MAX
            batch = batch[skip:]
            self.dropped += skip
            self.seq += skip  # the lost records had numbers: readers see a gap of exactly skip
        ring = self.ring
        edges = self.edges
        gstate = self.gstate
        kinds = self.kinds
        to_state = _TO_STATE
        seq = self.seq
        for rec in batch:
            seq += 1
            ring.append((seq, rec))
            kind = rec[0]
            kinds[kind] += 1
            to = to_state.get(kind)
            if to is None and kind == "GoStop":
                to = "runnable"
            g = rec[2]
            if g and to is not None:
                frm = gstate.get(g, "new" if kind == "GoCreate" else "?")
                edges[f"{frm}>{to}"] += 1
                if to == "dead":
                    gstate.pop(g, None)
                else:
                    gstate[g] = to
        self.seq = seq
        self.drains += 1
        with self.cond:
            self.cond.notify_all()
        self.cpu_ns += time.thread_time_ns() - t0
        return n

    def read_from(self, after: int) -> tuple[int, list[tuple[int, tuple]]]:
        """(dropped, events) for a reader whose last seen seq is ``after``: ``dropped`` is
        how many events between ``after`` and the ring's oldest it can no longer get."""
        ring = self.ring
        while True:
            try:
                items = list(ring)
                break
            except RuntimeError:  # mutated while copying: the collector appended; retry
                continue
        if not items:
            return (max(0, self.seq - after) if after < self.seq else 0), []
        first = items[0][0]
        dropped = max(0, first - after - 1)
        if after >= first:
            items = items[after - first + 1:]
        return dropped, items

    def wait_numbered(self, rec: tuple, timeout: float) -> dict | None:
        """The event of this very record once the collector has numbered it."""
        end = time.monotonic() + timeout
        while True:
            _, items = self.read_from(max(0, self.seq - 4096))
            for seq, r in reversed(items):
                if r is rec:
                    return record_to_event(r, seq)
            left = end - time.monotonic()
            if left <= 0:
                return None
            with self.cond:
                self.cond.wait(min(left, 0.05))

    def sync(self, timeout: float = 2.0) -> None:
        """Return once every record appended before the call has been numbered."""
        end = time.monotonic() + timeout
        target = self.drains + 1
        with self.cond:
            while (self.drains < target or self.sink) and not self._stop.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(min(left, 0.05))
                if self.drains >= target and self.sink:
                    target = self.drains + 1

    def wait_new(self, after: int, timeout: float) -> None:
        with self.cond:
            if self.seq <= after and not self._stop.is_set():
                self.cond.wait(timeout)
