"""Port of Go's test/chan/nonblock.go: non-blocking send and receive.

For channels of capacity 0 and 1 and several kinds of value:
  * a non-blocking receive on an empty channel takes the default;
  * a non-blocking send succeeds (after bounded retries) against a receiver
    goroutine, and a non-blocking receive succeeds against a sender goroutine.
Go retries up to 10,000 times with two ticks of a 10 µs ticker and three
Gosched calls between tries; so do we. A deterministic variant first waits
until the peer is parked (``wait_blocked``) and then requires the very first
non-blocking attempt to succeed.
"""

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, select
from pyruntime import testing
from pyruntime import time as gotime

from conftest import run

pytestmark = pytest.mark.timeout(60)

MAX_TRIES = 10_000

# Go uses int32, int64, bool and string; Python channels are untyped.
VALUES = [
    pytest.param((123, 234), id="int"),
    pytest.param((2**40 + 1, -(2**40) - 2), id="bigint"),
    pytest.param((True, False), id="bool"),
    pytest.param(("hello", "hello sender"), id="str"),
]


def _receiver(c, expect, strobe):
    v = c.recv()
    if v != expect:
        raise AssertionError(f"receiver got {v!r}, want {expect!r}")
    strobe.send(True)


def _sender(c, value, strobe):
    c.send(value)
    strobe.send(True)


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("buffer", [0, 1])
def test_nonblock_port(procs, buffer, values):
    to_receiver, to_sender_side = values

    def main():
        ticker = gotime.tick(10 * gotime.microsecond)

        def sleep():
            ticker.recv()
            ticker.recv()
            rt.gosched()
            rt.gosched()
            rt.gosched()

        sync = chan()
        c = chan(buffer)

        # Nothing is there: a non-blocking receive takes the default.
        i, v = select(c.recv, default)
        assert (i, v) == (1, None), "receive from empty channel did not take default"

        # Test receivers.
        go(_receiver, c, to_receiver, sync)
        tries = 0
        while True:
            i, _ = select((c.send, to_receiver), default)
            if i == 0:
                break
            tries += 1
            assert tries <= MAX_TRIES, f"receiver buffer={buffer}: non-blocking send never succeeded"
            sleep()
        sync.recv()

        # Test senders.
        go(_sender, c, to_sender_side, sync)
        if buffer > 0:
            sync.recv()  # the buffered send completes on its own
        tries = 0
        while True:
            i, v = select(c.recv, default)
            if i == 0:
                assert v == to_sender_side, f"sender value {v!r}"
                break
            tries += 1
            assert tries <= MAX_TRIES, f"sender buffer={buffer}: non-blocking receive never succeeded"
            sleep()
        if buffer == 0:
            sync.recv()

        # Empty again.
        return select(c.recv, default)

    assert run(main, procs) == (1, None)


@pytest.mark.parametrize("buffer", [0, 1])
def test_nonblock_send_first_try_when_receiver_parked(procs, buffer):
    def main():
        c = chan(buffer)
        got = chan(1)
        go(lambda: got.send(c.recv()))
        testing.wait_blocked(c.recv, 1)
        first = select((c.send, "x"), default)
        return first, got.recv()

    assert run(main, procs) == ((0, None), "x")


@pytest.mark.parametrize("buffer", [0, 1])
def test_nonblock_recv_first_try_when_sender_parked(procs, buffer):
    def main():
        c = chan(buffer)
        if buffer:
            c.send("filler")  # make the sender block on a full buffer
        go(lambda: c.send("y"))
        testing.wait_blocked(c.send, 1)
        first = select(c.recv, default)
        second = select(c.recv, default)
        third = select(c.recv, default)
        return first, second, third

    if buffer:
        expected = ((0, "filler"), (0, "y"), (1, None))
    else:
        expected = ((0, "y"), (1, None), (1, None))
    assert run(main, procs) == expected


def test_nonblock_unbuffered_send_without_receiver_takes_default(procs):
    def main():
        c = chan()
        return [select((c.send, k), default) for k in range(5)], len(c)

    assert run(main, procs) == ([(1, None)] * 5, 0)


def test_nonblock_buffered_fill_then_default(procs):
    def main():
        c = chan(2)
        r = [select((c.send, k), default) for k in range(4)]
        return r, len(c), [c.recv(), c.recv()], select(c.recv, default)

    assert run(main, procs) == ([(0, None), (0, None), (1, None), (1, None)], 2, [0, 1], (1, None))
