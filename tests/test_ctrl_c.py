"""Ctrl-C and the end of the runtime's threads (SPEC: "Ctrl-C stops the runtime cleanly: no
thread is left behind"; "every runtime thread ends when run() returns").

"Ended" means joined before ``run`` returns (the thread has run its last Python code) and,
on Linux, gone from ``/proc/self/task``: each child program prints
``threading.enumerate()`` and the task count right after ``run`` returns or raises.

Every child synchronises with the test through its output ("ready" once the situation
under test is set up) and, for the repeated Ctrl-C test, through a shutdown hook that
tells the test the runtime is stopping and waits for its answer, so that no SIGINT can
land after ``run`` has returned (where plain Python raises it, outside the runtime).
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import pyruntime as rt
from pyruntime._core import proc

from test_programs import ROOT, _diagnose_hung

pytestmark = pytest.mark.timeout(90)

CLEAN = "['MainThread'] 1"

PRELUDE = """
import faulthandler, os, signal, sys, threading
faulthandler.register(signal.SIGUSR1, all_threads=True)
signal.signal(signal.SIGINT, signal.default_int_handler)  # (a test run as a background job inherits SIG_IGN)
import pyruntime as rt
from pyruntime import chan, go
from pyruntime._core import proc

def threads():
    return f"{sorted(t.name for t in threading.enumerate())} {len(os.listdir('/proc/self/task'))}"

def on_other_m():
    # Start goroutines until one lands on an M other than M0 (main spins meanwhile, so
    # an idle M steals it); that one spins in pure Python for ever.
    for _ in range(500):
        box = []
        go(spinner, box)
        while not box:
            pass
        if not box[0]:
            return
    raise SystemExit("no goroutine reached another M")

def spinner(box):
    on_main = threading.current_thread() is threading.main_thread()
    box.append(on_main)
    if on_main:
        return
    while True:
        pass
