"""Port of Go's test/chan/select6.go (issue 2075).

A select with a losing receive case on c1 while another goroutine also waits
on c1. After the select is won by c2, its stale waiter must be removed from
c1's queue: two later sends on c1 must both be received (one by the plain
receiver, one by the selecting goroutine's follow-up receive).
"""

import pytest

from pyruntime import chan, default, go, select
from pyruntime import testing

from conftest import recv_timeout, run

pytestmark = pytest.mark.timeout(30)


def test_select6_port(procs):
    # Straight port; Go relies on scheduling order, so this is the "racy" form.
    def main():
        c1, c2, c3 = chan(), chan(), chan()
        finished = chan(2)

        def plain():
            c1.recv()
            finished.send("plain")

        def selector():
            i, _ = select(c1.recv, c2.recv)
            if i == 0:
                raise AssertionError("dummy: c1 case must not win")
            c3.send(True)
            c1.recv()
            finished.send("selector")

        go(plain)
        go(selector)
        go(lambda: c2.send(True))
        c3.recv()
        c1.send(True)
        c1.send(True)
        return sorted([finished.recv(), finished.recv()])

    assert run(main, procs) == ["plain", "selector"]


def test_select6_forced_order(procs):
    # Force the interesting interleaving: both goroutines are queued on c1
    # (one through a select) before c2 fires.
    def main():
        c1, c2, c3 = chan(), chan(), chan()
        finished = chan(2)

        def plain():
            c1.recv()
            finished.send("plain")

        def selector():
            i, _ = select(c1.recv, c2.recv)
            if i == 0:
                raise AssertionError("dummy: c1 case must not win")
            c3.send(True)
            c1.recv()
            finished.send("selector")

        go(selector)
        testing.wait_blocked(c1.recv, 1)
        go(plain)
        testing.wait_blocked(c1.recv, 2)
        testing.wait_blocked(c2.recv, 1)
        c2.send(True)
        c3.recv()
        c1.send(True)
        c1.send(True)
        return sorted([recv_timeout(finished), recv_timeout(finished)])

    assert run(main, procs) == ["plain", "selector"]


def test_losing_select_cases_leave_no_waiters(procs):
    # After many selects won by c2, c1 must have no stale receivers: a
    # non-blocking send on c1 finds nobody.
    def main():
        c1, c2 = chan(), chan()

        def feeder():
            for k in range(200):
                c2.send(k)

        go(feeder)
        got = []
        for _ in range(200):
            i, v = select(c1.recv, c2.recv)
            assert i == 1
            got.append(v)
        stale = select((c1.send, "lost"), default)
        return got, stale

    got, stale = run(main, procs)
    assert got == list(range(200))
    assert stale == (1, None), "a stale select waiter on c1 accepted a send"
