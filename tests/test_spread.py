"""Where a new goroutine first runs (proc.py essay, "Placement at go()").

A G is bound for life to the P that first runs it (SPEC 1.1), so the P a G *starts*
on is the only chance to spread work.  Under the GIL the creating M keeps running and
used to start every new G itself before a woken M got the GIL: a pool of workers
started together all lived on P0.  Now an unstarted G that a newer one pushes out of
``runnext`` is handed to an idle P (the least loaded, if it holds less than the
creator) once the creator's queue already holds a G, and an idle P's M takes what it
was handed as it leaves idle.  The creator keeps its two newest Gs: create-then-block
and a pair started together keep their locality.

The tests are deterministic: they wait (by polling runtime state) until P1-P3 are
idle, and from then on the placement is a decision taken inside ``go()``.
"""

from __future__ import annotations

import pytest

import pyruntime as rt
from conftest import wait_until
from pyruntime import chan, go
from pyruntime import debug as rtdebug
from pyruntime._core import proc

N = 16


def _others_idle() -> bool:
    return all(p.idle for p in proc.sched.allp[1:])


@pytest.mark.timeout(60)
def test_workers_started_together_spread_over_idle_ps():
    """GOMAXPROCS 4: 16 workers started in a loop (each blocks on a channel once it
    runs) do not all live on the creator's P."""

    def main():
        wait_until(_others_idle, what="P1-P3 idle")
        started, gate = chan(N), chan()

        def worker(i):
            started.send(i)
            gate.recv()

        gs = [go(worker, i) for i in range(N)]
        for _ in range(N):
            started.recv()
        ids = {g.goid for g in gs}
        homes = {i.goid: i.home_p for i in rtdebug.goroutines() if i.goid in ids}
        gate.close()
        return [homes.get(g.goid) for g in gs]

    homes = rt.run(main, gomaxprocs=4)
    assert None not in homes, homes
    # Why this cannot depend on timing: while main runs the loop P0 steals nothing.
    # If a spinning M steals a worker, that M runs it (> 1 P).  If none does, at most
    # one of P1-P3 is awake at a time (go() wakes a spinner only while none spins, and
    # a spinner wakes the next only when it found work), so when the third go() pushes
    # the second worker out of runnext, with the first still queued on P0, an idle P
    # is there to take it, and its M starts it as it leaves idle (> 1 P).
    assert len(set(homes)) > 1, homes


@pytest.mark.timeout(60)
def test_newest_goroutine_stays_in_creators_runnext():
    """Even with idle Ps, ``go()`` leaves the new G in the creator's runnext (the
    pingpong/sieve pattern: create, then block on it): it is never handed to an idle
    P's queue."""

    def main():
        wait_until(_others_idle, what="P1-P3 idle")
        ch = chan()
        p0 = proc.getg().m.p
        placed = []
        for i in range(4):
            g = go(ch.send, i)
            # right now it is in P0's runnext, or a spinning M stole it (and runs it):
            # never queued on an idle P.
            placed.append(any(g in p.runq for p in proc.sched.allp if p is not p0 and p.idle))
            assert ch.recv() == i  # block on it
        return placed

    assert rt.run(main, gomaxprocs=4) == [False] * 4


def _on_idle_p(g, p0) -> bool:
    return any(g in p.runq for p in proc.sched.allp if p is not p0 and p.idle)


@pytest.mark.timeout(60)
def test_pair_started_together_stays_on_the_creators_p():
    """``go a; go b``: the older of the two is pushed out of runnext onto the creator's
    (empty) tail, not handed to an idle P: a producer/consumer pair started together
    keeps talking on one M."""

    def main():
        wait_until(_others_idle, what="P1-P3 idle")
        p0 = proc.getg().m.p
        ch, done = chan(), chan()
        placed = []
        for _ in range(4):
            a = go(lambda: [ch.send(i) for i in range(3)])
            b = go(lambda: done.send(sum(ch.recv() for _ in range(3))))
            # each is in P0's runnext or queue, or a spinning M stole it (and runs it):
            # neither is queued on an idle P.
            placed.append(_on_idle_p(a, p0) or _on_idle_p(b, p0))
            assert done.recv() == 3
        return placed

    assert rt.run(main, gomaxprocs=4) == [False] * 4


def test_placego_0_turns_placement_off(monkeypatch):
    """``PYRUNTIME_DEBUG=placego=0``: Go's placement (the third G, pushed out of
    runnext, goes to the creator's tail)."""
    monkeypatch.setenv("PYRUNTIME_DEBUG", "placego=0")

    def main():
        wait_until(_others_idle, what="P1-P3 idle")
        p0 = proc.getg().m.p
        gate = chan()
        gs = [go(gate.recv) for _ in range(3)]
        placed = [_on_idle_p(g, p0) for g in gs]
        gate.close()
        return proc.sched.placego, placed

    assert rt.run(main, gomaxprocs=4) == (False, [False] * 3)
