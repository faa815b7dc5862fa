"""Interrupts posted to the main goroutine: Ctrl-C (delivered by sysmon), a panic in
another goroutine, deadlock.  They arrive from another thread at any moment -- in
particular while the main goroutine is still running, just before it parks.  Such an
interrupt must not be lost (the program hung in CI when Ctrl-C landed between
``print("ready")`` and ``chan().recv()``), and whatever the interrupted wait left behind
(a sudog in a channel queue, an armed sleep timer, a syscall still running) must not
disturb the goroutine's later waits once it catches the exception.

``proc.interrupt_main()`` is what sysmon calls after a SIGINT; calling it from the main
goroutine itself posts the interrupt while that goroutine runs -- the racy case, made
deterministic.
"""

from __future__ import annotations

import threading
import time as _stdtime

import pytest

import pyruntime as rt
from pyruntime import chan, go, select
from pyruntime import time as gotime
from pyruntime._core import preempt, proc

from conftest import run, wait_until

pytestmark = pytest.mark.timeout(60)


def test_interrupt_posted_while_running_is_raised_at_next_park(procs):
    def main():
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            chan().recv()  # would block forever: the interrupt must end the wait
        return "caught"

    assert run(main, procs) == "caught"


def test_interrupt_posted_while_running_ends_a_blocked_select_and_sleep(procs):
    def main():
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            select(chan().recv, chan().recv)
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            gotime.sleep(3600)
        return True

    assert run(main, procs) is True


def test_panic_posted_while_main_runs_then_parks(procs, capfd):
    # Another goroutine panics while main is busy; main then blocks on a channel that
    # nobody will ever send on: run() must re-raise the panic, not hang and not report
    # a deadlock.
    def bad():
        raise ValueError("boom")

    def main():
        go(bad)
        while proc.sched.panic is None:
            pass  # busy: the panic is posted while main runs (preemption lets bad run)
        chan().recv()

    with pytest.raises(ValueError, match="boom"):
        run(main, procs)
    err = capfd.readouterr().err
    assert "panic: ValueError: boom" in err
    assert "deadlock" not in err


def test_interrupted_recv_leaves_no_stale_receiver(procs):
    def main():
        ch = chan()
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            ch.recv()
        assert ch.statistics().waiting_receivers == 0
        go(ch.send, 42)
        return ch.recv()  # a stale sudog would have swallowed the 42

    assert run(main, procs) == 42


def test_interrupted_send_leaves_no_stale_sender(procs):
    def main():
        ch = chan()
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            ch.send("lost")
        assert ch.statistics().waiting_senders == 0
        go(ch.send, "kept")
        return ch.recv()

    assert run(main, procs) == "kept"


def test_interrupted_sleep_timer_does_not_wake_a_later_wait(procs):
    def main():
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            gotime.sleep(0.02)
        ch = chan()

        def later():
            gotime.sleep(0.2)  # well after the interrupted sleep's timer would have fired
            ch.send(7)

        go(later)
        return ch.recv_()  # a stale timer would wake this early: (None, False)

    assert run(main, procs) == (7, True)


def test_interrupted_syscall_completion_does_not_wake_a_later_wait(procs):
    def main():
        ev = threading.Event()
        proc.interrupt_main()
        with pytest.raises(KeyboardInterrupt):
            rt.syscall(ev.wait, 30)
        ch = chan()

        def finish():
            ev.set()  # the abandoned syscall returns now ...
            wait_until(lambda: proc.sched.nsyscall == 0, what="the syscall to complete")
            ch.send("after")  # ... and only then does main get its value

        go(finish)
        return ch.recv_()  # a stale completion would wake this early: (None, False)

    assert run(main, procs) == ("after", True)


@pytest.mark.skipif(not preempt.available(), reason="no preemption hook on this interpreter")
def test_interrupt_reaches_a_busy_main_by_preemption(procs):
    # Posted from another thread (as sysmon does after a SIGINT) while main spins in pure
    # Python with nothing else to run: the preemption request makes it raise.
    def main():
        spinning = [False]

        def poster():
            while not spinning[0]:  # post only once main spins in its own code (an
                _stdtime.sleep(0.001)  # interrupt can land anywhere, threading's locks too)
            proc.interrupt_main()

        t = threading.Thread(target=poster)
        t.start()
        with pytest.raises(KeyboardInterrupt):
            spinning[0] = True
            while True:
                pass
        t.join()
        return True

    assert run(main, procs) is True


@pytest.mark.skipif(not preempt.available(), reason="no preemption hook on this interpreter")
def test_panic_elsewhere_stops_a_busy_main(procs, capfd):
    # Go ends the program when any goroutine panics, whatever main is doing: a main
    # spinning in pure Python is preempted and raises the panic.
    def bad():
        raise ValueError("boom")

    def main():
        go(bad)
        while True:
            pass

    with pytest.raises(ValueError, match="boom"):
        run(main, procs)
    assert "panic: ValueError: boom" in capfd.readouterr().err
