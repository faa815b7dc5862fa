"""pyruntime.trace (issue 5): the Chrome JSON layout Perfetto loads (P and M tracks, a
slice per G run, flows from waker to wakee, counters), the flight recorder and the
streaming spool, the exact schedlat ↔ trace correspondence, and bad input."""

from __future__ import annotations

import functools
import json
import os
import time as stdtime

import pytest

import pyruntime as rt
from pyruntime import chan, go, metrics, sync
from pyruntime import time as gotime
from pyruntime import trace
from pyruntime._core import proc
from pyruntime._tracefmt import TraceFormatError, convert_records

pytestmark = pytest.mark.timeout(90)


# --------------------------------------------------------------------------- helpers

def load(path) -> dict:
    with open(path) as f:
        return json.load(f)


def ns(us: float) -> int:
    return round(us * 1000)


def events(doc, ph=None, **kw):
    out = []
    for e in doc["traceEvents"]:
        if ph is not None and e.get("ph") != ph:
            continue
        if all(e.get(k) == v for k, v in kw.items()):
            out.append(e)
    return out


def thread_names(doc) -> dict:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events(doc, "M", name="thread_name")}


def g_runs(doc):
    return [e for e in events(doc, "X", cat="g") if e["pid"] == 1]


def assert_well_formed(doc):
    """What Perfetto needs to import everything: slices nest properly on every track,
    every flow start has exactly one end with the same (id, cat, name), the end sits on
    a G run's first instant, counters are never negative."""
    by_track: dict = {}
    for e in events(doc, "X"):
        assert e["dur"] > 0, e
        by_track.setdefault((e["pid"], e["tid"]), []).append((ns(e["ts"]), ns(e["ts"]) + ns(e["dur"]), e))
    for track, sl in by_track.items():
        sl.sort(key=lambda t: (t[0], -t[1]))
        stack: list = []
        for s, t, e in sl:
            while stack and stack[-1][1] <= s:
                stack.pop()
            if stack:
                assert t <= stack[-1][1], f"slice {e} overlaps {stack[-1][2]} on {track} without nesting"
            stack.append((s, t, e))
    starts = {(e["pid"], e["tid"], ns(e["ts"])) for e in events(doc, "X")}
    run_starts = {(e["pid"], e["tid"], ns(e["ts"])) for e in g_runs(doc)}
    ss = {e["id"]: e for e in events(doc, "s")}
    fs = {}
    for e in events(doc, "f"):
        assert e["id"] not in fs, f"two flow ends for id {e['id']}"
        fs[e["id"]] = e
    assert set(ss) == set(fs), "unmatched flow ends"
    for i, s in ss.items():
        f = fs[i]
        assert (s["cat"], s["name"]) == (f["cat"], f["name"])
        assert f["bp"] == "e"
        assert (f["pid"], f["tid"], ns(f["ts"])) in run_starts, f"flow end {f} not on a G run's start"
        assert (s["pid"], s["tid"], ns(s["ts"])) in starts, f"flow start {s} not on a slice start"
    for c in events(doc, "C"):
        for v in c["args"].values():
            assert v >= 0, c


# --------------------------------------------------------------------------- layout

def worker(i: int, wg: sync.WaitGroup) -> None:
    gotime.sleep(0.002)
    rt.syscall(stdtime.sleep, 0.002)
    rt.gosched()
    wg.done()


def _workload(n: int = 50) -> None:
    a, b = chan(), chan()

    def peer():
        for _ in range(n):
            b.send(a.recv())

    go(peer)
    for i in range(n):
        a.send(i)
        b.recv()
    wg = sync.WaitGroup()
    for i in range(8):
        wg.add(1)
        go(worker, i, wg)
    wg.wait()


