"""Whole-program behaviour, as subprocess test programs with expected output (STYLE 9):
the deadlock message and exit status, the panic report, Ctrl-C, threads at exit,
the CLI and the samples."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(60)


def run_prog(src: str, *args: str, env: dict | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(src), *args], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=ROOT)


def test_deadlock_message_dump_and_exception():
    r = run_prog("""
        import pyruntime as rt
        from pyruntime import chan, go
        def main():
            c = chan()
            go(c.send, 1)      # blocks too: nobody receives from c... after the first
            c.recv()
            c.recv()
        try:
            rt.run(main)
        except rt.Deadlock as e:
            print("caught", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "caught all goroutines are asleep - deadlock!"
    assert r.stderr.startswith("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\n")


def test_deadlock_cli_exit_status_2(tmp_path):
    f = tmp_path / "dl.py"
    f.write_text("from pyruntime import chan\nchan().recv()\n")
    r = subprocess.run([sys.executable, "-m", "pyruntime", "run", str(f)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "fatal error: all goroutines are asleep - deadlock!" in r.stderr
    assert "goroutine 1 [chan receive]:" in r.stderr


def test_panic_report_and_exit_status(tmp_path):
    f = tmp_path / "p.py"
    f.write_text(textwrap.dedent("""
        from pyruntime import chan, go
        def boom():
            raise ValueError("bad thing")
        go(boom)
        chan().recv()
    """))
    r = subprocess.run([sys.executable, "-m", "pyruntime", "run", str(f)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "panic: ValueError: bad thing\n\ngoroutine 2 [running]:\n" in r.stderr
    assert 'in boom' in r.stderr
    assert "_core" not in r.stderr  # runtime frames are hidden, as in Go's default traceback


def test_every_thread_ends_after_run_returns_panic_and_deadlock():
    r = run_prog("""
        import threading
        import time as stdtime
        import pyruntime as rt
        from pyruntime import chan, go
        def ok():
            for _ in range(20): go(chan().recv)
            rt.syscall(stdtime.sleep, 0.01)
            return 1
        def bad():
            go(lambda: 1 / 0)
            chan().recv()
        def dead():
            chan().recv()
        for procs in (1, 4):
            assert rt.run(ok, gomaxprocs=procs) == 1
            try: rt.run(bad, gomaxprocs=procs)
            except ZeroDivisionError: pass
            try: rt.run(dead, gomaxprocs=procs)
            except rt.Deadlock: pass
        print(sorted(t.name for t in threading.enumerate()))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['MainThread']"


def _diagnose_hung(p: subprocess.Popen) -> str:
    """What a hung child was doing: each thread's signal masks and kernel wait channel,
    then its Python stacks (the child registered faulthandler on SIGUSR1)."""
    lines = []
    try:
        for tid in sorted(os.listdir(f"/proc/{p.pid}/task")):
            base = f"/proc/{p.pid}/task/{tid}"
            with open(f"{base}/status") as f:
                st = [ln for ln in f.read().splitlines() if ln.startswith(("Name", "SigBlk", "SigPnd", "ShdPnd", "SigCgt"))]
            with open(f"{base}/wchan") as f:
                st.append("wchan:" + f.read().strip())
            lines.append(f"{tid}: " + " ".join(x.replace("\t", " ") for x in st))
        p.send_signal(signal.SIGUSR1)
        _, err = p.communicate(timeout=5)
        lines.append(err)
    except (OSError, subprocess.TimeoutExpired) as e:
        lines.append(f"(diagnosis incomplete: {e!r})")
    return "\n".join(lines)


@pytest.mark.parametrize("prog", ["busy", "sleeping", "busy-main", "blocked-main"])
def test_ctrl_c_stops_cleanly(prog):
    src = textwrap.dedent(f"""
        import faulthandler, signal, threading
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # (a background job inherits SIG_IGN)
        import pyruntime as rt
        from pyruntime import chan, go, time
        def spin():
            while True:
                rt.gosched()
        def main():
            if {prog!r} == "busy-main":  # main's own loop, nothing else to run
                print("ready", flush=True)
                while True:
                    pass
            if {prog!r} == "blocked-main":  # main blocked in a C call the runtime cannot see
                import time as stdtime
                print("ready", flush=True)
                stdtime.sleep(100)
            if {prog!r} == "busy":
                for _ in range(3): go(spin)
            else:
                go(time.sleep, 100)
            print("ready", flush=True)
            chan().recv()
        try:
            rt.run(main, gomaxprocs=2)
        except KeyboardInterrupt:
            print("interrupted", sorted(t.name for t in threading.enumerate()), flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", src], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert p.stdout.readline().strip() == "ready"
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("Ctrl-C did not stop the program:\n" + _diagnose_hung(p))
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()  # reap it and close the pipes
    assert p.returncode == 0, err
    assert out.strip() == "interrupted ['MainThread']"


def test_runtime_threads_leave_signals_unblocked():
    # Every thread the runtime starts keeps the default signal mask: a subprocess started
    # by a goroutine inherits its thread's mask, and with SIGINT/SIGTERM blocked it could
    # be neither interrupted nor terminated.
    src = textwrap.dedent("""
        import signal, subprocess, sys, threading
        import pyruntime as rt
        from pyruntime import go, sync
        def probe(out):
            out.append((threading.current_thread() is threading.main_thread(),
                        sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))))
        def main():
            seen = []
            for _ in range(200):  # until a goroutine lands on the other M
                wg = sync.WaitGroup()
                box = []
                wg.go(probe, box)
                while not box:
                    pass  # keep M0 busy so that the idle M steals the new G
                wg.wait()
                seen.extend(box)
                if not box[0][0]:
                    break
            other = [mask for on_main, mask in seen if not on_main]
            assert other, "no goroutine ran on another M"
            print("mask", other[0])
            child = subprocess.Popen([sys.executable, "-c", "import signal,sys; print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))"],
                                     stdout=subprocess.PIPE, text=True)
            print("child", child.communicate()[0].strip())
            print("syscall", rt.syscall(lambda: sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))))
        rt.run(main, gomaxprocs=2)
    """)
    r = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:3] == ["mask []", "child []", "syscall []"], r.stdout


@pytest.mark.parametrize("sample,expect", [
    ("sieve.py", "first 100 primes: 2 3 5 7 11"),
    ("worker_pool.py", "200 jobs on 16 workers"),
    ("fanin.py", "context ended: context deadline exceeded"),
])
def test_samples_run(sample, expect):
    r = subprocess.run([sys.executable, "-m", "pyruntime", "run", os.path.join(ROOT, "samples", sample)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout


def test_invalid_gomaxprocs_env_names_the_variable():
    r = run_prog("""
        import pyruntime as rt
        try:
            rt.run(lambda: None)
        except ValueError as e:
            print(e)
    """, env={"PYRUNTIME_GOMAXPROCS": "lots"})
    assert "PYRUNTIME_GOMAXPROCS" in r.stdout


def test_implicit_runtime_go_without_run():
    r = run_prog("""
        from pyruntime import go, chan
        import pyruntime as rt
        c = chan()
        go(lambda: c.send(sum(range(10))))
        print(c.recv(), rt.num_goroutine() >= 1)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "45 True"


# A program that shrinks GOMAXPROCS and then garbage-collects.  It crashed the interpreter
# (SIGSEGV in "Garbage-collecting") while a retired M kept a reference to its exited
# thread's main greenlet (its g0): greenlet frees a dead thread's state from a pending call
# on the main thread and, when that greenlet is then referenced once from an object
# gc.get_referrers cannot see, drops the reference as a leak; a collection's finalizers run
# that pending call while the garbage M sits in the collector's unreachable list, so M.g0
# dangled.  Each round needs (1) a retired M that is garbage when a full collection starts,
# (2) its thread's final clean-up arriving after the start and (3) Python code (here
# __del__) running inside the collection.  (2) is a race: the program widens it by running
# the Ms at SCHED_IDLE on the main thread's CPU, so the main thread, woken by the exiting
# thread's GIL release, starts the collection before that thread gets the CPU back.
# The original code crashed 4/5, 5/5, 4/5 runs on 3.11, 3.12, 3.13.
SHRINK_GC_PROG = """
    import gc, os, sys, threading, time
    import pyruntime as rt
    from pyruntime import chan, go
    from pyruntime._core import proc

    ROUNDS = int(sys.argv[1])
    CPU = min(os.sched_getaffinity(0))

    class Finalized:
        def __init__(self):
            self.me = self  # cyclic: only the collector frees it

        def __del__(self):  # Python code in the middle of the collection
            pass

    def demote(threads):
        for t in threads:
            try:
                os.sched_setaffinity(t.native_id, {CPU})
                os.sched_setscheduler(t.native_id, os.SCHED_IDLE, os.sched_param(0))
            except (AttributeError, OSError):
                pass

    def main():
        try:
            os.sched_setaffinity(0, {CPU})
        except (AttributeError, OSError):
            pass
        ran = chan(64)
        for _ in range(ROUNDS):
            rt.gomaxprocs(4)
            seen = set()
            for _ in range(50):  # until goroutines have run on every P (bounded)
                if len(seen) == 4:
                    break
                for _ in range(8):
                    def work():
                        t = 0
                        for _ in range(20000):
                            t += 1
                        rt.gosched()
                        ran.send(proc.getg().p.id)
                    go(work)
                for _ in range(8):
                    seen.add(ran.recv())
            retiring = [t for t in threading.enumerate() if t.name.startswith("pyruntime-M")]
            demote(retiring)
            for _ in range(3000):
                Finalized()
            rt.gomaxprocs(1)
            # Until the first retiring thread has left threading (its M is garbage now):
            # spin (to win the race above), yielding now and then so an M at SCHED_IDLE
            # that needs the CPU for something else is never starved.
            # (At most 0.5 s: on a loaded machine an idle-class thread may not run at all.)
            spun = t0 = time.monotonic()
            while all(t.ident in threading._active for t in retiring) and time.monotonic() - t0 < 0.5:
                if time.monotonic() - spun > 0.005:
                    time.sleep(0.001)
                    spun = time.monotonic()
            gc.collect()
            # Back to the normal class before joining: an idle-class thread on a busy CPU
            # (a loaded CI machine) might otherwise never run again.
            for t in retiring:
                try:
                    os.sched_setscheduler(t.native_id, os.SCHED_OTHER, os.sched_param(0))
                except (AttributeError, OSError):
                    pass
            for t in retiring:
                t.join()
        print("ok", len([t for t in threading.enumerate() if t.name.startswith("pyruntime-M")]))

    rt.run(main, gomaxprocs=4)
"""


@pytest.mark.timeout(120)
def test_collecting_garbage_after_gomaxprocs_shrink_does_not_crash():
    r = run_prog(SHRINK_GC_PROG, "60", timeout=100)
    assert r.returncode == 0, f"exit status {r.returncode}\n{r.stderr[-3000:]}"
    assert r.stdout.split() == ["ok", "0"], r.stdout
