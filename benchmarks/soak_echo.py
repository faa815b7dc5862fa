"""Soak test for the netpoller: many concurrent connections, many requests, no errors,
and a server whose resident memory stays flat once warmed up.  Not part of the test
suite (it takes about a minute and 20k file descriptors).

    python benchmarks/soak_echo.py                       # 10,000 conns, 1,000,000 requests
    python benchmarks/soak_echo.py --conns 2000 --requests 200000

Three processes: this one (orchestrates and samples the server with psutil), the
**server** (``b_echo.py --serve pyruntime``: pyruntime.net, a goroutine per conn,
GOMAXPROCS=1) and the **client** (this script with ``--client``: pyruntime too, one
goroutine per connection, each sending 64-byte messages that carry a sequence number and
checking every echo byte for byte).  Both raise their soft fd limit to the hard limit;
``--conns`` must fit under it (the orchestrator checks).

Reports (and exits non-zero unless all hold): every connection established, exactly
``--requests`` echoes verified, 0 errors, and the server's RSS growth from the end of
warm-up (``--warm-frac`` of the requests) to the end below ``--max-growth-mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def raise_nofile(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------- client process


def client_main(port: int, conns: int, requests: int, size: int) -> None:
    raise_nofile(conns + 100)
    import pyruntime as rt
    from pyruntime import chan, go, net
    from pyruntime import time as gotime

    state = {"done": 0, "issued": 0, "errors": 0, "connected": 0, "first_error": ""}

    def report(tag: str) -> None:
        sys.stdout.write(json.dumps({tag: True, **state}) + "\n")
        sys.stdout.flush()

    def worker(k: int, finished: chan, dial_sem: chan) -> None:
        c = None
        try:
            dial_sem.send(None)  # bounded concurrent dials: the listen backlog is finite
            try:
                c = net.dial("tcp", f"127.0.0.1:{port}", timeout=60)
            finally:
                dial_sem.recv()
            state["connected"] += 1
            seq = 0
            while state["issued"] < requests:
                state["issued"] += 1  # one M (GOMAXPROCS=1): no lock needed
                head = b"%010d:%012d:" % (k, seq)
                msg = head + b"." * (size - len(head))
                c.write(msg)
                got = b""
                while len(got) < size:
                    d = c.read(size - len(got))
                    if not d:
                        raise ConnectionError("server closed the connection")
                    got += d
                if got != msg:
                    raise AssertionError(f"conn {k} seq {seq}: echo mismatch")
                seq += 1
                state["done"] += 1
        except Exception as e:  # counted, reported, never fatal
            state["errors"] += 1
            if not state["first_error"]:
                state["first_error"] = f"{type(e).__name__}: {e}"
        finally:
            if c is not None:
                c.close()
            finished.send(k)

    def main() -> None:
        finished = chan(conns)
        dial_sem = chan(256)
        for k in range(conns):
            go(worker, k, finished, dial_sem)
        last = 0.0
        left = conns
        while left:
            i, _ = rt.select(finished.recv, gotime.after(1.0).recv)
            if i == 0:
                left -= 1
            now = time.monotonic()
            if now - last >= 1.0:
                last = now
                report("progress")
        report("final")

    rt.run(main, gomaxprocs=1)


# ---------------------------------------------------------------------------- orchestrator


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--warm-frac", type=float, default=0.2, help="fraction of requests counted as warm-up")
    ap.add_argument("--max-growth-mb", type=float, default=8.0, help="allowed server RSS growth after warm-up")
    ap.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.size < 24:
        ap.error("--size must be at least 24 (the sequence header)")
    if a.client is not None:
        client_main(a.client, a.conns, a.requests, a.size)
        return 0

    import psutil

    limit = raise_nofile(a.conns + 100)
    if limit < a.conns + 100:
        print(f"soak: the fd limit is {limit}; {a.conns} connections need about {a.conns + 100} "
              f"(raise it with ulimit -n)", file=sys.stderr)
        return 2
    env = dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
                                              else ""), PYRUNTIME_GOMAXPROCS="1")
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "b_echo.py"), "--serve", "pyruntime"],
                              stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    client = None
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            print("soak: the server did not start", file=sys.stderr)
            return 1
        port = int(line.split()[1])
        sp = psutil.Process(server.pid)
        rss0 = sp.memory_info().rss
        t0 = time.monotonic()
        cpu0 = sp.cpu_times()
        client = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--client", str(port),
                                   "--conns", str(a.conns), "--requests", str(a.requests), "--size", str(a.size)],
                                  stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        samples = []  # (t, done, rss, connected)
        final = None
        warm = None
        for line in client.stdout:
            st = json.loads(line)
            rss = sp.memory_info().rss
            t = time.monotonic() - t0
            samples.append((t, st["done"], rss, st["connected"]))
            if warm is None and st["done"] >= a.warm_frac * a.requests:
                warm = (t, st["done"], rss, sp.cpu_times())
            print(f"  t={t:6.1f}s  conns={st['connected']:6d}  requests={st['done']:9,d}  errors={st['errors']}  "
                  f"server rss={rss / 2**20:7.1f} MB", file=sys.stderr)
            if st.get("final"):
                final = st
        client.wait(30)
        t_end = time.monotonic() - t0
        rss_end = sp.memory_info().rss
        cpu1 = sp.cpu_times()
    finally:
        for p in (client, server):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    if final is None:
        print("soak: the client did not finish", file=sys.stderr)
        return 1
    if warm is None:
        warm = samples[0][:3] + (cpu0,) if samples else (0.0, 0, rss0, cpu0)
    done = final["done"]
    peak = max(s[2] for s in samples) if samples else rss_end
    growth = (rss_end - warm[2]) / 2**20
    wt, wdone = warm[0], warm[1]
    rate = (done - wdone) / max(t_end - wt, 1e-9)
    cpu_us = ((cpu1.user + cpu1.system) - (warm[3].user + warm[3].system)) * 1e6 / max(done - wdone, 1)
    result = {
        "conns": a.conns, "connected": final["connected"], "requests": done, "errors": final["errors"],
        "first_error": final["first_error"], "seconds": round(t_end, 1), "req_s_after_warmup": round(rate),
        "server_cpu_us_per_req": round(cpu_us, 1), "rss_start_mb": round(rss0 / 2**20, 1),
        "rss_after_warmup_mb": round(warm[2] / 2**20, 1), "rss_end_mb": round(rss_end / 2**20, 1),
        "rss_peak_mb": round(peak / 2**20, 1), "rss_growth_after_warmup_mb": round(growth, 2),
    }
    ok = (final["connected"] == a.conns and final["errors"] == 0 and done == a.requests
          and growth <= a.max_growth_mb)
    result["ok"] = ok
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
