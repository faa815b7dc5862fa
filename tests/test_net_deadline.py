"""pyruntime.net deadlines (SPEC §3.3): absolute times on pyruntime.time.now()'s clock,
None clears, a deadline in the past raises Timeout at once, a deadline that passes (or
is moved) while a goroutine is blocked wakes it with Timeout, and the conn stays usable.

Lower bounds on elapsed time are checked (a deadline never fires early); upper bounds
only loosely (the machine is shared).
"""

from __future__ import annotations

import errno
import socket
import time as _stdtime

import pytest
from conftest import Worker, recv_timeout, run, tcp_pair, wait_reason

from pyruntime import chan, go, net
from pyruntime import time as gotime

pytestmark = pytest.mark.timeout(60)

EPS = 0.003


def _pair():
    """A connected (client, server) pair of Conns, from inside a goroutine."""
    ln, c, s = tcp_pair()
    ln.close()
    return c, s


def test_deadline_in_the_past_times_out_at_once_without_consuming_data(procs):
    def main():
        c, s = _pair()
        c.write(b"data")
        gotime.sleep(0.01)
        s.set_read_deadline(gotime.now() - 1)
        errs = []
        for _ in range(2):
            try:
                s.read(10)
            except net.Timeout as e:
                errs.append((type(e).__name__, e.errno, isinstance(e, TimeoutError), isinstance(e, OSError)))
        s.set_read_deadline(None)
        data = s.read(10)
        c.close()
        s.close()
        return errs, data

    errs, data = run(main, procs)
    assert errs == [("Timeout", errno.ETIMEDOUT, True, True)] * 2
    assert data == b"data"


def test_read_deadline_wakes_a_blocked_reader_and_the_conn_stays_usable(procs):
    def main():
        c, s = _pair()
        t0 = _stdtime.monotonic()
        s.set_read_deadline(gotime.now() + 0.05)
        try:
            s.read(10)
            r = "no timeout"
        except net.Timeout:
            r = _stdtime.monotonic() - t0
        s.set_read_deadline(None)
        c.write(b"after")
        data = s.read(10)
        c.close()
        s.close()
        return r, data

    elapsed, data = run(main, procs)
    assert isinstance(elapsed, float) and 0.05 - EPS <= elapsed < 10
    assert data == b"after"


def test_moving_the_deadline_into_the_past_wakes_a_blocked_reader(procs):
    # Go's idiom to interrupt a Read from another goroutine.
    def main():
        c, s = _pair()
        res = chan(1)

        def reader():
            try:
                s.read(10)
                res.send("returned")
            except net.Timeout:
                res.send("timeout")

        r = go(reader)
        wait_reason(r, "IO wait")
        s.set_read_deadline(gotime.now())
        out = recv_timeout(res)
        c.close()
        s.close()
        return out

    assert run(main, procs) == "timeout"


@pytest.mark.parametrize("change", ["extend", "clear"])
def test_moving_the_deadline_keeps_a_blocked_reader_waiting(procs, change):
    # A reader blocked under a near deadline; the deadline is then pushed far out (the read
    # deadline) or cleared (both deadlines): the old one must not fire any more.
    def main():
        c, s = _pair()
        res = chan(1)
        if change == "extend":
            s.set_read_deadline(gotime.now() + 0.1)
        else:
            s.set_deadline(gotime.now() + 0.05)

        def reader():
            try:
                res.send(s.read(10))
            except net.Timeout:
                res.send("timeout")

        r = go(reader)
        wait_reason(r, "IO wait")
        if change == "extend":
            s.set_read_deadline(gotime.now() + 30)
        else:
            s.set_deadline(None)
        gotime.sleep(0.2)  # past the first deadline: it must not fire any more
        c.write(b"late")
        out = recv_timeout(res)
        c.close()
        s.close()
        return out

    assert run(main, procs) == b"late"


