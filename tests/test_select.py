"""select contract (SPEC §3.2, GO_RUNTIME_FACTS §8.5).

Result shapes, default, uniform random choice among ready cases (loose
bounds that a uniform choice cannot miss), blocking selects woken by every
kind of peer, and exactly-once commitment under contention.
"""

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, nilchan, select
from pyruntime import testing

from conftest import run

pytestmark = pytest.mark.timeout(60)

TRIES = 2000


def test_result_shapes(procs):
    def main():
        a, b, c = chan(1), chan(1), chan(1)
        a.send("va")
        b.send("vb")
        r_recv = select(a.recv)
        r_recv_ = select(b.recv_)
        r_send = select((c.send, "vc"))
        r_default = select(nilchan.recv, default)
        return r_recv, r_recv_, r_send, r_default, c.recv()

    assert run(main, procs) == ((0, "va"), (0, ("vb", True)), (0, None), (1, None), "vc")


def test_default_position_is_its_index(procs):
    def main():
        c = chan()
        return [
            select(default),
            select(default, c.recv),
            select(c.recv, default, (c.send, 1)),
            select(c.recv, c.recv_, (c.send, 1), default),
        ]

    assert run(main, procs) == [(0, None), (0, None), (1, None), (3, None)]


def test_default_not_chosen_when_a_case_is_ready(procs):
    def main():
        c = chan(1)
        d = chan()
        d.close()
        out = []
        for _ in range(200):
            c.send(1)
            i, _ = select(default, c.recv)
            out.append(i)
        for _ in range(200):
            i, _ = select(d.recv, default)
            out.append(i)
        return out

    r = run(main, procs)
    assert r[:200] == [1] * 200
    assert r[200:] == [0] * 200


def test_uniform_choice_between_two_ready_receives(procs):
    def main():
        a, b = chan(), chan()
        a.close()
        b.close()
        counts = [0, 0]
        for _ in range(TRIES):
            i, _ = select(a.recv, b.recv)
            counts[i] += 1
        return counts

    counts = run(main, procs)
    assert sum(counts) == TRIES
    # A uniform choice gives ~1000 each; 200 is > 35 standard deviations away.
    assert min(counts) >= TRIES // 10, f"biased choice: {counts}"


def test_uniform_choice_among_mixed_ready_cases(procs):
    def main():
        closed = chan()
        closed.close()
        buffered = chan(1)
        space = chan(1)
        counts = [0, 0, 0, 0]
        for _ in range(TRIES):
            if len(buffered) == 0:
                buffered.send("x")
            if len(space) == 1:
                space.recv()
            i, _ = select(closed.recv_, buffered.recv, (space.send, 1), nilchan.recv)
            counts[i] += 1
        return counts

    counts = run(main, procs)
    assert counts[3] == 0, "a nil-channel case was chosen"
    assert sum(counts) == TRIES
    # uniform: ~667 each; 200 is far outside any plausible deviation
    assert min(counts[:3]) >= TRIES // 10, f"biased choice: {counts}"


def test_only_ready_cases_are_chosen(procs):
    def main():
        ready = chan(TRIES)
        never1, never2 = chan(), chan()
        for k in range(TRIES):
            ready.send(k)
        picks = set()
        vals = []
        for _ in range(TRIES):
            i, v = select(never1.recv, (never2.send, 0), ready.recv)
            picks.add(i)
            vals.append(v)
        return picks, vals

    picks, vals = run(main, procs)
    assert picks == {2}
    assert vals == list(range(TRIES))


def test_blocking_select_woken_by_sender(procs):
    def main():
        a, b = chan(), chan()
        res = chan(1)
        go(lambda: res.send(select(a.recv, b.recv)))
        testing.wait_blocked(b.recv, 1)
        b.send("hello")
        return res.recv()

    assert run(main, procs) == (1, "hello")


def test_blocking_select_woken_by_receiver(procs):
    def main():
        a, b = chan(), chan()
        res = chan(1)
        go(lambda: res.send(select((a.send, "A"), (b.send, "B"))))
        testing.wait_blocked(a.send, 1)
        testing.wait_blocked(b.send, 1)
        v = a.recv()
        return v, res.recv()

    assert run(main, procs) == ("A", (0, None))


def test_blocking_select_woken_by_close(procs):
    def main():
        a, b = chan(), chan()
        res = chan(1)
        go(lambda: res.send(select(a.recv_, b.recv_)))
        testing.wait_blocked(a.recv, 1)
        a.close()
        return res.recv()

    assert run(main, procs) == (0, (None, False))


