"""sync.Cond misuse and interrupted waits must leave no stale waiter behind.

A waiter left in the Cond's queue by a wait that never happened (``wait`` without
holding ``L``) or that was abandoned (an exception delivered while parked) would take
the next ``signal()`` and leave the real waiter asleep.  Every test ends by checking
that a real waiter is woken by exactly one ``signal``.
"""

from __future__ import annotations

import pytest

import pyruntime as rt
from pyruntime import chan, go, sync
from pyruntime._core import proc

from conftest import expect_panic, recv_timeout, run, wait_reason

pytestmark = pytest.mark.timeout(60)

COND_WAIT = "sync.Cond.Wait"


def _signal_reaches_a_real_waiter(c):
    """Start a goroutine that waits on ``c``; wake it with one signal; return its result."""
    done = chan(1)

    def waiter():
        c.L.lock()
        c.wait()
        c.L.unlock()
        done.send("woken")

    g = go(waiter)
    wait_reason(g, COND_WAIT)
    c.L.lock()
    c.signal()
    c.L.unlock()
    return recv_timeout(done)


def test_cond_wait_without_lock_panics_and_leaves_no_waiter(procs):
    def main():
        c = sync.Cond()
        expect_panic(c.wait, message="sync: unlock of unlocked mutex")
        assert c._waiters == []
        assert not c.L.locked()  # a failed wait does not lock L either
        return _signal_reaches_a_real_waiter(c)

    assert run(main, procs) == "woken"


def test_cond_wait_without_rwmutex_lock_panics_and_leaves_no_waiter(procs):
    def main():
        c = sync.Cond(sync.RWMutex())
        expect_panic(c.wait, message="sync: Unlock of unlocked RWMutex")
        assert c._waiters == []
        return _signal_reaches_a_real_waiter(c)

    assert run(main, procs) == "woken"


def test_cond_failed_wait_then_broadcast_and_signal(procs):
    # Several failed waits, then broadcast to real waiters: every one wakes, and a
    # later signal still reaches a later waiter.
    def main():
        c = sync.Cond()
        for _ in range(3):
            expect_panic(c.wait, message="sync: unlock of unlocked mutex")
        assert c._waiters == []
        done = chan(3)

        def waiter(i):
            c.L.lock()
            c.wait()
            c.L.unlock()
            done.send(i)

        gs = [go(waiter, i) for i in range(3)]
        for g in gs:
            wait_reason(g, COND_WAIT)
        c.L.lock()
        c.broadcast()
        c.L.unlock()
        got = sorted(recv_timeout(done) for _ in range(3))
        return got, _signal_reaches_a_real_waiter(c)

    assert run(main, procs) == ([0, 1, 2], "woken")


def test_cond_wait_interrupted_while_parked_leaves_no_waiter(procs):
    def main():
        c = sync.Cond()
        c.L.lock()
        proc.interrupt_main()  # Ctrl-C, delivered at the next park: inside wait()
        with pytest.raises(KeyboardInterrupt):
            c.wait()
        assert c.L.locked()  # wait() re-locks L on the way out, as on a normal return
        assert c._waiters == []
        c.L.unlock()
        return _signal_reaches_a_real_waiter(c)

    assert run(main, procs) == "woken"


def test_cond_signal_taken_by_an_interrupted_waiter_is_passed_on(procs):
    # main is signalled and interrupted before it runs again: the signal it consumed
    # goes on to the next waiter instead of being lost.
    def main():
        c = sync.Cond()
        me = proc.getg()
        done = chan(1)

        def waiter():
            c.L.lock()
            c.wait()
            c.L.unlock()
            done.send("woken")

        def waker():
            wait_reason(me, COND_WAIT)
            w = go(waiter)
            wait_reason(w, COND_WAIT)
            assert len(c._waiters) == 2
            with rt.debug.stw("signal then interrupt"):  # main cannot run in between
                c.signal()  # chooses main, the first waiter
                proc.interrupt_main()

        c.L.lock()
        go(waker)
        with pytest.raises(KeyboardInterrupt):
            c.wait()
        assert c.L.locked()
        c.L.unlock()
        r = recv_timeout(done)
        assert c._waiters == []
        return r

    assert run(main, procs) == "woken"


def test_cond_signal_racing_a_failed_wait_is_passed_on(procs):
    # A signal that picks the waiter of a wait() whose unlock then fails must reach the
    # next waiter.  The race is made deterministic by an L whose unlock() lets another
    # waiter queue and sends the signal before it fails.
    def main():
        m = sync.Mutex()
        done = chan(1)
        state = {"fail": False}

        class L:
            def lock(self):
                m.lock()

            def unlock(self):
                if not state["fail"]:
                    m.unlock()
                    return
                state["fail"] = False
                w = go(waiter)
                wait_reason(w, COND_WAIT)  # queued behind main's waiter
                assert len(c._waiters) == 2
                c.signal()  # takes main's waiter, the first
                raise rt.Panic("sync: unlock of unlocked mutex")

        c = sync.Cond(L())

        def waiter():
            c.L.lock()
            c.wait()
            c.L.unlock()
            done.send("woken")

        state["fail"] = True
        expect_panic(c.wait, message="sync: unlock of unlocked mutex")
        r = recv_timeout(done)
        assert c._waiters == []
        return r

    assert run(main, procs) == "woken"
