"""Channel contract (SPEC §3.2, GO_RUNTIME_FACTS §8.2–8.4, §8.6).

len/cap, send/recv/recv_, close and iteration, closed-channel semantics,
nilchan, Go's panic texts, and wake-ups on close.
"""

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, nilchan, select
from pyruntime import testing

from conftest import assert_stays_blocked, expect_panic, run

pytestmark = pytest.mark.timeout(30)


def test_len_and_cap(procs):
    def main():
        out = []
        u = chan()
        out.append((len(u), u.cap()))
        d = chan(0)
        out.append((len(d), d.cap()))
        b = chan(3)
        out.append((len(b), b.cap()))
        b.send("a")
        b.send("b")
        out.append((len(b), b.cap()))
        b.recv()
        out.append((len(b), b.cap()))
        b.close()
        out.append((len(b), b.cap()))  # close keeps buffered data
        b.recv()
        out.append((len(b), b.cap()))
        out.append((len(nilchan), nilchan.cap()))
        return out

    assert run(main, procs) == [(0, 0), (0, 0), (0, 3), (2, 3), (1, 3), (1, 3), (0, 3), (0, 0)]


def test_default_size_is_unbuffered(procs):
    def main():
        c = chan()
        return c.cap(), select((c.send, 1), default)

    assert run(main, procs) == (0, (1, None))


def test_recv_and_recv_underscore(procs):
    def main():
        c = chan(2)
        c.send("x")
        c.send(None)  # None is a legitimate value; ok tells it apart
        return c.recv_(), c.recv_()

    assert run(main, procs) == (("x", True), (None, True))


def test_values_are_passed_by_reference(procs):
    def main():
        obj = {"k": [1, 2]}
        u = chan()
        go(u.send, obj)
        b = chan(1)
        b.send(obj)
        return obj, u.recv(), b.recv()

    obj, a, b = run(main, procs)
    assert a is obj and b is obj


def test_closed_buffered_channel_drains_then_zero(procs):
    def main():
        c = chan(3)
        for v in (1, 2, 3):
            c.send(v)
        c.close()
        return [c.recv_() for _ in range(5)], c.recv()

    got, last = run(main, procs)
    assert got == [(1, True), (2, True), (3, True), (None, False), (None, False)]
    assert last is None


def test_iteration_stops_at_close(procs):
    def main():
        c = chan()

        def producer():
            for i in range(50):
                c.send(i)
            c.close()

        go(producer)
        return [v for v in c]

    assert run(main, procs) == list(range(50))


def test_iteration_drains_buffer_after_close(procs):
    def main():
        c = chan(5)
        for i in range(5):
            c.send(i)
        c.close()
        first = list(c)
        second = list(c)  # closed and empty: stops at once
        return first, second

    assert run(main, procs) == (list(range(5)), [])


def test_iteration_yields_none_values(procs):
    # A None value inside the stream must not end the iteration early.
    def main():
        c = chan(4)
        for v in (1, None, 2, None):
            c.send(v)
        c.close()
        return list(c)

    assert run(main, procs) == [1, None, 2, None]


def test_panic_texts(procs):
    def main():
        c = chan(1)
        c.close()
        e1 = expect_panic(c.send, 1, message="send on closed channel")
        e2 = expect_panic(c.close, message="close of closed channel")
        e3 = expect_panic(nilchan.close, message="close of nil channel")
        return [type(e) for e in (e1, e2, e3)]

    assert run(main, procs) == [rt.Panic] * 3
    assert issubclass(rt.Panic, Exception)


def test_close_wakes_all_receivers(procs):
    n = 6

    def main():
        c = chan()
        results = chan(n)
        for k in range(n):
            if k % 2:
                go(lambda: results.send(("recv_", c.recv_())))
            else:
                go(lambda: results.send(("recv", c.recv())))
        testing.wait_blocked(c.recv, n)
        c.close()
        return sorted(results.recv() for _ in range(n))

    got = run(main, procs)
    assert got == sorted([("recv", None)] * 3 + [("recv_", (None, False))] * 3)


def test_close_wakes_blocked_senders_with_panic(procs):
    n = 4

    def main():
        c = chan()
        results = chan(n)

        def sender(k):
            try:
                c.send(k)
                results.send("sent")
            except rt.Panic as e:
                results.send(str(e))

        for k in range(n):
            go(sender, k)
        testing.wait_blocked(c.send, n)
        c.close()
        return [results.recv() for _ in range(n)]

    assert run(main, procs) == ["send on closed channel"] * 4