def test_trace_layout_opens_as_go_does(procs, tmp_path):
    path = tmp_path / "t.json"

    def main():
        trace.start(path)
        assert trace.is_tracing()
        _workload()
        out = trace.stop()
        assert not trace.is_tracing()
        return out

    assert rt.run(main, gomaxprocs=procs) == str(path)
    assert not os.path.exists(str(path) + ".spool"), "the spool is removed once converted"
    doc = load(path)
    other = doc["otherData"]
    assert doc["displayTimeUnit"] == "ns"
    assert other["producer"] == "pyruntime" and other["mode"] == "stream" and other["gomaxprocs"] == procs
    procs_names = {e["pid"]: e["args"]["name"] for e in events(doc, "M", name="process_name")}
    assert procs_names == {1: "PROCS", 2: "STATS", 3: "THREADS"}
    names = thread_names(doc)
    assert names[(1, 1000)] == "P0" and names[(3, 2000)] == "M0 (P0)"
    assert names[(1, 101)] == "STW" and names[(1, 102)] == "GC"
    for pid, tid in names:
        assert pid != tid, "Perfetto calls pid == tid tracks 'main thread'"
    runs = g_runs(doc)
    # one slice per G run, named after the goroutine, with its end reason
    for e in runs:
        a = e["args"]
        assert e["name"].startswith(f"G{a['goid']} ")
        assert {"goid", "fn", "m", "end"} <= set(a)
        assert names[(1, e["tid"])] == f"P{e['tid'] - 1000}"
    ends = {e["args"]["end"] for e in runs}
    assert {"sleep", "syscall", "yield", "exit"} <= ends and ends & {"chan receive", "chan send"}, ends
    workers = [e for e in runs if e["args"]["fn"] == "test_trace.worker"]
    assert len({e["args"]["goid"] for e in workers}) == 8
    assert {e["args"].get("end_ev") for e in workers} >= {"GoBlock", "GoSyscallBegin", "GoStop", "GoDestroy"}
    # the same runs on the M tracks
    mruns = [e for e in events(doc, "X", cat="g") if e["pid"] == 3]
    assert len(mruns) == len(runs)
    # wake-ups: nested GoUnblock slices with flow arrows to the wakee's next run
    unblocks = events(doc, "X", name="GoUnblock")
    assert len(unblocks) >= 2 * 50 - 1
    assert len(events(doc, "s", cat="wake")) >= 2 * 50 - 2
    assert len(events(doc, "s", cat="create")) >= 9
    # syscalls on their syscall M's track
    sysc = events(doc, "X", cat="syscall")
    assert len(sysc) == 8 and all(e["pid"] == 3 and e["tid"] >= 3000 for e in sysc)
    assert all(ns(e["dur"]) >= 2_000_000 for e in sysc)
    # counters: goroutine states, threads, every run queue
    gor = events(doc, "C", name="Goroutines")
    assert gor and set(gor[0]["args"]) == {"Running", "Runnable", "Waiting", "Syscall"}
    assert max(e["args"]["Syscall"] for e in gor) >= 1
    assert max(e["args"]["Running"] for e in gor) <= procs
    assert events(doc, "C", name="Threads") and events(doc, "C", name="runq P0")
    assert events(doc, "C", name="GOMAXPROCS")[0]["args"]["procs"] == procs
    assert_well_formed(doc)
    # per start function: time by state
    fw = other["functions"]["test_trace.worker"]
    assert fw["goroutines"] == 8
    assert fw["waiting_ns"]["sleep"] >= 8 * 2_000_000
    assert fw["syscall_ns"] >= 8 * 2_000_000
    assert fw["running_ns"] > 0 and fw["runs"] >= 8 * 4


def test_goroutine_names_come_from_their_start_function(tmp_path):
    path = tmp_path / "t.json"

    def f(x):
        return x

    def main():
        trace.start(path)
        c = chan(1)
        done = chan()
        go(functools.partial(f, 1))
        go(c.send, 1)
        go(lambda: done.send(None))
        done.recv()
        c.recv()
        gotime.sleep(0.01)
        trace.stop()

    rt.run(main, gomaxprocs=1)
    fns = {e["args"]["fn"] for e in g_runs(load(path))}
    assert "main" in fns
    assert "test_trace.test_goroutine_names_come_from_their_start_function.<locals>.f" in fns
    assert "pyruntime._core.chan.chan.send" in fns
    assert any(f.endswith("<lambda>") for f in fns)


