"""Shared helpers for the per-workload benchmark scripts.

Every ``b_*.py`` script runs ONE implementation (chosen by its first argument) in the
current process: a warm-up pass, then one measured pass, and prints exactly one JSON line
on stdout::

    {"bench": "spawn", "impl": "gevent", "params": {...}, "metrics": {"ns_per_task": 26763.0}}

The orchestrator (``benchmarks/run.py``) runs these scripts as fresh subprocesses.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # so `import pyruntime` works when a script is run by path
    sys.path.insert(0, ROOT)

now_ns = time.perf_counter_ns


def settle():
    """Call between the warm-up and the measured pass: collect garbage so every
    implementation starts its measured pass from the same state. With the environment
    variable BENCH_NO_GC=1 the cyclic collector is also switched off for the measured pass
    (the default keeps it on: users run with it on, and it matters for tail latencies)."""
    gc.collect()
    if os.environ.get("BENCH_NO_GC", "") not in ("", "0"):
        gc.disable()


def check(got, want, what="last value received"):
    """Cheap correctness check after a measured pass (outside the timed loop)."""
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def percentile(values, p):
    """Linear-interpolated percentile (p in 0..100) of a non-empty sequence."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return float(xs[0])
    k = (len(xs) - 1) * (p / 100.0)
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def emit(bench, impl, params, metrics):
    """Print the single result line (and flush: the orchestrator reads the last JSON line)."""
    line = {
        "bench": bench,
        "impl": impl,
        "params": params,
        "metrics": {k: float(v) for k, v in metrics.items()},
        "python": platform.python_version(),
        "pid": os.getpid(),
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def run_asyncio(coro_fn, impl, *args):
    """Run ``coro_fn(*args)`` on a fresh loop: the default loop for impl 'asyncio',
    uvloop for impl 'uvloop'."""
    import asyncio

    if impl == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    else:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro_fn(*args))


def pyruntime_run(main, *args):
    """Run ``main(*args)`` as the main goroutine of a fresh pyruntime with GOMAXPROCS=1
    (``BENCH_GOMAXPROCS=N`` in the environment: N, for measuring a scheduler change
    with several Ps; the orchestrator's tables always use 1)."""
    import pyruntime as rt

    return rt.run(main, *args, gomaxprocs=int(os.environ.get("BENCH_GOMAXPROCS", "") or 1))


def main(bench, impls, add_args=None, description=None):
    """Parse ``IMPL [--options]`` and dispatch to ``impls[IMPL](args) -> (params, metrics)``."""
    ap = argparse.ArgumentParser(prog=f"benchmarks/b_{bench}.py", description=description)
    ap.add_argument("impl", choices=sorted(impls))
    if add_args is not None:
        add_args(ap)
    args = ap.parse_args()
    params, metrics = impls[args.impl](args)
    emit(bench, args.impl, params, metrics)
