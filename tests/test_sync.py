"""pyruntime.sync contract (SPEC §3.3): Mutex, RWMutex, WaitGroup, Once, Cond."""

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, select
from pyruntime import sync, testing

from conftest import assert_stays_blocked, expect_panic, recv_timeout, run, wait_reason

pytestmark = pytest.mark.timeout(30)


# ---------------------------------------------------------------- Mutex


def test_mutex_lock_unlock_try_lock(procs):
    def main():
        m = sync.Mutex()
        out = [m.try_lock()]  # True: free
        out.append(m.try_lock())  # False: held
        m.unlock()
        m.lock()
        out.append(m.try_lock())  # False: held
        m.unlock()
        out.append(m.try_lock())  # True again
        m.unlock()
        return out

    assert run(main, procs) == [True, False, False, True]


def test_mutex_context_manager(procs):
    def main():
        m = sync.Mutex()
        with m:
            inside = m.try_lock()
        after = m.try_lock()
        m.unlock()
        try:
            with m:
                raise ValueError("inside")
        except ValueError:
            pass
        released_on_error = m.try_lock()
        m.unlock()
        return inside, after, released_on_error

    assert run(main, procs) == (False, True, True)


def test_mutex_unlock_of_unlocked_panics(procs):
    def main():
        m = sync.Mutex()
        m.unlock()

    with pytest.raises(rt.Panic, match="^sync: unlock of unlocked mutex$"):
        run(main, procs)


def test_mutex_unlock_twice_panics(procs):
    def main():
        m = sync.Mutex()
        m.lock()
        m.unlock()
        m.unlock()

    with pytest.raises(rt.Panic, match="^sync: unlock of unlocked mutex$"):
        run(main, procs)


def test_mutex_blocks_until_unlocked(procs):
    def main():
        m = sync.Mutex()
        m.lock()
        done = chan(1)

        def locker():
            m.lock()
            done.send("got it")
            m.unlock()

        g = go(locker)
        wait_reason(g, "sync.Mutex.Lock")
        assert_stays_blocked(done, what="lock of a held mutex")
        m.unlock()
        return done.recv()

    assert run(main, procs) == "got it"


def test_mutex_unlocked_by_other_goroutine(procs):
    # Go allows unlocking a Mutex from a goroutine other than the locker.
    def main():
        m = sync.Mutex()
        m.lock()
        go(m.unlock)
        m.lock()  # succeeds once the other goroutine unlocks
        m.unlock()
        return "ok"

    assert run(main, procs) == "ok"


def test_mutex_mutual_exclusion(procs):
    n, k = 8, 200

    def main():
        m = sync.Mutex()
        wg = sync.WaitGroup()
        state = {"counter": 0, "inside": 0, "max_inside": 0}

        def worker():
            for _ in range(k):
                with m:
                    state["inside"] += 1
                    state["max_inside"] = max(state["max_inside"], state["inside"])
                    v = state["counter"]
                    rt.gosched()  # invite interleaving inside the critical section
                    state["counter"] = v + 1
                    state["inside"] -= 1
            wg.done()

        for _ in range(n):
            wg.add(1)
            go(worker)
        wg.wait()
        return state["counter"], state["max_inside"]

    assert run(main, procs) == (n * k, 1)


# ---------------------------------------------------------------- RWMutex


def test_rwmutex_readers_share(procs):
    n = 5

    def main():
        rw = sync.RWMutex()
        arrived = chan(n)
        release = chan()
        finished = chan(n)

        def reader(i):
            rw.rlock()
            arrived.send(i)  # all n hold the read lock at the same time
            release.recv()
            rw.runlock()
            finished.send(i)

        for i in range(n):
            go(reader, i)
        got = sorted(recv_timeout(arrived) for _ in range(n))
        release.close()
        for _ in range(n):
            finished.recv()
        rw.lock()  # free again
        rw.unlock()
        return got

    assert run(main, procs) == list(range(5))


def test_rwmutex_writer_excludes_readers_and_writers(procs):
    def main():
        rw = sync.RWMutex()
        rw.lock()
        done = chan(2)

        def reader():
            rw.rlock()
            done.send("reader")
            rw.runlock()

        def writer():
            rw.lock()
            done.send("writer")
            rw.unlock()

        gr = go(reader)
        gw = go(writer)
        wait_reason(gr, "sync.RWMutex.RLock")
        # Go: a second writer blocks on the internal writer Mutex.
        wait_reason(gw, ("sync.Mutex.Lock", "sync.RWMutex.Lock"))
        assert_stays_blocked(done, what="rlock/lock of a write-locked RWMutex")
        rw.unlock()
        return sorted([done.recv(), done.recv()])

    assert run(main, procs) == ["reader", "writer"]


