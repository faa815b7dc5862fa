"""Port of Go's test/chan/select3.go: the blocking-semantics table.

Go judges "blocks" with a 10 ms timer and "never blocks" with 10 s. Here an
operation that must never block runs directly on the main goroutine (a hang
fails by timeout, a wrong block is a Deadlock), and an operation that must
block runs in its own goroutine that reports completion on a channel; we then
show that nothing is reported (a correct runtime can never fail that check).
Where the runtime can tell us that the goroutine has actually parked on the
channel (``wait_blocked``) we wait for that first, so the negative check is
not vacuous.
"""

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, nilchan, select
from pyruntime import testing

from conftest import assert_stays_blocked, expect_panic, run

pytestmark = pytest.mark.timeout(30)


def _blocks(fn, waiting_on=None):
    """Run fn in a goroutine; assert it is still blocked after a while."""
    done = chan(1)

    def body():
        fn()
        done.send("finished")

    go(body)
    if waiting_on is not None:
        testing.wait_blocked(waiting_on, 1)
    assert_stays_blocked(done, what=getattr(fn, "__name__", "op"))
    return True


def _never_blocks(fn):
    """fn must complete without blocking (on the main goroutine)."""
    return fn()


def test_nil_channel_receive_blocks(procs):
    def main():
        return _blocks(lambda: nilchan.recv())

    assert run(main, procs) is True


def test_nil_channel_send_blocks(procs):
    def main():
        return _blocks(lambda: nilchan.send(7))

    assert run(main, procs) is True


def test_nil_recv_case_in_select_never_chosen(procs):
    def main():
        return _blocks(lambda: select(nilchan.recv))

    assert run(main, procs) is True


def test_nil_send_case_in_select_never_chosen(procs):
    def main():
        return _blocks(lambda: select((nilchan.send, 7)))

    assert run(main, procs) is True


def test_buffered_send_with_space_never_blocks(procs):
    def main():
        ch = chan(1)
        _never_blocks(lambda: ch.send(7))
        return len(ch), ch.recv()

    assert run(main, procs) == (1, 7)


def test_unbuffered_send_without_receiver_blocks(procs):
    def main():
        ch = chan()
        return _blocks(lambda: ch.send(7), waiting_on=ch.send)

    assert run(main, procs) is True


def test_unbuffered_receive_without_sender_blocks(procs):
    def main():
        ch = chan()
        return _blocks(lambda: ch.recv(), waiting_on=ch.recv)

    assert run(main, procs) is True


def test_closed_channel_receive_never_blocks(procs):
    def main():
        ch = chan()
        ch.close()
        a = _never_blocks(ch.recv)
        b = _never_blocks(ch.recv_)
        c = _never_blocks(ch.recv)  # and again: forever ready
        return a, b, c

    assert run(main, procs) == (None, (None, False), None)


def test_send_on_closed_channel_panics(procs):
    def main():
        ch = chan()
        ch.close()
        e = expect_panic(ch.send, 7, message="send on closed channel")
        bch = chan(3)
        bch.close()
        expect_panic(bch.send, 7, message="send on closed channel")
        return type(e)

    assert run(main, procs) is rt.Panic


def test_send_on_closed_channel_in_select_panics(procs):
    def main():
        ch = chan()
        ch.close()
        expect_panic(select, (ch.send, 7), message="send on closed channel")
        # Also with a default: the send case is "ready" (closed), so it panics.
        expect_panic(select, (ch.send, 7), default, message="send on closed channel")
        # And when it shares the select with a nil case.
        expect_panic(select, (nilchan.send, 1), (ch.send, 7), message="send on closed channel")
        return "ok"

    assert run(main, procs) == "ok"


def test_empty_select_blocks(procs):
    def main():
        return _blocks(lambda: select())

    assert run(main, procs) is True


def test_select_over_only_nil_channels_blocks(procs):
    def main():
        return _blocks(lambda: select(nilchan.recv, (nilchan.send, 7), nilchan.recv_))

    assert run(main, procs) is True


def test_select_with_default_never_blocks(procs):
    def main():
        ch = chan()
        results = [
            _never_blocks(lambda: select(default)),
            _never_blocks(lambda: select(ch.recv, default)),
            _never_blocks(lambda: select((ch.send, 7), default)),
            _never_blocks(lambda: select(nilchan.recv, (nilchan.send, 1), default)),
            _never_blocks(lambda: select(default, ch.recv)),
        ]
        return results

    assert run(main, procs) == [(0, None), (1, None), (1, None), (2, None), (0, None)]


def test_select_on_closed_channel_proceeds(procs):
    def main():
        ch = chan()
        ch.close()
        r1 = _never_blocks(lambda: select(ch.recv))
        r2 = _never_blocks(lambda: select(ch.recv_))
        r3 = _never_blocks(lambda: select(nilchan.recv, ch.recv_))
        return r1, r2, r3

    assert run(main, procs) == ((0, None), (0, (None, False)), (1, (None, False)))


def test_select_buffered_send_with_space_proceeds(procs):
    def main():
        ch = chan(1)
        r = _never_blocks(lambda: select((ch.send, 7)))
        return r, ch.recv()

    assert run(main, procs) == ((0, None), 7)


def test_select_buffered_recv_with_data_proceeds(procs):
    def main():
        ch = chan(1)
        ch.send(7)
        return _never_blocks(lambda: select(nilchan.recv, ch.recv))

    assert run(main, procs) == (1, 7)


def test_select_send_to_waiting_receiver_proceeds(procs):
    def main():
        ch = chan()
        got = chan(1)
        go(lambda: got.send(ch.recv()))
        testing.wait_blocked(ch.recv, 1)
        r = _never_blocks(lambda: select((ch.send, 7), default))
        return r, got.recv()

    assert run(main, procs) == ((0, None), 7)


def test_select_recv_from_waiting_sender_proceeds(procs):
    def main():
        ch = chan()
        go(lambda: ch.send(7))
        testing.wait_blocked(ch.send, 1)
        return _never_blocks(lambda: select(ch.recv, default))

    assert run(main, procs) == (0, 7)


def test_select_send_and_recv_same_unbuffered_channel_blocks(procs):
    # A select never pairs with itself.
    def main():
        ch = chan()
        return _blocks(lambda: select(ch.recv, (ch.send, 7)), waiting_on=ch.recv)

    assert run(main, procs) is True


def test_select_send_and_recv_same_unbuffered_channel_with_default(procs):
    def main():
        ch = chan()
        return _never_blocks(lambda: select((ch.send, 7), ch.recv, default))

    assert run(main, procs) == (2, None)
