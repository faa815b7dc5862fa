"""Preemption stress test (issue 3 bar: 10,000 preemptions, nothing lost or corrupted).

Not part of the default test run nor of ``python -m benchmarks``: run it by hand.

    python benchmarks/preempt_stress.py                  # GOMAXPROCS 1 then 2, 10,000 each
    python benchmarks/preempt_stress.py --procs 2 --target 20000 --budget-us 200

For each GOMAXPROCS the time slice is cut to ``--budget-us`` (``proc.FORCE_PREEMPT_NS``,
default 0.2 ms) and the switch interval to ``--switchinterval-us`` (default 0.2 ms, as
in the PYTHON_MECHANISMS Q2 stress: sysmon needs the GIL to see that a slice is over,
so at the runtime's own 1 ms the slices really last ~2 ms and 10,000 preemptions take
about a minute), so 10,000 preemptions take seconds; these goroutines run until
``--target`` preemptions have happened (the main goroutine sleeps 5 ms at a time):

* ``loop`` ×2 — ``while x < n: x += 1; y += 2`` (no calls: only the asynchronous hook
  can switch it out); every round checks ``x == n and y == 2*x``;
* ``fib`` — ``fib(15)`` in a loop (call-heavy: ``PY_START`` / call events), checks 610;
* ``yielder`` — ``rt.gosched()`` in a loop (cooperative switches between preemptions),
  checks its two counters agree;
* ``genexc`` — a generator that raises and catches ``ValueError`` inside its own
  ``try``/``except`` around ``yield`` (a preemption landing in a suspended generator or
  an exception handler); every round's list must equal the expected one;
* ``settrace`` (3.12+ only; 3.11's attach shares the per-thread ``sys.settrace`` slot, a
  documented limitation) — installs a user ``sys.settrace`` on its M and checks that
  the tracer saw exactly one ``call`` event per call of ``traced_fn``.

After each ``run()`` returns: every goroutine reported (none lost), zero invariant
failures, at least ``--target`` preemptions, ``sys.gettrace() is None``, 3.12+:
``sys.monitoring.get_tool(4) is None`` (the runtime's tool id released),
``tstate->tracing == 0`` on the calling thread, a user ``sys.settrace`` installed after
the run receives its events, and no thread started by the runtime is left.
Prints a summary per GOMAXPROCS and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pyruntime as rt
from pyruntime import go
from pyruntime import time as gotime
from pyruntime._core import preempt, proc

HAVE_MON = sys.version_info >= (3, 12)


def fib(k):
    return k if k < 2 else fib(k - 1) + fib(k - 2)


def gen(k):
    for i in range(k):
        try:
            if i % 7 == 3:
                raise ValueError(i)
            yield i
        except ValueError as e:
            yield -e.args[0]


GEN_K = 50
GEN_WANT = [(-i if i % 7 == 3 else i) for i in range(GEN_K)]


def traced_fn(i):
    return i + 1


def stress(procs, target, budget_ns, timeout, loop_n):
    stop = [False]
    results = {}  # name -> (rounds, failures, detail)

    def report(name, rounds, fails, detail=""):
        results[name] = (rounds, fails, detail)

    def loop(name):
        rounds = fails = 0
        while not stop[0]:
            x = y = 0
            while x < loop_n:
                x += 1
                y += 2
            if not (x == loop_n and y == 2 * x):
                fails += 1
            rounds += 1
        report(name, rounds, fails)

    def fibber():
        rounds = fails = 0
        while not stop[0]:
            if fib(15) != 610:
                fails += 1
            rounds += 1
        report("fib", rounds, fails)

    def yielder():
        a = b = 0
        while not stop[0]:
            a += 1
            rt.gosched()
            b += 1
        report("yielder", a, 0 if a == b else 1, f"{a} vs {b}")

    def genexc():
        rounds = fails = 0
        while not stop[0]:
            if list(gen(GEN_K)) != GEN_WANT:
                fails += 1
            rounds += 1
        report("genexc", rounds, fails)

    def settracer():
        seen = [0]

        def tracer(frame, event, arg):
            if event == "call" and frame.f_code is traced_fn.__code__:
                seen[0] += 1

        calls = 0
        sys.settrace(tracer)
        try:
            while not stop[0]:
                for i in range(1000):
                    traced_fn(i)
                    calls += 1
                k = 0
                while k < 20_000:  # call-free stretch: preemption lands here too
                    k += 1
        finally:
            sys.settrace(None)
        report("settrace", calls, 0 if seen[0] == calls else 1, f"{seen[0]}/{calls} call events")

    workers = [
        ("loop-a", loop, ("loop-a",)),
        ("loop-b", loop, ("loop-b",)),
        ("fib", fibber, ()),
        ("yielder", yielder, ()),
        ("genexc", genexc, ()),
    ]
    if HAVE_MON:
        workers.append(("settrace", settracer, ()))

    def rtmain():
        old = proc.FORCE_PREEMPT_NS
        proc.FORCE_PREEMPT_NS = budget_ns
        proc.metrics.slice_samples.clear()
        rt.metrics.reset()
        before = proc.metrics.preemptions
        t0 = time.perf_counter()
        try:
            for _, fn, args in workers:
                go(fn, *args)
            while proc.metrics.preemptions - before < target and time.perf_counter() - t0 < timeout:
                gotime.sleep(0.005)
        finally:
            proc.FORCE_PREEMPT_NS = old
        npre = proc.metrics.preemptions - before
        elapsed = time.perf_counter() - t0
        stop[0] = True
        t1 = time.perf_counter()
        while len(results) < len(workers) and time.perf_counter() - t1 < 30.0:
            gotime.sleep(0.005)
        m = rt.metrics.read()
        slices = sorted(proc.metrics.slice_samples)
        tv = preempt.tracing_value(proc.getg().m.tstate)
        return npre, elapsed, slices, m["/sched/preempt/latencies:seconds"], tv

    threads0 = {t.ident for t in threading.enumerate()}
    npre, elapsed, slices, hlat, tv_inside = rt.run(rtmain, gomaxprocs=procs)
    time.sleep(0.05)
    left = [t.name for t in threading.enumerate() if t.ident not in threads0]

    failures = []
    missing = [w[0] for w in workers if w[0] not in results]
    if missing:
        failures.append(f"goroutines never reported (lost): {missing}")
    for name, (rounds, fails, detail) in sorted(results.items()):
        if fails:
            failures.append(f"{name}: {fails} invariant failure(s) in {rounds} rounds {detail}".rstrip())
        elif rounds == 0:
            failures.append(f"{name}: made no progress")
    if npre < target:
        failures.append(f"only {npre} preemptions in {elapsed:.1f} s (target {target})")
    if sys.gettrace() is not None:
        failures.append(f"sys.gettrace() is {sys.gettrace()!r} after run()")
    if HAVE_MON and sys.monitoring.get_tool(preempt.TOOL_ID) is not None:
        failures.append(
            f"sys.monitoring tool {preempt.TOOL_ID} still in use: {sys.monitoring.get_tool(preempt.TOOL_ID)!r}"
        )
    tv = preempt.tracing_value(preempt.tstate_of_current_thread())
    if tv not in (0, None) or tv_inside not in (0, None):
        failures.append(f"tstate->tracing is {tv} after run() ({tv_inside} in the main goroutine)")
    post = []

    def post_tracer(frame, event, arg):
        if event == "call" and frame.f_code is traced_fn.__code__:
            post.append(event)

    sys.settrace(post_tracer)
    try:
        for i in range(10):
            traced_fn(i)
    finally:
        sys.settrace(None)
    if len(post) != 10:
        failures.append(f"a user sys.settrace after run() saw {len(post)}/10 call events")
    if left:
        failures.append(f"threads left after run(): {left}")

    def pct(p):
        return slices[min(len(slices) - 1, int(p / 100 * len(slices)))] / 1e3 if slices else float("nan")

    return {
        "procs": procs,
        "preemptions": npre,
        "elapsed": elapsed,
        "rate": npre / elapsed if elapsed else 0.0,
        "slice_p50_us": pct(50),
        "slice_p99_us": pct(99),
        "lat_p50_us": hlat.quantile(0.5) * 1e6,
        "lat_p99_us": hlat.quantile(0.99) * 1e6,
        "results": dict(sorted(results.items())),
        "tracing": tv,
        "failures": failures,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procs", default="1,2", help="GOMAXPROCS values, comma-separated (default 1,2)")
    ap.add_argument("--target", type=int, default=10_000, help="preemptions per GOMAXPROCS value")
    ap.add_argument("--budget-us", type=float, default=200.0, help="time slice (FORCE_PREEMPT_NS), µs")
    ap.add_argument(
        "--switchinterval-us",
        type=float,
        default=200.0,
        help="sys.setswitchinterval during the runs, µs (run() keeps a value below its 1 ms); "
        "sysmon needs the GIL to notice a slice is over, so with the runtime's 1 ms the "
        "0.2 ms slices really last ~2 ms and 10,000 preemptions take about a minute",
    )
    ap.add_argument("--timeout", type=float, default=120.0, help="give up reaching --target after this, s")
    ap.add_argument("--loop-n", type=int, default=200_000, help="iterations per round of the loop goroutines")
    a = ap.parse_args(argv)
    if not preempt.available():
        print(f"preempt_stress: no preemption hook on this interpreter ({sys.version.split()[0]})")
        return 1
    print(
        f"# preempt_stress: Python {sys.version.split()[0]}, target {a.target:,} preemptions, "
        f"slice budget {a.budget_us:g} µs, switch interval {a.switchinterval_us:g} µs, {'sys.monitoring local events' if HAVE_MON else '3.11 attach'}"
    )
    bad = 0
    old_swi = sys.getswitchinterval()
    if a.switchinterval_us > 0:
        sys.setswitchinterval(a.switchinterval_us / 1e6)
    try:
        bad = _run_all(a)
    finally:
        sys.setswitchinterval(old_swi)
    post = ["sys.gettrace() is None"]
    if HAVE_MON:
        post.append("sys.monitoring.get_tool(4) is None")
    print(
        f"{'PASS' if not bad else 'FAIL'}: {', '.join(post)}, tracing counter 0, user settrace works after run, "
        f"no thread left"
        if not bad
        else f"FAIL: {bad} configuration(s) failed"
    )
    return 1 if bad else 0


def _run_all(a):
    bad = 0
    for procs in [int(x) for x in a.procs.split(",") if x.strip()]:
        r = stress(procs, a.target, int(a.budget_us * 1000), a.timeout, a.loop_n)
        ok = not r["failures"]
        bad += not ok
        print(
            f"GOMAXPROCS={procs}: {'PASS' if ok else 'FAIL'} — {r['preemptions']:,} preemptions in "
            f"{r['elapsed']:.1f} s ({r['rate']:,.0f}/s); slice p50 {r['slice_p50_us']:.0f} µs, "
            f"p99 {r['slice_p99_us']:.0f} µs; request→switch p50 ≤ {r['lat_p50_us']:.0f} µs, "
            f"p99 ≤ {r['lat_p99_us']:.0f} µs (histogram bucket bounds); tracing after run: {r['tracing']}"
        )
        for name, (rounds, fails, detail) in r["results"].items():
            print(f"    {name:9} rounds {rounds:>9,}  failures {fails}  {detail}".rstrip())
        for f in r["failures"]:
            print(f"    FAILURE: {f}")
        sys.stdout.flush()
    return bad


if __name__ == "__main__":
    sys.exit(main())
