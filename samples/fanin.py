"""Fan-in with select and timeouts: several producers with different rates, one
consumer multiplexing them with select, a per-message timeout and an overall
deadline from a context.

    pyruntime run samples/fanin.py
"""

import random

import pyruntime as rt
from pyruntime import chan, context, go, select
from pyruntime import time as rtime


def producer(name: str, period: float, out: chan, ctx: context.Context) -> None:
    n = 0
    while True:
        n += 1
        i, _ = select(ctx.done().recv, (out.send, f"{name}#{n}"))
        if i == 0:
            return
        rtime.sleep(period * random.uniform(0.5, 1.5))


def main() -> None:
    ctx, cancel = context.with_timeout(context.background(), 0.5)
    fast, slow, silent = chan(), chan(), chan()
    go(producer, "fast", 0.01, fast, ctx)
    go(producer, "slow", 0.08, slow, ctx)
    counts = {"fast": 0, "slow": 0, "timeout": 0}
    while True:
        i, v = select(fast.recv, slow.recv, silent.recv, rtime.after(0.05).recv, ctx.done().recv)
        if i == 0:
            counts["fast"] += 1
        elif i == 1:
            counts["slow"] += 1
        elif i == 3:
            counts["timeout"] += 1
        elif i == 4:
            break
    cancel()
    print(f"context ended: {ctx.err()}; received {counts}")


if __name__ == "__main__":
    rt.run(main)
