"""Edges of the SPEC §3 contract found by an audit: read-only handles, the main
goroutine's panic report, timers with no runtime, abandoned goroutines, GOMAXPROCS from
the environment and from a program run by the CLI, and ``wait_since``'s clock."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time as _stdtime

import pytest

import pyruntime as rt
from pyruntime import chan, go
from pyruntime import debug as rtdebug
from pyruntime import time as gotime

from conftest import run

pytestmark = pytest.mark.timeout(60)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _py(src: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("PYRUNTIME_GOMAXPROCS", None)
    e.update(env or {})
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(src)] if not args else [sys.executable, *args],
                          capture_output=True, text=True, timeout=50, cwd=ROOT, env=e)


def test_goid_is_read_only(procs):
    def main():
        g = go(lambda: None)
        goid = g.goid
        with pytest.raises(AttributeError):
            g.goid = goid + 1000
        with pytest.raises(AttributeError):
            g.status = "dead"
        return goid, g.goid

    a, b = run(main, procs)
    assert a == b


def test_exception_escaping_main_is_reported_as_a_panic(procs, capfd):
    def main():
        raise KeyError("k")

    with pytest.raises(KeyError):
        run(main, procs)
    err = capfd.readouterr().err
    assert "panic: KeyError: 'k'" in err
    assert "goroutine 1 [running]:" in err


def test_cli_reports_a_panic_in_the_main_goroutine(tmp_path):
    prog = tmp_path / "boom.py"
    prog.write_text("def f():\n    raise KeyError('k')\nf()\n")
    r = subprocess.run([sys.executable, "-m", "pyruntime", "run", str(prog)], capture_output=True, text=True,
                       timeout=50, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.startswith("panic: KeyError: 'k'\n\ngoroutine 1 [running]:\n"), r.stderr
    assert "boom.py" in r.stderr and "runpy" not in r.stderr and "cli.py" not in r.stderr


def test_cli_deadlock_dump_shows_only_the_program(tmp_path):
    prog = tmp_path / "stuck.py"
    prog.write_text("from pyruntime import chan\nchan().recv()\n")
    r = subprocess.run([sys.executable, "-m", "pyruntime", "run", str(prog)], capture_output=True, text=True,
                       timeout=50, cwd=ROOT)
    assert r.returncode == 2
    assert "fatal error: all goroutines are asleep - deadlock!" in r.stderr
    assert "stuck.py:2" in r.stderr
    assert "__main__.py" not in r.stderr and "cli.py" not in r.stderr and "runpy" not in r.stderr


def test_timers_after_run_returned_raise_instead_of_hanging():
    rt.run(lambda: None, gomaxprocs=1)
    with pytest.raises(RuntimeError, match="no runtime is running"):
        gotime.after(0.01)
    with pytest.raises(RuntimeError, match="no runtime is running"):
        gotime.Timer(0.01)


def test_abandoned_goroutines_are_dead_after_run(procs):
    def main():
        blocked = go(chan().recv)
        never = [go(lambda: None) for _ in range(3)]  # main never yields: unstarted
        return blocked, never

    blocked, never = run(main, procs)
    assert blocked.status == "dead"
    assert [g.status for g in never] == ["dead"] * 3


@pytest.mark.parametrize("value", ["10001", "100000", "+4", " 3x", "\u0663"])
def test_env_gomaxprocs_out_of_range_or_malformed(value):
    r = _py("""
        import pyruntime as rt
        try:
            rt.run(lambda: None)
        except ValueError as e:
            print("ValueError", e)
    """, env={"PYRUNTIME_GOMAXPROCS": value})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ValueError PYRUNTIME_GOMAXPROCS="), r.stdout


def test_gomaxprocs_without_runtime_sets_the_next_runtime_not_the_environment():
    r = _py("""
        import os
        import pyruntime as rt
        prev = rt.gomaxprocs(3)
        print(os.environ.get("PYRUNTIME_GOMAXPROCS"), rt.run(rt.gomaxprocs))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["None", "3"]


def test_program_run_by_cli_keeps_its_own_gomaxprocs(tmp_path):
    prog = tmp_path / "own.py"
    prog.write_text("import pyruntime as rt\nprint(rt.run(lambda: rt.gomaxprocs(), gomaxprocs=1))\n")
    r = subprocess.run([sys.executable, "-m", "pyruntime", "run", "--gomaxprocs", "2", str(prog)],
                       capture_output=True, text=True, timeout=50, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


def test_wait_since_is_on_the_now_clock(procs):
    def main():
        ch = chan()
        before = gotime.now()
        g = go(ch.recv)
        rt.testing.wait_blocked(ch.recv)
        info = next(i for i in rtdebug.goroutines() if i.goid == g.goid)
        after = gotime.now()
        ch.send(None)
        return before, info.wait_since, after

    before, since, after = run(main, procs)
    # Allow for float rounding between the two clocks (the stamp is monotonic-based).
    assert before - 0.01 <= since <= after + 0.01
    assert abs(since - _stdtime.time()) < 60


def test_thread_about_to_send_is_not_a_deadlock(procs):
    # A plain thread started just before main blocks: it has not touched the channel yet
    # when main parks, so nothing the runtime knows of can wake main -- but the thread
    # will.  Deadlock detection gives live outside threads a grace period.
    def main():
        ch = chan()
        t = threading.Thread(target=lambda: (_stdtime.sleep(0.2), ch.send(42)))
        t.start()
        v = ch.recv()
        t.join()
        return v

    assert run(main, procs) == 42


def test_deadlock_still_reported_while_an_unrelated_thread_lives(procs, capfd):
    # The grace period ends: a real deadlock is reported even though another thread
    # (blocked on something the runtime does not know) stays alive throughout.
    ev = threading.Event()
    t = threading.Thread(target=ev.wait, name="unrelated")
    t.start()
    try:
        with pytest.raises(rt.Deadlock):
            run(lambda: chan().recv(), procs)
    finally:
        ev.set()
        t.join()
    assert "fatal error: all goroutines are asleep - deadlock!" in capfd.readouterr().err


def test_bad_sizes_and_intervals_are_go_panics_and_value_errors():
    # Go panics on these; Python code expects ValueError for a bad value: both catch it.
    for make in (lambda: chan(-1), lambda: gotime.Ticker(0)):
        with pytest.raises(rt.Panic, match="size out of range|non-positive interval for NewTicker"):
            make()
        with pytest.raises(ValueError):
            make()
