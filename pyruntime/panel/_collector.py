"""The panel's data path: scheduler records in, numbered JSON events and snapshots out.

Glossary
    record   what the scheduler's event hook produces (``pyruntime.trace``'s tuple
             ``(name, ts_ns, goid, pid, x)``), appended on whichever M made the transition.
    sink     the list the hook appends to (``list.append``: one C call, atomic on GIL and
             free-threaded builds, never blocks an M).
    ring     the last RING_SIZE records, in one chunk per drain: the batch as one
             ``marshal`` blob (one untracked bytes object: no GC or cache cost to the
             program for the records it keeps); decoded and turned into JSON only by a
             reader, so the collector's cost per record is a copy, a C-level count and
             marshal's ~50 ns.  SSE clients read from it and
             resume from it by ``Last-Event-ID``.
    seq      the event's number, 1, 2, 3 ... in the order the collector drained them
             (per M it is the transition order; across Ms it is the order of the appends,
             which the single list makes a total order).

Invariants
    * Only the collector thread removes records from the sink and assigns seq.
    * ``ring``'s chunks hold consecutive seqs; a reader that asks for a seq older than the ring's
      first gets one ``gap`` message with the exact number it missed, never a silent hole.
    * The sink is bounded: if the collector falls behind by more than SINK_MAX records,
      the oldest are dropped and counted (``dropped``) and a gap appears in the stream.
"""

from __future__ import annotations

import collections
import marshal
import threading
import time
from operator import itemgetter
from typing import Any

from .._core import proc
from ..trace import _plain

RING_SIZE = 65536
SINK_MAX = 262144
DRAIN_INTERVAL = 0.05  # 20 drains a second: each one takes the GIL from a running M

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

def record_to_event(rec: tuple, seq: int) -> dict:
    """One scheduler record as the panel's event object (SPEC §3.5)."""
    name, ts, goid, pid, x = rec
    ev: dict[str, Any] = {"seq": seq, "t_ns": ts, "kind": name, "g": goid or None,
                          "p": None if pid is None or pid < 0 else pid, "m": None}
    x = _plain(x)  # functions by name (GoCreate), anything exotic by its repr
    keys = _X_FIELDS.get(name)
    if keys is not None and x is not None:
        if isinstance(keys, str):
            ev[keys] = x
        elif isinstance(x, (tuple, list)):
            ev.update(zip(keys, x))
    elif isinstance(x, dict):
        for k, v in x.items():
            ev.setdefault(k, v)
    if name == "GoStop" and ev.get("reason") in ("yield", "preempted"):
        ev["to"] = "runnable"
    if not isinstance(ev["m"], int):
        # Events that carry no M id of their own: the M of the P they happened on.
        ev["m"] = None
        p = ev["p"]
        allp = proc.sched.allp
        if p is not None and p < len(allp) and allp[p].m is not None:
            ev["m"] = allp[p].m.id
    return ev


def edge_counts(kinds: dict) -> dict[str, int]:
    """The state graph's edge counts, derived from how many events of each kind were seen
    (every kind moves its G along exactly one edge; a syscall's return is a GoSyscallEnd
    followed by a GoUnblock from the syscall M, counted once, as syscall→runnable)."""
    k = kinds.get
    sys_end = k("GoSyscallEnd", 0)
    return {
        "new>runnable": k("GoCreate", 0),
        "runnable>running": k("GoStart", 0),
        "running>waiting": k("GoBlock", 0),
        "running>runnable": k("GoStop", 0),
        "waiting>runnable": max(0, k("GoUnblock", 0) - sys_end),
        "running>syscall": k("GoSyscallBegin", 0),
        "syscall>runnable": sys_end,
        "running>dead": k("GoDestroy", 0),
    }


