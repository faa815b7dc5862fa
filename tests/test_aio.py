"""pyruntime.aio.await_ (SPEC §3.3): run an asyncio coroutine on the runtime's loop
(uvloop when installed) and park the calling goroutine until it completes."""

from __future__ import annotations

import asyncio
import importlib.util
import threading

import pytest
from conftest import recv_timeout, run, wait_until

from pyruntime import aio, chan, go, net

pytestmark = pytest.mark.timeout(60)


def _aio_threads():
    return [t for t in threading.enumerate() if t.name == "pyruntime-aio" and t.is_alive()]


def test_result_and_exception_propagate(procs):
    async def add(a, b):
        await asyncio.sleep(0.001)
        return a + b

    async def boom():
        await asyncio.sleep(0)
        raise KeyError("inside the loop")

    def main():
        r = aio.await_(add(2, 3))
        try:
            aio.await_(boom())
            e = None
        except KeyError as exc:
            e = exc.args[0]
        return r, e

    assert run(main, procs) == (5, "inside the loop")


def test_uses_uvloop_when_installed(procs):
    def main():
        async def cls():
            return type(asyncio.get_running_loop()).__module__

        return aio.await_(cls())

    mod = run(main, procs)
    if importlib.util.find_spec("uvloop") is not None:
        assert mod.startswith("uvloop")
    else:
        assert mod.startswith("asyncio")


def test_the_goroutine_parks_and_its_p_keeps_running(procs):
    def main():
        gate = None
        started = threading.Event()

        async def wait_gate():
            nonlocal gate
            gate = asyncio.Event()
            started.set()
            await gate.wait()
            return "opened"

        res = chan(1)
        go(lambda: res.send(aio.await_(wait_gate())))
        wait_until(started.is_set)
        ping = chan()
        go(lambda: ping.send("pong"))  # with one P this runs while the other G waits
        p = recv_timeout(ping)
        lp = aio.loop()
        lp.call_soon_threadsafe(gate.set)
        return p, recv_timeout(res)

    assert run(main, procs) == ("pong", "opened")


def test_many_concurrent_awaits(procs):
    n = 50

    async def work(i):
        await asyncio.sleep(0.01)
        return i * i

    def main():
        res = chan(n)
        for i in range(n):
            go(lambda i=i: res.send(aio.await_(work(i))))
        return sorted(recv_timeout(res) for _ in range(n))

    assert run(main, procs) == sorted(i * i for i in range(n))


def test_awaitables_other_than_coroutines(procs):
    class Later:
        def __await__(self):
            yield from asyncio.sleep(0).__await__()
            return "awaited"

    def main():
        return aio.await_(Later())

    assert run(main, procs) == "awaited"


def test_bad_input(procs):
    def main():
        errs = []
        for bad in (42, "coro", lambda: None):
            try:
                aio.await_(bad)
            except TypeError:
                errs.append(type(bad).__name__)
        c = chan()
        go(lambda: c.send("alive"))
        return errs, recv_timeout(c)

    assert run(main, procs) == (["int", "str", "function"], "alive")


def test_loop_thread_stops_with_the_runtime_and_restarts(procs):
    async def pending_forever():
        await asyncio.Event().wait()

    def main():
        aio.await_(asyncio.sleep(0))
        lp = aio.loop()
        lp.call_soon_threadsafe(lambda: asyncio.ensure_future(pending_forever()))
        return len(_aio_threads())

    assert run(main, procs) == 1
    assert _aio_threads() == []  # stopped, its pending task cancelled, no warning
    assert run(lambda: aio.await_(asyncio.sleep(0, "again")), procs) == "again"
    assert _aio_threads() == []


def test_await_from_the_loop_thread_raises(procs):
    def main():
        lp = aio.loop()
        out = []
        done = threading.Event()

        def cb():
            async def c():
                return 1

            try:
                aio.await_(c())
            except RuntimeError as e:
                out.append(str(e))
            done.set()

        lp.call_soon_threadsafe(cb)
        wait_until(done.is_set)
        return out

    [msg] = run(main, procs)
    assert "own thread" in msg


def test_from_a_plain_thread(procs):
    async def answer():
        await asyncio.sleep(0)
        return 42

    def main():
        out = []
        t = threading.Thread(target=lambda: out.append(aio.await_(answer())))
        t.start()
        wait_until(lambda: not t.is_alive())
        return out

    assert run(main, procs) == [42]


def test_asyncio_client_against_a_goroutine_server(procs):
    # The two worlds meet: a pyruntime.net server, an asyncio client on the aio loop.
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")

        def serve():
            c = ln.accept()
            c.write(c.read(100)[::-1])
            c.close()

        go(serve)

        async def client(port):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"olleh")
            await w.drain()
            data = await r.read(100)
            w.close()
            await w.wait_closed()
            return data

        data = aio.await_(client(ln.addr[1]))
        ln.close()
        return data

    assert run(main, procs) == b"hello"