def test_rwmutex_waiting_writer_blocks_new_readers(procs):
    # Go: once a writer is waiting, new readers queue behind it.
    def main():
        rw = sync.RWMutex()
        rw.rlock()
        order = chan(2)

        def writer():
            rw.lock()
            order.send("writer")
            rw.unlock()

        def late_reader():
            rw.rlock()
            order.send("late reader")
            rw.runlock()

        gw = go(writer)
        wait_reason(gw, "sync.RWMutex.Lock")
        gr = go(late_reader)
        wait_reason(gr, "sync.RWMutex.RLock")
        assert_stays_blocked(order, what="a new reader while a writer waits")
        rw.runlock()
        return [order.recv(), order.recv()]

    assert run(main, procs) == ["writer", "late reader"]


def test_rwmutex_counts_exact(procs):
    def main():
        rw = sync.RWMutex()
        wg = sync.WaitGroup()
        state = {"v": 0, "bad_reads": 0}

        def writer():
            for _ in range(100):
                rw.lock()
                v = state["v"]
                rt.gosched()
                state["v"] = v + 1
                rw.unlock()
            wg.done()

        def reader():
            for _ in range(100):
                rw.rlock()
                a = state["v"]
                rt.gosched()
                if state["v"] != a:
                    state["bad_reads"] += 1
                rw.runlock()
            wg.done()

        for _ in range(3):
            wg.add(2)
            go(writer)
            go(reader)
        wg.wait()
        return state

    assert run(main, procs) == {"v": 300, "bad_reads": 0}


def test_rwmutex_unlock_errors(procs):
    def main():
        rw = sync.RWMutex()
        out = []
        for op in (rw.unlock, rw.runlock):
            try:
                op()
                out.append("no error")
            except rt.Panic as e:
                out.append("panic" if str(e).startswith("sync: ") else str(e))
        return out

    # Go: "sync: Unlock of unlocked RWMutex" / "sync: RUnlock of unlocked RWMutex"
    # (fatal errors in Go); here they must at least raise rt.Panic with a sync: text.
    try:
        r = run(main, procs)
    except rt.Panic as e:  # the runtime treats it as fatal: acceptable, Go does
        assert str(e).startswith("sync: ")
        return
    assert r == ["panic", "panic"]


# ---------------------------------------------------------------- WaitGroup


def test_waitgroup_add_done_wait(procs):
    def main():
        wg = sync.WaitGroup()
        results = []
        for i in range(10):
            wg.add(1)

            def w(i=i):
                rt.gosched()
                results.append(i)
                wg.done()

            go(w)
        wg.wait()
        wg.wait()  # counter zero: returns at once
        return sorted(results)

    assert run(main, procs) == list(range(10))


def test_waitgroup_add_many_at_once(procs):
    def main():
        wg = sync.WaitGroup()
        wg.add(5)
        hits = []
        for i in range(5):
            go(lambda i=i: (hits.append(i), wg.done()))
        wg.wait()
        return len(hits)

    assert run(main, procs) == 5


def test_waitgroup_go(procs):
    def main():
        wg = sync.WaitGroup()
        results = chan(20)
        for i in range(20):
            wg.go(results.send, i)
        wg.wait()
        results.close()
        return sorted(results)

    assert run(main, procs) == list(range(20))


def test_waitgroup_wait_blocks_until_done(procs):
    def main():
        wg = sync.WaitGroup()
        wg.add(1)
        done = chan(1)

        def waiter():
            wg.wait()
            done.send("released")

        g = go(waiter)
        wait_reason(g, "sync.WaitGroup.Wait")
        assert_stays_blocked(done, what="WaitGroup.wait with counter 1")
        wg.done()
        return done.recv()

    assert run(main, procs) == "released"


def test_waitgroup_multiple_waiters(procs):
    def main():
        wg = sync.WaitGroup()
        wg.add(1)
        done = chan(3)
        for k in range(3):
            go(lambda k=k: (wg.wait(), done.send(k)))
        assert_stays_blocked(done, what="WaitGroup.wait")
        wg.done()
        return sorted(done.recv() for _ in range(3))

    assert run(main, procs) == [0, 1, 2]


