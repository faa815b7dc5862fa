"""pyruntime.net contract (SPEC §3.3): TCP, unix and UDP over the netpoller.

Everything runs on loopback (127.0.0.1, ::1, unix sockets in tmp_path).  Goroutines
synchronise on channels and on the goroutine dump (``wait_reason(g, "IO wait")``), never
on sleeps; every concurrency test runs under GOMAXPROCS 1 and 4.
"""

from __future__ import annotations

import errno
import os
import socket
import threading

import pytest
from conftest import (EVENTUALLY, Worker, netpoll_barrier, recv_timeout, run, tcp_pair, wait_for_peer_fin,
                      wait_reason, wait_until)

import pyruntime as rt
from pyruntime import chan, go, net
from pyruntime import time as gotime
from pyruntime.netpoll import get as get_netpoller

pytestmark = pytest.mark.timeout(60)


def _serve_echo(ln, done=None):
    """Accept until the listener closes; echo each conn in its own goroutine."""

    def echo(c):
        try:
            while True:
                d = c.read(65536)
                if not d:
                    break
                c.write(d)
        except OSError:
            pass
        c.close()

    def loop():
        while True:
            try:
                c = ln.accept()
            except net.ErrClosed:
                if done is not None:
                    done.send(True)
                return
            go(echo, c)

    return go(loop)


def _read_exactly(c, n):
    buf = b""
    while len(buf) < n:
        d = c.read(n - len(buf))
        if not d:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes")
        buf += d
    return buf


def _has_ipv6():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- TCP basics


def test_tcp_echo(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)
        c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        out = []
        for i in range(200):
            msg = f"message {i}".encode() * (1 + i % 7)
            assert c.write(msg) == len(msg)
            out.append(_read_exactly(c, len(msg)) == msg)
        c.close()
        ln.close()
        return all(out), len(out)

    assert run(main, procs) == (True, 200)


def test_many_concurrent_conns_exact_accounting(procs):
    nconn, nmsg = 40, 30

    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)
        results = chan(nconn)

        def client(k):
            c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
            got = []
            for i in range(nmsg):
                msg = f"{k}:{i};".encode()
                c.write(msg)
                got.append(_read_exactly(c, len(msg)).decode())
            c.close()
            results.send((k, got))

        for k in range(nconn):
            go(client, k)
        seen = dict(recv_timeout(results) for _ in range(nconn))
        ln.close()
        return seen

    seen = run(main, procs)
    assert sorted(seen) == list(range(nconn))
    for k, got in seen.items():
        assert got == [f"{k}:{i};" for i in range(nmsg)]


def test_read_returns_empty_at_eof_and_keeps_returning_it(procs):
    def main():
        ln, c, s = tcp_pair()
        c.write(b"last words")
        c.close_write()
        data = _read_exactly(s, 10)
        eofs = [s.read(100), s.read(100), s.read_into(bytearray(8))]
        s.write(b"reply")  # the other direction still works after a half close
        reply = _read_exactly(c, 5)
        for x in (c, s, ln):
            x.close()
        return data, eofs, reply

    assert run(main, procs) == (b"last words", [b"", b"", 0], b"reply")


def test_read_into(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)
        c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        c.write(b"0123456789")
        buf = bytearray(4)
        got = b""
        while len(got) < 10:
            n = c.read_into(buf)
            got += bytes(buf[:n])
        c.close()
        ln.close()
        return got

    assert run(main, procs) == b"0123456789"


