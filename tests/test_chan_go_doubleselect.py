"""Port of Go's test/chan/doubleselect.go.

One sender selects over four unbuffered channels; four mux goroutines forward
to one channel; the receiver fails on a duplicate. Exactly one case of each
select may commit, even when several peers race for it on several Ms. Go
runs 100,000 iterations; we run fewer and additionally check that every value
arrives exactly once (no loss either).
"""

import pytest

from pyruntime import chan, go, select

from conftest import run

pytestmark = pytest.mark.timeout(120)

ITERATIONS = 5_000


def _sender(n, c1, c2, c3, c4):
    try:
        for i in range(n):
            select((c1.send, i), (c2.send, i), (c3.send, i), (c4.send, i))
    finally:
        c1.close()
        c2.close()
        c3.close()
        c4.close()


def _mux(out, in_, done):
    for v in in_:
        out.send(v)
    done.send(True)


def _recver(in_):
    seen = set()
    for v in in_:
        if v in seen:
            raise AssertionError(f"got duplicate value {v}")
        seen.add(v)
    return seen


@pytest.mark.parametrize("iterations", [ITERATIONS])
def test_doubleselect(procs, iterations):
    def main():
        c1, c2, c3, c4 = chan(), chan(), chan(), chan()
        done = chan()
        cmux = chan()
        go(_sender, iterations, c1, c2, c3, c4)
        go(_mux, cmux, c1, done)
        go(_mux, cmux, c2, done)
        go(_mux, cmux, c3, done)
        go(_mux, cmux, c4, done)

        def closer():
            for _ in range(4):
                done.recv()
            cmux.close()

        go(closer)
        return _recver(cmux)

    seen = run(main, procs)
    assert seen == set(range(iterations))


def test_doubleselect_buffered_muxes(procs):
    # Same shape with buffered inputs, so the sender's select has several
    # ready send cases at once and must still commit exactly one.
    n = 3_000

    def main():
        cs = [chan(2) for _ in range(4)]
        done = chan()
        cmux = chan(8)
        go(_sender, n, *cs)
        for c in cs:
            go(_mux, cmux, c, done)

        def closer():
            for _ in range(4):
                done.recv()
            cmux.close()

        go(closer)
        return _recver(cmux)

    assert run(main, procs) == set(range(n))
