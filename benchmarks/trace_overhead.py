"""What tracing costs: ping-pong with pyruntime.trace off, as a flight recorder and
streaming, interleaved in fresh processes; medians and the overhead against "off".

    python benchmarks/trace_overhead.py [--rounds 7] [--n 100000] [--ring 100000]
    python benchmarks/trace_overhead.py --inproc [--rounds 15] [--n 20000]

``--inproc`` alternates short off / ring / stream blocks inside one process and compares
each traced block with the untraced blocks around it: on a shared, noisy machine that
cancels most of the load drift that fresh processes see.

The bar (issue 5): tracing on costs under 25% on the ping-pong round trip.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _one(extra: list[str], n: int) -> float:
    cmd = [sys.executable, os.path.join(HERE, "b_pingpong.py"), *extra, "--n", str(n)]
    env = {**os.environ, "PYRUNTIME_GOMAXPROCS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["metrics"]["ns_per_rt"]


def _inproc(rounds: int, n: int, ring: int) -> int:
    import tempfile

    sys.path.insert(0, os.path.dirname(HERE))
    import pyruntime as rt
    from pyruntime import chan, go

    def block(k: int) -> float:
        ping, pong = chan(), chan()

        def echo():
            for v in ping:
                pong.send(v)

        go(echo)
        t0 = time.perf_counter_ns()
        for i in range(k):
            ping.send(i)
            pong.recv()
        dt = time.perf_counter_ns() - t0
        ping.close()
        return dt / k

    def main():
        d = tempfile.mkdtemp(prefix="pyruntime-trace-overhead-")
        res: dict[str, list[float]] = {"ring": [], "stream": []}
        block(n)  # warm up
        for _ in range(rounds):
            for mode in ("ring", "stream"):
                gc.collect()
                before = block(n)
                gc.collect()
                rt.trace.start(os.path.join(d, "t.json"), max_events=ring if mode == "ring" else None)
                traced = block(n)
                rt.trace.stop()
                gc.collect()
                after = block(n)
                res[mode].append(traced / ((before + after) / 2))
        print(f"ping-pong round trip, GOMAXPROCS=1, in one process: {rounds} x {n} round trips per block;"
              " traced block / mean of the untraced blocks around it (median, min-max):")
        for k, v in res.items():
            print(f"  {k:<8} overhead {100 * (statistics.median(v) - 1):+.1f}%  "
                  f"({100 * (min(v) - 1):+.1f}% .. {100 * (max(v) - 1):+.1f}%)")
        return 0

    return rt.run(main, gomaxprocs=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=100_000, help="round trips per measured pass")
    ap.add_argument("--ring", type=int, default=100_000, help="flight-recorder size (events)")
    ap.add_argument("--inproc", action="store_true", help="alternate blocks inside one process")
    a = ap.parse_args(argv)
    if a.inproc:
        return _inproc(a.rounds, a.n, a.ring)
    configs = {
        "off": ["pyruntime"],
        f"ring({a.ring})": ["pyruntime-traced", "--trace-max-events", str(a.ring)],
        "stream": ["pyruntime-traced", "--trace-max-events", "0"],
    }
    res: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(a.rounds):
        order = list(configs)
        random.shuffle(order)
        for k in order:
            res[k].append(_one(configs[k], a.n))
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{k} {res[k][-1]:.0f}" for k in configs), file=sys.stderr)
    base = statistics.median(res["off"])
    print(f"ping-pong round trip, GOMAXPROCS=1, n={a.n}, {a.rounds} interleaved rounds (median, min-max):")
    for k, v in res.items():
        med = statistics.median(v)
        line = f"  {k:<14} {med:8.0f} ns  ({min(v):.0f}-{max(v):.0f})"
        if k != "off":
            line += f"  overhead {100 * (med / base - 1):+.1f}%"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
