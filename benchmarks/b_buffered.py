"""B4: buffered channel (capacity 128) throughput; cost per item (ns).

A producer task puts the ints 0..N-1, the main task gets N items. The clock runs from
before the producer is started until the last item is received. A warm-up of ``--warm``
items runs first in the same process.

impls:
  pyruntime  chan(128), producer goroutine, GOMAXPROCS=1
  gevent     gevent.queue.Queue(128)
  asyncio    asyncio.Queue(128), default loop
  uvloop     asyncio.Queue(128), uvloop
  threads    queue.Queue(128), producer thread, consumer = main thread
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import check, main, now_ns, settle, pyruntime_run, run_asyncio


def bench_pyruntime(n, warm, cap):
    from pyruntime import chan, go

    def producer(ch, k):
        send = ch.send
        for i in range(k):
            send(i)

    def once(k):
        ch = chan(cap)
        recv = ch.recv
        t0 = now_ns()
        go(producer, ch, k)
        for _ in range(k):
            last = recv()
        dt = now_ns() - t0
        check(last, k - 1)
        return dt

    def rtmain():
        once(warm)
        settle()
        return once(n)

    return pyruntime_run(rtmain)


def bench_gevent(n, warm, cap):
    import gevent
    from gevent.queue import Queue

    def producer(q, k):
        put = q.put
        for i in range(k):
            put(i)

    def once(k):
        q = Queue(cap)
        get = q.get
        t0 = now_ns()
        g = gevent.spawn(producer, q, k)
        for _ in range(k):
            last = get()
        dt = now_ns() - t0
        check(last, k - 1)
        g.join()
        return dt

    once(warm)
    settle()
    return once(n)


def bench_asyncio(n, warm, cap, impl):
    import asyncio

    async def producer(q, k):
        put = q.put
        for i in range(k):
            await put(i)

    async def once(k):
        q = asyncio.Queue(cap)
        get = q.get
        t0 = now_ns()
        t = asyncio.get_running_loop().create_task(producer(q, k))
        for _ in range(k):
            last = await get()
        dt = now_ns() - t0
        check(last, k - 1)
        await t
        return dt

    async def amain():
        await once(warm)
        settle()
        return await once(n)

    return run_asyncio(amain, impl)


def bench_threads(n, warm, cap):
    import queue
    import threading

    def producer(q, k):
        put = q.put
        for i in range(k):
            put(i)

    def once(k):
        q = queue.Queue(cap)
        get = q.get
        t0 = now_ns()
        th = threading.Thread(target=producer, args=(q, k))
        th.start()
        for _ in range(k):
            last = get()
        dt = now_ns() - t0
        check(last, k - 1)
        th.join()
        return dt

    once(warm)
    settle()
    return once(n)


def _wrap(fn, *extra):
    def run(args):
        warm = args.warm if args.warm is not None else max(1, args.n // 10)
        dt = fn(args.n, warm, args.cap, *extra)
        return {"n": args.n, "cap": args.cap, "warm": warm}, {"ns_per_item": dt / args.n}

    return run


IMPLS = {
    "pyruntime": _wrap(bench_pyruntime),
    "gevent": _wrap(bench_gevent),
    "asyncio": _wrap(bench_asyncio, "asyncio"),
    "uvloop": _wrap(bench_asyncio, "uvloop"),
    "threads": _wrap(bench_threads),
}


def _args(ap):
    ap.add_argument("--n", type=int, default=1_000_000, help="items in the measured pass")
    ap.add_argument("--cap", type=int, default=128, help="channel/queue capacity")
    ap.add_argument("--warm", type=int, default=None, help="warm-up items (default n/10)")


if __name__ == "__main__":
    main("buffered", IMPLS, _args, __doc__)
