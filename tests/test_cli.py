"""The ``pyruntime`` command itself (reliability item 5), run as a subprocess: a runtime
that cannot start is reported in one line, a program's arguments after FILE are its own,
``bench`` hands every option to the benchmarks, ``--version``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pyruntime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(90)

PROG = "import sys\nimport pyruntime as rt\nprint('argv', sys.argv[1:], 'procs', rt.gomaxprocs())\n"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    for k in ("PYRUNTIME_DEBUG", "PYRUNTIME_GOMAXPROCS"):
        e.pop(k, None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "pyruntime", *args], capture_output=True, text=True,
                          timeout=60, env=e, cwd=ROOT)


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "prog.py"
    p.write_text(PROG)
    return p


@pytest.mark.parametrize("value", ["abc", "0", "99999", "-1", "1.5"])
def test_bad_pyruntime_gomaxprocs_is_one_clear_line(prog, value):
    r = cli("run", str(prog), env={"PYRUNTIME_GOMAXPROCS": value})
    assert r.returncode == 2
    assert r.stdout == ""  # the program never ran
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("pyruntime: error: PYRUNTIME_GOMAXPROCS=") and repr(value) in lines[0], r.stderr
    assert "1 to 10000" in lines[0]


def test_gomaxprocs_option_out_of_range_is_one_clear_line(prog):
    r = cli("run", "--gomaxprocs", "99999", str(prog))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("pyruntime: error: ") and "10000" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr


def test_program_panic_still_reported_as_a_panic(tmp_path):
    # The one-line error is only for a runtime that did not start: a program's own
    # exception keeps Go's panic report (no "pyruntime: error:").
    p = tmp_path / "boom.py"
    p.write_text("raise ValueError('boom')\n")
    r = cli("run", str(p))
    assert r.returncode == 2
    assert "panic: ValueError: boom" in r.stderr and "pyruntime: error" not in r.stderr, r.stderr


def test_arguments_after_the_file_belong_to_the_program(prog, tmp_path):
    r = cli("run", "--gomaxprocs", "2", str(prog), "--trace", str(tmp_path / "t.json"), "--gomaxprocs", "3",
            "--", "-h", "--version")
    assert r.returncode == 0, r.stderr
    want = ["--trace", str(tmp_path / "t.json"), "--gomaxprocs", "3", "--", "-h", "--version"]
    assert r.stdout.strip() == f"argv {want!r} procs 2"
    assert not (tmp_path / "t.json").exists()  # not ours: no trace was written
    assert "trace written" not in r.stderr


def test_sys_exit_with_a_message_prints_it(tmp_path):
    p = tmp_path / "bye.py"
    p.write_text("import sys\nsys.exit('bye now')\n")
    r = cli("run", str(p))
    assert r.returncode == 1 and r.stderr.strip() == "bye now", r.stderr


def test_version():
    r = cli("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"pyruntime {pyruntime.__version__}"


@pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, "benchmarks", "run.py")), reason="needs the source checkout")
def test_bench_passes_every_option_to_the_benchmarks():
    r = cli("bench", "--help")
    assert r.returncode == 0, r.stderr
    for opt in ("--quick", "--list", "--rounds", "--only"):
        assert opt in r.stdout, opt
    r = cli("bench", "--list", "--rounds", "1")
    assert r.returncode == 0, r.stderr
    assert "pingpong" in r.stdout and "pyruntime" in r.stdout, r.stdout
    r = cli("bench", "--rounds", "x")  # the benchmarks' own parser answers
    assert r.returncode == 2 and "--rounds" in r.stderr and "python -m benchmarks" in r.stderr, r.stderr
