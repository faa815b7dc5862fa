"""pyruntime.trace (issue 5): the Chrome JSON layout Perfetto loads (P and M tracks, a
slice per G run, flows from waker to wakee, counters), the flight recorder and the
streaming spool, the exact schedlat ↔ trace correspondence, and bad input."""

from __future__ import annotations

import functools
import json
import os
import threading
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


# Go tracer events written as thread-scoped instants (GoCreate/GoUnblock are slices)
GO_INSTANTS = ("GoStart", "GoStop", "GoBlock", "GoDestroy", "GoSyscallBegin", "GoSyscallEnd")
# SPEC 3.4: every name of Go's tracer, plus pyruntime's own
GO_NAMES = {"GoCreate", "GoStart", "GoStop", "GoBlock", "GoUnblock", "GoSyscallBegin", "GoSyscallEnd", "GoDestroy",
            "ProcStart", "ProcStop", "ProcSteal", "STWBegin", "STWEnd", "GCBegin", "GCEnd"}
PYRUNTIME_NAMES = {"Steal", "Preempt", "BlockedM"}


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
    # Go's GoStart: exactly one per G run slice, on its track at its first instant
    gostarts = events(doc, "i", name="GoStart")
    assert sorted((e["tid"], ns(e["ts"]), e["args"]["goid"]) for e in gostarts) == \
        sorted((e["tid"], ns(e["ts"]), e["args"]["goid"]) for e in g_runs(doc))
    for e in events(doc, "i"):
        assert e["s"] == "t" and e["cat"] != "g", e  # cat "g" is the run slices'
        if e["name"] in GO_INSTANTS:
            assert isinstance(e["args"]["goid"], int), e


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
    # ... and as Go names it: one GoStart event per histogram sample, with the same latency
    gostarts = [e for e in events(doc, "i", name="GoStart") if marks[0] < ns(e["ts"]) < marks[1]]
    assert counted == len(gostarts)
    assert sorted(e["args"]["wait_ns"] for e in gostarts) == sorted(e["args"]["wait_ns"] for e in with_wait)
    # ... and each one follows the transition that made its G runnable
    froms = {e["args"]["from"] for e in with_wait}
    assert froms <= {"chan receive", "chan send", "sleep", "yield", "create"}, froms
    assert sum(1 for e in with_wait if e["args"]["from"] == "yield") >= 19
    # a G slice without wait_ns inside the window would be a start the metric missed
    assert all("wait_ns" in e["args"] for e in inside)


def _every_event(procs: int) -> dict:
    """A program that does everything Go's tracer names, each step synchronised on state
    (channels, wait_blocked, the M's blocked flag), never on a sleep; returns goids."""
    import gc

    out: dict = {}
    res = chan(8)

    # create, block (chan receive), unblock, exit
    c = chan()

    def receiver():
        res.send(c.recv() + 1)

    go(receiver)
    rt.testing.wait_blocked(c.recv)
    c.send(1)
    assert res.recv() == 2

    # a syscall, a collection and a yield, in one goroutine
    def sys_gc_yield():
        out["sys"] = proc.getg().goid
        rt.syscall(stdtime.sleep, 0.001)
        gc.collect()
        rt.gosched()
        res.send(None)

    go(sys_gc_yield)
    res.recv()

    # preemption: `procs` spinners hold every P while main (bound to P0) is runnable, so
    # main runs again only once sysmon preempts one of them
    flag = [False]
    started = chan(procs)

    def spinner():
        started.send(None)
        while not flag[0]:
            pass

    for _ in range(procs):
        go(spinner)
    for _ in range(procs):
        started.recv()
    flag[0] = True

    # an M blocked outside the runtime: sysmon reports it (BlockedM) and hands its P's
    # never-run goroutines (helper) to the global queue (ProcSteal)
    def helper():
        res.send("helper")

    def blocks_m():
        g = proc.getg()
        out["blocker"] = g.goid
        m = g.m
        unblock = threading.Event()

        def watch():  # an OS thread, not a goroutine: lets the M go once sysmon saw it
            deadline = stdtime.monotonic() + 30
            while not m.blocked and stdtime.monotonic() < deadline:
                stdtime.sleep(0.001)
            unblock.set()

        threading.Thread(target=watch, daemon=True).start()
        go(helper)
        unblock.wait()  # one C call the runtime is not told about: no bytecode, no preemption
        res.send(m.blocked)

    old = proc.FORCE_PREEMPT_NS
    proc.FORCE_PREEMPT_NS = 10**15  # no time slice ends between go(helper) and the wait
    try:
        go(blocks_m)
        assert sorted(map(str, [res.recv(), res.recv()])) == ["True", "helper"]
    finally:
        proc.FORCE_PREEMPT_NS = old

    # every goroutine started here has exited; the STW is also a barrier: each P passes
    # through its scheduler, i.e. past every goexit's GoDestroy record
    deadline = stdtime.monotonic() + 30
    while len(rt.debug.goroutines()) > 1:
        assert stdtime.monotonic() < deadline, rt.debug.dump()
        rt.gosched()
    with rt.debug.stw("every event"):
        pass
    return out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("max_events", [None, 200_000], ids=["stream", "flight-recorder"])
