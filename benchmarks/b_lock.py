"""Lock lab (issue 3, item 8): the runtime lock contended from 2, 3 and 4 OS threads,
three strategies against ``threading.Lock``: the numbers a teacher would show, with the
GIL in the picture.

Each thread loops until told to stop (``--duration`` s per thread count)::

    lock(); v = counter[0]; <cs iterations>; counter[0] = v + 1; unlock(); <outside iterations>

(the read-modify-write across the critical section loses updates unless the lock
excludes; ``counter`` must equal the number of acquisitions at the end). With
``--cs-yield`` the critical section also calls ``os.sched_yield()``, which releases the
GIL: the holder keeps the lock while another thread runs (a lock held across I/O or a
long C call), so nearly every acquisition is contended.

Strategies (one per impl; ``pyruntime._core.futex.RuntimeLock``, Go's ≤1.23
``lock_futex.go``: exchange, then ``active_spin`` rounds of a ``procyield(active_spin_cnt)``
busy loop, then ``passive_spin`` ``sched_yield()`` calls, then a futex sleep):

  threading        ``threading.Lock`` (C, futex-backed semaphore), the reference; a
                   non-blocking ``acquire(False)`` first, to count contention
  pyruntime-spin   pure spin: ``RuntimeLock(active_spin=10**9, passive_spin=0)`` (never
                   yields, never sleeps)
  pyruntime-yield  spin + yield: ``RuntimeLock(active_spin=4, passive_spin=10**9)``
                   (Go's 4 × procyield(30), then ``sched_yield`` forever: never sleeps)
  pyruntime        spin + yield + futex sleep, the runtime's defaults under the GIL:
                   ``active_spin=0``, ``passive_spin=1``
  pyruntime-go     spin + yield + futex sleep, Go's constants: 4 × procyield(30) + 1 yield

Reported per thread count T: ns per acquisition (wall ÷ all acquisitions), CPU used
(process CPU time ÷ wall, in cores: 1.0 = one CPU busy), contended % (acquisitions
that found the lock held), futex sleeps per 1,000 acquisitions, mean wake latency
(``unlock``'s futex wake → the sleeper running again, from ``RuntimeLock.statistics()``),
spins per acquisition, and fairness (fewest ÷ most acquisitions of one thread).

    python benchmarks/b_lock.py pyruntime [--threads 2,3,4] [--duration 1.0]
    python benchmarks/b_lock.py table [--rounds 3]     # every strategy, fresh processes, interleaved
"""

from __future__ import annotations

import os
import sys
import threading
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import check, main

BIG = 10**9

STRATEGIES = {
    # key: (label, RuntimeLock kwargs or None for threading.Lock)
    "threading": ("threading.Lock (reference)", None),
    "pyruntime-spin": ("pure spin", {"active_spin": BIG, "passive_spin": 0}),
    "pyruntime-yield": ("spin + yield, no sleep (4×30, then sched_yield)", {"active_spin": 4, "passive_spin": BIG}),
    "pyruntime": ("spin + yield + futex sleep: runtime defaults (0 spin, 1 yield)", {}),
    "pyruntime-go": ("spin + yield + futex sleep: Go's 4×30 + 1 yield", {"active_spin": 4, "passive_spin": 1}),
}


def one(kwargs, nthreads, duration, cs, outside, cs_yield=False):
    from pyruntime._core.futex import RuntimeLock

    gil_off = os.sched_yield if cs_yield else (lambda: None)

    counter = [0]
    stop = [False]
    counts = [0] * nthreads
    contended = [0] * nthreads
    start = threading.Barrier(nthreads + 1)

    if kwargs is None:
        lk = threading.Lock()

        def worker(i):
            acq, rel = lk.acquire, lk.release
            n = c = 0
            start.wait()
            while not stop[0]:
                if not acq(False):
                    c += 1
                    acq()
                v = counter[0]
                for _ in range(cs):
                    pass
                gil_off()
                counter[0] = v + 1
                rel()
                n += 1
                for _ in range(outside):
                    pass
            counts[i], contended[i] = n, c

    else:
        lk = RuntimeLock(**kwargs)

        def worker(i):
            acq, rel = lk.lock, lk.unlock
            n = 0
            start.wait()
            while not stop[0]:
                acq()
                v = counter[0]
                for _ in range(cs):
                    pass
                gil_off()
                counter[0] = v + 1
                rel()
                n += 1
                for _ in range(outside):
                    pass
            counts[i] = n

    ts = [threading.Thread(target=worker, args=(i,), name=f"lock-lab-{i}") for i in range(nthreads)]
    for t in ts:
        t.start()
    start.wait()
    w0, c0 = time.perf_counter_ns(), time.process_time_ns()
    time.sleep(duration)
    stop[0] = True
    for t in ts:
        t.join()
    w1, c1 = time.perf_counter_ns(), time.process_time_ns()
    total = sum(counts)
    check(counter[0], total, "counter after the run (a lost update means the lock did not exclude)")
    wall = w1 - w0
    out = {
        "ns_per_acq": wall / total,
        "cpu_cores": (c1 - c0) / wall,
        "fairness": min(counts) / max(counts) if max(counts) else 0.0,
        "acquisitions": total,
    }
    if kwargs is None:
        out["contended_pct"] = 100.0 * sum(contended) / total
    else:
        st = lk.statistics()
        out.update(
            contended_pct=100.0 * st.contended / max(1, st.acquisitions),
            sleeps_per_kacq=1000.0 * st.sleeps / max(1, st.acquisitions),
            spins_per_acq=st.active_spins / max(1, st.acquisitions),
            yields_per_acq=st.passive_spins / max(1, st.acquisitions),
            stats_acquisitions=st.acquisitions,
        )
        if st.wakes:  # no futex wake happened: no latency to report (not a zero)
            out["wake_us"] = st.mean_wake_latency_ns / 1e3
    return out


