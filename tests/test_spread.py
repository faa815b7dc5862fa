"""Where a new goroutine first runs (proc.py essay, "Placement at go()").

A G is bound for life to the P that first runs it (SPEC 1.1), so the P a G *starts*
on is the only chance to spread work.  Under the GIL the creating M keeps running and
used to start every new G itself before a woken M got the GIL: a pool of workers
started together all lived on P0.  Now the unstarted G that a newer one pushes out of
``runnext`` is handed to an idle P (the least loaded, if it holds less than the
creator), and an idle P's M takes what it was handed as it leaves idle.  The newest G
stays in the creator's ``runnext``: create-then-block keeps its locality.

Both tests are deterministic: they wait (by polling runtime state) until P1-P3 are
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
    # The first worker was pushed out of P0's runnext by the second while P1-P3 were
    # idle: it was handed to one of them (or stolen by a spinning M), never run on P0.
    assert homes[0] != 0, homes
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