def test_select_vs_select_handoff(procs):
    def main():
        c = chan()
        x, y = chan(), chan()
        res = chan(1)
        go(lambda: res.send(select(x.recv, c.recv)))
        testing.wait_blocked(c.recv, 1)
        r = select((y.send, 0), (c.send, "v"))
        return r, res.recv()

    assert run(main, procs) == ((1, None), (1, "v"))


def test_select_on_same_channel_twice(procs):
    def main():
        c = chan(1)
        c.send("only")
        i, v = select(c.recv, c.recv)
        j, w = select(c.recv, c.recv, default)
        return i in (0, 1), v, j

    assert run(main, procs) == (True, "only", 2)


def test_select_exactly_once_under_contention(procs):
    # Many selecting receivers on several channels, many selecting senders:
    # every value is delivered exactly once.
    senders, receivers, per = 4, 4, 300

    def main():
        chans = [chan() for _ in range(3)]
        results = chan()
        done = chan()
        stop = chan()

        def sender(s):
            for i in range(per):
                v = (s, i)
                select(*[(c.send, v) for c in chans])
            done.send(s)

        def receiver():
            got = []
            while True:
                i, v = select(*[c.recv for c in chans], stop.recv_)
                if i == len(chans):
                    break
                got.append(v)
            results.send(got)

        for s in range(senders):
            go(sender, s)
        for _ in range(receivers):
            go(receiver)
        for _ in range(senders):
            done.recv()
        stop.close()
        allv = []
        for _ in range(receivers):
            allv.extend(results.recv())
        return allv

    allv = run(main, procs)
    assert len(allv) == senders * per
    assert sorted(allv) == sorted((s, i) for s in range(senders) for i in range(per))


def test_select_send_closed_panics_even_if_other_case_ready(procs):
    # With two ready cases one of which is a send on a closed channel, the
    # select either receives or panics; over many tries both must happen
    # (uniform choice), and nothing else.
    def main():
        closed = chan()
        closed.close()
        ready = chan(1)
        outcomes = {"recv": 0, "panic": 0}
        for _ in range(400):
            if len(ready) == 0:
                ready.send(1)
            try:
                i, _ = select(ready.recv, (closed.send, 1))
                assert i == 0
                outcomes["recv"] += 1
            except rt.Panic as e:
                assert str(e) == "send on closed channel"
                outcomes["panic"] += 1
        return outcomes

    outcomes = run(main, procs)
    assert outcomes["recv"] >= 40 and outcomes["panic"] >= 40, outcomes


def test_select_empty_with_default_only(procs):
    def main():
        return select(default)

    assert run(main, procs) == (0, None)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_select_randomised_stress_exact_accounting(procs, seed):
    # Random mix of buffered/unbuffered channels; producers pick random
    # subsets of channels to select-send on (sometimes with a nil case, or a
    # default that retries); consumers select-receive on all of them plus a
    # stop channel. Every value must be delivered exactly once.
    import random

    rng = random.Random(seed)
    nchans, producers, consumers, per = 5, 5, 4, 200
    caps = [rng.choice([0, 0, 1, 3]) for _ in range(nchans)]
    plans = [
        [
            (rng.sample(range(nchans), rng.randint(1, nchans)), rng.random() < 0.2, rng.random() < 0.2)
            for _ in range(per)
        ]
        for _ in range(producers)
    ]

    def main():
        chans = [chan(c) for c in caps]
        stop = chan()
        done = chan()
        results = chan()

        def producer(p):
            for i, (targets, with_nil, with_default) in enumerate(plans[p]):
                v = (p, i)
                cases = [(chans[t].send, v) for t in targets]
                if with_nil:
                    cases.insert(0, (nilchan.send, v))
                if with_default:
                    while True:
                        k, _ = select(*cases, default)
                        if k != len(cases):
                            break
                        rt.gosched()
                else:
                    select(*cases)
            done.send(p)

        def consumer():
            got = []
            cases = [c.recv for c in chans] + [stop.recv_]
            while True:
                k, v = select(*cases)
                if k == nchans:
                    # drain what is left in buffers without blocking
                    while True:
                        k2, v2 = select(*[c.recv for c in chans], default)
                        if k2 == nchans:
                            break
                        got.append(v2)
                    break
                got.append(v)
            results.send(got)

        for p in range(producers):
            go(producer, p)
        for _ in range(consumers):
            go(consumer)
        for _ in range(producers):
            done.recv()
        stop.close()
        allv = []
        for _ in range(consumers):
            allv.extend(results.recv())
        return allv

    allv = run(main, procs)
    expected = sorted((p, i) for p in range(producers) for i in range(per))
    assert len(allv) == len(expected), f"{len(allv)} delivered, {len(expected)} sent"
    assert sorted(allv) == expected
