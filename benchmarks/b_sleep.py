"""B5: N tasks each sleep(1 ms) concurrently: wall time and oversleep.

Each task reads the clock, sleeps ``--sleep`` seconds, reads the clock again;
oversleep = (actual sleep) - (requested sleep). wall = from before the first spawn until
all N have been joined. Reported: wall_ms, over_p50_us, over_p99_us (percentiles over the
N tasks of the measured pass). A warm-up pass with ``--warm`` tasks runs first.

impls:
  pyruntime  go() x N + pyruntime.time.sleep + sync.WaitGroup, GOMAXPROCS=1
  gevent     gevent.spawn x N + gevent.sleep + joinall
  asyncio    create_task x N + asyncio.sleep + gather, default loop
  uvloop     same on uvloop
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import check, main, now_ns, settle, percentile, pyruntime_run, run_asyncio


def bench_pyruntime(n, warm, dt):
    import pyruntime.time as rtime
    from pyruntime import go
    from pyruntime.sync import WaitGroup

    def sleeper(i, over, wg, req):
        t0 = now_ns()
        rtime.sleep(dt)
        over[i] = now_ns() - t0 - req
        wg.done()

    def once(k):
        over = [None] * k
        wg = WaitGroup()
        wg.add(k)
        req = int(dt * 1e9)
        t0 = now_ns()
        for i in range(k):
            go(sleeper, i, over, wg, req)
        wg.wait()
        return now_ns() - t0, over

    def rtmain():
        once(warm)
        settle()
        return once(n)

    return pyruntime_run(rtmain)


def bench_gevent(n, warm, dt):
    import gevent

    def sleeper(i, over, req):
        t0 = now_ns()
        gevent.sleep(dt)
        over[i] = now_ns() - t0 - req

    def once(k):
        over = [None] * k
        req = int(dt * 1e9)
        t0 = now_ns()
        gs = [gevent.spawn(sleeper, i, over, req) for i in range(k)]
        gevent.joinall(gs)
        return now_ns() - t0, over

    once(warm)
    settle()
    return once(n)


def bench_asyncio(n, warm, dt, impl):
    import asyncio

    async def sleeper(i, over, req):
        t0 = now_ns()
        await asyncio.sleep(dt)
        over[i] = now_ns() - t0 - req

    async def once(k):
        loop = asyncio.get_running_loop()
        over = [None] * k
        req = int(dt * 1e9)
        t0 = now_ns()
        ts = [loop.create_task(sleeper(i, over, req)) for i in range(k)]
        await asyncio.gather(*ts)
        return now_ns() - t0, over

    async def amain():
        await once(warm)
        settle()
        return await once(n)

    return run_asyncio(amain, impl)


def _wrap(fn, *extra):
    def run(args):
        warm = args.warm if args.warm is not None else max(1, args.n // 10)
        wall, over = fn(args.n, warm, args.sleep, *extra)
        check(sum(1 for x in over if x is None), 0, "sleepers that never finished")
        return (
            {"n": args.n, "sleep_s": args.sleep, "warm": warm},
            {
                "wall_ms": wall / 1e6,
                "over_p50_us": percentile(over, 50) / 1e3,
                "over_p99_us": percentile(over, 99) / 1e3,
                "over_max_us": max(over) / 1e3,
                "over_min_us": min(over) / 1e3,  # negative: woke before the deadline
            },
        )

    return run


IMPLS = {
    "pyruntime": _wrap(bench_pyruntime),
    "gevent": _wrap(bench_gevent),
    "asyncio": _wrap(bench_asyncio, "asyncio"),
    "uvloop": _wrap(bench_asyncio, "uvloop"),
}


def _args(ap):
    ap.add_argument("--n", type=int, default=10_000, help="concurrent sleepers in the measured pass")
    ap.add_argument("--sleep", type=float, default=0.001, help="requested sleep, seconds")
    ap.add_argument("--warm", type=int, default=None, help="sleepers in the warm-up pass (default n/10)")


if __name__ == "__main__":
    main("sleep", IMPLS, _args, __doc__)
