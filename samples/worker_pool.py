"""A worker pool: jobs on a buffered channel, N workers, results collected with a
WaitGroup and a results channel; blocking work goes through rt.syscall so the
P keeps running other goroutines.

    pyruntime run [--gomaxprocs 4] [--panel-control] samples/worker_pool.py [NJOBS [NWORKERS]]
"""

import hashlib
import time

import pyruntime as rt
from pyruntime import chan, go, sync


def work(job: int) -> str:
    # Pure-Python CPU work, then a blocking call offloaded to a syscall M.
    h = hashlib.sha256(str(job).encode()).hexdigest()
    rt.syscall(time.sleep, 0.002)
    return h[:8]


def worker(wid: int, jobs: chan, results: chan, wg: sync.WaitGroup) -> None:
    try:
        for job in jobs:
            results.send((wid, job, work(job)))
    finally:
        wg.done()


def main(njobs: int = 200, nworkers: int = 16) -> None:
    jobs, results = chan(64), chan(64)
    wg = sync.WaitGroup()
    wg.add(nworkers)
    for w in range(nworkers):
        go(worker, w, jobs, results, wg)

    def feed() -> None:
        for j in range(njobs):
            jobs.send(j)
        jobs.close()

    go(feed)
    go(lambda: (wg.wait(), results.close()))
    t0 = time.perf_counter()
    per_worker: dict[int, int] = {}
    for wid, job, digest in results:
        per_worker[wid] = per_worker.get(wid, 0) + 1
    dt = time.perf_counter() - t0
    print(f"{njobs} jobs on {nworkers} workers in {dt * 1e3:.1f} ms "
          f"(serial sleeps alone would take {njobs * 2} ms)")
    print("jobs per worker:", dict(sorted(per_worker.items())))
    lat = rt.metrics.read()["/sched/latencies:seconds"]
    print(f"scheduling latency: {lat.total} runnable->running intervals, p50 <= {lat.quantile(0.5) * 1e6:.1f} us, "
          f"p99 <= {lat.quantile(0.99) * 1e6:.1f} us")


if __name__ == "__main__":
    import sys

    # pyruntime run samples/worker_pool.py [NJOBS [NWORKERS]]
    args = [int(a) for a in sys.argv[1:3]]
    rt.run(main, *args)
