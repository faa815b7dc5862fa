"""pyruntime.metrics as issue 5 checks it: every name is documented, histograms have
Go's layout, the stall counter includes the interval still open, RWMutex waits count
as mutex wait (as in Go), and reset() zeroes everything."""

from __future__ import annotations

import re
import time as stdtime

import pytest

import pyruntime as rt
from pyruntime import chan, go, metrics, sync
from pyruntime import time as gotime
from pyruntime._core import proc

pytestmark = pytest.mark.timeout(60)


def test_every_metric_is_documented_and_well_formed(procs):
    m = rt.run(metrics.read, gomaxprocs=procs)
    documented = set(re.findall(r"^(/[a-z/_-]+:[a-z]+)", metrics.__doc__, re.M))
    assert documented == set(m), (documented ^ set(m))
    for name, v in m.items():
        if isinstance(v, metrics.Histogram):
            assert v.buckets == metrics.BUCKETS and len(v.counts) == len(v.buckets) - 1 == 162, name
            assert all(isinstance(c, int) and c >= 0 for c in v.counts), name
        else:
            assert isinstance(v, (int, float)) and v >= 0, name


def test_stall_counts_the_interval_still_open():
    def main():
        old = proc.FORCE_PREEMPT_NS
        proc.FORCE_PREEMPT_NS = 10**15  # nothing takes the P away from main
        try:
            before = metrics.read()["/sched/stall/total:seconds"]
            done = chan(1)
            go(done.send, 1)             # runnable on this P, which main keeps busy
            end = stdtime.perf_counter() + 0.03
            while stdtime.perf_counter() < end:
                pass
            during = metrics.read()["/sched/stall/total:seconds"] - before
            done.recv()
            return during
        finally:
            proc.FORCE_PREEMPT_NS = old

    during = rt.run(main, gomaxprocs=1)
    assert 0.025 <= during < 1.0


@pytest.mark.parametrize("side", ["reader waits", "writer waits"])
def test_rwmutex_waits_count_as_mutex_wait(side):
    def main():
        mu = sync.RWMutex()
        before = metrics.read()["/sync/mutex/wait/total:seconds"]
        done = chan()
        if side == "reader waits":
            mu.lock()
            go(lambda: (mu.rlock(), mu.runlock(), done.send(None)))
        else:
            mu.rlock()
            go(lambda: (mu.lock(), mu.unlock(), done.send(None)))
        gotime.sleep(0.02)
        (mu.unlock if side == "reader waits" else mu.runlock)()
        done.recv()
        return metrics.read()["/sync/mutex/wait/total:seconds"] - before

    assert 0.015 <= rt.run(main, gomaxprocs=2) < 5


def test_reset_zeroes_every_histogram_and_counter():
    def main():
        mu = sync.Mutex()
        mu.lock()
        go(lambda: (mu.lock(), mu.unlock()))
        gotime.sleep(0.005)
        mu.unlock()
        rt.syscall(stdtime.sleep, 0)
        gotime.sleep(0.005)
        m0 = metrics.read()
        metrics.reset()
        return m0, metrics.read()

    m0, m1 = rt.run(main, gomaxprocs=1)
    assert m0["/sched/latencies:seconds"].total > 0 and m0["/sync/mutex/wait/total:seconds"] > 0
    for name, v in m1.items():
        if isinstance(v, metrics.Histogram):
            assert v.total == 0, name
    assert m1["/sync/mutex/wait/total:seconds"] == 0 and m1["/sched/preemptions:count"] == 0
    assert m1["/sched/stall/total:seconds"] == 0


def test_stall_stays_within_wall_time_times_procs():
    def main():
        done = chan(100)

        def spin():
            x = 0
            for i in range(20000):
                x += i
            done.send(1)

        t0 = stdtime.perf_counter()
        before = metrics.read()["/sched/stall/total:seconds"]
        for _ in range(40):
            go(spin)
        for _ in range(40):
            done.recv()
        return metrics.read()["/sched/stall/total:seconds"] - before, stdtime.perf_counter() - t0

    stall, wall = rt.run(main, gomaxprocs=4)
    assert 0 < stall <= 4 * wall
