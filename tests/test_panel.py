"""The live panel over real HTTP against a real program in a subprocess (SPEC §3.5):
every endpoint, each security rule, pause/step/breakpoint semantics, SSE resume and gaps."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.timeout(90)

PROGRAM = textwrap.dedent("""
    import signal, sys, threading
    signal.signal(signal.SIGINT, signal.default_int_handler)  # (a background job ignores it)
    import pyruntime as rt
    from pyruntime import go, chan, panel, time as gotime

    control = sys.argv[1] == "1"
    ring = int(sys.argv[2])
    p = panel.start(control=control, ring_size=ring)

    def pinger(a, b):
        while True:
            a.send(1)
            b.recv()

    def ponger(a, b):
        while True:
            a.recv()
            b.send(1)

    def worker(jobs):
        for j in jobs:
            sum(range(200))

    def feeder(jobs):
        while True:
            jobs.send(1)
            gotime.sleep(0.001)

    def sleeper():
        while True:
            rt.syscall(__import__("time").sleep, 0.002)

    def leaked(c):
        c.recv()   # nobody ever sends: a leak suspect

    def holder(c, never):
        never.recv()   # parked for good, but c is in its frame: it could send on c

    def waiter(c):
        c.recv()

    def main():
        a, b = chan(), chan()
        go(pinger, a, b)
        go(ponger, a, b)
        jobs = chan(8)
        for _ in range(3):
            go(worker, jobs)
        go(feeder, jobs)
        go(sleeper)
        go(leaked, chan())
        (lambda c, n: (go(holder, c, n), go(waiter, c)))(chan(), chan())
        print("ready", flush=True)
        rt.select(chan().recv, gotime.after(3600).recv)

    rt.run(main, gomaxprocs=2)