def test_schedlat_count_equals_gostarts_after_a_wakeup():
    """Every runnable→running interval the histogram counts is one G slice with a
    ``wait_ns`` in the trace, and vice versa (GOMAXPROCS=1: one M, total order)."""
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pyruntime-schedlat-{os.getpid()}.json")
    n = 300

    def main():
        a, b = chan(), chan()

        def peer():
            for _ in range(n):
                b.send(a.recv())
            for _ in range(20):
                rt.gosched()

        trace.start(path)
        go(peer)
        before = metrics.read()["/sched/latencies:seconds"].total
        trace.log("mark", "begin")
        for i in range(n):
            a.send(i)
            b.recv()
        gotime.sleep(0.005)      # a timer wake-up, and the peer's yields meanwhile
        trace.log("mark", "end")
        after = metrics.read()["/sched/latencies:seconds"].total
        trace.stop()
        return after - before

    old = proc.FORCE_PREEMPT_NS
    proc.FORCE_PREEMPT_NS = 10**15  # no time-slice preemption inside the window
    try:
        counted = rt.run(main, gomaxprocs=1)
        doc = load(path)
    finally:
        proc.FORCE_PREEMPT_NS = old
        os.unlink(path)
    marks = sorted(ns(e["ts"]) for e in events(doc, "i", cat="user"))
    assert len(marks) == 2
    inside = [e for e in g_runs(doc) if marks[0] < ns(e["ts"]) < marks[1]]
    with_wait = [e for e in inside if "wait_ns" in e["args"]]
    assert counted == len(with_wait) >= 2 * n
    # ... and each one follows the transition that made its G runnable
    froms = {e["args"]["from"] for e in with_wait}
    assert froms <= {"chan receive", "chan send", "sleep", "yield", "create"}, froms
    assert sum(1 for e in with_wait if e["args"]["from"] == "yield") >= 19
    # a G slice without wait_ns inside the window would be a start the metric missed
    assert all("wait_ns" in e["args"] for e in inside)


# --------------------------------------------------------------------------- buffers

def test_flight_recorder_keeps_only_the_last_events(tmp_path):
    path = tmp_path / "ring.json"
    snap = tmp_path / "snap.json"

    def main():
        trace.start(path, max_events=400)
        a, b = chan(), chan()

        def peer():
            for _ in range(3000):
                b.send(a.recv())

        go(peer)
        for i in range(1500):
            a.send(i)
            b.recv()
        assert trace.snapshot(snap) == str(snap)
        assert trace.is_tracing()
        for i in range(1500):
            a.send(i)
            b.recv()
        return trace.stop()

    rt.run(main, gomaxprocs=1)
    for p in (snap, path):
        doc = load(p)
        o = doc["otherData"]
        assert o["mode"] == "ring" and o["max_events"] == 400 and o["window_complete"] is False
        assert 400 <= o["stats"]["records"] <= 400 + 20  # the window plus inferred states
        runs = g_runs(doc)
        assert len(runs) >= 100
        assert_well_formed(doc)
        gor = events(doc, "C", name="Goroutines")
        assert gor[0]["args"]["Running"] + gor[0]["args"]["Runnable"] + gor[0]["args"]["Waiting"] == 2
    assert not os.path.exists(str(path) + ".spool")
    # the snapshot's window ends before the final one starts
    assert load(snap)["otherData"]["end_ns"] < load(path)["otherData"]["start_ns"]


def test_streaming_spools_while_running(tmp_path):
    path = tmp_path / "s.json"
    spool = str(path) + ".spool"

    def main():
        trace.start(path)
        c = chan()
        for _ in range(200):
            go(c.send, 1)
            c.recv()
        deadline = stdtime.monotonic() + 10
        while os.path.getsize(spool) <= len(trace.SPOOL_MAGIC):
            assert stdtime.monotonic() < deadline, "the writer never flushed"
            gotime.sleep(0.02)
        trace.stop()

    rt.run(main, gomaxprocs=2)
    assert not os.path.exists(spool)
    assert len(events(load(path), "X", name="GoCreate")) == 200


