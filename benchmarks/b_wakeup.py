"""B7: wake-up latency with Y busy yielders.

Y yielder tasks loop on "yield to the scheduler" (rt.gosched() / gevent.sleep(0) /
asyncio.sleep(0)) until told to stop. A receiver task is blocked on a chan/queue. A waker
task, once per sample, yields once (so the receiver has gone back to waiting), then reads
perf_counter_ns() and sends that timestamp; the receiver computes latency = receive time -
send time. The first ``--warm`` samples are discarded (warm-up); p50/p99 are over the
remaining ``--samples``.

impls:
  pyruntime  unbuffered chan(), rt.gosched() yielders, GOMAXPROCS=1
  gevent     gevent.queue.Queue(), gevent.sleep(0) yielders
  asyncio    asyncio.Queue(), asyncio.sleep(0) yielders, default loop
  uvloop     same on uvloop
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import main, now_ns, settle, percentile, pyruntime_run, run_asyncio


def bench_pyruntime(total, yielders):
    import pyruntime as rt
    from pyruntime import chan, go

    stop = [False]
    lat = []

    def yielder():
        gosched = rt.gosched
        while not stop[0]:
            gosched()

    def receiver(ch, done):
        for _ in range(total):
            t = ch.recv()
            lat.append(now_ns() - t)
        done.send(None)

    def waker(ch):
        for _ in range(total):
            rt.gosched()
            ch.send(now_ns())

    def rtmain():
        ch, done = chan(), chan()
        for _ in range(yielders):
            go(yielder)
        rt.gosched()  # let every yielder start
        settle()
        go(receiver, ch, done)
        go(waker, ch)
        done.recv()
        stop[0] = True
        return lat

    return pyruntime_run(rtmain)


def bench_gevent(total, yielders):
    import gevent
    from gevent.queue import Queue

    stop = [False]
    lat = []

    def yielder():
        sleep = gevent.sleep
        while not stop[0]:
            sleep(0)

    def receiver(q):
        for _ in range(total):
            t = q.get()
            lat.append(now_ns() - t)

    def waker(q):
        for _ in range(total):
            gevent.sleep(0)
            q.put(now_ns())

    q = Queue()
    ys = [gevent.spawn(yielder) for _ in range(yielders)]
    gevent.sleep(0)  # let every yielder start
    settle()
    r = gevent.spawn(receiver, q)
    w = gevent.spawn(waker, q)
    r.join()
    stop[0] = True
    w.join()
    gevent.joinall(ys)
    return lat


def bench_asyncio(total, yielders, impl):
    import asyncio

    async def amain():
        loop = asyncio.get_running_loop()
        stop = [False]
        lat = []

        async def yielder():
            sleep = asyncio.sleep
            while not stop[0]:
                await sleep(0)

        async def receiver(q):
            for _ in range(total):
                t = await q.get()
                lat.append(now_ns() - t)

        async def waker(q):
            for _ in range(total):
                await asyncio.sleep(0)
                q.put_nowait(now_ns())

        q = asyncio.Queue()
        ys = [loop.create_task(yielder()) for _ in range(yielders)]
        await asyncio.sleep(0)  # let every yielder start
        settle()
        r = loop.create_task(receiver(q))
        w = loop.create_task(waker(q))
        await r
        stop[0] = True
        await w
        await asyncio.gather(*ys)
        return lat

    return run_asyncio(amain, impl)


def _wrap(fn, *extra):
    def run(args):
        lat = fn(args.warm + args.samples, args.yielders, *extra)
        lat = lat[args.warm :]
        return (
            {"samples": args.samples, "yielders": args.yielders, "warm": args.warm},
            {
                "p50_us": percentile(lat, 50) / 1e3,
                "p99_us": percentile(lat, 99) / 1e3,
                "max_us": max(lat) / 1e3,
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
    ap.add_argument("--samples", type=int, default=500, help="measured wake-ups")
    ap.add_argument("--yielders", type=int, default=1000, help="busy yielding tasks")
    ap.add_argument("--warm", type=int, default=30, help="wake-ups discarded first (warm-up)")


if __name__ == "__main__":
    main("wakeup", IMPLS, _args, __doc__)
