"""pyruntime against its peers, in one run.

    python -m benchmarks                 # default: 5 interleaved rounds, full sizes
    python -m benchmarks --quick         # CI smoke: small sizes, 3 rounds (a few minutes on 2 cores)
    python -m benchmarks --only spawn,pingpong      # workloads ...
    python -m benchmarks --only pyruntime,uvloop    # ... and/or systems
    python benchmarks/run.py --rounds 7 --json out.json

Every (workload, system) pair is a *job*: one fresh subprocess running
``benchmarks/b_<workload>.py <system> [size options]``, which warms up in-process, measures
once and prints one JSON line. A round runs every job once, in a freshly shuffled order
(all workloads mixed), so slow drifts of the (shared, noisy) machine hit every system
alike. The table reports, per metric, the median over rounds with the min–max, and the
ratio to pyruntime's median, oriented so that a ratio above 1× means pyruntime is better
(system ÷ pyruntime for lower-is-better metrics, pyruntime ÷ system for req/s). pyruntime runs with GOMAXPROCS=1. A peer whose package is not
installed is reported as skipped; a job that fails (exit status, no JSON, timeout) is
reported with its error and not run again in later rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---------------------------------------------------------------------------- registry


@dataclass
class Metric:
    key: str  # key in the script's JSON "metrics"
    label: str  # shown in the table
    unit: str
    higher: bool = False  # higher is better (req/s): the ratio column is inverted


@dataclass
class System:
    key: str  # impl name passed to the script
    label: str
    needs: tuple = ()  # importable modules required
    args: dict = field(default_factory=dict)  # overrides of the workload's sizes
    quick_args: dict = field(default_factory=dict)


@dataclass
class Workload:
    key: str
    title: str
    metrics: list
    systems: list
    args: dict
    quick_args: dict
    env: dict = field(default_factory=dict)
    note: str = ""

    @property
    def script(self):
        return os.path.join(HERE, f"b_{self.key}.py")


PYR = ("pyruntime",)

WORKLOADS = [
    Workload(
        "spawn",
        "spawn+join empty tasks",
        [Metric("ns_per_task", "per task", "ns")],
        [
            System("pyruntime", "pyruntime go()+WaitGroup", PYR),
            System("gevent", "gevent spawn+joinall", ("gevent",)),
            System("asyncio", "asyncio create_task+gather"),
            System("uvloop", "uvloop create_task+gather", ("uvloop",)),
            System("greenlet", "raw greenlet, new per task (floor)", ("greenlet",)),
            System("greenlet-pool", "pooled greenlets (floor)", ("greenlet",)),
            System("threads", "threading.Thread", (), {"n": 2000}, {"n": 300}),
        ],
        {"n": 100_000},
        {"n": 10_000},
    ),
    Workload(
        "pingpong",
        "unbuffered ping-pong",
        [Metric("ns_per_rt", "per round trip", "ns")],
        [
            System("pyruntime", "pyruntime chan()", PYR),
            System("gevent-channel", "gevent Channel", ("gevent",)),
            System("gevent-queue", "gevent Queue(1)", ("gevent",)),
            System("asyncio", "asyncio Queue(1)"),
            System("uvloop", "uvloop Queue(1)", ("uvloop",)),
            System("greenlet", "raw greenlet switch round trip (floor)", ("greenlet",)),
        ],
        {"n": 200_000},
        {"n": 20_000},
    ),
    Workload(
        "buffered",
        "buffered cap-128 throughput",
        [Metric("ns_per_item", "per item", "ns")],
        [
            System("pyruntime", "pyruntime chan(128)", PYR),
            System("gevent", "gevent Queue(128)", ("gevent",)),
            System("asyncio", "asyncio Queue(128)"),
            System("uvloop", "uvloop Queue(128)", ("uvloop",)),
            System("threads", "queue.Queue(128) + threads", (), {"n": 300_000}, {"n": 50_000}),
        ],
        {"n": 1_000_000},
        {"n": 100_000},
    ),
    Workload(
        "select",
        "select over 2 channels, ping-pong",
        [Metric("ns_per_op", "per op", "ns")],
        [
            System("pyruntime", "pyruntime select(a.recv, b.recv)", PYR),
            System("gevent", "gevent getter greenlets + gevent.wait(count=1)", ("gevent",)),
            System("asyncio", "asyncio get tasks + wait(FIRST_COMPLETED)"),
            System("uvloop", "uvloop get tasks + wait(FIRST_COMPLETED)", ("uvloop",)),
        ],
        {"n": 50_000},
        {"n": 5_000},
    ),
    Workload(
        "sleep",
        "concurrent 1 ms sleeps",
        [
            Metric("over_p99_us", "oversleep p99", "µs"),
            Metric("over_p50_us", "oversleep p50", "µs"),
            Metric("wall_ms", "wall", "ms"),
        ],
        [
            System("pyruntime", "pyruntime time.sleep", PYR),
            System("gevent", "gevent.sleep", ("gevent",)),
            System("asyncio", "asyncio.sleep", ()),
            System("uvloop", "asyncio.sleep on uvloop", ("uvloop",)),
        ],
        {"n": 10_000},
        {"n": 2_000},
        # A cyclic-GC pass landing inside the ~0.3 s window adds 10-20 ms to whichever
        # sleepers it catches (gevent p99 goes from ~6 ms to 15-25 ms), which would make
        # the tail a lottery. The bar is about timer handling, so GC is off during the
        # measured pass of this workload, for every system.
        env={"BENCH_NO_GC": "1"},
        note="cyclic GC off during the measured pass (a GC pause would dominate the tail)",
    ),
    Workload(
        "wakeup",
        "wake-up latency with busy yielders",
        [Metric("p50_us", "p50", "µs"), Metric("p99_us", "p99", "µs")],
        [
            System("pyruntime", "pyruntime chan() + gosched yielders", PYR),
            System("gevent", "gevent Queue + sleep(0) yielders", ("gevent",)),
            System("asyncio", "asyncio Queue + sleep(0) yielders"),
            System("uvloop", "uvloop Queue + sleep(0) yielders", ("uvloop",)),
        ],
        {"samples": 500, "yielders": 1000, "warm": 30},
        {"samples": 60, "yielders": 1000, "warm": 10},
    ),
    Workload(
        "echo",
        "TCP echo, 64-byte messages, 50 connections",
        [
            Metric("req_s", "throughput", "req/s", higher=True),
            Metric("cpu_us_per_req", "server CPU per request", "µs"),
        ],
        [
            System("pyruntime", "pyruntime.net, goroutine per conn", PYR),
            System("pyruntime-monkey", "pyruntime monkey.patch_all() + stdlib socket", PYR),
            System("gevent", "gevent StreamServer", ("gevent",)),
            System("asyncio-streams", "asyncio streams"),
            System("asyncio-protocol", "asyncio Protocol"),
            System("uvloop-streams", "uvloop streams", ("uvloop",)),
            System("uvloop-protocol", "uvloop Protocol", ("uvloop",)),
            System("threads", "thread per connection"),
        ],
        {"conns": 50, "size": 64, "warm": 1.0, "duration": 5.0},
        {"conns": 50, "size": 64, "warm": 0.5, "duration": 1.0},
        note="server and load client (C, epoll; echo_client.py if no compiler) are separate processes; "
        "server CPU = user+system of the server process over the measured window (psutil)",
    ),
    # --- preemption and lock lab (issue 3): pyruntime only, absolute bars --------------
    Workload(
        "preempt",
        "preemption lab: 3 call-free loops + a sleeping main, GOMAXPROCS=1",
        [
            Metric("slice_p50_ms", "slice a preempted G ran, p50", "ms"),
            Metric("slice_p99_ms", "slice a preempted G ran, p99", "ms"),
            Metric("lat_p50_us", "request→switch p50", "µs"),
            Metric("lat_p99_us", "request→switch p99", "µs"),
            Metric("preempt_per_s", "preemptions per second", "/s"),
            Metric("cpu_share", "process CPU ÷ wall (< ~0.9: the host took our CPU)", "cores"),
        ],
        [System("pyruntime", "pyruntime sysmon + async preemption", PYR)],
        {"n": 30_000_000, "goroutines": 3},
        {"n": 5_000_000, "goroutines": 3},
        note="raw samples (proc.metrics.slice_samples; request→switch from wrapped preemptone/gopreempt, "
        "from the first request); every loop must end with x == n",
    ),
    Workload(
        "preempt_overhead",
        "preemption machinery armed but idle vs plain Python",
        [
            Metric("loop_overhead_pct", "tight loop, process CPU vs plain (steady)", "%"),
            Metric("fib_overhead_pct", "fib (calls), process CPU vs plain (steady)", "%"),
            Metric("cold_loop_overhead_pct", "tight loop right after run() starts", "%"),
            Metric("loop_nohook_pct", "tight loop, sysmon without the hook", "%"),
        ],
        [System("pyruntime", "pyruntime goroutine, sysmon + idle hook", PYR)],
        {"n": 10_000_000, "fib": 28, "rounds": 7},
        {"n": 3_000_000, "fib": 26, "rounds": 5},
        note="one process, configurations interleaved, min over the in-process rounds; overhead = runtime ÷ plain − 1",
    ),
    Workload(
        "lock",
        "lock lab: RuntimeLock strategies vs threading.Lock, 2-4 OS threads",
        [
            Metric("ns_per_acq_t2", "per acquisition, 2 threads", "ns"),
            Metric("ns_per_acq_t3", "per acquisition, 3 threads", "ns"),
            Metric("ns_per_acq_t4", "per acquisition, 4 threads", "ns"),
            Metric("cpu_cores_t4", "CPU used, 4 threads", "cores"),
            Metric("contended_pct_t4", "contended, 4 threads", "%"),
            Metric("sleeps_per_kacq_t4", "futex sleeps, 4 threads", "/1k acq"),
            Metric("wake_us_t4", "mean wake latency, 4 threads", "µs"),
        ],
        [
            System("pyruntime", "RuntimeLock defaults: 0 spin, 1 yield, futex sleep", PYR),
            System("pyruntime-go", "RuntimeLock Go's 4×30 spin + 1 yield + futex sleep", PYR),
            System("pyruntime-yield", "RuntimeLock spin + yield, no sleep", PYR),
            System("pyruntime-spin", "RuntimeLock pure spin", PYR),
            System("threading", "threading.Lock (reference)"),
        ],
        {"threads": "2,3,4", "duration": 1.0},
        {"threads": "2,3,4", "duration": 0.3},
        note="not a goroutine benchmark: OS threads outside run(); the full teacher's table is "
        "`python benchmarks/b_lock.py table`",
    ),
]

WL = {w.key: w for w in WORKLOADS}


# ---------------------------------------------------------------------------- bars (SPEC §4.1)


def _bars():
    """(description, workload, metric, check) where check(med) -> (met|None, detail).

    ``med(system_key)`` returns the median or None (skipped/failed);
    ``wins(a, b, factor)`` counts rounds where a*factor < b."""

    def lower_than(wk, metric, peers, what):
        def check(med, wins):
            p = med("pyruntime")
            if p is None:
                return None, "pyruntime has no result"
            parts, results = [], []
            for peer in peers:
                q = med(peer)
                if q is None:
                    parts.append(f"{peer}: no result")
                    results.append(None)
                    continue
                results.append(p < q)
                w, n = wins("pyruntime", peer, 1.0)
                parts.append(
                    f"pyruntime {fmt(p)} vs {peer} {fmt(q)} {_unit(wk, metric)} "
                    f"({_times(q, p)}; pyruntime lower in {w}/{n} rounds)"
                )
            ok = False if False in results else (None if None in results else True)
            return ok, "; ".join(parts)

        return (what, wk, metric, check)

    def within(wk, metric, floor, factor, what):
        def check(med, wins):
            p, q = med("pyruntime"), med(floor)
            if p is None:
                return None, "pyruntime has no result"
            if q is None:
                return None, f"{floor}: no result"
            w, n = wins("pyruntime", floor, 1.0 / factor)
            return p <= factor * q, (
                f"pyruntime {fmt(p)} = {p / q:.2f}× {floor} {fmt(q)} {_unit(wk, metric)} "
                f"(bar ≤ {factor:g}×; within it in {w}/{n} rounds)"
            )

        return (what, wk, metric, check)

    def better_by(wk, metric, peer, factor, what):
        def check(med, wins):
            p, q = med("pyruntime"), med(peer)
            if p is None:
                return None, "pyruntime has no result"
            if q is None:
                return None, f"{peer}: no result"
            w, n = wins("pyruntime", peer, factor)
            return p * factor <= q, (
                f"pyruntime {fmt(p)} vs {peer} {fmt(q)} {_unit(wk, metric)} "
                f"({_times(q, p)}; bar {factor:g}×; met in {w}/{n} rounds)"
            )

        return (what, wk, metric, check)

    def higher_than(wk, metric, peers, what, at_least=False):
        def check(med, wins):
            p = med("pyruntime")
            if p is None:
                return None, "pyruntime has no result"
            parts, results = [], []
            for peer in peers:
                q = med(peer)
                if q is None:
                    parts.append(f"{peer}: no result")
                    results.append(None)
                    continue
                results.append(p >= q if at_least else p > q)
                w, n = wins(peer, "pyruntime", 1.0)  # rounds where the peer was below pyruntime
                parts.append(
                    f"pyruntime {fmt(p)} vs {peer} {fmt(q)} {_unit(wk, metric)} "
                    f"({p / q:.2f}×; pyruntime higher in {w}/{n} rounds)"
                )
            ok = False if False in results else (None if None in results else True)
            return ok, "; ".join(parts)

        return (what, wk, metric, check)

    def at_most(wk, metric, limit, what, strict=False):
        """An absolute bar on pyruntime's median (no peer): ≤ limit (< limit if strict)."""

        def check(med, wins):
            p = med("pyruntime")
            if p is None:
                return None, "pyruntime has no result"
            u = _unit(wk, metric)
            return (p < limit if strict else p <= limit), (
                f"pyruntime median {fmt(p)} {u} (bar {'<' if strict else '≤'} {limit:g} {u})"
            )

        return (what, wk, metric, check)

    return [
        lower_than("spawn", "ns_per_task", ["uvloop"], "spawn+join faster than uvloop"),
        lower_than(
            "pingpong",
            "ns_per_rt",
            ["uvloop", "gevent-channel", "gevent-queue"],
            "ping-pong faster than uvloop and gevent",
        ),
        within("pingpong", "ns_per_rt", "greenlet", 3.0, "ping-pong within 3× of the raw greenlet round trip"),
        lower_than("buffered", "ns_per_item", ["gevent"], "buffered cap-128 faster than gevent Queue"),
        lower_than("sleep", "over_p99_us", ["gevent"], "10k × 1 ms sleep: p99 oversleep better than gevent"),
        better_by("wakeup", "p50_us", "uvloop", 10.0, "wake-up p50 10× better than uvloop"),
        higher_than(
            "echo", "req_s", ["gevent", "asyncio-streams", "asyncio-protocol"], "echo: more req/s than gevent and asyncio"
        ),
        higher_than("echo", "req_s", ["uvloop-streams"], "echo: at least uvloop streams' req/s", at_least=True),
        lower_than("echo", "cpu_us_per_req", ["gevent"], "echo: server CPU per request below gevent's"),
        at_most("preempt", "slice_p50_ms", 12.0, "preemption: slice a preempted G ran, p50 ≤ 12 ms (issue 3)"),
        at_most(
            "preempt_overhead", "loop_overhead_pct", 5.0, "preemption armed but idle: tight loop under 5% slower", True
        ),
        at_most(
            "preempt_overhead",
            "fib_overhead_pct",
            5.0,
            "preemption armed but idle: call-heavy fib under 5% slower",
            True,
        ),
    ]