def test_one_trace_spans_several_runtimes(tmp_path):
    path = tmp_path / "two.json"
    trace.start(path)
    try:
        for _ in range(2):
            rt.run(lambda: [go(gotime.sleep, 0.001) for _ in range(3)] and gotime.sleep(0.01), gomaxprocs=2)
    finally:
        trace.stop()
    doc = load(path)
    assert_well_formed(doc)
    assert len(events(doc, "i", name="ProcStart")) >= 2 * 2
    assert doc["otherData"]["functions"]["main"]["goroutines"] == 2
    assert doc["otherData"]["functions"]["pyruntime.time.sleep"]["goroutines"] == 6


def test_stw_and_gc_become_spans(tmp_path):
    import gc

    path = tmp_path / "t.json"

    def main():
        trace.start(path)
        go(gotime.sleep, 0.01)
        with rt.debug.stw("lab pause"):
            stdtime.sleep(0.002)
        gc.collect()
        trace.stop()

    rt.run(main, gomaxprocs=2)
    doc = load(path)
    stw = events(doc, "X", cat="stw")
    assert len(stw) == 1 and stw[0]["tid"] == 101 and stw[0]["args"]["reason"] == "lab pause"
    assert ns(stw[0]["dur"]) >= 2_000_000
    gcs = events(doc, "X", cat="gc")
    assert gcs and all(e["tid"] == 102 for e in gcs) and any(e["args"]["gen"] == 2 for e in gcs)
    names = {e["name"] for e in doc["traceEvents"]}
    assert {"STWBegin", "STWEnd", "GCBegin", "GCEnd"} <= names
    assert_well_formed(doc)


# --------------------------------------------------------------------------- the converter on its own

def _convert(records, tmp_path, name="c.json"):
    p = str(tmp_path / name)
    convert_records(list(records), p, end_ns=None, final=[])
    return load(p)


def test_converter_steal_preempt_blocked_m_and_crossed_records(tmp_path):
    R = [
        ("TraceStart", 1000, 0, -1, (1, None)),
        ("ProcsChange", 1000, 0, -1, (2, 2)),
        ("GoStatus", 1000, 1, 0, ("running", "", "main", 0)),
        ("GoCreate", 2000, 2, 0, (1, "m:a")),
        ("GoCreate", 2100, 3, 0, (1, "m:b")),
        ("GoCreate", 2200, 4, 0, (1, "m:c")),
        ("Steal", 3000, 0, 1, (0, 2)),                 # P1 takes two of them
        ("GoStart", 3000, 2, 1, 1),
        ("Preempt", 9000, 2, 1, None),
        ("GoStop", 9000, 2, 1, "preempted"),
        ("GoStart", 9100, 3, 1, 1),
        ("BlockedM", 12000, 3, 1, (1, ["f(...)\n\tx.py:1"])),
        ("GoBlock", 20000, 3, 1, "chan receive"),
        ("GoStart", 20100, 2, 1, 1),
        ("GoBlock", 21000, 1, 0, "chan send"),
        ("GoStart", 21100, 4, 0, 0),
        # crossed: the wakee starts before its wake-up is recorded (two Ms)
        ("GoStart", 22000, 3, 1, 1),
        ("GoUnblock", 22050, 3, 1, 4),
        ("GoDestroy", 23000, 3, 1, None),
        ("STWBegin", 24000, 4, 0, "GOMAXPROCS"),
        ("ProcsChange", 24500, 0, -1, (2, 1)),
        ("STWEnd", 25000, 4, 0, None),
        ("GCBegin", 26000, 4, 0, 0),
        ("GCEnd", 27000, 4, 0, (0, 5)),
        ("UserLog", 27500, 4, 0, ("phase", "two")),
        ("SomethingNew", 28000, 4, 0, {"k": 1}),
    ]
    doc = _convert(R, tmp_path)
    assert_well_formed(doc)
    steal = events(doc, "i", name="Steal")[0]
    assert steal["args"] == {"p": 1, "victim": 0, "n": 2} and steal["tid"] == 1001
    rq0 = [e["args"]["len"] for e in events(doc, "C", name="runq P0")]
    rq1 = [e["args"]["len"] for e in events(doc, "C", name="runq P1")]
    assert rq0[:4] == [1, 2, 3, 1] and rq1[:3] == [1, 2, 1]  # steal + start at one instant
    assert len(events(doc, "i", name="Preempt")) == 2  # on P1 and on the sysmon row
    pre = [e for e in g_runs(doc) if e["args"]["goid"] == 2][0]
    assert pre["args"]["end"] == "preempted" and pre["args"]["end_ev"] == "GoStop"
    again = [e for e in g_runs(doc) if e["args"]["goid"] == 2][1]
    assert again["args"]["from"] == "preempted" and again["args"]["wait_ns"] == 20100 - 9000
    blocked = events(doc, "X", name="blocked M")
    assert len(blocked) == 1 and blocked[0]["pid"] == 3 and ns(blocked[0]["ts"]) == 12000
    crossed = [e for e in g_runs(doc) if e["args"]["goid"] == 3][-1]
    assert crossed["args"]["from"] == "chan receive" and crossed["args"]["wait_ns"] == 0
    stw = events(doc, "X", cat="stw")[0]
    assert stw["name"] == "STW (GOMAXPROCS)" and ns(stw["dur"]) == 1000
    assert events(doc, "X", cat="gc")[0]["args"] == {"gen": 0, "g": 4, "collected": 5}
    assert [e["args"]["procs"] for e in events(doc, "C", name="GOMAXPROCS")] == [2, 1]
    assert events(doc, "i", name="SomethingNew")[0]["args"] == {"g": 4, "k": 1}
    assert events(doc, "i", cat="user")[0]["args"]["message"] == "two"
    f = doc["otherData"]["functions"]
    assert f["m.b"]["waiting_ns"] == {"chan receive": 22000 - 20000}