def test_write_deadline_reports_bytes_written(procs):
    def main():
        c, s = _pair()
        data = b"x" * (64 << 20)  # built first: touching 64 MiB takes tens of ms on this VM
        c.set_write_deadline(gotime.now() + 0.3)
        try:
            c.write(data)  # the peer never reads: the buffers fill up
            r = "no timeout"
        except net.Timeout as e:
            r = e.written
        c.close()
        s.close()
        return r

    written = run(main, procs)
    assert isinstance(written, int) and 0 < written < (64 << 20)


def test_accept_deadline(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        ln.set_deadline(gotime.now() + 0.03)
        t0 = _stdtime.monotonic()
        try:
            ln.accept()
            r = "accepted"
        except net.Timeout:
            r = _stdtime.monotonic() - t0
        ln.set_deadline(None)
        c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        s = ln.accept()
        c.close()
        s.close()
        ln.close()
        return r

    r = run(main, procs)
    assert isinstance(r, float) and r >= 0.03 - EPS


def test_udp_read_deadline(procs):
    def main():
        p = net.listen_packet("udp", "127.0.0.1:0")
        p.set_read_deadline(gotime.now() + 0.02)
        try:
            p.read_from(10)
            r = "data"
        except net.Timeout:
            r = "timeout"
        p.close()
        return r

    assert run(main, procs) == "timeout"


def test_deadlines_of_many_goroutines_fire_independently(procs):
    n = 30

    def main():
        pairs = [_pair() for _ in range(n)]
        res = chan(n)
        t0 = gotime.now()
        for i, (c, s) in enumerate(pairs):
            s.set_read_deadline(t0 + 0.02 + 0.002 * i)

            def reader(i=i, s=s):
                try:
                    s.read(1)
                    res.send((i, "data"))
                except net.Timeout:
                    res.send((i, gotime.now() - t0))

            go(reader)
        out = dict(recv_timeout(res) for _ in range(n))
        for c, s in pairs:
            c.close()
            s.close()
        return out

    out = run(main, procs)
    assert sorted(out) == list(range(n))
    for i, v in out.items():
        assert isinstance(v, float) and v >= 0.02 + 0.002 * i - EPS


def test_bad_deadline_values(procs):
    def main():
        c, s = _pair()
        errs = []
        for bad in ("soon", True, [1]):
            try:
                c.set_deadline(bad)
            except TypeError:
                errs.append("type")
        try:
            c.set_read_deadline(float("nan"))
        except ValueError:
            errs.append("nan")
        c.close()
        s.close()
        return errs

    assert run(main, procs) == ["type", "type", "type", "nan"]


def test_dial_timeout(procs):
    # A listener with a full accept queue drops new SYNs on Linux, so the next dial hangs.
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))

    def main():
        t0 = _stdtime.monotonic()
        try:
            net.dial("tcp", f"127.0.0.1:{port}", timeout=0.1)
            return "connected"
        except net.Timeout:
            return _stdtime.monotonic() - t0

    try:
        r = run(main, procs)
    finally:
        filler.close()
        ls.close()
    if r == "connected":
        pytest.skip("this kernel accepted a connection beyond the backlog")
    assert isinstance(r, float) and 0.1 - EPS <= r < 10


def test_dial_with_non_positive_timeout_is_an_immediate_timeout(procs):
    def main():
        out = []
        for t in (0, -1):
            try:
                net.dial("tcp", "127.0.0.1:9", timeout=t)
            except net.Timeout:
                out.append("timeout")
        return out

    assert run(main, procs) == ["timeout", "timeout"]


def test_read_deadline_on_a_plain_thread():
    ln = net.listen("tcp", "127.0.0.1:0")

    def server():
        c = ln.accept()
        c.set_read_deadline(_stdtime.time() + 0.05)
        t0 = _stdtime.monotonic()
        try:
            c.read(1)
            return "data"
        except net.Timeout:
            return _stdtime.monotonic() - t0
        finally:
            c.close()

    w = Worker(server)
    w.start()
    c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
    r = w.finish()
    c.close()
    ln.close()
    assert isinstance(r, float) and r >= 0.05 - EPS
