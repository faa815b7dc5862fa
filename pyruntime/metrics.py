"""pyruntime.metrics: ``read() -> dict`` in Go's runtime/metrics names.

Histograms are :class:`Histogram` objects (``buckets``: boundaries in seconds, Go's
time-histogram layout, 163 boundaries from -Inf through 0, 64 ns, 128 ns ... to +Inf;
``counts``: one int per bucket; ``total``, ``quantile(q)``); gauges and counters are
numbers.  Every histogram is exact: it records every event, where Go samples 1 in 8.

=====================================  =========  =============================================
name                                   kind       what it counts
=====================================  =========  =============================================
/sched/latencies:seconds               histogram  every runnable→running interval: from the
                                                  moment a G is made runnable (``go``, a
                                                  wake-up, a yield, a preemption) to the
                                                  moment an M starts running it
/sched/syscall/latencies:seconds       histogram  each ``pyruntime.syscall(fn)``: from the call
                                                  to a syscall M starting ``fn`` (the wait for
                                                  a syscall M, not the call's duration; the
                                                  trace has the durations)
/sched/running:seconds                 histogram  run lengths: how long a G ran before it
                                                  blocked, yielded, was preempted or ended
/sched/goroutines:goroutines           gauge      live goroutines (main included)
/sched/goroutines/running:goroutines   gauge      by state; ``syscall`` is Go 1.26's
/sched/goroutines/runnable:goroutines             ``not-in-go``.  A snapshot taken without
/sched/goroutines/waiting:goroutines              stopping the world: the four may not add
/sched/goroutines/syscall:goroutines              up to the total while Gs move
/sched/gomaxprocs:threads              gauge      current GOMAXPROCS
/sched/stall/total:seconds             counter    summed over Ps, time during which a P's run
                                                  queue held a runnable G it was not running
                                                  (Linux PSI "some", golang/go#79597);
                                                  includes the interval still open
/sync/mutex/wait/total:seconds         counter    time goroutines spent blocked in
                                                  ``sync.Mutex.lock``, ``RWMutex.rlock`` and
                                                  ``RWMutex.lock``
/gc/pauses:seconds                     histogram  Python's cyclic collector, each collection
                                                  (it holds the GIL: every M stops, so it is a
                                                  stop-the-world pause)
/sched/pauses/stopping/other:seconds   histogram  ``debug.stw``/GOMAXPROCS: deciding to stop
                                                  the world until every P stopped
/sched/pauses/total/other:seconds      histogram  ... until the world started again
/sched/preemptions:count               counter    preemptions (sysmon's time slice, STW)
/sched/preempt/slices:seconds          histogram  how long a preempted G had run
/sched/preempt/latencies:seconds       histogram  sysmon's request → the G switched out
=====================================  =========  =============================================
"""

from __future__ import annotations

import time as _time
from typing import Any

from ._core import proc
from ._core.g import Grunnable, Grunning, Gsyscall, Gwaiting
from ._core.hist import BUCKETS, Histogram

__all__ = ["read", "Histogram", "BUCKETS", "reset"]


def read() -> dict[str, Any]:
    """A snapshot of every metric."""
    s = proc.sched
    m = proc.metrics
    counts = {Grunning: 0, Grunnable: 0, Gwaiting: 0, Gsyscall: 0}
    for g in list(s.allgs.values()):
        st = g._status
        if st in counts:
            counts[st] += 1
    return {
        "/sched/latencies:seconds": m.schedlat.snapshot(),
        "/sched/syscall/latencies:seconds": m.syscalllat.snapshot(),
        "/sched/goroutines:goroutines": len(s.allgs) if s.running else 0,
        "/sched/goroutines/running:goroutines": counts[Grunning],
        "/sched/goroutines/runnable:goroutines": counts[Grunnable],
        "/sched/goroutines/waiting:goroutines": counts[Gwaiting],
        "/sched/goroutines/syscall:goroutines": counts[Gsyscall],
        "/sched/gomaxprocs:threads": s.gomaxprocs if s.running else proc.gomaxprocs(),
        "/sched/running:seconds": m.running.snapshot(),
        "/sched/stall/total:seconds": _stall_ns(s) / 1e9,
        "/sync/mutex/wait/total:seconds": m.mutex_wait_ns / 1e9,
        "/gc/pauses:seconds": m.gcpauses.snapshot(),
        "/sched/pauses/stopping/other:seconds": m.stw_stopping.snapshot(),
        "/sched/pauses/total/other:seconds": m.stw_total.snapshot(),
        "/sched/preemptions:count": m.preemptions,
        "/sched/preempt/slices:seconds": m.preempt_slices.snapshot(),
        "/sched/preempt/latencies:seconds": m.preempt_latency.snapshot(),
    }


def _stall_ns(s: Any) -> int:
    """Closed stall intervals plus the ones still open (a P whose queue is non-empty
    now has been stalling since ``stall_t0``)."""
    now = _time.perf_counter_ns()
    total = 0
    for p in list(s.allp):
        total += p.stall_ns
        if (p.runq or p.runnext is not None) and p.stall_t0:
            total += max(0, now - p.stall_t0)
    return total


def reset() -> None:
    """Zero every histogram and counter (for benchmarks and labs)."""
    m = proc.metrics
    for name in ("schedlat", "running", "syscalllat", "gcpauses", "stw_stopping", "stw_total",
                 "preempt_slices", "preempt_latency"):
        h = getattr(m, name, None)
        if h is not None:
            h.reset()
    m.mutex_wait_ns = 0
    if hasattr(m, "preemptions"):
        m.preemptions = 0
    samples = getattr(m, "slice_samples", None)
    if samples is not None:
        samples.clear()
    for p in list(proc.sched.allp):
        p.stall_ns = 0