def test_converter_rejects_what_is_not_a_record(tmp_path):
    with pytest.raises(TraceFormatError, match="not a trace record"):
        _convert([("GoStart", 1, 2)], tmp_path)
    with pytest.raises(TraceFormatError, match="not a trace record"):
        _convert([("GoStart", "soon", 2, 0, 0)], tmp_path)
    assert not os.path.exists(tmp_path / "c.json.tmp")


def test_emit_and_put_give_the_same_trace(tmp_path):
    """The kwargs hook the core calls today and the flat-record sink give one result."""
    trace.start(tmp_path / "a.json", max_events=100)
    t = trace._current
    try:
        t.buf.clear()
        t.emit("GoCreate", g=7, p=0, by=1)
        t.emit("GoStart", g=7, p=0, m=0)
        t.emit("GoBlock", g=7, p=0, reason="select")
        t.emit("GoUnblock", g=7, p=0, by=0)
        t.emit("Steal", p=1, victim=0, n=3)
        emitted = [r[:2] + r[2:4] + (r[4],) for r in t.buf]
    finally:
        trace.stop()
    assert [(r[0], r[2], r[3], r[4]) for r in emitted] == [
        ("GoCreate", 7, 0, (1, None)), ("GoStart", 7, 0, 0), ("GoBlock", 7, 0, "select"),
        ("GoUnblock", 7, 0, 0), ("Steal", 0, 1, (0, 3))]


# --------------------------------------------------------------------------- bad input

def _still_running() -> int:
    c = chan()
    go(c.send, 41)
    return c.recv() + 1


def test_start_twice_and_stop_without_start(tmp_path):
    def main():
        with pytest.raises(RuntimeError, match="no trace is running"):
            trace.stop()
        trace.start(tmp_path / "one.json")
        with pytest.raises(RuntimeError, match="already running"):
            trace.start(tmp_path / "two.json")
        assert trace.is_tracing()
        v = _still_running()
        assert trace.stop() == str(tmp_path / "one.json")
        with pytest.raises(RuntimeError, match="no trace is running"):
            trace.stop()
        with pytest.raises(RuntimeError, match="no trace is running"):
            trace.snapshot(tmp_path / "x.json")
        return v, _still_running()

    assert rt.run(main, gomaxprocs=2) == (42, 42)
    assert not (tmp_path / "two.json").exists()
    assert g_runs(load(tmp_path / "one.json"))


