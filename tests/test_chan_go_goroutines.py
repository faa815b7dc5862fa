"""Port of Go's test/chan/goroutines.go: a long chain of goroutines.

Go chains 10,000 goroutines (``left <- <-right``), pushes one value through
and lets them all end. We use fewer to keep the suite fast, pass a unique
value, and check that every goroutine of the chain has ended afterwards.
"""

import pytest

import pyruntime as rt
from pyruntime import chan, go

from conftest import run, wait_until

pytestmark = pytest.mark.timeout(120)

N = 3_000


def _f(left, right):
    left.send(right.recv())


def test_goroutines_chain(procs):
    def main():
        base = rt.num_goroutine()
        leftmost = chan()
        left = leftmost
        right = leftmost
        for _ in range(N):
            right = chan()
            go(_f, left, right)
            left = right
        peak = rt.num_goroutine()
        token = object()
        go(lambda c: c.send(token), right)
        got = leftmost.recv()
        wait_until(lambda: rt.num_goroutine() == base, what="chain goroutines exit")
        return got is token, peak - base

    ok, spawned = run(main, procs)
    assert ok, "the value that came out is not the one pushed in"
    assert spawned == N


def test_goroutines_chain_buffered_tail(procs):
    # Same chain, but the tail is fed before the chain exists, so the value
    # races the construction of the chain.
    n = 1_000

    def main():
        tail = chan(1)
        tail.send("through")
        prev = tail
        for _ in range(n):
            c = chan()
            go(_f, c, prev)  # c <- <-prev
            prev = c
        return prev.recv()

    assert run(main, procs) == "through"
