"""B3: unbuffered ping-pong between two tasks; cost per round trip (ns).

The main task sends i on `ping` and waits for it back on `pong`; an echo task receives on
`ping` and sends on `pong`. One round trip = two handoffs. A warm-up of ``--warm`` round
trips runs first in the same process; the echo task is stopped with a sentinel at the end.

impls:
  pyruntime       chan() x 2 (unbuffered), GOMAXPROCS=1
  gevent-channel  gevent.queue.Channel x 2 (rendezvous, like an unbuffered chan)
  gevent-queue    gevent.queue.Queue(1) x 2
  asyncio         asyncio.Queue(1) x 2, default loop
  uvloop          asyncio.Queue(1) x 2, uvloop
  greenlet        raw greenlet switch round trip (main.switch -> echo.switch back): the floor
  pyruntime-traced  as pyruntime, with pyruntime.trace on for the measured pass (streaming
                  to a temporary file, or a flight recorder with --trace-max-events N); the
                  trace is written after the clock stops. benchmarks/trace_overhead.py
                  compares it with plain pyruntime.
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import check, main, now_ns, settle, pyruntime_run, run_asyncio

STOP = -1


def bench_pyruntime(n, warm, trace_max_events=None):
    from pyruntime import chan, go

    def echo(ping, pong):
        while True:
            v = ping.recv()
            if v == STOP:
                return
            pong.send(v)

    def once(k):
        ping, pong = chan(), chan()
        go(echo, ping, pong)
        t0 = now_ns()
        for i in range(k):
            ping.send(i)
            last = pong.recv()
        dt = now_ns() - t0
        check(last, k - 1)
        ping.send(STOP)
        return dt

    def rtmain():
        once(warm)
        settle()
        return once(n)

    def rtmain_traced():
        import shutil
        import tempfile

        import pyruntime as rt

        d = tempfile.mkdtemp(prefix="pyruntime-bench-trace-")
        try:
            once(warm)
            settle()
            rt.trace.start(os.path.join(d, "pingpong.json"), max_events=trace_max_events or None)
            dt = once(n)
            rt.trace.stop()
            return dt
        finally:
            shutil.rmtree(d, ignore_errors=True)

    return pyruntime_run(rtmain if trace_max_events is None else rtmain_traced)


def bench_gevent(n, warm, kind):
    import gevent
    from gevent.queue import Channel, Queue

    mk = Channel if kind == "channel" else (lambda: Queue(1))

    def echo(ping, pong):
        while True:
            v = ping.get()
            if v == STOP:
                return
            pong.put(v)

    def once(k):
        ping, pong = mk(), mk()
        g = gevent.spawn(echo, ping, pong)
        t0 = now_ns()
        for i in range(k):
            ping.put(i)
            last = pong.get()
        dt = now_ns() - t0
        check(last, k - 1)
        ping.put(STOP)
        g.join()
        return dt

    once(warm)
    settle()
    return once(n)


def bench_asyncio(n, warm, impl):
    import asyncio

    async def echo(ping, pong):
        while True:
            v = await ping.get()
            if v == STOP:
                return
            await pong.put(v)

    async def once(k):
        ping, pong = asyncio.Queue(1), asyncio.Queue(1)
        t = asyncio.get_running_loop().create_task(echo(ping, pong))
        t0 = now_ns()
        for i in range(k):
            await ping.put(i)
            last = await pong.get()
        dt = now_ns() - t0
        check(last, k - 1)
        await ping.put(STOP)
        await t
        return dt

    async def amain():
        await once(warm)
        settle()
        return await once(n)

    return run_asyncio(amain, impl)


def bench_greenlet(n, warm):
    from greenlet import getcurrent, greenlet

    def once(k):
        me = getcurrent()

        def echo(v):
            while v != STOP:
                v = me.switch(v)

        g = greenlet(echo)
        t0 = now_ns()
        for i in range(k):
            last = g.switch(i)
        dt = now_ns() - t0
        check(last, k - 1)
        g.switch(STOP)
        return dt

    once(warm)
    settle()
    return once(n)


def _wrap(fn, *extra):
    def run(args):
        warm = args.warm if args.warm is not None else max(1, args.n // 10)
        dt = fn(args.n, warm, *extra)
        return {"n": args.n, "warm": warm}, {"ns_per_rt": dt / args.n}

    return run


IMPLS = {
    "pyruntime": _wrap(bench_pyruntime),
    "gevent-channel": _wrap(bench_gevent, "channel"),
    "gevent-queue": _wrap(bench_gevent, "queue"),
    "asyncio": _wrap(bench_asyncio, "asyncio"),
    "uvloop": _wrap(bench_asyncio, "uvloop"),
    "greenlet": _wrap(bench_greenlet),
}


def _traced(args):
    warm = args.warm if args.warm is not None else max(1, args.n // 10)
    dt = bench_pyruntime(args.n, warm, args.trace_max_events)
    return ({"n": args.n, "warm": warm, "trace_max_events": args.trace_max_events},
            {"ns_per_rt": dt / args.n})


IMPLS["pyruntime-traced"] = _traced


def _args(ap):
    ap.add_argument("--n", type=int, default=200_000, help="round trips in the measured pass")
    ap.add_argument("--warm", type=int, default=None, help="warm-up round trips (default n/10)")
    ap.add_argument("--trace-max-events", type=int, default=0,
                    help="pyruntime-traced only: 0 = streaming trace (default), N = flight recorder of N events")


if __name__ == "__main__":
    main("pingpong", IMPLS, _args, __doc__)
