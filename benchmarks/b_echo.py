"""B6: TCP echo on 127.0.0.1, CONNS connections, SIZE-byte messages, closed loop.

The job (this script, run by ``run.py``) starts the **server** under test as a child
process (``b_echo.py --serve IMPL``) and the **load client** as another one: the C client
``echo_client.c`` (built on first use with ``cc -O2``; ~3 µs CPU per request), or
``echo_client.py`` (uvloop Protocols) when no compiler is found.  Each connection sends a
message and waits for its echo before sending the next.  After ``--warm`` seconds the
client prints START, after ``--duration`` more END with its request count; the job
samples the server's CPU time (psutil: user + system, all threads) at those two lines.

Metrics: ``req_s`` (requests per second; higher is better), ``cpu_us_per_req`` (server
CPU µs per request), ``server_cpu_pct``.  With ``--syscalls`` the job also attaches
``perf stat`` (syscall tracepoints) to the server for the window and reports syscalls per
request (``sc_<name>`` metrics, over the whole client run including the warm-up; needs perf
and perf_event_paranoid <= 2 for own processes).

servers (IMPL):
  pyruntime          pyruntime.net: a goroutine per conn, c.read(4096) / c.write(d), GOMAXPROCS=1
  pyruntime-monkey   monkey.patch_all() + stdlib socket: goroutine per conn, recv(4096)/sendall
  gevent             gevent StreamServer, recv(4096)/sendall
  asyncio-streams    asyncio.start_server, reader.read(4096) / writer.write + drain
  asyncio-protocol   asyncio Protocol, transport.write in data_received
  uvloop-streams     as asyncio-streams on uvloop
  uvloop-protocol    as asyncio-protocol on uvloop
  threads            thread per connection, blocking recv/sendall
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import ROOT, main

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
BUF = 4096

SYSCALLS = ("epoll_wait", "epoll_pwait", "epoll_ctl", "recvfrom", "read", "sendto", "write", "writev", "futex",
            "getsockopt", "ioctl", "poll", "mmap", "munmap", "mremap", "getpid")


# ---------------------------------------------------------------------------- servers


def _announce(port):
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def serve_pyruntime():
    import pyruntime as rt
    from pyruntime import go, net

    def handle(c):
        read, write = c.read, c.write
        try:
            while True:
                d = read(BUF)
                if not d:
                    break
                write(d)
        except OSError:
            pass
        c.close()

    def rtmain():
        ln = net.listen("tcp", f"{HOST}:0")
        _announce(ln.addr[1])
        while True:
            go(handle, ln.accept())

    rt.run(rtmain, gomaxprocs=1)


def serve_pyruntime_monkey():
    from pyruntime import monkey

    monkey.patch_all()
    import socket

    import pyruntime as rt
    from pyruntime import go

    def handle(s):
        recv, sendall = s.recv, s.sendall
        try:
            while True:
                d = recv(BUF)
                if not d:
                    break
                sendall(d)
        except OSError:
            pass
        s.close()

    def rtmain():
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((HOST, 0))
        ls.listen(1024)
        _announce(ls.getsockname()[1])
        while True:
            s, _ = ls.accept()
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            go(handle, s)

    rt.run(rtmain, gomaxprocs=1)


def serve_gevent():
    import socket

    from gevent.server import StreamServer

    def handle(s, addr):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        recv, sendall = s.recv, s.sendall
        while True:
            d = recv(BUF)
            if not d:
                break
            sendall(d)

    server = StreamServer((HOST, 0), handle, backlog=1024)
    server.start()
    _announce(server.server_port)
    server.serve_forever()


def serve_asyncio(kind, impl):
    import asyncio

    async def handle(reader, writer):
        while True:
            d = await reader.read(BUF)
            if not d:
                break
            writer.write(d)
            await writer.drain()
        writer.close()

    class Echo(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.transport.write(data)

    async def amain():
        loop = asyncio.get_running_loop()
        if kind == "streams":
            server = await asyncio.start_server(handle, HOST, 0, backlog=1024)
        else:
            server = await loop.create_server(Echo, HOST, 0, backlog=1024)
        _announce(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    factory = None
    if impl == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as r:
        r.run(amain())


def serve_threads():
    import socket
    import threading

    def handle(s):
        recv, sendall = s.recv, s.sendall
        while True:
            d = recv(BUF)
            if not d:
                break
            sendall(d)
        s.close()

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, 0))
    ls.listen(1024)
    _announce(ls.getsockname()[1])
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(s,), daemon=True).start()


SERVERS = {
    "pyruntime": serve_pyruntime,
    "pyruntime-monkey": serve_pyruntime_monkey,
    "gevent": serve_gevent,
    "asyncio-streams": lambda: serve_asyncio("streams", "asyncio"),
    "asyncio-protocol": lambda: serve_asyncio("protocol", "asyncio"),
    "uvloop-streams": lambda: serve_asyncio("streams", "uvloop"),
    "uvloop-protocol": lambda: serve_asyncio("protocol", "uvloop"),
    "threads": serve_threads,
}


# ---------------------------------------------------------------------------- the job


def client_cmd(which="auto"):
    """The load client command: the C client (built once, cached) or the Python one."""
    py = [sys.executable, os.path.join(HERE, "echo_client.py")]
    if which == "python":
        return py
    src = os.path.join(HERE, "echo_client.c")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        if which == "c":
            raise SystemExit("b_echo: --client c but no C compiler found")
        return py
    with open(src, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()[:12]
    cache = os.path.join(tempfile.gettempdir(), f"pyruntime-bench-{os.getuid()}")
    os.makedirs(cache, exist_ok=True)
    exe = os.path.join(cache, f"echo_client-{digest}")
    if not os.path.exists(exe):
        tmp = f"{exe}.{os.getpid()}"
        r = subprocess.run([cc, "-O2", "-o", tmp, src], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            if which == "c":
                raise SystemExit(f"b_echo: building the C client failed:\n{r.stderr}")
            return py
        os.replace(tmp, exe)
    return [exe]


def _cpu(p):
    t = p.cpu_times()
    return t.user + t.system


def _perf_start(pid):
    perf = shutil.which("perf")
    if perf is None:
        return None, None
    out = tempfile.NamedTemporaryFile(prefix="echo-perf-", suffix=".csv", delete=False)
    out.close()
    events = ["raw_syscalls:sys_enter"] + [f"syscalls:sys_enter_{s}" for s in SYSCALLS]
    cmd = [perf, "stat", "-x", ",", "-o", out.name, "-e", ",".join(events), "-p", str(pid)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # let perf attach before the window
    return p, out.name


def _perf_stop(p, path, count):
    out = {}
    if p is None:
        return out
    p.send_signal(signal.SIGINT)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    try:
        with open(path) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) < 3 or not parts[0].replace(".", "").isdigit():
                    continue
                name = parts[2].split(":")[-1].replace("sys_enter_", "")
                name = "ALL" if name == "sys_enter" else name
                out[f"sc_{name}"] = int(float(parts[0])) / max(count, 1)
    finally:
        os.unlink(path)
    return out


def run_job(impl, conns, size, warm, duration, client="auto", syscalls=False):
    import psutil

    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYRUNTIME_GOMAXPROCS", "1")
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", impl], stdout=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT)
    client = None
    perf = perf_path = None
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            server.wait(5)
            raise SystemExit(f"b_echo: server {impl} did not start (exit {server.returncode})")
        port = int(line.split()[1])
        sp = psutil.Process(server.pid)
        cmd = client_cmd(client) + [HOST, str(port), str(conns), str(size), str(warm), str(duration)]
        if syscalls:
            perf, perf_path = _perf_start(server.pid)
        client = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        cp = psutil.Process(client.pid)
        c0 = cc0 = None
        count = total = 0
        elapsed = 0.0
        for line in client.stdout:
            if line.startswith("START"):
                c0, cc0 = _cpu(sp), _cpu(cp)
            elif line.startswith("END"):
                c1, cc1 = _cpu(sp), _cpu(cp)
                _, n, el, tot = line.split()
                count, elapsed, total = int(n), float(el), int(tot)
                break
            elif line.startswith("ERROR"):
                raise SystemExit(f"b_echo: client: {line.strip()}")
        if c0 is None or not count:
            raise SystemExit("b_echo: the client did not complete a window")
        client.wait(10)  # perf covers the whole client run: normalise by all its requests
        sc = _perf_stop(perf, perf_path, total) if syscalls else {}
        perf = None
        client.wait(10)
        metrics = {
            "req_s": count / elapsed,
            "cpu_us_per_req": (c1 - c0) * 1e6 / count,
            "server_cpu_pct": (c1 - c0) / elapsed * 100,
            "client_cpu_us_per_req": (cc1 - cc0) * 1e6 / count,
        }
        metrics.update(sc)
        params = {"conns": conns, "size": size, "warm": warm, "duration": duration,
                  "client": "c" if not cmd[0].endswith("python") and cmd[0] != sys.executable else "python"}
        return params, metrics
    finally:
        if perf is not None:
            perf.kill()
            perf.wait()
        for p in (client, server):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def _job(impl):
    def run(args):
        return run_job(impl, args.conns, args.size, args.warm, args.duration, args.client, args.syscalls)

    return run


IMPLS = {k: _job(k) for k in SERVERS}


def _args(ap):
    ap.add_argument("--conns", type=int, default=50, help="connections")
    ap.add_argument("--size", type=int, default=64, help="message size, bytes")
    ap.add_argument("--warm", type=float, default=1.0, help="warm-up seconds (not measured)")
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    ap.add_argument("--client", choices=("auto", "c", "python"), default="auto", help="load client")
    ap.add_argument("--syscalls", action="store_true", help="count server syscalls per request with perf")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--serve":
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        SERVERS[sys.argv[2]]()
    else:
        main("echo", IMPLS, _args, __doc__)
