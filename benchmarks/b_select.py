"""select over 2 channels, ping-pong; cost per op (ns).

A server task waits on two request channels `a` and `b` at once (a select over two
receives) and sends what it got back on `out`. The client alternates its requests between
`a` and `b` and waits for each reply, so every op is: client send -> server's select
wakes on that case -> server send -> client receive. One op = one round trip with one
blocking select. A warm-up of ``--warm`` ops runs first in the same process.

impls:
  pyruntime  `select(a.recv, b.recv)`; a, b, out = chan() (unbuffered), GOMAXPROCS=1
  gevent     gevent has no select over queues. Closest idiom: keep one pending getter
             greenlet per channel (gevent.spawn(ch.get)) and `gevent.wait([ga, gb], count=1)`;
             re-arm only the getter that fired, so no value is lost. Channels: gevent.queue.Channel.
  asyncio    same idiom with tasks: keep one pending `q.get()` task per queue and
             `asyncio.wait({ta, tb}, return_when=FIRST_COMPLETED)`; re-arm the one that fired.
             Queues: asyncio.Queue(1). Default loop.
  uvloop     same as asyncio, on uvloop
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import check, main, now_ns, settle, pyruntime_run, run_asyncio

STOP = -1


def bench_pyruntime(n, warm):
    from pyruntime import chan, go, select

    def server(a, b, out):
        while True:
            _, v = select(a.recv, b.recv)
            if v == STOP:
                return
            out.send(v)

    def once(k):
        a, b, out = chan(), chan(), chan()
        go(server, a, b, out)
        t0 = now_ns()
        for i in range(k):
            (b if i & 1 else a).send(i)
            last = out.recv()
        dt = now_ns() - t0
        check(last, k - 1)
        a.send(STOP)
        return dt

    def rtmain():
        once(warm)
        settle()
        return once(n)

    return pyruntime_run(rtmain)


def bench_gevent(n, warm):
    import gevent
    from gevent.queue import Channel

    def server(a, b, out):
        ga, gb = gevent.spawn(a.get), gevent.spawn(b.get)
        while True:
            ready = gevent.wait([ga, gb], count=1)
            g = ready[0]
            v = g.value
            if g is ga:
                ga = gevent.spawn(a.get)
            else:
                gb = gevent.spawn(b.get)
            if v == STOP:
                ga.kill()
                gb.kill()
                return
            out.put(v)

    def once(k):
        a, b, out = Channel(), Channel(), Channel()
        srv = gevent.spawn(server, a, b, out)
        t0 = now_ns()
        for i in range(k):
            (b if i & 1 else a).put(i)
            last = out.get()
        dt = now_ns() - t0
        check(last, k - 1)
        a.put(STOP)
        srv.join()
        return dt

    once(warm)
    settle()
    return once(n)


def bench_asyncio(n, warm, impl):
    import asyncio

    async def server(a, b, out):
        loop = asyncio.get_running_loop()
        ta, tb = loop.create_task(a.get()), loop.create_task(b.get())
        while True:
            done, _ = await asyncio.wait((ta, tb), return_when=asyncio.FIRST_COMPLETED)
            for t in done:  # only one request is ever in flight, so one task
                v = t.result()
                if t is ta:
                    ta = loop.create_task(a.get())
                else:
                    tb = loop.create_task(b.get())
                if v == STOP:
                    ta.cancel()
                    tb.cancel()
                    return
                await out.put(v)

    async def once(k):
        a, b, out = asyncio.Queue(1), asyncio.Queue(1), asyncio.Queue(1)
        srv = asyncio.get_running_loop().create_task(server(a, b, out))
        t0 = now_ns()
        for i in range(k):
            await (b if i & 1 else a).put(i)
            last = await out.get()
        dt = now_ns() - t0
        check(last, k - 1)
        await a.put(STOP)
        await srv
        return dt

    async def amain():
        await once(warm)
        settle()
        return await once(n)

    return run_asyncio(amain, impl)


def _wrap(fn, *extra):
    def run(args):
        warm = args.warm if args.warm is not None else max(1, args.n // 10)
        dt = fn(args.n, warm, *extra)
        return {"n": args.n, "warm": warm}, {"ns_per_op": dt / args.n}

    return run


IMPLS = {
    "pyruntime": _wrap(bench_pyruntime),
    "gevent": _wrap(bench_gevent),
    "asyncio": _wrap(bench_asyncio, "asyncio"),
    "uvloop": _wrap(bench_asyncio, "uvloop"),
}


def _args(ap):
    ap.add_argument("--n", type=int, default=50_000, help="ops in the measured pass")
    ap.add_argument("--warm", type=int, default=None, help="warm-up ops (default n/10)")


if __name__ == "__main__":
    main("select", IMPLS, _args, __doc__)