""")


class Prog:
    def __init__(self, control: bool, ring: int = 65536) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", PROGRAM, "1" if control else "0", str(ring)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stderr.readline()
        m = re.match(r"panel: http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_\-]+)$", line.strip())
        assert m, f"panel line: {line!r}"
        self.port = int(m.group(1))
        self.token = m.group(2)
        assert self.proc.stdout.readline().strip() == "ready"
        self.errs: list[str] = []
        self.reader = threading.Thread(target=lambda: self.errs.extend(self.proc.stderr), daemon=True)
        self.reader.start()

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def req(self, method: str, path: str, body=None, headers=None, auth=True, raw: bytes | None = None):
        h = {"Host": f"127.0.0.1:{self.port}"}
        if auth:
            h["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.conn()
        try:
            c.request(method, path, body=raw, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            try:
                js = json.loads(data) if data else None
            except ValueError:
                js = None
            return r.status, js, hdrs, data
        finally:
            c.close()

    def state(self, metrics: bool = False) -> dict:
        st, js, _, _ = self.req("GET", "/api/state" + ("" if metrics else "?metrics=0"))
        assert st == 200, js
        return js

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def ctl():
    p = Prog(control=True)
    yield p
    p.close()


@pytest.fixture(scope="module")
def ro():
    p = Prog(control=False)
    yield p
    p.close()


def _until(pred, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.01)


def _resume(p: Prog) -> None:
    st, js, _, _ = p.req("GET", "/api/breakpoints")
    for b in js["breakpoints"]:
        p.req("DELETE", f"/api/breakpoints/{b['id']}")
    st, js, _, _ = p.req("POST", "/api/resume", {})
    assert st == 200 and js["paused"] is False


# ---------------------------------------------------------------- security

def test_token_is_random_and_long(ro, ctl):
    assert ro.token != ctl.token
    assert len(ro.token) >= 22  # >= 128 bits of urlsafe base64


def test_no_token_401(ro):
    for path in ("/", "/api/state", "/api/events", "/static/app.js"):
        st, js, hdrs, _ = ro.req("GET", path, auth=False)
        assert st == 401, path
        assert "access-control-allow-origin" not in hdrs


def test_wrong_token_401(ro):
    st, _, _, _ = ro.req("GET", "/api/state", auth=False, headers={"Authorization": "Bearer " + "x" * 32})
    assert st == 401
    st, _, _, _ = ro.req("GET", "/api/state?token=nope", auth=False)
    assert st == 401


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1:1", "localhost", "127.0.0.2:{port}", ""])
def test_bad_host_403(ro, host):
    st, _, _, _ = ro.req("GET", "/api/state", headers={"Host": host.format(port=ro.port)})
    assert st == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_allowed_hosts(ro, host):
    st, _, _, _ = ro.req("GET", "/api/state?metrics=0", headers={"Host": host.format(port=ro.port)})
    assert st == 200


def test_token_query_sets_cookie_and_redirects(ro):
    st, _, hdrs, _ = ro.req("GET", f"/?token={ro.token}", auth=False)
    assert st == 303
    assert hdrs["location"] == "/"
    cookie = hdrs["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    name_val = cookie.split(";")[0]
    st, _, hdrs, body = ro.req("GET", "/", auth=False, headers={"Cookie": name_val})
    assert st == 200 and b"data-testid=\"board\"" in body
    assert "default-src 'self'" in hdrs["content-security-policy"]
    assert hdrs["x-content-type-options"] == "nosniff"
    st, js, _, _ = ro.req("GET", "/api/state?metrics=0", auth=False, headers={"Cookie": name_val})
    assert st == 200 and js["schema"] == 1


def test_read_only_panel_refuses_controls(ro):
    seq0 = ro.state()["seq"]
    for path, body in (("/api/pause", {}), ("/api/resume", {}), ("/api/step", {}), ("/api/gc", {}),
                       ("/api/gomaxprocs", {"n": 1}), ("/api/stw", {"ms": 1}),
                       ("/api/breakpoints", {"to": "waiting"})):
        st, js, _, _ = ro.req("POST", path, body)
        assert st == 403, path
        assert "read-only" in js["error"]
    assert ro.req("DELETE", "/api/breakpoints/1")[0] == 403
    assert ro.state()["paused"] is False
    _until(lambda: ro.state()["seq"] > seq0, "the program still runs")


def test_post_with_foreign_origin_403(ctl):
    st, _, _, _ = ctl.req("POST", "/api/gc", {}, headers={"Origin": "http://evil.example"})
    assert st == 403
    st, _, _, _ = ctl.req("POST", "/api/gc", {}, headers={"Origin": f"http://localhost:{ctl.port}"})
    assert st == 403  # served origin is the Host we asked: 127.0.0.1:PORT
    st, js, _, _ = ctl.req("POST", "/api/gc", {}, headers={"Origin": f"http://127.0.0.1:{ctl.port}"})
    assert st == 200 and "collected" in js


def test_malformed_requests_answered_and_program_unharmed(ctl):
    seq0 = ctl.state()["seq"]
    assert ctl.req("POST", "/api/breakpoints", raw=b"{not json")[0] == 400
    assert ctl.req("POST", "/api/breakpoints", {"to": "flying"})[0] == 400
    assert ctl.req("POST", "/api/breakpoints", {"to": "waiting", "bogus": 1})[0] == 400
    assert ctl.req("POST", "/api/breakpoints", [1, 2])[0] == 400
    assert ctl.req("POST", "/api/gomaxprocs", {"n": "four"})[0] == 400
    assert ctl.req("POST", "/api/gomaxprocs", {"n": 0})[0] == 400
    assert ctl.req("POST", "/api/stw", {"ms": -1})[0] == 400
    assert ctl.req("POST", "/api/stw", raw=b"[]")[0] == 400
    assert ctl.req("POST", "/api/step", {})[0] == 409  # not paused
    assert ctl.req("DELETE", "/api/breakpoints/abc")[0] == 400
    assert ctl.req("DELETE", "/api/breakpoints/999")[0] == 404
    assert ctl.req("GET", "/api/nothing")[0] == 404
    assert ctl.req("GET", "/static/../__init__.py")[0] == 404
    assert ctl.req("PUT", "/api/state")[0] == 405
    assert ctl.req("POST", "/api/state", {})[0] == 405
    assert ctl.req("POST", "/api/gc", raw=b"x" * (70 * 1024))[0] == 413
    # a raw garbage request line
    import socket
    s = socket.create_connection(("127.0.0.1", ctl.port), timeout=10)
    s.sendall(b"\x00\xff garbage\r\n\r\n")
    s.recv(1024)
    s.close()
    assert ctl.proc.poll() is None
    _until(lambda: ctl.state()["seq"] > seq0, "the program still runs")


# ---------------------------------------------------------------- state

def test_state_schema(ctl):
    st = ctl.state(metrics=True)
    for k in ("schema", "seq", "paused", "gomaxprocs", "ps", "ms", "global_runq", "goroutines", "counts",
              "breakpoint", "metrics"):
        assert k in st, k
    assert st["schema"] == 1 and st["gomaxprocs"] == 2 and len(st["ps"]) == 2
    for p in st["ps"]:
        assert set(p) >= {"id", "status", "m", "curg", "runnext", "runq", "schedtick"}
    for m in st["ms"]:
        assert set(m) >= {"id", "tid", "p", "curg", "blocked", "syscall"}
    g = {r["fn"].rsplit(":", 1)[-1]: r for r in st["goroutines"]}
    assert g["main"]["goid"] == 1
    assert g["leaked"]["status"] == "waiting" and g["leaked"]["wait_reason"] == "chan receive"
    assert g["leaked"]["created_by"] == 1 and isinstance(g["leaked"]["wait_since"], float)
    assert g["leaked"]["created_at"].startswith("<string>:")  # the go() line of PROGRAM (python -c)
    assert set(st["counts"]) == {"runnable", "running", "waiting", "syscall"}
    assert ctl.req("GET", "/api/state?leak=x")[0] == 400
    h = st["metrics"]["/sched/latencies:seconds"]
    assert len(h["counts"]) == len(h["buckets"]) - 1 or len(h["counts"]) == len(h["buckets"])
    assert sum(h["counts"]) > 0


def test_leak_suspects_say_on_what_and_who_could_wake_them(ctl):
    st = ctl.state()
    st, js, _, _ = ctl.req("GET", "/api/state?metrics=0&leak=0")
    assert st == 200
    g = {r["fn"].rsplit(":", 1)[-1]: r for r in js["goroutines"]}
    leak = g["leaked"]["leak"]
    assert leak["on"].startswith("chan(") and leak["wakers"] == [] and "leaked" in leak["verdict"]
    # the main goroutine waits in a select whose timer will fire
    assert "timer" in g["main"]["leak"]["wakers"]
    # a parked goroutine that holds the channel in its frame could still send on it (a
    # live frame hides its locals from the collector: found through the frames)
    w = g["waiter"]["leak"]
    assert w["wakers"] == [g["holder"]["goid"]], w
    assert "could still be woken" in w["verdict"]
    assert all("leak" not in r for r in ctl.req("GET", "/api/state?metrics=0&leak=-1")[1]["goroutines"])


# ---------------------------------------------------------------- SSE

def _sse(p: Prog, headers=None, path="/api/events", n=50, timeout=20.0):
    c = p.conn()
    h = {"Host": f"127.0.0.1:{p.port}", "Authorization": f"Bearer {p.token}"}
    h.update(headers or {})
    c.request("GET", path, headers=h)
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    out: list[tuple[int | None, dict]] = []
    eid = None
    end = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < end:
        line = r.fp.readline().decode()
        if not line:
            break
        line = line.rstrip("\n")
        if line.startswith("id: "):
            eid = int(line[4:])
        elif line.startswith("data: "):
            out.append((eid, json.loads(line[6:])))
            eid = None
    c.close()
    return out


def test_sse_rate_limit_says_what_it_skipped(ctl):
    evs = _sse(ctl, path="/api/events?max_rate=300", n=400)
    gaps = [e for _, e in evs if e["kind"] == "gap"]
    assert gaps and all(g["reason"] == "rate" and g["dropped"] == g["to_seq"] - g["from_seq"] + 1 for g in gaps)
    last = None
    for eid, e in evs:  # every seq is delivered or inside a gap: no silent hole
        a = e["from_seq"] if e["kind"] == "gap" else e["seq"]
        b = e["to_seq"] if e["kind"] == "gap" else e["seq"]
        if last is not None:
            assert a == last + 1
        last = b
        assert eid == b
    assert ctl.req("GET", "/api/events?max_rate=x")[0] == 400


def test_sse_events_numbered_and_named(ctl):
    evs = _sse(ctl, n=200)
    assert len(evs) == 200
    seqs = [e["seq"] for _, e in evs if e["kind"] != "gap"]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for eid, e in evs:
        if e["kind"] == "gap":  # the default stream is limited to 50,000 events a second
            assert e["reason"] == "rate" and eid == e["to_seq"]
            continue
        assert set(e) >= {"seq", "t_ns", "kind", "g", "p", "m"}
        assert eid == e["seq"]
    kinds = {e["kind"] for _, e in evs} - {"gap"}
    assert kinds <= {"GoCreate", "GoStart", "GoStop", "GoBlock", "GoUnblock", "GoSyscallBegin", "GoSyscallEnd",
                     "GoDestroy", "ProcStart", "ProcStop", "ProcSteal", "STWBegin", "STWEnd", "GCBegin", "GCEnd",
                     "Steal", "Preempt", "BlockedM"}
    assert {"GoStart", "GoBlock", "GoUnblock"} <= kinds


def test_sse_resume_with_last_event_id(ctl):
    first = _sse(ctl, path="/api/events?max_rate=0", n=20)
    assert all(e["kind"] != "gap" for _, e in first[1:])
    last = first[-1][1]["seq"]
    again = _sse(ctl, path="/api/events?max_rate=0", headers={"Last-Event-ID": str(last - 10)}, n=20)
    assert again[0][1]["seq"] == last - 9
    assert [e["seq"] for _, e in again[:10]] == [e["seq"] for _, e in first[10:20]]


def test_slow_client_gets_gap_not_a_hole():
    p = Prog(control=False, ring=256)
    try:
        _until(lambda: p.state()["seq"] > 2000, "the ring (256) has wrapped")
        seq = p.state()["seq"]
        # ask to resume from far behind the ring: the missing part is one gap message
        evs = _sse(p, path="/api/events?max_rate=0", headers={"Last-Event-ID": "1"}, n=5)
        kind, e = evs[0][1]["kind"], evs[0][1]
        assert kind == "gap" and e["dropped"] >= 1 and e["reason"] == "behind" and e["from_seq"] == 2
        assert evs[1][1]["seq"] == e["to_seq"] + 1
        assert e["to_seq"] + 1 >= seq - 256
        # a client that reads slowly: every event is either delivered or counted in a gap
        c = p.conn()
        c.request("GET", "/api/events", headers={"Host": f"127.0.0.1:{p.port}",
                                                 "Authorization": f"Bearer {p.token}"})
        r = c.getresponse()
        at = p.state()["seq"]
        # do not read while the program goes on: the ring (256) wraps many times
        _until(lambda: p.state()["seq"] > at + 20 * 256, "the ring has wrapped under the reader")
        got, last, gaps = 0, None, 0
        end = time.monotonic() + 20
        eid = None
        while got < 3000 and time.monotonic() < end:
            line = r.fp.readline().decode().rstrip("\n")
            if line.startswith("id: "):
                eid = int(line[4:])
            elif line.startswith("data: "):
                ev = json.loads(line[6:])
                if ev["kind"] == "gap":
                    gaps += 1
                    if last is not None:
                        assert ev["from_seq"] == last + 1
                    last = ev["to_seq"]
                else:
                    if last is not None:
                        assert ev["seq"] == last + 1, "a silent hole in the stream"
                    last = ev["seq"]
                assert eid == last
                got += 1
        c.close()
        assert gaps >= 1
        assert p.proc.poll() is None
    finally:
        p.close()


# ---------------------------------------------------------------- controls

def test_pause_stops_every_transition_then_resume(ctl):
    try:
        st, r, _, _ = ctl.req("POST", "/api/pause", {})
        assert st == 200 and r["paused"] is True
        assert r["ps_parked"] == r["ps_total"] == 2
        assert "ms_in_syscall" in r
        s1 = ctl.state()
        assert s1["paused"] is True and s1["seq"] == r["seq"]
        time.sleep(0.3)  # nothing may happen, however long we look
        s2 = ctl.state()
        assert s2["seq"] == s1["seq"]
    finally:
        _resume(ctl)
    s3 = ctl.state()
    _until(lambda: ctl.state()["seq"] > s3["seq"], "transitions after resume")


def test_step_is_exactly_one_transition(ctl):
    try:
        st, r, _, _ = ctl.req("POST", "/api/pause", {})
        assert st == 200
        seq = ctl.state()["seq"]
        for _ in range(5):
            st, s, _, _ = ctl.req("POST", "/api/step", {})
            assert st == 200 and s["stepped"] is True, s
            ev = s["event"]
            assert ev["seq"] == seq + 1 and s["seq"] == seq + 1
            assert s["kind"] == ev["kind"] and s["g"] == ev["g"]  # the answer is the event
            assert ev["kind"] in {"GoCreate", "GoStart", "GoBlock", "GoUnblock", "GoStop", "Preempt",
                                  "GoSyscallBegin", "GoSyscallEnd", "GoDestroy", "Steal"}
            seq += 1
            assert ctl.state()["seq"] == seq
        # the stream shows the stepped events with the same numbers
        evs = _sse(ctl, headers={"Last-Event-ID": str(seq - 5)}, n=5)
        assert [e["seq"] for _, e in evs] == list(range(seq - 4, seq + 1))
    finally:
        _resume(ctl)


def _goid_of(p: Prog, fn: str) -> int:
    for g in p.state()["goroutines"]:
        if g["fn"].endswith(fn):
            return g["goid"]
    raise AssertionError(fn)


def test_breakpoint_all_fires_on_the_right_g(ctl):
    goid = _goid_of(ctl, "ponger")
    try:
        st, r, _, _ = ctl.req("POST", "/api/breakpoints",
                              {"goid": goid, "from": "running", "to": "waiting", "suspend": "all"})
        assert st == 200
        bid = r["id"]
        deadline = time.monotonic() + 20
        while not ctl.state()["paused"] and time.monotonic() < deadline:
            time.sleep(0.01)
        s = ctl.state()
        assert s["paused"] is True
        hit = s["breakpoint"]
        assert hit["id"] == bid and hit["goid"] == goid and hit["from"] == "running" and hit["to"] == "waiting"
        assert any("ponger" in f for f in hit["stack"])
        _, bl, _, _ = ctl.req("GET", "/api/breakpoints")
        assert [b for b in bl["breakpoints"] if b["id"] == bid][0]["hits"] >= 1
    finally:
        _resume(ctl)
    assert ctl.state()["breakpoint"] is None


def test_breakpoint_log_counts_without_stopping(ctl):
    try:
        st, r, _, _ = ctl.req("POST", "/api/breakpoints", {"fn": "worker", "to": "running", "suspend": "log"})
        assert st == 200
        deadline = time.monotonic() + 20
        hits = 0
        while hits < 3 and time.monotonic() < deadline:
            _, bl, _, _ = ctl.req("GET", "/api/breakpoints")
            hits = [b for b in bl["breakpoints"] if b["id"] == r["id"]][0]["hits"]
            time.sleep(0.01)
        assert hits >= 3
        assert ctl.state()["paused"] is False
        assert all(h["fn"].endswith("worker") for h in bl["hits"] if h["id"] == r["id"])
    finally:
        _resume(ctl)


def test_breakpoint_g_holds_only_that_g(ctl):
    goid = _goid_of(ctl, "sleeper")
    try:
        st, r, _, _ = ctl.req("POST", "/api/breakpoints", {"goid": goid, "to": "syscall", "suspend": "g"})
        assert st == 200
        deadline = time.monotonic() + 20
        held = []
        while not held and time.monotonic() < deadline:
            held = [h for h in ctl.state()["panel"]["held"] if h["g"] == goid]
            time.sleep(0.01)
        assert held, "the sleeper was not held"
        # the held G does not move; others keep going
        s1 = ctl.state()
        _until(lambda: ctl.state()["seq"] > s1["seq"], "the other goroutines keep going")
        s2 = ctl.state()
        assert s2["paused"] is False
        g1 = [g for g in s2["goroutines"] if g["goid"] == goid][0]
        assert g1["status"] == "syscall"  # held at its transition into the syscall
    finally:
        _resume(ctl)


def test_gomaxprocs_stw_gc(ctl):
    st, r, _, _ = ctl.req("POST", "/api/gomaxprocs", {"n": 3})
    assert st == 200 and r["previous"] == 2 and r["gomaxprocs"] == 3
    assert len(ctl.state()["ps"]) == 3
    st, r, _, _ = ctl.req("POST", "/api/gomaxprocs", {"n": 2})
    assert st == 200 and r["previous"] == 3
    st, r, _, _ = ctl.req("POST", "/api/stw", {"ms": 5})
    assert st == 200, r
    assert r["requested_ms"] == 5 and r["pause_ms"] >= 5 and r["held_ms"] >= 5
    st, r, _, _ = ctl.req("POST", "/api/gc", {})
    assert st == 200 and isinstance(r["collected"], int)


def test_panel_started_inside_a_running_runtime_and_across_runs():
    import pyruntime as rt
    from pyruntime import chan, go, panel

    seen = []

    def main():
        p = panel.start(quiet=True)
        try:
            c = chan()
            go(lambda: [c.send(i) for i in range(100)])
            for _ in range(100):
                c.recv()
            p.collector.sync()
            st = p.collector.seq
            seen.append((st, p.port))
        finally:
            p.stop()

    rt.run(main, gomaxprocs=1)
    rt.run(main, gomaxprocs=2)
    assert len(seen) == 2 and all(seq >= 100 for seq, _ in seen), seen  # a hand-off per value at least


def test_start_errors():
    from pyruntime import panel

    with pytest.raises(TypeError):
        panel.start(port="80")
    with pytest.raises(ValueError):
        panel.start(port=70000)
    p = panel.start(quiet=True)
    try:
        with pytest.raises(RuntimeError, match="already running"):
            panel.start(quiet=True)
        with pytest.raises(OSError):
            from pyruntime.panel import Panel
            Panel(port=p.port)
    finally:
        p.stop()


# ---------------------------------------------------------------- CLI

CLI_PROG = textwrap.dedent("""
    import sys
    import pyruntime as rt
    from pyruntime import go, chan
    print("argv", sys.argv[1:], flush=True)
    c = chan()
    go(lambda: c.send(rt.syscall(sys.stdin.readline)))
    c.recv()
