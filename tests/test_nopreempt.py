"""``debug.nopreempt()`` (reliability item 14): Go's ``m.locks > 0`` for a goroutine.
A preemption request that arrives inside the section is deferred (the hook fires,
declines and counts it) and honoured when the section ends; a goroutine holding a plain
``threading.Lock`` inside one cannot be switched out for another goroutine of its M
that then blocks the thread on the same lock."""

from __future__ import annotations

import threading
import time as _time

import pytest

import pyruntime as rt
from pyruntime import chan, debug, go
from pyruntime._core import preempt, proc

from conftest import EVENTUALLY, Worker

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not preempt.available(), reason="no preemption hook on this interpreter")]


def _wait_plain(pred, what):
    end = _time.monotonic() + EVENTUALLY
    while not pred():
        assert _time.monotonic() < end, what
        _time.sleep(0.001)


def _spin_until(flag):
    end = _time.monotonic() + EVENTUALLY
    while not flag[0] and _time.monotonic() < end:
        pass


def _run_spinner(section):
    """GOMAXPROCS 1: a spinner with a runnable witness behind it (so sysmon preempts
    it); the witness reports what the spinner was doing when it got the CPU."""
    def main():
        pr = proc.preempter
        assert pr is not None, "preemption hooks are off"
        base = pr.deferred
        state = {"in_section": False, "after": False}
        seen = chan(1)
        release = [False]

        def witness():
            seen.send((state["in_section"], state["after"]))

        def spinner():
            with section():
                state["in_section"] = True
                go(witness)  # runnable now: only a preemption (or the spinner's end) runs it
                _spin_until(release)
                state["in_section"] = False
            state["after"] = True

        def releaser():
            # A preemption was requested and the hook declined it inside the section;
            # without the section the witness ran already (and released us).
            _wait_plain(lambda: pr.deferred > base or release[0], "no preemption request reached the spinner")
            release[0] = True

        w = Worker(releaser)
        w.start()
        go(spinner)
        got = seen.recv()
        release[0] = True
        w.finish()
        return got, pr.deferred - base

    return rt.run(main, gomaxprocs=1)


def test_a_preemption_request_is_deferred_until_the_section_ends():
    (in_section, after), deferred = _run_spinner(debug.nopreempt)
    assert deferred >= 1
    # The witness ran right at the section's exit: after the section, before the
    # spinner's next statement.
    assert (in_section, after) == (False, False)


def test_without_the_section_the_spinner_is_preempted_inside():
    import contextlib

    (in_section, _after), deferred = _run_spinner(contextlib.nullcontext)
    assert in_section is True and deferred == 0


def test_a_threading_lock_held_inside_the_section_does_not_wedge_the_m():
    # Without the section, the holder is preempted while it holds the lock, the other
    # goroutine's acquire() blocks the M's only thread, and the holder can never run
    # again to release it (here the acquire gives up after 5 s instead of forever).
    lock = threading.Lock()

    def main():
        pr = proc.preempter
        base = pr.deferred
        res = chan(2)

        def other():
            ok = lock.acquire(timeout=5)
            if ok:
                lock.release()
            res.send(("other", ok))

        def holder():
            with debug.nopreempt(), lock:
                go(other)
                end = _time.monotonic() + EVENTUALLY
                while pr.deferred == base and _time.monotonic() < end:
                    pass  # until sysmon has asked us to yield (and was told to wait)
            res.send(("holder", pr.deferred > base))

        go(holder)
        return sorted([res.recv(), res.recv()])

    assert rt.run(main, gomaxprocs=1) == [("holder", True), ("other", True)]


def test_sections_nest_and_do_nothing_outside_a_goroutine():
    with debug.nopreempt():  # a plain thread: no goroutine, no effect, no error
        pass

    def main():
        g = proc.getg()
        with debug.nopreempt():
            with debug.nopreempt():
                d2 = g.nopreempt
            d1 = g.nopreempt
        return d2, d1, g.nopreempt

    assert rt.run(main, gomaxprocs=1) == (2, 1, 0)