@pytest.mark.parametrize("procs", [1, 2])
def test_every_go_event_name_is_in_the_trace(tmp_path, procs, max_events):
    """SPEC 3.4: the names of Go's tracer, and pyruntime's Steal/Preempt/BlockedM, are
    event names in the file, with their goroutine and where they happened."""
    path = tmp_path / "t.json"
    trace.start(path, max_events=max_events)
    try:
        ids = rt.run(_every_event, procs, gomaxprocs=procs)
    finally:
        trace.stop()
    doc = load(path)
    assert doc["otherData"]["mode"] == ("stream" if max_events is None else "ring")
    assert doc["otherData"]["window_complete"] is True
    assert_well_formed(doc)  # one GoStart per run slice, among others
    ev = doc["traceEvents"]
    names = {e["name"] for e in ev}
    missing = (GO_NAMES | PYRUNTIME_NAMES) - names - {"Steal"}
    assert not missing, missing
    by = {}
    for e in ev:
        if e.get("ph") == "i" and e["name"] in GO_INSTANTS + ("ProcSteal", "Preempt", "BlockedM"):
            by.setdefault(e["name"], []).append(e)
    runs = g_runs(doc)
    # every G run begins with a GoStart; only main's first was running before the window
    assert [e["args"]["goid"] for e in by["GoStart"] if e["args"].get("inferred")] == [1]
    # every goroutine created here ran and exited
    created = {e["args"]["g"] for e in events(doc, "X", name="GoCreate")}
    assert len(created) == 4 + procs  # receiver, sys_gc_yield, the spinners, blocks_m, helper
    assert sorted(e["args"]["goid"] for e in by["GoDestroy"]) == sorted(created)
    assert {e["args"]["goid"] for e in runs} == created | {1}
    # GoBlock carries the wait reason, on the track of the P the G ran on
    blocks = {e["args"]["reason"] for e in by["GoBlock"]}
    assert {"chan receive", "chan send"} & blocks and "syscall" not in blocks
    assert all(e["pid"] == 1 and 1000 <= e["tid"] < 1000 + procs for e in by["GoBlock"])
    # the syscall: begins on the G's P track, ends on the syscall M's track
    (sb,), (se,) = by["GoSyscallBegin"], by["GoSyscallEnd"]
    assert sb["args"]["goid"] == se["args"]["goid"] == ids["sys"]
    assert sb["pid"] == 1 and se["pid"] == 3 and se["tid"] >= 3000
    assert ns(se["ts"]) - ns(sb["ts"]) >= 1_000_000
    span = events(doc, "X", cat="syscall")[0]
    assert ns(span["ts"]) + ns(span["dur"]) == ns(se["ts"]) and span["tid"] == se["tid"]
    # yield and preemption: GoStop with its reason (one GoStop per record)
    stops = [e["args"]["reason"] for e in by["GoStop"]]
    assert "yield" in stops and "preempted" in stops
    assert len(by["Preempt"]) == 2 * stops.count("preempted")  # a P track and the sysmon row
    # the blocked M and what sysmon took from its P
    bm = [e for e in by["BlockedM"] if e["pid"] == 1]
    (ps,) = by["ProcSteal"]
    assert bm[0]["args"]["g"] == ids["blocker"] == ps["args"]["g"]
    assert ps["args"]["p"] == bm[0]["args"]["p"] and ps["args"]["from"] == "BlockedM"
    assert ns(ps["ts"]) == ns(bm[0]["ts"]) and ps["tid"] == bm[0]["tid"]
    if procs == 1:
        assert ps["args"]["moved_gs"] == 1  # the helper, which no other P could steal
    else:
        # the helper left the blocked P: stolen first, or handed off by sysmon
        assert "Steal" in names or ps["args"]["moved_gs"] == 1
    # the collection ran in its goroutine; the STW has its reason
    assert any(e["args"]["g"] == ids["sys"] for e in events(doc, "i", name="GCBegin"))
    assert [e["args"]["reason"] for e in events(doc, "i", name="STWBegin")] == ["every event"]
    assert len(events(doc, "i", name="ProcStart")) >= 2 * procs  # P track and M track
    assert len(events(doc, "i", name="ProcStop")) >= 2 * procs


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
        assert {"GoStart", "GoBlock", "GoUnblock"} <= {e["name"] for e in doc["traceEvents"]}
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