def test_unwritable_paths_and_bad_arguments(tmp_path):
    (tmp_path / "file.txt").write_text("x")

    def main():
        bad = [
            (tmp_path / "missing" / "t.json", FileNotFoundError, "does not exist"),
            (tmp_path, IsADirectoryError, "is a directory"),
            (tmp_path / "file.txt" / "t.json", OSError, "cannot write a trace"),
            ("", ValueError, "empty"),
            (None, TypeError, "str or os.PathLike"),
            (b"t.json", TypeError, "str or os.PathLike"),
        ]
        for p, exc, msg in bad:
            with pytest.raises(exc, match=msg):
                trace.start(p)
            assert not trace.is_tracing()
        for m, exc in ((0, ValueError), (-5, ValueError), (True, TypeError), ("10", TypeError), (1.5, TypeError)):
            with pytest.raises(exc, match="max_events"):
                trace.start(tmp_path / "t.json", max_events=m)
        trace.start(tmp_path / "t.json")
        with pytest.raises(RuntimeError, match="flight-recorder"):
            trace.snapshot(tmp_path / "s.json")
        trace.stop()
        return _still_running()

    assert rt.run(main, gomaxprocs=2) == 42


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="cannot write a trace"):
            trace.start(ro / "t.json")
    finally:
        ro.chmod(0o700)


def test_spool_failure_is_reported_at_stop_and_the_program_goes_on(tmp_path):
    class Full:
        def write(self, b):
            raise OSError(28, "No space left on device")

        def close(self):
            pass

    path = tmp_path / "t.json"

    def main():
        trace.start(path)
        trace._current.spool.close()
        trace._current.spool = Full()
        for _ in range(50):
            _still_running()
        with pytest.raises(OSError, match="No space left on device"):
            trace.stop()
        assert not trace.is_tracing()
        return _still_running()

    assert rt.run(main, gomaxprocs=2) == 42
    assert not os.path.exists(str(path) + ".spool")


def test_emit_never_raises_and_odd_events_survive(tmp_path):
    path = tmp_path / "t.json"

    def main():
        trace.start(path)
        t = trace._current
        t.emit("GoCreate", g=10**9, p=0, by=1)         # a G the runtime never had
        t.emit("GoStart")                              # no fields at all
        t.emit("Weird", g=1, p=0, thing=object(), fn=len)   # not marshal-able
        t.emit("GoBlock", g=1, p=0, reason=None)
        v = _still_running()
        trace.stop()
        return v

    assert rt.run(main, gomaxprocs=1) == 42
    doc = load(path)
    weird = events(doc, "i", name="Weird")[0]["args"]
    assert weird["fn"] == "len" and weird["thing"].startswith("<object object")


def test_convert_recovers_a_spool_left_by_a_dead_program(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "t.json"
    prog = f"""
import os, pyruntime as rt
from pyruntime import chan, go
from pyruntime import time as gotime
def main():
    rt.trace.start({str(out)!r})
    c = chan()
    for _ in range(100):
        go(c.send, 1)
        c.recv()
    gotime.sleep(0.4)   # the writer flushes every 0.1 s
    os._exit(3)         # dies with the trace running
rt.run(main)
"""
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    spool = str(out) + ".spool"
    assert os.path.getsize(spool) > len(trace.SPOOL_MAGIC)
    fixed = tmp_path / "fixed.json"
    r = subprocess.run([sys.executable, "-m", "pyruntime", "trace", "convert", spool, str(fixed)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = load(fixed)
    assert len(events(doc, "X", name="GoCreate")) == 100
    assert_well_formed(doc)
    r = subprocess.run([sys.executable, "-m", "pyruntime", "trace", "convert", str(fixed), str(tmp_path / "x.json")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a pyruntime trace spool" in r.stderr


def test_a_trace_left_running_is_written_at_exit(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "t.json"
    prog = f"""
import pyruntime as rt
from pyruntime import chan, go
rt.trace.start({str(out)!r})
c = chan()
go(c.send, 1)          # the implicit runtime
print(c.recv())
"""
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr
    assert f"trace written to {out} at exit" in r.stderr
    doc = load(out)
    assert [e["args"]["fn"] for e in g_runs(doc) if e["args"]["goid"] != 1] == ["pyruntime._core.chan.chan.send"]
    assert_well_formed(doc)