""")


@pytest.mark.parametrize("where", ["before", "after"])
def test_cli_run_panel_options(tmp_path, where):
    f = tmp_path / "prog.py"
    f.write_text(CLI_PROG)
    opts = ["--panel", "--panel-control"]
    cmd = [sys.executable, "-m", "pyruntime", "run", *(opts if where == "before" else []), str(f),
           *(opts if where == "after" else []), "x", "--trace", "y"]
    pr = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = pr.stderr.readline()
        m = re.match(r"panel: http://127\.0\.0\.1:(\d+)/\?token=(\S+)$", line.strip())
        assert m, line
        assert pr.stdout.readline().strip() == "argv ['x', '--trace', 'y']"
        def state():
            c = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=30)
            c.request("GET", "/api/state?metrics=0", headers={"Host": f"127.0.0.1:{m.group(1)}",
                                                              "Authorization": f"Bearer {m.group(2)}"})
            st = json.loads(c.getresponse().read())
            c.close()
            return st

        st = state()
        assert st["running"] is True and st["panel"]["control"] is True
        _until(lambda: any(g["status"] == "syscall" for g in state()["goroutines"]), "the reader is in its syscall")
        out, err = pr.communicate("bye\n", timeout=30)
        assert pr.returncode == 0, err
    finally:
        if pr.poll() is None:
            pr.kill()
            pr.communicate()


def test_cli_panel_port_errors(tmp_path):
    f = tmp_path / "prog.py"
    f.write_text("print('ran')\n")
    for extra in (["--panel-port", "x", "--panel"], ["--panel-port", "70000", "--panel"], ["--panel-port", "1"]):
        r = subprocess.run([sys.executable, "-m", "pyruntime", "run", *extra, str(f)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2 and "ran" not in r.stdout, (extra, r.stderr)
        assert "--panel-port" in r.stderr


def test_ctrl_c_while_paused_ends_the_program_and_every_thread():
    p = Prog(control=True)
    try:
        st, r, _, _ = p.req("POST", "/api/pause", {})
        assert st == 200 and r["paused"] is True
        p.proc.send_signal(signal.SIGINT)
        p.proc.wait(30)
        p.reader.join(10)
        assert p.proc.returncode != 0  # KeyboardInterrupt ended it, paused or not
        assert any("KeyboardInterrupt" in line for line in p.errs)
    finally:
        p.close()