def test_converter_handoff_moves_the_never_run_g_to_the_idle_p(tmp_path):
    """``Handoff`` (go() placed a never-run G on an idle P): the G is counted in that
    P's run queue from then on, and ``pyruntime report`` counts the placements."""
    from pyruntime import _report

    R = [
        ("TraceStart", 1000, 0, -1, (1, None)),
        ("ProcsChange", 1000, 0, -1, (2, 2)),
        ("GoStatus", 1000, 1, 0, ("running", "", "main", 0)),
        ("GoCreate", 2000, 2, 0, (1, "m:a")),
        ("GoCreate", 2100, 3, 0, (1, "m:b")),
        ("Handoff", 2150, 2, 1, 0),                    # P0's runnext G 2 goes to idle P1
        ("GoStart", 3000, 2, 1, 1),
        ("GoBlock", 4000, 2, 1, "chan receive"),
        ("GoBlock", 5000, 1, 0, "chan receive"),
        ("GoStart", 5100, 3, 0, 0),
    ]
    doc = _convert(R, tmp_path)
    assert_well_formed(doc)
    (h,) = events(doc, "i", name="Handoff")
    assert h["args"] == {"g": 2, "p": 1, "from": 0} and h["tid"] == 1001
    rq0 = [e["args"]["len"] for e in events(doc, "C", name="runq P0")]
    rq1 = [e["args"]["len"] for e in events(doc, "C", name="runq P1")]
    assert rq0 == [1, 2, 1, 0] and rq1 == [1, 0]
    assert [e["tid"] for e in g_runs(doc) if e["args"]["goid"] == 2] == [1001]
    text = _report.summary(_report.load(str(tmp_path / "c.json")))
    assert "placed on idle Ps by go(): 1 goroutines (P1 1)" in text


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
    # Go's events as instants: one GoStart per run (main's was running before the window)
    starts = [(ns(e["ts"]), e["args"]["goid"], e["args"].get("inferred", False)) for e in events(doc, "i", name="GoStart")]
    assert sorted(starts) == [(1000, 1, True), (3000, 2, False), (9100, 3, False), (20100, 2, False),
                              (21100, 4, False), (22000, 3, False)]
    assert [(ns(e["ts"]), e["tid"], e["args"]) for e in events(doc, "i", name="GoBlock")] == [
        (20000, 1001, {"goid": 3, "reason": "chan receive"}), (21000, 1000, {"goid": 1, "reason": "chan send"})]
    assert [(ns(e["ts"]), e["args"]["goid"]) for e in events(doc, "i", name="GoDestroy")] == [(23000, 3)]
    assert [e["args"] for e in events(doc, "i", name="GoStop")] == [{"goid": 2, "g": 2, "reason": "preempted"}]
    # sysmon's hand-off from the blocked M: P1's never-run Gs were stolen and started already
    (ps,) = events(doc, "i", name="ProcSteal")
    assert (ns(ps["ts"]), ps["tid"]) == (12000, 1001)
    assert ps["args"] == {"p": 1, "m": 1, "g": 3, "moved_gs": 0, "from": "BlockedM", "p_stays_on_m": True}