def test_large_write_parks_until_peer_reads(procs):
    size = 32 << 20  # more than loopback's autotuned send + receive buffers

    def main():
        ln, c, s = tcp_pair()
        payload = bytes(range(256)) * (size // 256)
        wrote = chan(1)
        w = go(lambda: wrote.send(c.write(payload)))
        wait_reason(w, "IO wait")  # the socket buffers are full: the writer parked
        got = bytearray()
        while len(got) < size:
            got += s.read(1 << 16)
        n = recv_timeout(wrote)
        for x in (c, s, ln):
            x.close()
        return n, bytes(got) == payload

    assert run(main, procs) == (size, True)


def test_blocked_read_parks_the_goroutine_not_the_m(procs):
    # With one P, other goroutines keep running while one waits on the network.
    def main():
        ln, c, s = tcp_pair()
        got = chan(1)
        r = go(lambda: got.send(s.read(10)))
        wait_reason(r, "IO wait")
        ping = chan()
        go(lambda: ping.send("pong"))
        a = recv_timeout(ping)
        c.write(b"hello")
        b = recv_timeout(got)
        for x in (c, s, ln):
            x.close()
        return a, b

    assert run(main, procs) == ("pong", b"hello")


def test_addresses(procs):
    def main():
        ln, c, s = tcp_pair()
        r = (ln.addr, c.local_addr, c.remote_addr, s.local_addr, s.remote_addr, c.network)
        for x in (c, s, ln):
            x.close()
        return r

    laddr, cl, cr, sl, sr, network = run(main, procs)
    assert laddr[0] == "127.0.0.1" and laddr[1] > 0
    assert cr == laddr == sl
    assert cl == sr and cl[0] == "127.0.0.1"
    assert network == "tcp"


def test_dial_hostname_is_resolved(procs):
    def main():
        ln = net.listen("tcp4", "127.0.0.1:0")
        _serve_echo(ln)
        c = net.dial("tcp4", f"localhost:{ln.addr[1]}")
        c.write(b"x")
        r = _read_exactly(c, 1)
        c.close()
        ln.close()
        return r

    assert run(main, procs) == b"x"


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
def test_tcp6(procs):
    def main():
        ln = net.listen("tcp6", "[::1]:0")
        _serve_echo(ln)
        c = net.dial("tcp", f"[::1]:{ln.addr[1]}")
        c.write(b"six")
        r = _read_exactly(c, 3)
        addr = c.remote_addr
        c.close()
        ln.close()
        return r, addr[0], ln.addr[0]

    assert run(main, procs) == (b"six", "::1", "::1")


# --------------------------------------------------------------------------- close


def test_close_wakes_blocked_reader_with_error(procs):
    def main():
        ln, c, s = tcp_pair()
        res = chan(1)

        def reader():
            try:
                s.read(10)
                res.send("returned")
            except OSError as e:
                res.send(e)

        r = go(reader)
        wait_reason(r, "IO wait")
        s.close()
        e = recv_timeout(res)
        c.close()
        ln.close()
        return e

    e = run(main, procs)
    assert isinstance(e, net.ErrClosed) and isinstance(e, OSError)
    assert e.errno == errno.EBADF


def test_close_wakes_blocked_writer_with_error(procs):
    def main():
        ln, c, s = tcp_pair()
        res = chan(1)

        def writer():
            try:
                c.write(b"x" * (32 << 20))
                res.send("returned")
            except OSError as e:
                res.send(e)

        w = go(writer)
        wait_reason(w, "IO wait")
        c.close()
        e = recv_timeout(res)
        s.close()
        ln.close()
        return e

    assert isinstance(run(main, procs), net.ErrClosed)


def test_close_listener_wakes_accept(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        done = chan(1)
        a = _serve_echo(ln, done)
        wait_reason(a, "IO wait")
        ln.close()
        return recv_timeout(done)

    assert run(main, procs) is True


def test_double_close_is_harmless_and_ops_on_closed_raise(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)
        c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        c.close()
        c.close()
        errs = []
        for op in (lambda: c.read(1), lambda: c.write(b"x"), lambda: c.read_into(bytearray(1)), c.close_write):
            try:
                op()
                errs.append(None)
            except net.ErrClosed as e:
                errs.append(e.errno)
        ln.close()
        ln.close()
        try:
            ln.accept()
        except net.ErrClosed:
            errs.append("accept")
        return errs, c.closed, ln.closed

    errs, cclosed, lclosed = run(main, procs)
    assert errs == [errno.EBADF] * 4 + ["accept"]
    assert cclosed and lclosed


def test_unix_listener_close_unlinks_its_path(tmp_path, procs):
    path = str(tmp_path / "s.sock")

    def main():
        ln = net.listen("unix", path)
        existed = os.path.exists(path)
        ln.close()
        return existed, os.path.exists(path)

    assert run(main, procs) == (True, False)


# --------------------------------------------------------------------------- bad input


def test_unknown_network_raises_value_error():
    for fn, args in ((net.listen, ("tcpx", "127.0.0.1:0")), (net.dial, ("udp", "127.0.0.1:1")),
                     (net.listen_packet, ("tcp", "127.0.0.1:0")), (net.listen, (None, "x")),
                     (net.dial, ("ip", "127.0.0.1:1"))):
        with pytest.raises(ValueError, match="unknown network"):
            fn(*args)


@pytest.mark.parametrize("addr", ["127.0.0.1", "1:2:3", "[::1", "[::1]", "127.0.0.1:99999", "127.0.0.1:nosuchport",
                                  "::1:80", "127.0.0.1:"])
def test_malformed_address(addr):
    with pytest.raises(net.AddrError) as ei:
        net.listen("tcp", addr)
    assert isinstance(ei.value, OSError) and isinstance(ei.value, ValueError)
    assert ei.value.errno == errno.EINVAL


def test_address_must_be_a_string():
    with pytest.raises(TypeError):
        net.dial("tcp", ("127.0.0.1", 80))


def test_tcp4_rejects_an_ipv6_literal():
    with pytest.raises(net.AddrError):
        net.listen("tcp4", "[::1]:0")


def test_dial_refused(procs):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now

    def main():
        try:
            net.dial("tcp", f"127.0.0.1:{port}")
        except OSError as e:
            return type(e), e.errno
        return None

    assert run(main, procs) == (ConnectionRefusedError, errno.ECONNREFUSED)


def test_listen_address_in_use(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        try:
            net.listen("tcp", f"127.0.0.1:{ln.addr[1]}")
        except OSError as e:
            return e.errno
        finally:
            ln.close()

    assert run(main, procs) == errno.EADDRINUSE


def test_errors_leave_the_runtime_running(procs):
    def main():
        errs = 0
        for bad in (lambda: net.dial("tcp", "nonsense"), lambda: net.listen("bogus", "x")):
            try:
                bad()
            except (OSError, ValueError):
                errs += 1
        c = chan()
        go(lambda: c.send("still running"))
        return errs, recv_timeout(c)

    assert run(main, procs) == (2, "still running")


# --------------------------------------------------------------------------- unix and UDP


def test_unix_stream_echo(tmp_path, procs):
    path = str(tmp_path / "echo.sock")

    def main():
        ln = net.listen("unix", path)
        _serve_echo(ln)
        c = net.dial("unix", path)
        c.write(b"over unix")
        r = _read_exactly(c, 9)
        addr = (ln.addr, c.remote_addr)
        c.close()
        ln.close()
        return r, addr

    r, (laddr, raddr) = run(main, procs)
    assert r == b"over unix"
    assert laddr == path and raddr == path


def test_unix_abstract_namespace(procs):
    if os.uname().sysname != "Linux":
        pytest.skip("abstract unix sockets are Linux-only")
    name = f"@pyruntime-test-{os.getpid()}-{procs}"

    def main():
        ln = net.listen("unix", name)
        _serve_echo(ln)
        c = net.dial("unix", name)
        c.write(b"abstract")
        r = _read_exactly(c, 8)
        c.close()
        ln.close()
        return r, ln.addr

    assert run(main, procs) == (b"abstract", name)


def test_udp_roundtrip(procs):
    def main():
        a = net.listen_packet("udp", "127.0.0.1:0")
        b = net.listen_packet("udp4", "127.0.0.1:0")
        got = chan(1)
        go(lambda: got.send(b.read_from(100)))
        a.write_to(b"ping", f"127.0.0.1:{b.addr[1]}")
        data, sender = recv_timeout(got)
        b.write_to(b"pong", sender)
        reply = a.read_from(100)
        a.close()
        b.close()
        return data, sender == a.addr, reply[0], reply[1] == b.addr

    assert run(main, procs) == (b"ping", True, b"pong", True)


def test_udp_read_from_parks_and_close_wakes_it(procs):
    def main():
        p = net.listen_packet("udp", "127.0.0.1:0")
        res = chan(1)

        def reader():
            try:
                p.read_from(10)
            except net.ErrClosed as e:
                res.send(e.errno)

        r = go(reader)
        wait_reason(r, "IO wait")
        p.close()
        return recv_timeout(res)

    assert run(main, procs) == errno.EBADF


def test_unixgram(tmp_path, procs):
    pa, pb = str(tmp_path / "a.sock"), str(tmp_path / "b.sock")

    def main():
        a = net.listen_packet("unixgram", pa)
        b = net.listen_packet("unixgram", pb)
        got = chan(1)
        go(lambda: got.send(b.read_from(100)))
        a.write_to(b"dgram", pb)
        data, sender = recv_timeout(got)
        a.close()
        b.close()
        return data, sender, os.path.exists(pa)

    assert run(main, procs) == (b"dgram", pa, False)


# --------------------------------------------------------------------------- plain threads and the scheduler


def test_plain_threads_without_a_runtime():
    # No runtime at all: every call blocks its own thread.
    ln = net.listen("tcp", "127.0.0.1:0")

    def server():
        c = ln.accept()
        c.write(c.read(100).upper())
        c.close()

    w = Worker(server)
    w.start()
    c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}", timeout=EVENTUALLY)
    c.write(b"thread")
    assert _read_exactly(c, 6) == b"THREAD"
    w.finish()
    c.close()
    ln.close()


def test_plain_thread_client_of_a_goroutine_server(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)

        def client():
            c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
            try:
                out = []
                for i in range(20):
                    c.write(b"%d" % i)
                    out.append(_read_exactly(c, len(b"%d" % i)))
                return out
            finally:
                c.close()

        w = Worker(client)
        w.start()
        wait_until(lambda: not w.is_alive())
        ln.close()
        return w.finish()

    assert run(main, procs) == [b"%d" % i for i in range(20)]


def test_close_from_a_goroutine_wakes_a_plain_thread_reader(procs):
    def main():
        ln, c, s = tcp_pair()
        started = threading.Event()

        def reader():
            started.set()
            try:
                s.read(10)
            except net.ErrClosed:
                return "closed"
            return "returned"

        w = Worker(reader)
        w.start()
        wait_until(started.is_set)
        wait_until(lambda: s._pd.r.waiters is not None)  # the thread is registered
        s.close()
        wait_until(lambda: not w.is_alive())
        c.close()
        ln.close()
        return w.finish()

    assert run(main, procs) == "closed"


def test_network_waiters_keep_deadlock_detection_quiet(procs):
    # main blocks in accept; only a plain thread (invisible to the runtime until it
    # dials) can wake it.  That is not a deadlock, exactly as in Go.
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")

        def late_client():
            import time

            time.sleep(0.1)
            s = socket.create_connection(("127.0.0.1", ln.addr[1]))
            s.close()

        threading.Thread(target=late_client, daemon=True).start()
        c = ln.accept()
        c.close()
        ln.close()
        return "accepted"

    assert run(main, procs) == "accepted"


def test_waiters_return_to_zero(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)
        cs = [net.dial("tcp", f"127.0.0.1:{ln.addr[1]}") for _ in range(10)]
        for c in cs:
            c.write(b"x")
            _read_exactly(c, 1)
        np = get_netpoller()
        wait_until(lambda: np.waiters == 11)  # 10 echo goroutines + the acceptor
        for c in cs:
            c.close()
        ln.close()
        wait_until(lambda: np.waiters == 0)
        return np.waiters

    assert run(main, procs) == 0


def test_goroutines_parked_in_io_are_abandoned_cleanly_at_exit(procs):
    # main returns while goroutines wait on the network: run() ends, the next run works.
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        _serve_echo(ln)
        c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        go(lambda: c.read(1))
        gotime.sleep(0.01)
        return "bye"

    assert run(main, procs) == "bye"
    assert get_netpoller().waiters == 0
    assert run(lambda: "again", procs) == "again"


def test_deadlock_still_detected_when_nothing_waits_on_the_network(procs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        ln.close()
        chan().recv()

    with pytest.raises(rt.Deadlock):
        run(main, procs)


# --------------------------------------------------------------------------- EOF after a short read
#
# The netpoller is edge-triggered: when a peer writes a little and closes, the data and the
# FIN can arrive under ONE edge.  A reader that takes the short read as "the buffer is
# drained" and parks without trying recv again waits for an edge that never comes; it must
# park only after recv itself said EAGAIN (Go's fd.Read).  Each read is bounded by a
# deadline, so the bug shows up as Timeout instead of a hang.  The first test makes the one
# edge certain at every GOMAXPROCS; the second (data and FIN while the reader is parked) is
# certain at GOMAXPROCS 1, where no M polls while main runs, and very likely at 2 and 4,
# where the peer corks so that the FIN rides on the data's segment (the kernel still wakes
# the poller twice, a microsecond apart).  A correct runtime passes both regardless.


def _read_to_eof(c):
    chunks = []
    while True:
        d = c.read(4096)
        if not d:
            return b"".join(chunks)
        chunks.append(d)


@pytest.mark.parametrize("gomaxprocs", [1, 2, 4])
def test_eof_after_a_short_read_when_data_and_fin_came_before_the_first_read(gomaxprocs):
    def main():
        ln = net.listen("tcp", "127.0.0.1:0")
        peer = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
        peer.write(b"hello")
        peer.close()                             # data and FIN wait in the kernel ...
        s = ln.accept()                          # ... so registering s reports both in ONE edge
        wait_for_peer_fin(s.fileno())
        netpoll_barrier()                        # which the netpoller has taken before s's first read
        s.set_read_deadline(gotime.now() + 5)    # the data and the FIN are there already
        try:
            return _read_to_eof(s), s.read(10)
        finally:
            s.close()
            ln.close()

    assert rt.run(main, gomaxprocs=gomaxprocs) == (b"hello", b"")


@pytest.mark.parametrize("gomaxprocs", [1, 2, 4])
def test_eof_after_a_short_read_when_data_and_fin_arrive_while_the_reader_is_parked(gomaxprocs):
    def main():
        ln, c, s = tcp_pair()
        s.set_read_deadline(gotime.now() + EVENTUALLY)
        res = chan(1)

        def reader():
            try:
                res.send(_read_to_eof(s))
            except OSError as e:
                res.send(e)

        r = go(reader)
        wait_reason(r, "IO wait")
        if hasattr(socket, "TCP_CORK"):
            # Hold the data back so that the FIN rides on the same segment (otherwise an
            # M blocked in epoll may harvest the data's edge before the FIN arrives).
            c._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        c.write(b"hello")
        c.close()
        got = recv_timeout(res)
        s.close()
        ln.close()
        return got

    assert rt.run(main, gomaxprocs=gomaxprocs) == b"hello"