"""


def _spawn(body: str) -> subprocess.Popen:
    src = PRELUDE + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", src], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _finish(p: subprocess.Popen, timeout: float = 30) -> tuple[str, str]:
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("the program did not end:\n" + _diagnose_hung(p))
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    return out, err


def _expect_ready(p: subprocess.Popen) -> None:
    line = p.stdout.readline().strip()
    if line != "ready":
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"child did not get ready: {line!r}{out}\n{err}")


# --------------------------------------------------------------------------- a goroutine in `while True: pass`

@pytest.mark.parametrize("how", ["return", "ctrl-c"])
def test_goroutine_spinning_on_another_m_ends_when_run_returns(how):
    # A goroutine in pure Python on M1 reaches no scheduling point: shutdown must preempt
    # it into GreenletExit.  It used to wait 5 s, leave M1 running and segfault at exit.
    p = _spawn(f"""
        import time
        ended = []
        def main():
            on_other_m()
            try:
                if {how!r} == "return":
                    return "done"
                print("ready", flush=True)
                chan().recv()
            finally:
                ended.append(time.monotonic())
        try:
            print("returned", rt.run(main, gomaxprocs=2), threads())
        except KeyboardInterrupt:
            print("interrupted", threads())
        # shutdown used to wait its whole 5 s timeout for M1
        print("shutdown took", "long" if time.monotonic() - ended[0] > 4 else "short")
    """)
    if how == "ctrl-c":
        _expect_ready(p)
        p.send_signal(signal.SIGINT)
    out, err = _finish(p)
    assert p.returncode == 0, err
    first = "returned done" if how == "return" else "interrupted"
    assert out.splitlines() == [f"{first} {CLEAN}", "shutdown took short"], err


def test_ctrl_c_gomaxprocs_1_spinner_and_main_blocked_on_a_channel():
    # The spinner runs on M0 (the main thread) while main waits: sysmon must deliver the
    # interrupt by preempting the spinner (3.11: the settrace-style attach).
    p = _spawn("""
        def spin():
            print("ready", flush=True)
            while True:
                pass
        def main():
            go(spin)
            chan().recv()
        try:
            rt.run(main, gomaxprocs=1)
        except KeyboardInterrupt:
            print("interrupted", threads())
    """)
    _expect_ready(p)
    p.send_signal(signal.SIGINT)
    out, err = _finish(p)
    assert p.returncode == 0, err
    assert out.strip() == f"interrupted {CLEAN}"


# --------------------------------------------------------------------------- a Ctrl-C during the shutdown

@pytest.mark.parametrize("first", ["return", "ctrl-c"])
def test_ctrl_c_during_shutdown_is_raised_by_run_after_every_thread_ended(first):
    # A shutdown hook sends the process a SIGINT, so it arrives while shutdown runs.  It
    # used to raise inside shutdown (its handler was restored first): shutdown stopped
    # half-way, threads were left and the next run() said a runtime was still running.
    # Now it is raised by run() once shutdown is done; on top of a first Ctrl-C it is
    # absorbed by the KeyboardInterrupt already on its way out.
    p = _spawn(f"""
        def hook():
            os.kill(os.getpid(), signal.SIGINT)
            signal.pthread_sigmask(signal.SIG_BLOCK, [])  # (runs the Python-level handler now)
        def main():
            proc.on_shutdown(hook)
            on_other_m()
            go(chan().recv)  # a parked goroutine, unwound by the shutdown
            if {first!r} == "return":
                return "done"
            print("ready", flush=True)
            chan().recv()
        try:
            print("returned", rt.run(main, gomaxprocs=2))
        except KeyboardInterrupt as e:
            print("interrupted", threads(), type(e.__context__).__name__)
        print("again", rt.run(lambda: 42))
    """)
    if first == "ctrl-c":
        _expect_ready(p)
        p.send_signal(signal.SIGINT)
    out, err = _finish(p)
    assert p.returncode == 0, err
    assert out.splitlines() == [f"interrupted {CLEAN} NoneType", "again 42"], err


# --------------------------------------------------------------------------- repeated Ctrl-C in a busy program

BUSY = """
import time as stdtime
from pyruntime import time as gotime

def spin():
    while True:
        pass

def pinger(c):
    while True:
        c.send(1)

def in_syscalls():
    while True:
        rt.syscall(stdtime.sleep, 0.001)

def sleeper():
    while True:
        gotime.sleep(0.0005)

def hook():
    # Tell the test the runtime is stopping; it stops sending SIGINTs and answers.  Any
    # SIGINT up to here lands inside run() (main, the shutdown, this wait).
    print("stopping", flush=True)
    sys.stdin.readline()

def main():
    proc.on_shutdown(hook)
    if rt.gomaxprocs() > 1:
        on_other_m()
    go(spin)
    c = chan()
    go(pinger, c); go(pinger, c)
    for _ in range(3):
        go(in_syscalls)
    go(sleeper)
    print("ready", flush=True)
    n = 0
    while True:
        c.recv()
        n += 1
        if n % 50 == 0:
            rt.syscall(stdtime.sleep, 0.0005)

try:
    rt.run(main, gomaxprocs=int(sys.argv[1]))
except KeyboardInterrupt:
    print("interrupted", threads(), flush=True)