def test_converter_proc_steal_moves_never_run_gs_and_syscall_ends(tmp_path):
    """BlockedM → ProcSteal: the never-run Gs queued on the blocked P go to the global
    queue (what proc.handoff_unstarted does); a GoSyscallEnd lands on its syscall M."""
    R = [
        ("TraceStart", 1000, 0, -1, (1, None)),
        ("ProcsChange", 1000, 0, -1, (2, 2)),
        ("GoStatus", 1000, 1, 0, ("running", "", "main", 0)),
        ("GoCreate", 2000, 2, 0, (1, "m:blocker")),
        ("GoBlock", 2500, 1, 0, "chan receive"),
        ("GoStart", 3000, 2, 0, 0),
        ("GoCreate", 4000, 3, 0, (2, "m:helper")),
        ("GoCreate", 4100, 4, 0, (2, "m:helper")),
        ("BlockedM", 30000, 2, 0, (0, [])),      # G3 and G4 leave P0 ...
        ("GoStart", 31000, 3, 1, 1),              # ... and P1 takes them from the global queue
        ("GoDestroy", 32000, 3, 1, None),
        ("GoStart", 32100, 4, 1, 1),
        ("GoDestroy", 33000, 4, 1, None),
        ("ProcSteal", 34000, 0, 1, 5),            # Go's own event, should a core record it
        ("GoSyscallBegin", 35000, 2, 0, None),
        ("GoSyscallEnd", 40000, 2, 0, (777, 35500)),
    ]
    doc = _convert(R, tmp_path)
    assert_well_formed(doc)
    steals = events(doc, "i", name="ProcSteal")
    assert [(ns(e["ts"]), e["tid"], e["args"]) for e in steals] == [
        (30000, 1000, {"p": 0, "m": 0, "g": 2, "moved_gs": 2, "from": "BlockedM", "p_stays_on_m": True}),
        (34000, 1001, {"p": 1, "m": 5})]
    assert doc["otherData"]["stats"]["procsteals"] == 2
    assert [e["args"]["len"] for e in events(doc, "C", name="runq P0")] == [1, 0, 1, 2, 0]
    assert [e["args"]["len"] for e in events(doc, "C", name="runq global")] == [2, 1, 0]
    helpers = [e for e in g_runs(doc) if e["args"]["fn"] == "m.helper"]
    assert [e["args"]["wait_ns"] for e in helpers] == [31000 - 4000, 32100 - 4100]
    (sb,) = events(doc, "i", name="GoSyscallBegin")
    (se,) = events(doc, "i", name="GoSyscallEnd")
    (span,) = events(doc, "X", cat="syscall")
    assert (sb["pid"], sb["tid"], ns(sb["ts"]), sb["args"]) == (1, 1000, 35000, {"goid": 2})
    assert (se["pid"], se["tid"], ns(se["ts"]), se["args"]) == (3, 3000, 40000, {"goid": 2, "p": 0})
    assert (span["tid"], ns(span["ts"]), ns(span["ts"]) + ns(span["dur"])) == (3000, 35500, 40000)


def test_converter_proc_steal_moves_what_was_stolen_onto_the_blocked_p(tmp_path):
    R = [
        ("TraceStart", 1000, 0, -1, (1, None)),
        ("GoStatus", 1000, 1, 0, ("running", "", "main", 0)),
        ("GoCreate", 2000, 2, 0, (1, "m:a")),
        ("GoCreate", 2100, 3, 0, (1, "m:b")),
        ("GoCreate", 2200, 4, 0, (1, "m:c")),
        ("Steal", 3000, 0, 1, (0, 2)),            # P1 takes G2 and G3 ...
        ("GoStart", 3000, 2, 1, 1),               # ... runs G2; G3 waits, never run, on P1
        ("BlockedM", 30000, 2, 1, (1, [])),       # G2 blocks M1: G3 (not G4) leaves P1
        ("GoStart", 31000, 3, 0, 0),
        ("GoStart", 32000, 4, 0, 0),
    ]
    doc = _convert(R, tmp_path)
    assert_well_formed(doc)
    (ps,) = events(doc, "i", name="ProcSteal")
    assert ps["args"]["moved_gs"] == 1 and ps["tid"] == 1001
    assert [e["args"]["len"] for e in events(doc, "C", name="runq P1")] == [1, 0]
    assert [e["args"]["len"] for e in events(doc, "C", name="runq global")] == [1, 0]
    assert [e["args"]["len"] for e in events(doc, "C", name="runq P0")] == [1, 2, 3, 1, 0]


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
    t = rt.trace._current
    target = t.nspooled + len(t.buf)  # every record so far (sleeping adds more)
    while t.nspooled < target:
        gotime.sleep(0.01)  # until the writer has drained them all to the spool
    os._exit(3)             # dies with the trace running
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