class Collector:
    """The sink the scheduler appends to, and the thread that numbers and rings it."""

    def __init__(self, ring_size: int = RING_SIZE) -> None:
        self.sink: list = []
        self.put = self.sink.append          # the hot-path entry (no Python frame)
        # The ring, one chunk per drain: [first seq, count, marshal blob, skipped at the front].
        # Blobs, not tuples: 65,536 live record tuples cost the program's GC and caches
        # (measured: ping-pong +54% with tuples, see benchmarks/panel_overhead.py).
        self.ring: collections.deque[list] = collections.deque()
        self._decoded: Any = None
        self.ring_size = ring_size
        self.nring = 0
        self.drains = 0
        self.seq = 0
        self.dropped = 0                     # records dropped before numbering (sink full)
        self.cond = threading.Condition()
        self.kinds: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpu_ns = 0                      # the collector thread's CPU time (its own cost)
        self.tick: Any = None                # called after each drain (the panel's controls)

    @property
    def edges(self) -> dict[str, int]:
        return edge_counts(self.kinds)

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
        if n:
            batch = sink[:n]
            del sink[:n]   # only this thread removes: the first n are exactly the batch
            if n > SINK_MAX:
                skip = n - SINK_MAX
                batch = batch[skip:]
                self.dropped += skip
                self.seq += skip  # the lost records had numbers: readers see a gap of exactly skip
            self.kinds.update(map(_first, batch))  # counted in C
            try:
                blob = marshal.dumps(batch)
            except ValueError:  # a GoCreate holds its function: keep its name (only those)
                from ..trace import _plain_record

                for i, r in enumerate(batch):
                    if r[0] == "GoCreate":
                        batch[i] = _plain_record(r)
                try:
                    blob = marshal.dumps(batch)
                except ValueError:  # something else exotic: every record made plain
                    blob = marshal.dumps([_plain_record(r) for r in batch])
            k = len(batch)
            ring = self.ring
            ring.append([self.seq + 1, k, blob, 0])  # first seq, records, marshal blob, skipped
            self.nring += k
            while self.nring > self.ring_size:
                c = ring[0]
                over = self.nring - self.ring_size
                live = c[1] - c[3]
                if over >= live:
                    ring.popleft()
                    self.nring -= live
                else:  # keep exactly ring_size records: skip the oldest of this chunk
                    c[3] += over
                    self.nring -= over
            self.seq += k
        self.drains += 1
        with self.cond:
            self.cond.notify_all()
        self.cpu_ns += time.thread_time_ns() - t0
        return n

    def _records(self, chunk: list) -> list:
        """A chunk's records (decoded once and cached: readers usually want the newest)."""
        key = (chunk[0], chunk[1])
        c = self._decoded
        if c is not None and c[0] == key:
            return c[1]
        recs = marshal.loads(chunk[2])
        self._decoded = (key, recs)
        return recs

    def read_from(self, after: int, limit: int = 1 << 30) -> tuple[int, list[tuple[int, tuple]]]:
        """(dropped, [(seq, record), ...]) for a reader whose last seen seq is ``after``:
        ``dropped`` is how many events after ``after`` the ring no longer has; at most
        ``limit`` events, oldest first."""
        while True:
            try:
                chunks = [list(c) for c in self.ring]
                break
            except RuntimeError:  # mutated while copying: the collector appended; retry
                continue
        if not chunks:
            return max(0, self.seq - after), []
        first = chunks[0][0] + chunks[0][3]
        dropped = max(0, first - after - 1)
        out: list[tuple[int, tuple]] = []
        for c in chunks:
            s0, k, _, skip = c
            if s0 + k - 1 <= after:
                continue
            recs = self._records(c)
            for j in range(max(skip, after + 1 - s0), k):
                out.append((s0 + j, recs[j]))
                if len(out) >= limit:
                    return dropped, out
        return dropped, out

    def newest(self, n: int) -> list[tuple[int, tuple]]:
        return self.read_from(max(0, self.seq - n))[1]

    def wait_numbered(self, rec: tuple, timeout: float) -> dict | None:
        """The event of this record (same name, time and G) once the collector numbered it."""
        end = time.monotonic() + timeout
        key = (rec[0], rec[1], rec[2])
        while True:
            for seq, r in reversed(self.newest(4096)):
                if (r[0], r[1], r[2]) == key:
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


_first = itemgetter(0)