# ---------------------------------------------------------------------------- formatting


def fmt(x):
    if x is None:
        return "–"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _unit(wk, metric):
    for m in WL[wk].metrics:
        if m.key == metric:
            return m.unit
    return ""


def _times(peer, pyr):
    """'3.2× lower' style text for pyruntime relative to a peer (lower is better)."""
    if pyr is None or peer is None or pyr <= 0 or peer <= 0:
        return "ratio n/a"
    r = peer / pyr
    return f"pyruntime {r:.2f}× lower" if r >= 1 else f"pyruntime {1 / r:.2f}× higher"


# ---------------------------------------------------------------------------- running


def _available(mod):
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def _version(mod):
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return None


def job_cmd(wl, sysm, quick):
    args = dict(wl.quick_args if quick else wl.args)
    args.update(sysm.quick_args if quick else sysm.args)
    cmd = [sys.executable, wl.script, sysm.key]
    for k, v in args.items():
        cmd += [f"--{k}", str(v)]
    return cmd


def run_job(wl, sysm, quick, timeout, extra_env):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYRUNTIME_GOMAXPROCS"] = "1"
    env.update(wl.env)
    env.update(extra_env)
    cmd = job_cmd(wl, sysm, quick)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, f"timeout after {timeout:g} s", err, time.monotonic() - t0
    elapsed = time.monotonic() - t0
    line = None
    for ln in reversed(p.stdout.splitlines()):
        if ln.startswith("{"):
            line = ln
            break
    if p.returncode != 0 or line is None:
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "(no stderr)"
        why = f"exit status {p.returncode}" if p.returncode != 0 else "no JSON result line"
        return None, f"{why}: {last[:200]}", p.stderr, elapsed
    try:
        res = json.loads(line)
    except json.JSONDecodeError as e:
        return None, f"bad JSON result line: {e}", p.stderr, elapsed
    return res, None, p.stderr, elapsed


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="pyruntime against its peers: interleaved rounds of fresh processes, medians and ratios.",
    )
    ap.add_argument("--rounds", type=int, default=None, help="rounds (default 5; 3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="small sizes and 3 rounds: a CI smoke run (a few minutes on 2 cores)")
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="run only these workloads and/or systems (repeatable, comma-separated); "
        "a system name also matches its variants (gevent -> gevent-channel, gevent-queue)",
    )
    ap.add_argument("--timeout", type=float, default=None, help="per-process timeout, s (default 180; 30 with --quick)")
    ap.add_argument("--no-gc", action="store_true", help="disable the cyclic GC in every measured pass")
    ap.add_argument("--json", metavar="PATH", help="also write every raw sample to PATH")
    ap.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random)")
    ap.add_argument("--list", action="store_true", help="list workloads and systems and exit")
    a = ap.parse_args(argv)

    if a.list:
        for w in WORKLOADS:
            print(f"{w.key:9} {w.title}")
            for s in w.systems:
                print(f"    {s.key:15} {s.label}")
        return 0

    rounds = a.rounds if a.rounds is not None else (3 if a.quick else 5)
    timeout = a.timeout if a.timeout is not None else (30.0 if a.quick else 180.0)
    extra_env = {"BENCH_NO_GC": "1"} if a.no_gc else {}

    tokens = [t.strip() for o in a.only for t in o.split(",") if t.strip()]
    wl_keys = {w.key for w in WORKLOADS}
    sys_keys = {s.key for w in WORKLOADS for s in w.systems}
    sys_prefixes = sys_keys | {k.split("-")[0] for k in sys_keys}
    wfilter = {t for t in tokens if t in wl_keys}
    sfilter = {t for t in tokens if t not in wl_keys}
    bad = sfilter - sys_prefixes
    if bad:
        ap.error(
            f"unknown --only name(s): {', '.join(sorted(bad))}; workloads: {', '.join(sorted(wl_keys))}; "
            f"systems: {', '.join(sorted(sys_prefixes))}"
        )

    def sys_selected(key):
        return not sfilter or key in sfilter or key.split("-")[0] in sfilter

    jobs, skipped = [], {}
    for w in WORKLOADS:
        if wfilter and w.key not in wfilter:
            continue
        for s in w.systems:
            if not sys_selected(s.key):
                continue
            missing = [m for m in s.needs if not _available(m)]
            if missing:
                skipped[(w.key, s.key)] = f"skipped: {', '.join(missing)} not installed"
            else:
                jobs.append((w, s))
    if not jobs and not skipped:
        ap.error("nothing selected")

    rng = random.Random(a.seed)
    samples = {}  # (wk, sk) -> list of result dicts (in round order, with "round")
    failed = {}  # (wk, sk) -> (round, reason, stderr)
    t_start = time.monotonic()
    load0 = _loadavg()
    log = sys.stderr
    print(
        f"# {len(jobs)} jobs x {rounds} rounds{' (quick)' if a.quick else ''}; "
        f"{len(skipped)} skipped; timeout {timeout:g} s per process",
        file=log,
    )
    for r in range(1, rounds + 1):
        order = [j for j in jobs if (j[0].key, j[1].key) not in failed]
        rng.shuffle(order)
        for w, s in order:
            res, err, stderr, el = run_job(w, s, a.quick, timeout, extra_env)
            key = (w.key, s.key)
            if res is None:
                failed[key] = (r, err, stderr)
                print(f"[round {r}/{rounds}] {w.key}/{s.key}: FAILED ({err}) [{el:.1f} s]", file=log)
                continue
            res["round"] = r
            samples.setdefault(key, []).append(res)
            m0 = w.metrics[0]
            print(
                f"[round {r}/{rounds}] {w.key}/{s.key}: {m0.label} {fmt(res['metrics'].get(m0.key))} {m0.unit} "
                f"[{el:.1f} s]",
                file=log,
            )
            log.flush()
    total = time.monotonic() - t_start

    report = render(samples, failed, skipped, rounds, a, total, load0, _loadavg())
    sys.stdout.write(report)
    sys.stdout.flush()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(
                {
                    "rounds": rounds,
                    "quick": a.quick,
                    "samples": {f"{k[0]}/{k[1]}": v for k, v in samples.items()},
                    "failed": {f"{k[0]}/{k[1]}": {"round": v[0], "error": v[1], "stderr": v[2]} for k, v in failed.items()},
                    "skipped": {f"{k[0]}/{k[1]}": v for k, v in skipped.items()},
                },
                f,
                indent=1,
            )
    return 0


