"""B2: spawn + join N empty tasks; cost per task (ns).

The clock covers creating all N tasks and waiting until every one has finished.
A warm-up pass of ``--warm`` tasks runs first in the same process (same runtime/loop).

impls:
  pyruntime      go(noop, wg) x N, then wg.wait()       (pyruntime.sync.WaitGroup, GOMAXPROCS=1)
  gevent         gevent.spawn(noop) x N, gevent.joinall
  asyncio        loop.create_task(noop()) x N, asyncio.gather   (default loop)
  uvloop         same, on uvloop
  greenlet       raw greenlet: a new greenlet(noop) per task, each switched into once (floor
                 for "a new greenlet per goroutine")
  greenlet-pool  reused greenlets: tasks are (fn, args) records in a deque, run by a pooled
                 worker greenlet that switches back to the scheduler after each one (floor
                 for "G reuse")
  threads        threading.Thread(target=noop).start() x N, join all (use a small N)
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import main, now_ns, settle, pyruntime_run, run_asyncio


def noop(*_a):
    pass


def bench_pyruntime(n, warm):
    from pyruntime import go
    from pyruntime.sync import WaitGroup

    def task(wg):
        wg.done()

    def once(k):
        wg = WaitGroup()
        wg.add(k)
        t0 = now_ns()
        for _ in range(k):
            go(task, wg)
        wg.wait()
        return now_ns() - t0

    def rtmain():
        once(warm)
        settle()
        return once(n)

    return pyruntime_run(rtmain)


def bench_gevent(n, warm):
    import gevent

    def once(k):
        t0 = now_ns()
        gs = [gevent.spawn(noop) for _ in range(k)]
        gevent.joinall(gs)
        return now_ns() - t0

    once(warm)
    settle()
    return once(n)


def bench_asyncio(n, warm, impl):
    import asyncio

    async def anoop():
        pass

    async def once(k):
        loop = asyncio.get_running_loop()
        t0 = now_ns()
        ts = [loop.create_task(anoop()) for _ in range(k)]
        await asyncio.gather(*ts)
        return now_ns() - t0

    async def amain():
        await once(warm)
        settle()
        return await once(n)

    return run_asyncio(amain, impl)


def bench_greenlet(n, warm):
    from greenlet import greenlet

    def once(k):
        t0 = now_ns()
        gs = [greenlet(noop) for _ in range(k)]
        for g in gs:
            g.switch()
        return now_ns() - t0

    once(warm)
    settle()
    return once(n)


def bench_greenlet_pool(n, warm):
    """Minimal scheduler with a free list of worker greenlets: go() appends a record, the
    scheduler loop hands each record to a pooled worker; a finished worker goes back on the
    free list (what Go does with dead Gs)."""
    from collections import deque

    from greenlet import getcurrent, greenlet

    sched = getcurrent()
    runq = deque()
    free = []
    state = {"live": 0}

    def worker():
        while True:
            fn, args = sched.switch()  # park on the free list; resumed with the next task
            fn(*args)
            state["live"] -= 1

    def go(fn, *args):
        state["live"] += 1
        runq.append((fn, args))

    def schedule():
        while runq:
            rec = runq.popleft()
            if free:
                w = free.pop()
            else:
                w = greenlet(worker)
                w.switch()  # start it: runs to its first sched.switch()
            w.switch(rec)  # runs the task, comes back here when it parks again
            free.append(w)

    def once(k):
        t0 = now_ns()
        for _ in range(k):
            go(noop)
        schedule()  # join: run until nothing is left
        assert state["live"] == 0
        return now_ns() - t0

    once(warm)
    settle()
    return once(n)


def bench_threads(n, warm):
    import threading

    def once(k):
        t0 = now_ns()
        ts = [threading.Thread(target=noop) for _ in range(k)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return now_ns() - t0

    once(warm)
    settle()
    return once(n)


def _wrap(fn, *extra):
    def run(args):
        warm = args.warm if args.warm is not None else max(1, args.n // 10)
        dt = fn(args.n, warm, *extra)
        return {"n": args.n, "warm": warm}, {"ns_per_task": dt / args.n}

    return run


IMPLS = {
    "pyruntime": _wrap(bench_pyruntime),
    "gevent": _wrap(bench_gevent),
    "asyncio": _wrap(bench_asyncio, "asyncio"),
    "uvloop": _wrap(bench_asyncio, "uvloop"),
    "greenlet": _wrap(bench_greenlet),
    "greenlet-pool": _wrap(bench_greenlet_pool),
    "threads": _wrap(bench_threads),
}


def _args(ap):
    ap.add_argument("--n", type=int, default=100_000, help="tasks in the measured pass")
    ap.add_argument("--warm", type=int, default=None, help="tasks in the warm-up pass (default n/10)")


if __name__ == "__main__":
    main("spawn", IMPLS, _args, __doc__)