def test_waitgroup_negative_counter_panics(procs):
    def main():
        wg = sync.WaitGroup()
        e1 = expect_panic(wg.done, message="sync: negative WaitGroup counter")
        wg2 = sync.WaitGroup()
        wg2.add(1)
        e2 = expect_panic(wg2.add, -2, message="sync: negative WaitGroup counter")
        return type(e1), type(e2)

    assert run(main, procs) == (rt.Panic, rt.Panic)


# ---------------------------------------------------------------- Once


def test_once_runs_exactly_once_and_callers_wait(procs):
    n = 10

    def main():
        once = sync.Once()
        gate = chan()
        calls = []
        returned = chan(n)

        def f():
            calls.append(1)
            gate.recv()  # f is slow: other callers must wait for it

        for i in range(n):
            go(lambda i=i: (once.do(f), returned.send(i)))
        # One goroutine is inside f (blocked on gate); nobody may have returned.
        testing.wait_blocked(gate.recv, 1)
        assert_stays_blocked(returned, what="Once.do while f runs")
        gate.send("go")
        got = sorted(returned.recv() for _ in range(n))
        once.do(f)  # no-op now
        return len(calls), got

    assert run(main, procs) == (1, list(range(n)))


def test_once_done_even_if_f_raises(procs):
    # Go: if f panics, Do considers it returned; future calls do not call f.
    def main():
        once = sync.Once()
        calls = []

        def f():
            calls.append(1)
            raise ValueError("in once")

        try:
            once.do(f)
        except ValueError:
            pass
        once.do(f)
        return len(calls)

    assert run(main, procs) == 1


# ---------------------------------------------------------------- Cond


def _cond_setup(n):
    mu = sync.Mutex()
    cond = sync.Cond(mu)
    state = {"waiting": 0, "woken": 0, "go": False}
    woke = chan(n)

    def waiter(i):
        mu.lock()
        state["waiting"] += 1
        while not state["go"]:
            cond.wait()
            state["woken"] += 1
            break
        mu.unlock()
        woke.send(i)

    return mu, cond, state, woke, waiter


def _wait_all_waiting(mu, state, n):
    """Return holding mu, once n waiters are inside cond.wait()."""
    while True:
        mu.lock()
        if state["waiting"] == n:
            return
        mu.unlock()
        rt.gosched()


def test_cond_signal_wakes_one(procs):
    n = 3

    def main():
        mu, cond, state, woke, waiter = _cond_setup(n)
        for i in range(n):
            go(waiter, i)
        _wait_all_waiting(mu, state, n)  # all n registered in the wait list
        cond.signal()
        mu.unlock()
        first = woke.recv()
        assert_stays_blocked(woke, what="a second waiter after one signal")
        mu.lock()
        cond.broadcast()
        mu.unlock()
        rest = sorted([woke.recv(), woke.recv()])
        return first in range(n), sorted([first] + rest), state["woken"]

    assert run(main, procs) == (True, [0, 1, 2], 3)


def test_cond_broadcast_wakes_all(procs):
    n = 5

    def main():
        mu, cond, state, woke, waiter = _cond_setup(n)
        for i in range(n):
            go(waiter, i)
        _wait_all_waiting(mu, state, n)
        state["go"] = True
        cond.broadcast()
        mu.unlock()
        return sorted(woke.recv() for _ in range(n))

    assert run(main, procs) == list(range(n))


def test_cond_wait_reacquires_lock(procs):
    def main():
        mu = sync.Mutex()
        cond = sync.Cond(mu)
        state = {"waiting": 0, "ready": False}
        out = chan(1)

        def waiter():
            mu.lock()
            state["waiting"] += 1
            while not state["ready"]:
                cond.wait()
            # wait() returned: we hold the lock again, so try_lock fails
            out.send(mu.try_lock())
            mu.unlock()

        go(waiter)
        _wait_all_waiting(mu, state, 1)  # holding mu; the waiter is in wait()
        state["ready"] = True
        cond.signal()
        done_early = select(out.recv, default)  # it cannot run: we hold mu
        mu.unlock()
        return done_early, out.recv()

    assert run(main, procs) == ((1, None), False)
