"""Port of Go's test/chan/fifo.go plus explicit wait-queue order checks.

(a) AsynchFifo: a buffered channel returns values in FIFO order.
(b) SynchFifo: a daisy chain of goroutines, each waiting for a token, then
    receiving from a shared unbuffered channel and checking it gets its index.
(c) Waiting receivers, and waiting senders, are served in arrival order
    (Go's recvq/sendq are FIFO); arrival order is forced with wait_blocked.
"""

import pytest

from pyruntime import chan, go
from pyruntime import testing

from conftest import run

pytestmark = pytest.mark.timeout(30)

N = 10


def test_asynch_fifo(procs):
    def main():
        ch = chan(N)
        for i in range(N):
            ch.send(i)
        assert len(ch) == N
        return [ch.recv() for _ in range(N)]

    assert run(main, procs) == list(range(N))


def _chain(ch, val, in_, out, log):
    in_.recv()
    v = ch.recv()
    if v != val:
        raise AssertionError(f"chain link {val} got {v}")
    log.append(v)
    out.send(1)


def test_synch_fifo(procs):
    def main():
        log = []
        ch = chan()
        in_ = chan()
        start = in_
        for i in range(N):
            out = chan()
            go(_chain, ch, i, in_, out, log)
            in_ = out
        start.send(0)
        for i in range(N):
            ch.send(i)
        in_.recv()
        return log

    assert run(main, procs) == list(range(N))


def test_waiting_receivers_served_fifo(procs):
    def main():
        ch = chan()
        report = chan(N)

        def receiver(ident):
            report.send((ident, ch.recv()))

        for ident in range(N):
            go(receiver, ident)
            testing.wait_blocked(ch.recv, ident + 1)  # ident is now queued last
        for v in range(N):
            ch.send(v)
        return sorted(report.recv() for _ in range(N))

    assert run(main, procs) == [(i, i) for i in range(N)]


def test_waiting_senders_served_fifo_unbuffered(procs):
    def main():
        ch = chan()
        for ident in range(N):
            go(ch.send, ident)
            testing.wait_blocked(ch.send, ident + 1)
        return [ch.recv() for _ in range(N)]

    assert run(main, procs) == list(range(N))


def test_waiting_senders_behind_full_buffer_keep_fifo(procs):
    # Go 8.3 step 5: receiving from a full buffer with blocked senders takes
    # the head of the buffer and moves the first sender's value to the tail.
    def main():
        ch = chan(3)
        for v in range(3):
            ch.send(v)
        for k in range(3, 3 + N):
            go(ch.send, k)
            testing.wait_blocked(ch.send, k - 2)
        out = []
        for _ in range(3 + N):
            out.append(ch.recv())
            assert len(ch) <= 3
        return out, len(ch)

    assert run(main, procs) == (list(range(3 + N)), 0)
