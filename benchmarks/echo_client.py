"""Load client for b_echo.py when no C compiler is available (same protocol and output as
``echo_client.c``): N connections, each sends a SIZE-byte message and waits for the whole
echo before sending the next.  Runs on uvloop when installed (asyncio Protocols: the
cheapest Python client), which costs ~10 µs of client CPU per request, so on a 2-CPU
machine it shares the CPUs with the server more than the C client does.

    python benchmarks/echo_client.py HOST PORT CONNS SIZE WARM_S DURATION_S
"""

from __future__ import annotations

import asyncio
import sys
import time


class _Client(asyncio.Protocol):
    def __init__(self, msg: bytes, stats: list) -> None:
        self.msg = msg
        self.size = len(msg)
        self.got = 0
        self.stats = stats
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.msg)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.got += len(data)
        while self.got >= self.size:
            self.got -= self.size
            self.stats[0] += 1
            self.transport.write(self.msg)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.stats[1]:
            print(f"ERROR read: server closed ({exc})", flush=True)
            sys.exit(1)


async def _main(host: str, port: int, conns: int, size: int, warm: float, dur: float) -> None:
    loop = asyncio.get_running_loop()
    stats = [0, False]
    msg = b"x" * size
    ts = []
    for _ in range(conns):
        t, _ = await loop.create_connection(lambda: _Client(msg, stats), host, port)
        ts.append(t)
    await asyncio.sleep(warm)
    warm_n = stats[0]
    stats[0] = 0
    t0 = time.monotonic()
    print("START", flush=True)
    await asyncio.sleep(dur)
    n = stats[0]
    el = time.monotonic() - t0
    stats[1] = True
    print(f"END {n} {el:.6f} {warm_n + n}", flush=True)
    for t in ts:
        t.close()


def main() -> None:
    host, port, conns, size, warm, dur = sys.argv[1:7]
    try:
        import uvloop  # type: ignore[import-not-found]

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as r:
        r.run(_main(host, int(port), int(conns), int(size), float(warm), float(dur)))


if __name__ == "__main__":
    main()
