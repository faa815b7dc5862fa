"""Channel operations from plain OS threads (SPEC §3.2, last bullet).

An outside ``threading.Thread`` blocks itself (never a P) and is woken
through a note. Inside ``rt.run`` the main goroutine waits on results with
``recv_timeout``: its pending ``after`` timer also keeps deadlock detection
quiet in the instants when the outside thread is running Python code between
two channel operations (the runtime cannot see a thread that is not blocked
on one of its objects).
"""

import threading

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, select
from pyruntime import testing
from pyruntime import time as gotime

from conftest import Worker, recv_timeout, run

pytestmark = pytest.mark.timeout(60)


def test_thread_sends_goroutine_receives(procs):
    c = chan()

    def producer():
        for i in range(200):
            c.send(i)
        c.close()

    t = Worker(producer)

    def main():
        t.start()
        got = []
        deadline = gotime.after(30)
        while True:
            i, (v, ok) = select(c.recv_, deadline.recv_)
            assert i == 0, "timed out waiting for the outside thread"
            if not ok:
                return got
            got.append(v)

    assert run(main, procs) == list(range(200))
    t.finish()


def test_goroutine_sends_thread_receives(procs):
    c = chan()
    res = chan(1)

    def consumer():
        total = []
        for v in c:
            total.append(v)
        res.send(total)

    t = Worker(consumer)

    def main():
        t.start()

        def producer():
            for i in range(200):
                c.send(i)
            c.close()

        go(producer)
        return recv_timeout(res)

    assert run(main, procs) == list(range(200))
    t.finish()


def test_thread_blocked_receiver_woken_by_goroutine(procs):
    c = chan()
    t = Worker(c.recv)

    def main():
        t.start()
        testing.wait_blocked(c.recv, 1)  # counts outside threads too
        c.send("to thread")
        return "sent"

    assert run(main, procs) == "sent"
    assert t.finish() == "to thread"


def test_thread_blocked_sender_woken_by_goroutine(procs):
    c = chan()
    t = Worker(c.send, "from thread")

    def main():
        t.start()
        testing.wait_blocked(c.send, 1)
        return c.recv()

    assert run(main, procs) == "from thread"
    t.finish()


def test_thread_select(procs):
    a, b = chan(), chan()
    t = Worker(lambda: select(a.recv, b.recv))

    def main():
        t.start()
        testing.wait_blocked(b.recv, 1)
        b.send("b!")
        return True

    assert run(main, procs) is True
    assert t.finish() == (1, "b!")


def test_thread_ping_pong_with_goroutine(procs):
    ping, pong = chan(), chan()

    def thread_player():
        n = 0
        for v in ping:
            pong.send(v + 1)
            n += 1
        return n

    t = Worker(thread_player)

    def main():
        # ping.send may find the thread not yet parked: main then blocks on
        # the send while the thread runs Python code. A goroutine keeps a
        # timer pending for the whole exchange so that instant cannot look
        # like a deadlock.
        stop = chan()

        def keepalive():
            select(stop.recv, gotime.after(60).recv)

        go(keepalive)
        t.start()
        total = 0
        for i in range(300):
            ping.send(i)
            total += recv_timeout(pong)
        ping.close()
        stop.close()
        return total

    assert run(main, procs) == sum(range(1, 301))
    assert t.finish() == 300


def test_many_threads_and_goroutines_exact_accounting(procs):
    nthreads, ngoroutines, nconsumers, per = 4, 4, 3, 200
    c = chan(5)
    results = chan()

    def thread_producer(k):
        for i in range(per):
            c.send(("t", k, i))

    threads = [Worker(thread_producer, k) for k in range(nthreads)]

    def main():
        stop = chan()

        def keepalive():  # a pending timer while the outside threads run
            select(stop.recv, gotime.after(60).recv)

        go(keepalive)
        done = chan()
        for t in threads:
            t.start()

        def gproducer(k):
            for i in range(per):
                c.send(("g", k, i))
            done.send(k)

        def consumer():
            got = []
            for v in c:
                got.append(v)
            results.send(got)

        for k in range(ngoroutines):
            go(gproducer, k)
        for _ in range(nconsumers):
            go(consumer)
        for _ in range(ngoroutines):
            recv_timeout(done)
        for t in threads:
            # join without blocking the P: through a syscall M
            rt.syscall(t.join, 30)
            assert not t.is_alive()
        c.close()
        allv = []
        for _ in range(nconsumers):
            allv.extend(recv_timeout(results))
        stop.close()
        return allv

    allv = run(main, procs)
    for t in threads:
        t.finish()
    expected = [("t", k, i) for k in range(nthreads) for i in range(per)]
    expected += [("g", k, i) for k in range(ngoroutines) for i in range(per)]
    assert len(allv) == len(expected), "lost or duplicated values"
    assert sorted(allv) == sorted(expected)


def test_channels_between_plain_threads_without_runtime():
    # No rt.run and no go(): two ordinary threads talk through a chan.
    c = chan()

    def producer():
        for i in range(50):
            c.send(i)
        c.close()

    t = Worker(producer)
    t.start()
    got = list(c)
    t.finish()
    assert got == list(range(50))


def test_buffered_chan_and_select_on_plain_thread_without_runtime():
    c = chan(2)
    c.send(1)
    c.send(2)
    r1 = select((c.send, 3), default)
    r2 = select(c.recv, default)
    c.close()
    assert r1 == (1, None)
    assert r2 == (0, 1)
    assert c.recv_() == (2, True)
    assert c.recv_() == (None, False)
    # and the runtime still starts normally afterwards
    assert rt.run(lambda: "after", gomaxprocs=1) == "after"


def test_thread_send_on_closed_channel_panics():
    c = chan()
    c.close()
    errors = []

    def body():
        try:
            c.send(1)
        except rt.Panic as e:
            errors.append(str(e))

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert errors == ["send on closed channel"]
