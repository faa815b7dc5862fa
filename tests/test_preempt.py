"""sysmon and asynchronous preemption (issue 3): a goroutine spinning in pure Python
never starves the others, preempted code resumes exactly where it stopped, the hooks
leave no tracing state behind, and users' own trace functions keep working."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

import pyruntime as rt
from pyruntime import chan, go
from pyruntime import time as gotime
from pyruntime._core import preempt, proc

pytestmark = pytest.mark.timeout(60)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_hooks = pytest.mark.skipif(not preempt.available(), reason="no preemption hook on this interpreter")


def _spin(stop: list, counter: list) -> None:
    while not stop[0]:
        counter[0] += 1


@needs_hooks
def test_spinning_goroutine_does_not_starve_a_sleeper_gomaxprocs_1():
    def main():
        stop, cnt = [False], [0]
        for _ in range(3):
            go(_spin, stop, cnt)
        before = proc.metrics.preemptions
        gotime.sleep(0.02)       # only preemption can bring main back
        woke_while_spinning = not stop[0]
        stop[0] = True
        return woke_while_spinning, proc.metrics.preemptions - before, cnt[0]

    woke, npre, cnt = rt.run(main, gomaxprocs=1)
    assert woke and npre >= 1 and cnt > 0


@needs_hooks
@pytest.mark.parametrize("procs", [1, 2])
def test_preempted_loops_resume_exactly(procs):
    # Four pure-Python loops on 1-2 Ps: each is preempted many times mid-loop and must
    # resume with its locals intact (y == 2x).  They spin until at least 8 preemptions
    # have happened (sysmon must preempt: other loops always wait), so the check never
    # depends on how fast the machine runs the loops.
    def loop(out: chan, stop: list) -> None:
        x, y = 0, 0
        while not stop[0]:
            x += 1
            y += 2
        out.send((x, y))

    def main():
        old = proc.FORCE_PREEMPT_NS
        proc.FORCE_PREEMPT_NS = 500_000  # 0.5 ms slices: many preemptions, fast test
        try:
            out, stop = chan(), [False]
            before = proc.metrics.preemptions
            for _ in range(4):
                go(loop, out, stop)
            while proc.metrics.preemptions - before < 8:
                gotime.sleep(0.001)
            stop[0] = True
            res = [out.recv() for _ in range(4)]
            return res, proc.metrics.preemptions - before
        finally:
            proc.FORCE_PREEMPT_NS = old

    res, npre = rt.run(main, gomaxprocs=procs)
    assert npre >= 8
    assert all(x > 0 and y == 2 * x for x, y in res), res


@needs_hooks
def test_tracing_counter_is_zero_after_preemptions_and_hooks_disarmed():
    def main():
        stop, cnt = [False], [0]
        go(_spin, stop, cnt)
        go(_spin, stop, cnt)
        proc.FORCE_PREEMPT_NS, old = 300_000, proc.FORCE_PREEMPT_NS
        try:
            while proc.metrics.preemptions < 20:
                gotime.sleep(0.001)
        finally:
            proc.FORCE_PREEMPT_NS = old
            stop[0] = True
        m = proc.getg().m
        return preempt.tracing_value(m.tstate)

    assert rt.run(main, gomaxprocs=1) in (0, None)
    assert sys.gettrace() is None
    if sys.version_info >= (3, 12):
        assert sys.monitoring.get_tool(preempt.TOOL_ID) is None  # tool id released at shutdown


@pytest.mark.skipif(sys.version_info < (3, 12), reason="3.11's attach shares the settrace slot (documented)")
@needs_hooks
def test_user_settrace_keeps_working_with_preemption():
    events = []

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "traced_fn":
            events.append(event)
        return None

    def traced_fn():
        return 1

    def worker(stop):
        sys.settrace(tracer)
        try:
            k = 0
            while not stop[0]:
                k += 1
                if k % 1000 == 0:
                    traced_fn()
        finally:
            sys.settrace(None)

    def main():
        stop, cnt = [False], [0]
        proc.FORCE_PREEMPT_NS, old = 300_000, proc.FORCE_PREEMPT_NS
        try:
            go(worker, stop)
            go(_spin, stop, cnt)
            before = proc.metrics.preemptions
            while proc.metrics.preemptions - before < 10:
                gotime.sleep(0.001)
        finally:
            proc.FORCE_PREEMPT_NS = old
            stop[0] = True
        gotime.sleep(0.01)

    rt.run(main, gomaxprocs=1)
    assert len(events) > 5


def _prog(src: str, env: dict | None = None, timeout: float = 40) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(src)], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=ROOT)


SPIN_PROG = """
    import time
    import pyruntime as rt
    from pyruntime import go
    from pyruntime._core import proc
    def bounded_spin(done):
        t = time.perf_counter()
        while time.perf_counter() - t < 0.3:
            pass
        done[0] = True
    def main():
        done = [False]
        go(bounded_spin, done)
        rt.time.sleep(0.001)
        return done[0], proc.metrics.preemptions
    print(rt.run(main, gomaxprocs=1))
