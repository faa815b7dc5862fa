"""Port of Go's test/chan/select7.go: every blocking/select pairing.

Receive via a plain receive, a one-case select or a two-case select, against
send via a plain send, a one-case select or a two-case select (3x3). Go uses
Gosched so the receiver usually blocks first; we run three orders: Go's
gosched form ("racy"), receiver parked first, and sender parked first.
"""

import pytest

import pyruntime as rt
from pyruntime import chan, go, select
from pyruntime import testing

from conftest import run

pytestmark = pytest.mark.timeout(30)


def recv1(c):
    return c.recv()


def recv2(c):
    i, v = select(c.recv)
    assert i == 0
    return v


def recv3(c):
    c2 = chan()
    i, v = select(c.recv, c2.recv)
    assert i == 0
    return v


def send1(c, v):
    c.send(v)


def send2(c, v):
    i, _ = select((c.send, v))
    assert i == 0


def send3(c, v):
    c2 = chan()
    i, _ = select((c.send, v), (c2.send, v))
    assert i == 0


RECVS = [recv1, recv2, recv3]
SENDS = [send1, send2, send3]


@pytest.mark.parametrize("order", ["racy", "recv_first", "send_first"])
@pytest.mark.parametrize("recv", RECVS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("send", SENDS, ids=lambda f: f.__name__)
def test_select7_pairing(procs, send, recv, order):
    def main():
        c = chan()
        got = chan(1)
        if order == "send_first":
            sent = chan(1)

            def sender():
                send(c, 1)
                sent.send(True)

            go(sender)
            testing.wait_blocked(c.send, 1)
            v = recv(c)
            assert sent.recv() is True
            return v
        go(lambda: got.send(recv(c)))
        if order == "racy":
            rt.gosched()
        else:
            testing.wait_blocked(c.recv, 1)
        send(c, 1)
        return got.recv()

    assert run(main, procs) == 1