def bench(key):
    def run(args):
        if args.switchinterval_ms:
            sys.setswitchinterval(args.switchinterval_ms / 1e3)
        kwargs = STRATEGIES[key][1]
        threads = [int(x) for x in args.threads.split(",")]
        one(kwargs, 2, min(0.1, args.duration / 10), args.cs, args.outside, args.cs_yield)  # warm-up
        metrics = {}
        for t in threads:
            r = one(kwargs, t, args.duration, args.cs, args.outside, args.cs_yield)
            for k, v in r.items():
                metrics[f"{k}_t{t}"] = v
        params = {
            "threads": args.threads,
            "duration": args.duration,
            "cs": args.cs,
            "outside": args.outside,
            "cs_yield": int(args.cs_yield),
            "switchinterval_ms": sys.getswitchinterval() * 1e3,
        }
        return params, metrics

    return run


IMPLS = {k: bench(k) for k in STRATEGIES}


def _args(ap):
    ap.add_argument("--threads", default="2,3,4", help="thread counts, comma-separated")
    ap.add_argument("--duration", type=float, default=1.0, help="seconds per thread count")
    ap.add_argument("--cs", type=int, default=10, help="loop iterations inside the critical section")
    ap.add_argument("--outside", type=int, default=10, help="loop iterations between acquisitions")
    ap.add_argument(
        "--cs-yield",
        action="store_true",
        help="call os.sched_yield() inside the critical section: the holder gives up the GIL "
        "while holding the lock (a lock held across I/O or a long C call)",
    )
    ap.add_argument(
        "--switchinterval-ms",
        type=float,
        default=0.0,
        help="sys.setswitchinterval (0: keep the interpreter's, 5 ms by default)",
    )


# ---------------------------------------------------------------------------- table mode


def table(argv):
    import argparse
    import json
    import random
    import statistics
    import subprocess

    ap = argparse.ArgumentParser(
        prog="benchmarks/b_lock.py table", description="every strategy in fresh processes, interleaved rounds, medians"
    )
    ap.add_argument("--rounds", type=int, default=3)
    _args(ap)
    a = ap.parse_args(argv)
    here = os.path.abspath(__file__)
    root = os.path.dirname(os.path.dirname(here))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    extra = [
        "--threads",
        a.threads,
        "--duration",
        str(a.duration),
        "--cs",
        str(a.cs),
        "--outside",
        str(a.outside),
        "--switchinterval-ms",
        str(a.switchinterval_ms),
    ] + (["--cs-yield"] if a.cs_yield else [])
    res = {k: [] for k in STRATEGIES}
    params = None
    for r in range(a.rounds):
        order = list(STRATEGIES)
        random.shuffle(order)
        for k in order:
            p = subprocess.run(
                [sys.executable, here, k, *extra], check=False, capture_output=True, text=True, env=env, cwd=root
            )
            line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
            if p.returncode != 0 or line is None:
                print(f"{k}: FAILED\n{p.stderr[-2000:]}", file=sys.stderr)
                return 1
            d = json.loads(line)
            params = d["params"]
            res[k].append(d["metrics"])
            print(f"[round {r + 1}/{a.rounds}] {k} done", file=sys.stderr)

    def med(k, name):
        v = [m[name] for m in res[k] if name in m]
        return statistics.median(v) if v else None

    def f(x, spec):
        return "–" if x is None else format(x, spec)

    print(
        f"Lock lab — Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, switch interval "
        f"{params['switchinterval_ms']:g} ms, critical section {a.cs} loop iterations"
        f"{' + os.sched_yield() (the holder releases the GIL)' if a.cs_yield else ''}, {a.outside} outside, "
        f"{a.duration:g} s per cell, median of {a.rounds} interleaved rounds (fresh process each)\n"
    )
    print(
        "| threads | strategy | ns/acquisition | CPU (cores) | contended % | futex sleeps /1k acq | "
        "mean wake latency | spins /acq | yields /acq | fairness (min/max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in [int(x) for x in a.threads.split(",")]:
        for k, (label, _) in STRATEGIES.items():
            w = med(k, f"wake_us_t{t}")
            print(
                f"| {t} | {label} | {f(med(k, f'ns_per_acq_t{t}'), ',.0f')} | {f(med(k, f'cpu_cores_t{t}'), '.2f')} | "
                f"{f(med(k, f'contended_pct_t{t}'), '.1f')} | {f(med(k, f'sleeps_per_kacq_t{t}'), '.1f')} | "
                f"{'–' if w is None else f'{w:,.0f} µs'} | {f(med(k, f'spins_per_acq_t{t}'), '.2f')} | "
                f"{f(med(k, f'yields_per_acq_t{t}'), '.2f')} | {f(med(k, f'fairness_t{t}'), '.2f')} |"
            )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "table":
        sys.exit(table(sys.argv[2:]))
    main("lock", IMPLS, _args, __doc__)
