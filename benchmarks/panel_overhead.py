"""What the live panel costs: ping-pong round trip and schedlat p99 with no panel, and with
the panel serving one client, in alternating blocks inside one process.

    python benchmarks/panel_overhead.py [--blocks 9] [--n 20000]

The client, a process of its own as a browser is, does what the page does: one SSE stream
(``?max_rate=2000``, the page's) and ``/api/state`` polled every 300 ms (metrics on every
third poll).  (A client thread inside the measured process would take the GIL from the
running M thousands of times a second: that measures the client, not the panel.)  ``--client api`` reads
the stream unthrottled (``?max_rate=0``) instead: the worst case a script can ask for.
Alternating short blocks and comparing each panel block with the panel-off blocks around it
cancels most of the load drift of a shared machine.  GOMAXPROCS=1.

The bars (issue 9): ping-pong at most +25%, schedlat p99 at most +20%.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _client(port: int, token: str, stop: threading.Event, rate: int) -> None:
    h = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {token}"}

    def stream() -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", f"/api/events?max_rate={rate}", headers=h)
        r = c.getresponse()
        while not stop.is_set():
            if not r.fp.readline():
                break
        c.close()

    t = threading.Thread(target=stream, daemon=True)
    t.start()
    k = 0
    while not stop.wait(0.3):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/api/state" + ("" if k % 3 == 0 else "?metrics=0"), headers=h)
        json.loads(c.getresponse().read())
        c.close()
        k += 1


def _client_process(port: int, token: str, rate: int) -> int:
    """The client as its own process (as a browser is): it runs until stdin closes."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    _client(port, token, stop, rate)
    return 0


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--client-process":
        return _client_process(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=9)
    ap.add_argument("--n", type=int, default=20000, help="round trips per block")
    ap.add_argument("--client", choices=("page", "api", "none"), default="page")
    a = ap.parse_args()

    import pyruntime as rt
    from pyruntime import chan, go, metrics, panel

    def p99(before, after) -> float:
        counts = [y - x for x, y in zip(before.counts, after.counts)]
        tot = sum(counts)
        acc = 0
        for i, c in enumerate(counts):
            acc += c
            if acc >= 0.99 * tot:
                return after.buckets[min(i + 1, len(after.buckets) - 1)]
        return float("nan")

    def block(k: int) -> tuple[float, float]:
        ping, pong = chan(), chan()

        def echo():
            for v in ping:
                pong.send(v)

        go(echo)
        h0 = metrics.read()["/sched/latencies:seconds"]
        t0 = time.perf_counter_ns()
        for i in range(k):
            ping.send(i)
            pong.recv()
        dt = time.perf_counter_ns() - t0
        h1 = metrics.read()["/sched/latencies:seconds"]
        ping.close()
        return dt / k, p99(h0, h1)

    def rtmain():
        block(a.n)  # warm up
        off: list[tuple[float, float]] = []
        on: list[tuple[float, float]] = []
        for b in range(2 * a.blocks + 1):
            if b % 2 == 0:
                off.append(block(a.n))
            else:
                p = panel.start(quiet=True)
                cl = None
                if a.client != "none":
                    import subprocess

                    cl = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--client-process", str(p.port),
                                           p.token, "2000" if a.client == "page" else "0"], stdin=subprocess.PIPE)
                time.sleep(0.5)  # the client is connected and polling
                on.append(block(a.n))
                if cl is not None:
                    cl.stdin.close()
                    cl.wait(10)
                p.stop()
        return off, on

    off, on = rt.run(rtmain, gomaxprocs=1)
    rt_ratios = [on[i][0] / ((off[i][0] + off[i + 1][0]) / 2) for i in range(len(on))]
    lat_ratios = [on[i][1] / max(off[i][1], off[i + 1][1]) for i in range(len(on))]
    print(f"client: {a.client}; {a.blocks} panel blocks of {a.n} round trips, each between two panel-off blocks")
    print(f"round trip, ns:   off {statistics.median(x[0] for x in off):8.0f}   panel {statistics.median(x[0] for x in on):8.0f}"
          f"   overhead median {100 * (statistics.median(rt_ratios) - 1):+.1f}%  (bar: <= +25%)")
    print(f"schedlat p99, us: off {1e6 * statistics.median(x[1] for x in off):8.2f}   panel {1e6 * statistics.median(x[1] for x in on):8.2f}"
          f"   ratio median {statistics.median(lat_ratios):.2f}  (bar: <= 1.20)")
    print(json.dumps({"rt_overhead": statistics.median(rt_ratios) - 1, "p99_ratio": statistics.median(lat_ratios),
                      "off": off, "on": on}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