def test_close_wakes_blocked_select_receiver(procs):
    def main():
        c, other = chan(), chan()
        res = chan(1)
        go(lambda: res.send(select(other.recv, c.recv_)))
        testing.wait_blocked(c.recv, 1)
        c.close()
        return res.recv()

    assert run(main, procs) == (1, (None, False))


def test_close_wakes_blocked_select_sender_with_panic(procs):
    def main():
        c, other = chan(), chan()
        res = chan(1)

        def body():
            try:
                res.send(("returned", select(other.recv, (c.send, 5))))
            except rt.Panic as e:
                res.send(("panic", str(e)))

        go(body)
        testing.wait_blocked(c.send, 1)
        c.close()
        return res.recv()

    assert run(main, procs) == ("panic", "send on closed channel")


def test_unbuffered_send_completes_only_with_receiver(procs):
    def main():
        c = chan()
        done = chan(1)

        def sender():
            c.send("v")
            done.send(True)

        go(sender)
        testing.wait_blocked(c.send, 1)
        assert_stays_blocked(done, what="unbuffered send")
        v = c.recv()
        return v, done.recv()

    assert run(main, procs) == ("v", True)


def test_buffered_send_blocks_when_full(procs):
    def main():
        c = chan(2)
        c.send(1)
        c.send(2)
        done = chan(1)

        def sender():
            c.send(3)
            done.send(True)

        go(sender)
        testing.wait_blocked(c.send, 1)
        assert_stays_blocked(done, what="send on a full buffer")
        first = c.recv()
        done.recv()
        return first, c.recv(), c.recv(), len(c)

    assert run(main, procs) == (1, 2, 3, 0)


def test_chan_of_chan(procs):
    # Go's sendstmt.go: send on a channel received from a channel.
    def main():
        cc = chan(1)
        c = chan(1)
        cc.send(c)
        cc.recv().send(2)
        return c.recv()

    assert run(main, procs) == 2


def test_zero_size_values(procs):
    # Go's zerosize.go: chan struct{} / chan [0]byte; here chan of None.
    def main():
        u = chan()
        b = chan(3)
        go(u.send, None)
        r1 = u.recv_()
        b.send(None)
        return r1, b.recv_(), len(b)

    assert run(main, procs) == ((None, True), (None, True), 0)


def test_ping_pong_exact(procs):
    def main():
        ping, pong = chan(), chan()

        def player():
            for v in ping:
                pong.send(v + 1)
            pong.close()

        go(player)
        total = 0
        for i in range(1000):
            ping.send(i)
            total += pong.recv()
        ping.close()
        return total, pong.recv_()

    assert run(main, procs) == (sum(range(1, 1001)), (None, False))


def test_many_producers_consumers_exact_accounting(procs):
    producers, consumers, per = 4, 4, 500

    def main():
        c = chan(7)
        results = chan()
        done = chan()

        def producer(p):
            for i in range(per):
                c.send((p, i))
            done.send(p)

        def consumer():
            got = []
            for v in c:
                got.append(v)
            results.send(got)

        for p in range(producers):
            go(producer, p)
        for _ in range(consumers):
            go(consumer)

        def closer():
            for _ in range(producers):
                done.recv()
            c.close()

        go(closer)
        allv = []
        for _ in range(consumers):
            allv.extend(results.recv())
        return allv

    allv = run(main, procs)
    assert len(allv) == producers * per, "lost or duplicated values"
    assert sorted(allv) == sorted((p, i) for p in range(producers) for i in range(per))


# ---------------------------------------------------------------- nilchan


def test_nilchan_send_and_recv_block_forever(procs):
    def main():
        done = chan(2)

        def r():
            nilchan.recv()
            done.send("recv")

        def s():
            nilchan.send(1)
            done.send("send")

        go(r)
        go(s)
        assert_stays_blocked(done, what="nilchan operation")
        return select(nilchan.recv, nilchan.recv_, (nilchan.send, 1), default)

    assert run(main, procs) == (3, None)


def test_nilchan_close_panics(procs):
    def main():
        return str(expect_panic(nilchan.close))

    assert run(main, procs) == "close of nil channel"
