"""Deadlock detection (``proc._checkdead`` and its callers): what keeps it quiet and who
re-runs it.  Whole-program cases (a hang instead of the report) run as subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading

import pytest
from conftest import EVENTUALLY, Worker, run

import pyruntime as rt
from pyruntime import chan, go, netpoll, testing
from pyruntime._core import proc
from pyruntime._core.g import Gwaiting
from pyruntime.netpoll.polldesc import OK, TIMEOUT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLOCK_MSG = "fatal error: all goroutines are asleep - deadlock!"
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="epoll is Linux-only")
pytestmark = pytest.mark.timeout(90)


def run_prog(src: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(src)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _dead_now() -> bool:
    """``_checkdead()`` as an idling M would call it, without its side effects."""
    s = proc.sched
    with s.lock:
        saved = s.dead, s.deadsuspect
        try:
            return proc._checkdead()
        finally:
            s.dead, s.deadsuspect = saved


class _NoOutsideThreads(tuple):
    """What ``_outside_threads_alive`` returns when pytest's own threads are hidden:
    (no thread that used the runtime, no other), and falsy (its older bool form)."""

    def __bool__(self) -> bool:
        return False


def _no_outside_threads() -> tuple:
    return _NoOutsideThreads((False, False))


def _main_in_io_wait() -> bool:
    mg = proc.sched.main_g
    return mg is not None and mg._status == Gwaiting and mg.waitreason == "IO wait"


# --------------------------------------------------------------------------- netpoll waiters (item 3)


def _main_parked_on_a_socket(procs, wake):
    """main waits on a socket's read half; another goroutine calls ``wake(pd, peer)``
    once main is in IO wait.  Returns what ``pd.wait`` returned."""
    np = netpoll.get()
    a, b = socket.socketpair()
    try:
        a.setblocking(False)

        def main():
            pd = np.open(a.fileno())
            try:
                def waker():
                    while not _main_in_io_wait():
                        rt.gosched()
                    wake(pd, b)

                go(waker)
                return pd.wait(pd.r, pd.r.seq)
            finally:
                np.release(pd)

        return run(main, procs)
    finally:
        a.close()
        b.close()


@linux
def test_a_g_the_netpoller_harvested_counts_until_it_is_readied(procs, monkeypatch):
    # The false "deadlock!" in net.dial: the poller lowered its waiter count, then an
    # idle M ran checkdead before the harvested main G was queued.  Stop every poll
    # that harvested main at exactly that point and ask checkdead.
    monkeypatch.setattr(proc, "_outside_threads_alive", _no_outside_threads)  # pytest's threads
    np = netpoll.get()
    real_poll = np.poll
    verdicts: list[bool] = []

    def poll(timeout):
        gs = real_poll(timeout)
        if proc.sched.main_g in gs:
            verdicts.append(_dead_now())
        return gs

    monkeypatch.setattr(np, "poll", poll)
    assert _main_parked_on_a_socket(procs, lambda pd, peer: peer.send(b"x")) == OK
    assert verdicts == [False], "checkdead saw no netpoll waiter while main was in transit"
    assert np.waiters == 0


@linux
def test_a_g_woken_by_a_deadline_change_counts_until_it_is_readied(procs, monkeypatch):
    # The same window on the other wake path (timer, deadline change, close): the
    # count must drop only after the G is queued.
    monkeypatch.setattr(proc, "_outside_threads_alive", _no_outside_threads)
    real_ready = proc.ready
    verdicts: list[bool] = []

    def ready(g, *args, **kwargs):
        if g is proc.sched.main_g and _main_in_io_wait():
            verdicts.append(_dead_now())
        return real_ready(g, *args, **kwargs)

    monkeypatch.setattr(proc, "ready", ready)
    assert _main_parked_on_a_socket(procs, lambda pd, peer: pd.set_deadline(pd.r, -1.0)) == TIMEOUT
    assert verdicts == [False], "checkdead saw no netpoll waiter while main was being readied"
    assert netpoll.get().waiters == 0


# --------------------------------------------------------------------------- plain threads (item 13)


def _watch_rechecks(monkeypatch):
    """Wrap ``_checkdead``; the returned event is set by the first re-check made while
    a suspicion already stood (so past a zero grace) that still found progress possible."""
    real = proc._checkdead
    armed = threading.Event()
    rechecked = threading.Event()

    def checkdead():
        before = proc.sched.deadsuspect
        dead = real()
        if armed.is_set() and before and not dead:
            rechecked.set()
        return dead

    monkeypatch.setattr(proc, "_checkdead", checkdead)
    return armed, rechecked


def test_a_thread_that_used_a_channel_is_progress_past_the_grace(procs, monkeypatch):
    # The thread sends once, then runs its own code (here: waits on an Event) for longer
    # than the grace before it sends again.  The grace is set to 0 and the thread goes on
    # only once the runtime has re-checked after it and found progress possible.
    armed, rechecked = _watch_rechecks(monkeypatch)
    abort = threading.Event()
    ch = chan()

    def body():
        ch.send(1)
        if rechecked.wait(EVENTUALLY) and not abort.is_set():
            ch.send(2)

    t = Worker(body)

    def main():
        t.start()
        testing.wait_blocked(ch.send)
        assert ch.recv() == 1
        monkeypatch.setattr(proc, "DEADLOCK_GRACE", 0.0)
        armed.set()
        return ch.recv()

    try:
        assert run(main, procs) == 2
    finally:
        abort.set()
        rechecked.set()
        t.finish()


def test_deadlock_reported_once_the_thread_that_used_the_runtime_ends(procs, monkeypatch, capfd):
    # The other side: the thread ends without sending; the runtime must not wait for it
    # any longer (sysmon's re-check sees it gone).
    armed, rechecked = _watch_rechecks(monkeypatch)
    ch = chan()

    def body():
        ch.send(1)
        rechecked.wait(EVENTUALLY)

    t = Worker(body)

    def main():
        t.start()
        testing.wait_blocked(ch.send)
        assert ch.recv() == 1
        armed.set()
        ch.recv()

    try:
        with pytest.raises(rt.Deadlock):
            run(main, procs)
    finally:
        rechecked.set()
        t.finish()
    assert rechecked.is_set()
    assert DEADLOCK_MSG in capfd.readouterr().err


def test_deadlock_reported_when_a_woken_thread_uncounts_after_main_blocked_again():
    # A plain thread blocked in send is woken by main's receive, and lowers noutside
    # only when its thread runs: main may have blocked for good by then, and the idle
    # M's checkdead saw an outside thread still blocked.  The hook holds the thread
    # there until main sleeps; the thread then ends, so nothing can wake main.
    r = run_prog("""
        import threading, time
        import pyruntime as rt
        from pyruntime import chan, testing
        from pyruntime._core import futex, proc
        from pyruntime._core.g import Gwaiting

        real_sleep = futex.Note.sleep
        def sleep(self, timeout=None):
            woke = real_sleep(self, timeout)
            if threading.current_thread() is t:
                mg = proc.sched.main_g
                while not (mg._status == Gwaiting and proc.sched.npidle >= len(proc.sched.allp)):
                    time.sleep(0.001)
            return woke
        futex.Note.sleep = sleep

        ch = chan()
        t = threading.Thread(target=ch.send, args=(1,))
        def main():
            t.start()
            testing.wait_blocked(ch.send)
            ch.recv()
            ch.recv()
        try:
            rt.run(main, gomaxprocs=1)
        except rt.Deadlock as e:
            print("caught", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught all goroutines are asleep - deadlock!"


# --------------------------------------------------------------------------- GOMAXPROCS shrink (item 10)


def test_deadlock_reported_after_gomaxprocs_shrinks():
    # The retiring Ps leave allp after main's M went idle (checkdead then saw 1 idle P
    # of 4): the last retiring M must run checkdead.  The hook holds every retirement
    # until main sleeps, the order that hung 10 runs in 12; then the plain program.
    r = run_prog("""
        import threading, time
        import pyruntime as rt
        from pyruntime import chan
        from pyruntime._core import proc
        from pyruntime._core.g import Gwaiting

        real = proc._retire
        def retire(m, p):
            mg = proc.sched.main_g
            while not (mg._status == Gwaiting and proc.sched.allp[0].idle):
                time.sleep(0.001)   # (a retiring M's own thread: no goroutine here)
            return real(m, p)

        def main():
            rt.gomaxprocs(4)
            rt.gomaxprocs(1)
            chan().recv()

        proc._retire = retire
        try:
            rt.run(main, gomaxprocs=2)
        except rt.Deadlock as e:
            print("caught", e)
        proc._retire = real
        for _ in range(3):
            try:
                rt.run(main, gomaxprocs=2)
            except rt.Deadlock as e:
                print("caught", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:4] == ["caught all goroutines are asleep - deadlock!"] * 4
    assert r.stderr.count(DEADLOCK_MSG) == 4


# --------------------------------------------------------------------------- syscalls


def test_deadlock_reported_when_the_syscall_m_uncounts_after_main_blocked_again():
    # A syscall M readies its G, then lowers nsyscall: if the G blocked for good in
    # between, the idle M's checkdead saw the syscall still in flight.
    r = run_prog("""
        import time
        import pyruntime as rt
        from pyruntime import chan
        from pyruntime._core import proc
        from pyruntime._core.g import Gwaiting

        real = proc.ready
        def ready(g, next=True, key=None):
            real(g, next, key)
            if key is not None:   # a syscall completion, on the syscall M
                while not (g._status == Gwaiting and proc.sched.npidle >= len(proc.sched.allp)):
                    time.sleep(0.001)
        proc.ready = ready

        def main():
            rt.syscall(lambda: None)
            chan().recv()
        try:
            rt.run(main, gomaxprocs=1)
        except rt.Deadlock as e:
            print("caught", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught all goroutines are asleep - deadlock!"
    assert DEADLOCK_MSG in r.stderr


# --------------------------------------------------------------------------- no runtime (item 7)


@pytest.mark.parametrize("op, reason", [
    ("chan().recv()", "chan receive"),
    ("chan().send(1)", "chan send"),
    ("c = chan(); select(c.recv, (c.send, 1))", "select"),
    ("select()", "select (no cases)"),
    ("nilchan.recv()", "chan receive (nil chan)"),
    ("m = sync.Mutex(); m.lock(); m.lock()", "sync.Mutex.Lock"),
    ("wg = sync.WaitGroup(); wg.add(1); wg.wait()", "sync.WaitGroup.Wait"),
])
def test_blocking_with_no_runtime_and_nobody_else_is_a_deadlock(op, reason):
    r = run_prog(f"""
        import pyruntime as rt
        from pyruntime import chan, nilchan, select, sync
        try:
            {op}
        except rt.Deadlock as e:
            print("caught", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught all goroutines are asleep - deadlock!"
    assert r.stderr.startswith(f"{DEADLOCK_MSG}\n\ngoroutine 1 [{reason}]:\n"), r.stderr


def test_blocking_with_no_runtime_while_a_thread_lives_stays_a_plain_wait():
    # Another thread may end the wait (here it does): the main thread blocks itself,
    # as SPEC 3.2 says, and no runtime starts.
    r = run_prog("""
        import threading
        import pyruntime as rt
        from pyruntime import chan
        from pyruntime._core import proc
        ch, go_on = chan(), threading.Event()
        def later():
            go_on.wait()
            ch.send("sent")
        threading.Thread(target=later).start()
        threading.Timer(0, go_on.set).start()
        print(ch.recv(), proc.sched.running)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "sent False"