def _loadavg():
    try:
        return os.getloadavg()
    except OSError:
        return None


def render(samples, failed, skipped, rounds, a, total, load0, load1):
    out = []
    vers = ", ".join(
        f"{m} {v}" for m in ("greenlet", "gevent", "uvloop") if (v := _version(m)) is not None
    )
    out.append(f"## pyruntime benchmarks{' (--quick)' if a.quick else ''}\n")
    out.append(
        f"Python {platform.python_version()} ({platform.machine()}, {os.cpu_count()} CPUs); {vers}. "
        f"{rounds} interleaved round(s), every job a fresh process; pyruntime with GOMAXPROCS=1. "
        f"Wall time {total:.0f} s; load average {_fmt_load(load0)} at start, {_fmt_load(load1)} at end.\n"
    )
    out.append(
        "median (min–max) over rounds; **× pyruntime** = system median ÷ pyruntime median (pyruntime ÷ "
        "system for higher-is-better metrics such as req/s), so above 1× means pyruntime does better.\n"
    )
    out.append("| workload | metric | system | median (min–max) | × pyruntime | n |")
    out.append("|---|---|---|---|---|---|")

    def vals(wk, sk, mk):
        return [s["metrics"][mk] for s in samples.get((wk, sk), []) if mk in s["metrics"]]

    def med(wk, sk, mk):
        v = vals(wk, sk, mk)
        return statistics.median(v) if v else None

    notes = []
    for w in WORKLOADS:
        keys = [s.key for s in w.systems]
        present = [k for k in keys if (w.key, k) in samples or (w.key, k) in failed or (w.key, k) in skipped]
        if not present:
            continue
        if w.note:
            notes.append(f"- {w.key}: {w.note}.")
        params = _params_text(w, a.quick)
        for m in w.metrics:
            p = med(w.key, "pyruntime", m.key)
            rows = []
            for s in w.systems:
                k = (w.key, s.key)
                if k not in samples and k not in failed and k not in skipped:
                    continue
                v = vals(w.key, s.key, m.key)
                if v:
                    cell = f"{fmt(statistics.median(v))} ({fmt(min(v))}–{fmt(max(v))}) {m.unit}"
                    md = statistics.median(v)
                    if p is not None and p > 0 and md > 0:
                        ratio = f"{(p / md) if m.higher else (md / p):.2f}×"
                    else:
                        ratio = "–"
                    n = str(len(v))
                    if k in failed:
                        n += f" (then failed in round {failed[k][0]})"
                    sortkey = (0 if s.key == "pyruntime" else 1, -md if m.higher else md)
                elif k in failed:
                    cell, ratio, n = f"FAILED (round {failed[k][0]}): {_md(failed[k][1])}", "–", "0"
                    sortkey = (0 if s.key == "pyruntime" else 2, 0)
                else:
                    cell, ratio, n = skipped.get(k, "no result"), "–", "0"
                    sortkey = (3, 0)
                own = s.quick_args if a.quick else s.args
                label = s.label + "".join(f", {k}={_num(v)}" for k, v in own.items())
                rows.append((sortkey, f"| {m.label} ({m.unit}) | {label} | {cell} | {ratio} | {n} |"))
            rows.sort(key=lambda x: x[0])
            for i, (_, r) in enumerate(rows):
                head = f"{w.title}{params}" if i == 0 else ""
                out.append(f"| {head} " + r)

    out.append("")
    out.append("### SPEC §4.1 bars\n")

    def wins_for(wk, mk):
        def wins(x, y, factor):
            bx = {s["round"]: s["metrics"].get(mk) for s in samples.get((wk, x), [])}
            by = {s["round"]: s["metrics"].get(mk) for s in samples.get((wk, y), [])}
            common = [r for r in bx if r in by and bx[r] is not None and by[r] is not None]
            return sum(1 for r in common if bx[r] * factor < by[r]), len(common)

        return wins

    for what, wk, mk, check in _bars():
        if wfilter_excluded(a, wk):
            continue
        met, detail = check(lambda sk, wk=wk, mk=mk: med(wk, sk, mk), wins_for(wk, mk))
        if met is None:
            state = "NOT EVALUATED"
            if (wk, "pyruntime") in failed:
                state = "NOT MET (pyruntime failed)"
        else:
            state = "MET" if met else "NOT MET"
        out.append(f"- **{state}** — {what}: {detail}")

    if a.quick:
        notes.append(
            "- --quick: sizes are smaller than SPEC's (e.g. 10k spawns, where asyncio/uvloop are cheaper per "
            "task than at 100k), so the bar lines above are a smoke signal, not the verdict."
        )
    if notes or a.no_gc:
        out.append("\nNotes:\n")
        out.extend(notes)
        if a.no_gc:
            out.append("- --no-gc: cyclic GC off during every measured pass.")

    if failed:
        out.append("\n### Failures\n")
        for (wk, sk), (r, err, stderr) in sorted(failed.items()):
            out.append(f"- `{wk}/{sk}` (round {r}): {_md(err)}")
            tail = [ln for ln in (stderr or "").splitlines() if ln.strip()][-8:]
            if tail:
                out.append("\n```\n" + "\n".join(tail) + "\n```")
            cmd = " ".join(job_cmd(WL[wk], next(s for s in WL[wk].systems if s.key == sk), a.quick)[1:])
            out.append(f"  repro: `python {os.path.relpath(cmd.split()[0], ROOT)} {' '.join(cmd.split()[1:])}`")
    out.append("")
    return "\n".join(out)


def wfilter_excluded(a, wk):
    tokens = [t.strip() for o in a.only for t in o.split(",") if t.strip()]
    wl = {t for t in tokens if t in WL}
    return bool(wl) and wk not in wl


def _params_text(w, quick):
    p = w.quick_args if quick else w.args
    return " (" + ", ".join(f"{k}={_num(v)}" for k, v in p.items() if k != "warm") + ")"


def _num(v):
    return f"{v:,}" if isinstance(v, int) else str(v)


def _md(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def _fmt_load(la):
    return "n/a" if la is None else "/".join(f"{x:.2f}" for x in la)


if __name__ == "__main__":
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    sys.exit(main())
