"""pyruntime.metrics: ``read() -> dict`` in Go's runtime/metrics names.

Histograms are :class:`Histogram` objects (``buckets``: boundaries in seconds, Go's
time-histogram layout; ``counts``: one int per bucket); gauges are numbers.
``/sched/latencies:seconds`` counts *every* runnable→running interval (Go samples
1 in 8), ``/gc/pauses:seconds`` observes Python's collector as stop-the-world.
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
        "/sched/stall/total:seconds": sum(p.stall_ns for p in s.allp) / 1e9,
        "/sync/mutex/wait/total:seconds": m.mutex_wait_ns / 1e9,
        "/gc/pauses:seconds": m.gcpauses.snapshot(),
        "/sched/pauses/stopping/other:seconds": m.stw_stopping.snapshot(),
        "/sched/pauses/total/other:seconds": m.stw_total.snapshot(),
        "/sched/preemptions:count": m.preemptions,
        "/sched/preempt/slices:seconds": m.preempt_slices.snapshot(),
    }


def reset() -> None:
    """Zero every histogram and counter (for benchmarks and labs)."""
    m = proc.metrics
    m.schedlat.reset()
    m.running.reset()
    m.syscalllat.reset()
    m.gcpauses.reset()
    m.mutex_wait_ns = 0