"""


def _read_until(p: subprocess.Popen, sel: selectors.BaseSelector, buf: list, timeout: float) -> bool:
    """Collect the child's output for up to ``timeout`` s; True once it said 'stopping'
    or closed its output (it ended: the caller checks what it printed)."""
    end = time.monotonic() + timeout
    while True:
        if "stopping" in "".join(buf):
            return True
        left = end - time.monotonic()
        if left <= 0:
            return False
        if sel.select(left):
            data = os.read(p.stdout.fileno(), 4096)
            if not data:
                return True
            buf.append(data.decode())


@pytest.mark.parametrize("procs", [1, 3])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_repeated_ctrl_c_in_a_busy_program(procs, seed):
    rng = random.Random(seed)
    src = PRELUDE + BUSY
    p = subprocess.Popen([sys.executable, "-c", src, str(procs)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT)  # (stdout is read from its fd)
    try:
        buf: list[str] = []
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while "ready" not in "".join(buf):
            assert sel.select(30), "the child did not get ready"
            data = os.read(p.stdout.fileno(), 4096)
            assert data, p.stderr.read()
            buf.append(data.decode())
        _read_until(p, sel, buf, rng.uniform(0, 0.05))
        sent = 0
        stopping = False
        for _ in range(rng.randint(2, 6)):
            p.send_signal(signal.SIGINT)
            sent += 1
            if _read_until(p, sel, buf, rng.uniform(0, 0.02)):
                stopping = True
                break
        if not stopping and not _read_until(p, sel, buf, 30):
            pytest.fail("the runtime did not stop after Ctrl-C:\n" + "".join(buf) + _diagnose_hung(p))
        sel.close()
        try:
            p.stdin.write("go on\n")
            p.stdin.flush()
        except BrokenPipeError:
            pass  # it ended without asking (a KeyboardInterrupt skipped the shutdown hook)
        try:
            rest, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the program did not end after its runtime stopped:\n" + _diagnose_hung(p))
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    out = "".join(buf) + rest
    assert p.returncode == 0, (sent, err)
    assert out.splitlines()[-1] == f"interrupted {CLEAN}", (sent, out, err)


# --------------------------------------------------------------------------- the SIGINT handler, in-process

def test_sigint_handler_never_raises_in_a_runtime_frame():
    # Raised in run()'s own frame (between _start and its try, or at the top of its
    # finally) the KeyboardInterrupt skipped shutdown and left every thread running.
    def main():
        caller = sys._getframe(1)
        assert caller.f_code is proc.run.__code__
        try:
            proc._on_sigint(signal.SIGINT, caller)  # recorded for sysmon, not raised here
        except KeyboardInterrupt:  # (caught: a KeyboardInterrupt would stop pytest)
            return "raised in run's frame"
        with proc._sig_lock:
            proc.take_sigint()  # (no real SIGINT came: forget the record)
        with pytest.raises(KeyboardInterrupt):
            proc._on_sigint(signal.SIGINT, sys._getframe())  # main's own code: raised at once
        return "ok"

    assert rt.run(main, gomaxprocs=1) == "ok"


def test_ctrl_c_posted_to_main_as_it_returns_is_raised_by_run():
    # sysmon posted the Ctrl-C, but main returned before its next park: run() raises it
    # after the shutdown instead of dropping it.
    def main():
        proc.interrupt_main()
        return "done"

    with pytest.raises(KeyboardInterrupt):
        rt.run(main, gomaxprocs=1)
    assert rt.run(lambda: 42) == 42  # nothing stays pending for the next run


def test_a_syscall_outliving_shutdown_does_not_leak_into_the_next_runtime():
    # shutdown gives a call still running on a syscall M 0.5 s, then leaves its thread to
    # end when the call returns.  Its completion used to decrement the *next* runtime's
    # nsyscall (to -1), which silenced that runtime's deadlock detection for ever.
    import threading

    release = threading.Event()

    def main():
        rt.go(rt.syscall, release.wait, 30)
        rt.gosched()  # (the goroutine submits its call)
        return [t for t in threading.enumerate() if t.name.startswith("pyruntime-syscall")]

    workers = rt.run(main, gomaxprocs=1)
    assert workers and all(t.is_alive() for t in workers)

    def main2():
        release.set()
        for t in workers:
            t.join(10)  # the old call returns and its worker ends, inside this runtime
        assert not any(t.is_alive() for t in workers)
        return proc.sched.nsyscall

    assert rt.run(main2, gomaxprocs=1) == 0