"""


@needs_hooks
def test_asyncpreemptoff_disables_the_hooks():
    on = _prog(SPIN_PROG)
    off = _prog(SPIN_PROG, env={"PYRUNTIME_DEBUG": "asyncpreemptoff=1"})
    assert on.returncode == 0 and off.returncode == 0, on.stderr + off.stderr
    # With preemption main wakes while the spinner still runs; without, only after it ends.
    assert on.stdout.strip().startswith("(False,")
    assert off.stdout.strip() == "(True, 0)"


def test_unknown_debug_key_warns_and_runtime_runs():
    r = _prog("""
        import warnings
        import pyruntime as rt
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            print(rt.run(lambda: 42))
        print([str(x.message) for x in w])
    """, env={"PYRUNTIME_DEBUG": "bogus=1,schedtrace=abc"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "42"
    assert "unknown key 'bogus'" in lines[1] and "schedtrace='abc'" in lines[1]


def test_schedtrace_prints_go_format_lines():
    import re

    src = """
        import pyruntime as rt
        from pyruntime import go, chan
        def main():
            c = chan()
            go(c.send, 1)
            c.recv()
            rt.time.sleep(0.12)
        rt.run(main, gomaxprocs=2)
    """
    r = _prog(src, env={"PYRUNTIME_DEBUG": "schedtrace=20"})
    assert r.returncode == 0, r.stderr
    pat = re.compile(r"^SCHED \d+ms: gomaxprocs=2 idleprocs=\d+ threads=\d+ spinningthreads=\d+ needspinning=0 "
                     r"idlethreads=\d+ runqueue=\d+ \[ \d+ \d+ \] schedticks=\[ \d+ \d+ \]$")
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("SCHED")]
    assert len(lines) >= 2 and all(pat.match(ln) for ln in lines), r.stderr
    d = _prog(src, env={"PYRUNTIME_DEBUG": "schedtrace=20,scheddetail=1"})
    assert re.search(r"^SCHED \d+ms: gomaxprocs=2 .* gcwaiting=false nmidlelocked=0 stopwait=0 sysmonwait=false$",
                     d.stderr, re.M), d.stderr
    assert re.search(r"^  P0: status=\d schedtick=\d+ syscalltick=0 m=0 runqsize=\d+ gfreecnt=\d+ timerslen=\d+$",
                     d.stderr, re.M)
    assert re.search(r"^  M1: p=1 curg=(nil|\d+) mallocing=0 ", d.stderr, re.M)
    assert re.search(r"^  G1: status=\d\(.*\) m=", d.stderr, re.M)


def test_blocked_m_is_reported_and_its_unstarted_work_moves():
    r = _prog("""
        import time
        import pyruntime as rt
        from pyruntime import go, chan
        def main():
            order = []
            done = chan(2)
            def blocker():
                time.sleep(0.5)          # blocks the M without telling the runtime
                order.append("blocker")
                done.send(None)
            def helper():
                order.append("helper")
                done.send(None)
            def both():
                go(helper)               # unstarted, queued behind the blocked G on this P
                blocker()
            go(both)
            done.recv(); done.recv()
            return order
        print(rt.run(main, gomaxprocs=2))
    """, env={"PYRUNTIME_DEBUG": "blockreport=1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['helper', 'blocker']"
    assert "blocked M" in r.stderr and "in blocker" not in r.stderr.split("blocked M")[0]
    assert "time.sleep" in r.stderr or "blocker" in r.stderr


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_stw_stops_every_other_goroutine(procs):
    def main():
        stop, cnt = [False], [0]
        for _ in range(4):
            go(_spin, stop, cnt)
        gotime.sleep(0.03)
        before = rt.metrics.read()["/sched/pauses/total/other:seconds"].total
        with rt.debug.stw("test"):
            c0 = cnt[0]
            import time as stdtime
            stdtime.sleep(0.03)  # a real sleep: any other running goroutine would count
            c1 = cnt[0]
        stop[0] = True
        after = rt.metrics.read()["/sched/pauses/total/other:seconds"].total
        return c0 == c1, after - before

    same, npause = rt.run(main, gomaxprocs=procs)
    assert same and npause == 1


def test_stw_bad_use():
    def main():
        with rt.debug.stw("outer"):
            with pytest.raises(RuntimeError, match="nested"):
                with rt.debug.stw("inner"):
                    pass
            with pytest.raises(RuntimeError, match="block"):
                chan().recv()
        errs = []
        t = threading.Thread(target=lambda: errs.append(_try_stw()))
        t.start()
        t.join()
        # The runtime keeps running after all of that.
        c = chan()
        go(c.send, 5)
        return errs, c.recv()

    errs, v = rt.run(main, gomaxprocs=2)
    assert v == 5 and "goroutine" in errs[0]


def _try_stw() -> str:
    try:
        with rt.debug.stw("outside"):
            pass
    except RuntimeError as e:
        return str(e)
    return "no error"


def test_stw_and_gc_in_trace_and_metrics(tmp_path):
    import gc
    import json

    path = tmp_path / "t.json"

    def main():
        rt.trace.start(str(path))
        with rt.debug.stw("traced"):
            pass
        before = rt.metrics.read()["/gc/pauses:seconds"].total
        g = proc.getg()
        gc.collect()
        pauses = rt.metrics.read()["/gc/pauses:seconds"].total - before
        mine = [i for i in rt.debug.goroutines() if i.goid == g.goid][0].gc_pause_seconds
        rt.trace.stop()
        return pauses, mine

    pauses, mine = rt.run(main)
    names = [e["name"] for e in json.loads(path.read_text())["traceEvents"]]
    assert "STWBegin" in names and "STWEnd" in names
    assert "GCBegin" in names and "GCEnd" in names
    assert pauses >= 1 and mine > 0


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux affinity")
def test_pin_cpus_pins_each_m_and_restores_the_caller():
    before = os.sched_getaffinity(0)

    def main():
        return rt.debug.threads()

    info = rt.run(main, gomaxprocs=2, pin_cpus=True)
    assert len(info) == 2
    for t in info:
        assert t["affinity"] is not None and len(t["affinity"]) == 1
        assert t["cpu_seconds"] is None or t["cpu_seconds"] >= 0
    assert os.sched_getaffinity(0) == before


@pytest.mark.timeout(60)
def test_a_preemption_request_honoured_at_a_park_ends_the_time_slice():
    """A G that parks with sysmon's request pending has used up its slice: the local
    queue's head runs next, not runnext (which would inherit the slice).  Otherwise a
    pair handing off through runnext keeps the P for ever, since each request lands on
    whichever of the two runs and is cleared at its next park; a queued main goroutine
    with a Ctrl-C posted to it starved (seen on 3.13 with a ping-pong pair)."""
    import pyruntime as rt
    from pyruntime import chan, go
    from pyruntime._core import proc

    def main():
        order = []
        done = chan(2)
        go(lambda: (order.append("queued"), done.send(1)))    # pushed to the queue by the next go()
        go(lambda: (order.append("runnext"), done.send(1)))   # in runnext
        proc.getg().preempt = True   # sysmon's request, landed while main was in the runtime
        done.recv()                  # main parks: the request is honoured here
        done.recv()
        return order

    assert rt.run(main, gomaxprocs=1) == ["queued", "runnext"]


@pytest.mark.timeout(60)
def test_runnext_ping_pong_pair_does_not_starve_the_local_queue():
    """Two goroutines that hand off through runnext inherit one time slice for ever; when
    sysmon's request lands on either, the slice ends and the queued G runs (it used to be
    cleared at the next park and the pair kept the P: a Ctrl-C posted to a queued main
    goroutine was never delivered)."""
    import pyruntime as rt
    from pyruntime import chan, go

    def main():
        a, b = chan(), chan()
        stop = []

        def pinger():
            while not stop:
                a.send(1)
                b.recv()
            a.send(None)

        def ponger():
            while a.recv() is not None:
                b.send(1)

        go(pinger)
        go(ponger)
        rt.gosched()  # main goes to the queue's tail behind the pair; it must run again
        stop.append(1)
        return "main ran"

    assert rt.run(main, gomaxprocs=1) == "main ran"
