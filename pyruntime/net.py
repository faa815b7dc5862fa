"""pyruntime.net: Go's ``net`` package on the netpoller.

    ln = net.listen("tcp", "127.0.0.1:0")
    def serve(c):
        while data := c.read(4096):
            c.write(data)
        c.close()
    go(lambda: [go(serve, ln.accept()) for _ in iter(int, 1)])
    c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")

Networks: ``listen``/``dial``: "tcp", "tcp4", "tcp6", "unix"; ``listen_packet``: "udp",
"udp4", "udp6", "unixgram".  Addresses are "host:port" ("[::1]:80" for IPv6), or a path
for unix ("@name" is Linux's abstract namespace).  ``addr``, ``local_addr`` and
``remote_addr`` are what Python's ``socket`` returns (a tuple for IP, a path for unix).

Every blocking call tries the syscall first and parks the goroutine on the netpoller
only when that syscall said it would block (``EAGAIN``), as Go does; a short read or
write is never taken to mean "nothing more for now" (the peer's FIN may already be
behind the data, under the same edge).  An M is never blocked.  From a plain
OS thread the same calls block that thread (in ``poll(2)``).  A host name is resolved
on a syscall M (``getaddrinfo`` blocks).

Deadlines (``set_deadline``, ``set_read_deadline``, ``set_write_deadline``) are absolute
times on the ``pyruntime.time.now()`` clock (epoch seconds); ``None`` clears one.  An
operation at or past its deadline raises :class:`Timeout` (a ``TimeoutError``, errno
``ETIMEDOUT``), also one already blocked when the deadline passes or is moved into the
past; the conn stays usable after a new deadline is set.  A NaN deadline or ``dial``
timeout is a ``ValueError``; ``math.inf`` is a deadline that never passes (the duration
rules of ``pyruntime.time``).  Closing a conn or listener
wakes every goroutine blocked on it with :class:`ErrClosed` (``OSError``, ``EBADF``);
a second ``close()`` does nothing.  Every error is an ``OSError`` with an errno
(``ConnectionRefusedError``, ``BrokenPipeError``, ...), except an unknown network,
which is a ``ValueError``; a malformed address raises :class:`AddrError` (both).

Where we differ from Go
    * ``listen("tcp", ":port")`` binds 0.0.0.0 (Go binds dual-stack [::]): ``addr`` stays a
      2-tuple; use "tcp6" and "[::]:port" for IPv6.  Same for "udp".
    * ``read(n)`` returns ``bytes`` (b"" at EOF); ``read_into(buf)`` is Go's ``Read(p)``.
    * A ``write`` that times out part-way raises :class:`Timeout` with ``.written`` set to
      the bytes already sent (Go returns the count with the error).
    * ``dial`` tries the resolved addresses one after another within ``timeout`` (no
      Happy Eyeballs race).
"""

from __future__ import annotations

import _socket
import errno as _errno
import os
import time as _time
from typing import Any

from . import netpoll as _netpoll
from ._core import proc
from .netpoll import CLOSING

__all__ = [
    "listen", "dial", "listen_packet", "Conn", "Listener", "PacketConn",
    "Timeout", "ErrClosed", "AddrError", "split_host_port", "join_host_port",
]

_monotonic = _time.monotonic
_wall = _time.time

AF_INET = _socket.AF_INET
AF_INET6 = _socket.AF_INET6
AF_UNIX: int = getattr(_socket, "AF_UNIX", -1)  # -1: not on this platform
SOCK_STREAM = _socket.SOCK_STREAM
SOCK_DGRAM = _socket.SOCK_DGRAM

_STREAM = {"tcp": 0, "tcp4": AF_INET, "tcp6": AF_INET6, "unix": AF_UNIX}
_PACKET = {"udp": 0, "udp4": AF_INET, "udp6": AF_INET6, "unixgram": AF_UNIX}


class Timeout(TimeoutError):
    """A deadline passed (Go's ``os.ErrDeadlineExceeded``, "i/o timeout")."""

    written = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*(args or (_errno.ETIMEDOUT, "i/o timeout")))


class ErrClosed(OSError):
    """Use of a closed conn or listener (Go's ``net.ErrClosed``)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(args or (_errno.EBADF, "use of closed network connection")))


class AddrError(OSError, ValueError):
    """A malformed address (Go's ``*net.AddrError``); errno ``EINVAL``."""

    def __init__(self, msg: str, addr: Any = "") -> None:
        super().__init__(_errno.EINVAL, f"address {addr}: {msg}" if addr != "" else msg)


def _err(code: int) -> OSError:
    return ErrClosed() if code == CLOSING else Timeout()


def _check_net(network: Any, table: dict) -> int:
    if not isinstance(network, str) or network not in table:
        raise ValueError(f"unknown network {network!r}; use one of {', '.join(table)}")
    fam = table[network]
    if fam == -1:
        raise ValueError(f"network {network!r} is not supported on this platform")
    return fam


def _to_mono(t: Any) -> float:
    """An absolute deadline (epoch seconds) as the netpoller's monotonic value."""
    if t is None:
        return 0.0
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise TypeError(f"deadline must be a time in seconds since the epoch (pyruntime.time.now()) or None, "
                        f"got {type(t).__name__} {t!r}")
    if t != t:
        raise ValueError("deadline is NaN")
    left = t - _wall()
    if left <= 0:
        return -1.0
    return _monotonic() + left


# --------------------------------------------------------------------------- addresses

def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``: "host:port", "[v6]:port" -> (host, port)."""
    if not isinstance(hostport, str):
        raise TypeError(f"address must be a str \"host:port\", got {type(hostport).__name__} {hostport!r}")
    i = hostport.rfind(":")
    if i < 0:
        raise AddrError("missing port in address", hostport)
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise AddrError("missing ']' in address", hostport)
        if end + 1 == len(hostport):
            raise AddrError("missing port in address", hostport)
        if end + 1 != i:
            raise AddrError("too many colons in address" if hostport[end + 1] == ":" else "missing port in address",
                            hostport)
        host = hostport[1:end]
        if "[" in host[1:] or "]" in hostport[end + 1:]:
            raise AddrError("unexpected ']' in address", hostport)
    else:
        host = hostport[:i]
        if ":" in host:
            raise AddrError("too many colons in address", hostport)
        if "[" in host or "]" in host:
            raise AddrError("unexpected '[' in address", hostport)
    return host, hostport[i + 1:]


def join_host_port(host: str, port: Any) -> str:
    """Go's ``net.JoinHostPort``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _port(port: str, proto: str, addr: str) -> int:
    if port.isdigit():
        n = int(port)
    elif port == "":
        raise AddrError("missing port in address", addr)
    else:
        try:
            n = _socket.getservbyname(port, proto)
        except OSError:
            raise AddrError(f"unknown port {port!r}", addr) from None
    if not 0 <= n <= 65535:
        raise AddrError("invalid port", addr)
    return n


def _literal(host: str) -> int:
    """The family of an IP literal, or 0 for a name."""
    try:
        _socket.inet_pton(AF_INET, host)
        return AF_INET
    except (OSError, ValueError):
        pass
    try:
        _socket.inet_pton(AF_INET6, host.split("%", 1)[0])
        return AF_INET6
    except (OSError, ValueError):
        return 0


def _getaddrinfo(*args: Any) -> list:
    # getaddrinfo blocks in the resolver: off the M when called from a goroutine.
    if proc.getg() is not None:
        return proc.syscall(_socket.getaddrinfo, *args)
    return _socket.getaddrinfo(*args)


def _resolve(network: str, fam: int, address: str, socktype: int, passive: bool) -> list:
    """[(family, sockaddr)] for an IP network address, in the order to try."""
    host, port_s = split_host_port(address)
    port = _port(port_s, "udp" if socktype == SOCK_DGRAM else "tcp", address)
    if host == "":
        if passive:
            return [(AF_INET6, ("::", port))] if fam == AF_INET6 else [(AF_INET, ("0.0.0.0", port))]
        host = "::1" if fam == AF_INET6 else "127.0.0.1"  # Go: the local system
    lit = _literal(host)
    if lit:
        if fam and lit != fam:
            raise AddrError(f"no suitable address found (want {network})", address)
        if lit == AF_INET6 and "%" in host:  # scoped: let the resolver parse the zone
            infos = _socket.getaddrinfo(host, port, AF_INET6, socktype, 0, _socket.AI_NUMERICHOST)
            return [(AF_INET6, infos[0][4])]
        return [(lit, (host, port))]
    infos = _getaddrinfo(host, port, fam, socktype, 0, _socket.AI_PASSIVE if passive else 0)
    out = []
    for af, _, _, _, sa in infos:
        if af in (AF_INET, AF_INET6) and (af, sa) not in out:
            out.append((af, sa))
    if not out:
        raise OSError(_errno.EADDRNOTAVAIL, f"no suitable address found for {address!r} ({network})")
    return out


def _unix_path(address: Any) -> Any:
    if isinstance(address, os.PathLike):
        address = os.fspath(address)
    if isinstance(address, bytes):
        return b"\0" + address[1:] if address.startswith(b"@") else address
    if not isinstance(address, str):
        raise TypeError(f"unix address must be a path (str), got {type(address).__name__} {address!r}")
    if address == "":
        raise AddrError("empty unix socket path")
    return "\0" + address[1:] if address.startswith("@") else address


_somaxconn = 0


def _backlog() -> int:
    """Go's maxListenerBacklog: /proc/sys/net/core/somaxconn, else SOMAXCONN."""
    global _somaxconn
    if not _somaxconn:
        try:
            with open("/proc/sys/net/core/somaxconn") as f:
                _somaxconn = min(int(f.read().split()[0]), 65535)
        except (OSError, ValueError, IndexError):
            _somaxconn = getattr(_socket, "SOMAXCONN", 128)
    return _somaxconn


_SOCK_NONBLOCK = getattr(_socket, "SOCK_NONBLOCK", 0)


class _Socket(_socket.socket):
    """The C socket, closed quietly when garbage collected (Go closes a lost conn in a
    finalizer; a conn abandoned with its goroutines at the end of ``run`` is no bug).
    Overriding ``__del__`` replaces the C finalizer that would warn ``ResourceWarning``."""

    __slots__ = ()

    def __del__(self) -> None:
        self.close()


def _new_socket(family: int, socktype: int) -> Any:
    # SOCK_NONBLOCK (Linux) makes CPython set a 0 timeout without another syscall;
    # CPython creates sockets close-on-exec already.
    s = _Socket(family, socktype | _SOCK_NONBLOCK)
    if not _SOCK_NONBLOCK:
        s.settimeout(0.0)
    return s


# --------------------------------------------------------------------------- the fd

class _NetFD:
    """What every endpoint shares (Go's ``netFD``): the socket, its pollDesc, the GC
    finalizer, deadlines, ``close`` and the context-manager protocol."""

    __slots__ = ("_sock", "_pd", "__weakref__")

    def _open(self, sock: Any) -> Any:
        self._sock = sock
        pd = _netpoll.get().open(sock.fileno())
        if pd is None:  # pragma: no cover - sockets are always pollable
            raise OSError(_errno.EPERM, "socket cannot be polled")
        self._pd = pd
        return pd

    def __del__(self) -> None:
        # Go closes a conn that is garbage collected (a finalizer on netFD).  Only the
        # socket is closed here, without locks (a finalizer can run anywhere): the kernel
        # drops the registration with the file, and the netpoller retires the stale
        # pollDesc when the fd number is reused.
        try:
            pd = self._pd
        except AttributeError:
            return
        if not pd.closing:
            pd.closing = True
            self._sock.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def set_deadline(self, t: float | None) -> None:
        """Read and write deadline (epoch seconds, None clears)."""
        when = _to_mono(t)
        self._pd.set_deadline(self._pd.r, when)
        self._pd.set_deadline(self._pd.w, when)

    def set_read_deadline(self, t: float | None) -> None:
        """Read deadline (epoch seconds, None clears)."""
        self._pd.set_deadline(self._pd.r, _to_mono(t))

    def set_write_deadline(self, t: float | None) -> None:
        """Write deadline (epoch seconds, None clears)."""
        self._pd.set_deadline(self._pd.w, _to_mono(t))

    def close(self) -> None:
        """Close; goroutines blocked on this endpoint wake with ErrClosed.  Idempotent."""
        if self._pd.evict():
            self._sock.close()
            self._closed()

    def _closed(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._pd.closing

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._sock.fileno()


# --------------------------------------------------------------------------- Conn

class Conn(_NetFD):
    """A stream connection (Go's ``net.Conn``): TCP or unix."""

    __slots__ = ("_r", "_w", "_recv", "_recv_into", "_send", "_network", "_laddr", "_raddr")

    def __init__(self, sock: Any, network: str, raddr: Any = None) -> None:
        pd = self._open(sock)
        self._r = pd.r
        self._w = pd.w
        self._recv = sock.recv
        self._recv_into = sock.recv_into
        self._send = sock.send
        self._network = network
        self._laddr: Any = None
        self._raddr = raddr

    def __repr__(self) -> str:
        state = "closed" if self._pd.closing else f"{self.local_addr!r}->{self.remote_addr!r}"
        return f"<pyruntime.net.Conn {self._network} {state}>"

    # -- reading

    def read(self, n: int = 32768) -> bytes:
        """Read up to ``n`` bytes; ``b""`` at EOF.  Blocks (parks) until data arrives."""
        return self._read(self._recv, n)  # type: ignore[no-any-return]

    def read_into(self, buf: Any) -> int:
        """Go's ``Read(p)``: read into a writable buffer, return the count (0 at EOF)."""
        return self._read(self._recv_into, buf)  # type: ignore[no-any-return]

    def _read(self, op: Any, arg: Any) -> Any:
        """One read, ``op(arg)`` (recv or recv_into), parking on the netpoller only when
        it said EAGAIN (Go's ``fd.Read``; see polldesc's I/O protocol)."""
        r = self._r
        if r.deadline or self._pd.closing:
            self._check(r)
        while True:
            seen = r.seq
            try:
                return op(arg)
            except BlockingIOError:
                pass
            except InterruptedError:
                continue
            except OSError as e:
                raise self._ioerr(e) from None
            e = self._pd.wait(r, seen)
            if e:
                raise _err(e)

    # -- writing

    def write(self, b: Any) -> int:
        """Write all of ``b`` (parking while the socket buffer is full); returns len."""
        w = self._w
        if w.deadline or self._pd.closing:
            self._check(w)
        seen = w.seq
        try:
            k = self._send(b)
        except BlockingIOError:
            return self._write_slow(b, 0, seen)
        except InterruptedError:
            k = 0
        except OSError as e:
            raise self._ioerr(e) from None
        if k == len(b) and (b.__class__ is bytes or b.__class__ is bytearray):
            return k
        return self._write_slow(b, k, -1)

    def _write_slow(self, b: Any, off: int, seen: int) -> int:
        """The rest of a write from byte ``off``: ``seen >= 0`` when the last attempt
        said EAGAIN (park first), -1 after a short write (try again at once: Go parks
        only on EAGAIN)."""
        mv = memoryview(b)
        if mv.ndim != 1 or mv.itemsize != 1:
            mv = mv.cast("B")
        total = mv.nbytes
        w = self._w
        send = self._send
        pd = self._pd
        while off < total:
            if seen >= 0:
                e = pd.wait(w, seen)
                if e:
                    err = _err(e)
                    if isinstance(err, Timeout):
                        err.written = off
                    raise err
            seen = w.seq
            try:
                off += send(mv[off:])
                seen = -1
            except BlockingIOError:
                pass
            except InterruptedError:
                seen = -1
            except OSError as e:
                raise self._ioerr(e) from None
        return total

    # -- deadlines, close, addresses

    def close_read(self) -> None:
        """Shut down the reading side (Go's ``CloseRead``)."""
        self._shutdown(_socket.SHUT_RD)

    def close_write(self) -> None:
        """Shut down the writing side: the peer reads EOF (Go's ``CloseWrite``)."""
        self._shutdown(_socket.SHUT_WR)

    def _shutdown(self, how: int) -> None:
        if self._pd.closing:
            raise ErrClosed()
        try:
            self._sock.shutdown(how)
        except OSError as e:
            raise self._ioerr(e) from None

    @property
    def local_addr(self) -> Any:
        """The local address (a tuple for IP, a path for unix)."""
        a = self._laddr
        if a is None:
            a = self._laddr = _sockname(self._sock)
        return a

    @property
    def remote_addr(self) -> Any:
        """The peer's address (``socket.getpeername()``), None if it cannot be had."""
        a = self._raddr
        if a is None:
            try:
                a = self._raddr = self._sock.getpeername()
            except OSError:
                return None
        return a

    @property
    def network(self) -> str:
        """The network this conn was made on ("tcp", "unix", ...)."""
        return self._network

    def _check(self, h: Any) -> None:
        if self._pd.closing:
            raise ErrClosed()
        d = h.deadline
        if d and (d < 0 or _monotonic() >= d):
            raise Timeout()

    def _ioerr(self, e: OSError) -> OSError:
        if self._pd.closing:
            return ErrClosed()
        return e


def _sockname(sock: Any) -> Any:
    try:
        a = sock.getsockname()
    except OSError:
        return None
    if isinstance(a, bytes) and a.startswith(b"\0"):
        return "@" + a[1:].decode(errors="surrogateescape")
    return a


# --------------------------------------------------------------------------- Listener

class _BoundFD(_NetFD):
    """A listener or packet endpoint: bound to a local address, maybe a unix path to
    unlink on close."""

    __slots__ = ("_network", "_family", "_addr", "_unlink")

    def __init__(self, sock: Any, network: str, family: int, unlink: Any = None) -> None:
        self._open(sock)
        self._network = network
        self._family = family
        self._addr = _sockname(sock)
        self._unlink = unlink

    def _closed(self) -> None:
        if self._unlink is not None:
            try:
                os.unlink(self._unlink)
            except OSError:
                pass

    @property
    def addr(self) -> Any:
        """The bound local address (a tuple for IP, a path for unix)."""
        return self._addr


class Listener(_BoundFD):
    """A stream listener (Go's ``net.Listener``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<pyruntime.net.Listener {self._network} {self._addr!r}{' closed' if self._pd.closing else ''}>"

    def accept(self) -> Conn:
        """Wait for and return the next connection."""
        pd = self._pd
        r = pd.r
        if pd.closing or r.deadline:
            if pd.closing:
                raise ErrClosed()
            d = r.deadline
            if d < 0 or _monotonic() >= d:
                raise Timeout()
        acc = self._sock._accept
        while True:
            seen = r.seq
            try:
                fd, addr = acc()
            except BlockingIOError:
                e = pd.wait(r, seen)
                if e:
                    raise _err(e)
                continue
            except (InterruptedError, ConnectionAbortedError):
                continue  # Go ignores ECONNABORTED: the peer gave up before accept
            except OSError:
                if pd.closing:
                    raise ErrClosed() from None
                raise
            fam = self._family
            try:
                s = _Socket(fam, SOCK_STREAM, 0, fd)
            except BaseException:
                os.close(fd)
                raise
            s.settimeout(0.0)
            if fam != AF_UNIX:
                s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # Go's default
            elif isinstance(addr, bytes) and not addr:
                addr = ""
            return Conn(s, self._network, addr)

    def set_deadline(self, t: float | None) -> None:
        """A deadline for ``accept`` (Go's ``TCPListener.SetDeadline``)."""
        self._pd.set_deadline(self._pd.r, _to_mono(t))



# --------------------------------------------------------------------------- PacketConn

class PacketConn(_BoundFD):
    """A datagram endpoint (Go's ``net.PacketConn``): UDP or unixgram."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<pyruntime.net.PacketConn {self._network} {self._addr!r}{' closed' if self._pd.closing else ''}>"

    def read_from(self, n: int = 65536) -> tuple[bytes, Any]:
        """Receive one datagram (truncated to ``n`` bytes): ``(data, sender_addr)``."""
        pd = self._pd
        r = pd.r
        if r.deadline or pd.closing:
            _check(pd, r)
        recvfrom = self._sock.recvfrom
        while True:
            seen = r.seq
            try:
                return recvfrom(n)
            except BlockingIOError:
                e = pd.wait(r, seen)
                if e:
                    raise _err(e)
            except InterruptedError:
                continue
            except OSError:
                if pd.closing:
                    raise ErrClosed() from None
                raise

    def write_to(self, b: Any, addr: Any) -> int:
        """Send ``b`` as one datagram to ``addr`` ("host:port", a socket tuple, or a
        unixgram path); returns its length."""
        pd = self._pd
        w = pd.w
        if w.deadline or pd.closing:
            _check(pd, w)
        sa = self._sockaddr(addr)
        sendto = self._sock.sendto
        while True:
            seen = w.seq
            try:
                return sendto(b, sa)
            except BlockingIOError:
                e = pd.wait(w, seen)
                if e:
                    raise _err(e)
            except InterruptedError:
                continue
            except OSError:
                if pd.closing:
                    raise ErrClosed() from None
                raise

    def _sockaddr(self, addr: Any) -> Any:
        if self._family == AF_UNIX:
            return _unix_path(addr)
        if isinstance(addr, tuple):
            return addr
        infos = _resolve(self._network, self._family, addr, SOCK_DGRAM, False)
        for af, sa in infos:
            if af == self._family:
                return sa
        raise AddrError(f"no {('IPv4' if self._family == AF_INET else 'IPv6')} address", addr)

    @property
    def local_addr(self) -> Any:
        """Same as ``addr``."""
        return self._addr


def _check(pd: Any, h: Any) -> None:
    if pd.closing:
        raise ErrClosed()
    d = h.deadline
    if d and (d < 0 or _monotonic() >= d):
        raise Timeout()


# --------------------------------------------------------------------------- listen / dial

def listen(network: str, address: str) -> Listener:
    """Listen on ``address`` ("host:port", or a path for unix)."""
    fam = _check_net(network, _STREAM)
    if network == "unix":
        path = _unix_path(address)
        s = _new_socket(AF_UNIX, SOCK_STREAM)
        try:
            s.bind(path)
            s.listen(_backlog())
        except BaseException:
            s.close()
            raise
        unlink = path if isinstance(path, str) and not path.startswith("\0") else None
        return Listener(s, network, AF_UNIX, unlink)
    s, af = _bound_socket(network, fam, address, SOCK_STREAM)
    return Listener(s, network, af)


def _bound_socket(network: str, fam: int, address: str, kind: int) -> tuple[_socket.socket, int]:
    """A socket bound to the first of ``address``'s resolutions that binds (and, for a
    stream, listening); the last error if none does.  IPv6 sockets are v6-only for
    "tcp6"/"udp6" and dual-stack otherwise, as in Go."""
    last: BaseException | None = None
    for af, sa in _resolve(network, fam, address, kind, True):
        s = _new_socket(af, kind)
        try:
            if kind == SOCK_STREAM:
                s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            if af == AF_INET6 and hasattr(_socket, "IPV6_V6ONLY"):
                s.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1 if network.endswith("6") else 0)
            s.bind(sa)
            if kind == SOCK_STREAM:
                s.listen(_backlog())
        except OSError as e:
            s.close()
            last = e
            continue
        except BaseException:
            s.close()
            raise
        return s, af
    assert last is not None
    raise last


def dial(network: str, address: str, timeout: float | None = None) -> Conn:
    """Connect to ``address``; ``timeout`` (seconds) bounds the whole dial, including
    name resolution and every address tried (``Timeout`` when it passes)."""
    fam = _check_net(network, _STREAM)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"dial: timeout must be seconds or None, got {type(timeout).__name__} {timeout!r}")
        if timeout != timeout:
            raise ValueError("dial: timeout is NaN")
        if not timeout > 0:
            raise Timeout()
        deadline = _monotonic() + timeout
    else:
        deadline = 0.0
    if network == "unix":
        targets = [(AF_UNIX, _unix_path(address))]
    else:
        targets = _resolve(network, fam, address, SOCK_STREAM, False)
    last: BaseException | None = None
    for af, sa in targets:
        try:
            return _dial1(network, af, sa, deadline)
        except Timeout:
            raise
        except OSError as e:
            last = e
    assert last is not None
    raise last


def _dial1(network: str, af: int, sa: Any, deadline: float) -> Conn:
    s = _new_socket(af, SOCK_STREAM)
    c: Conn | None = None
    try:
        if af != AF_UNIX:
            s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        err = s.connect_ex(sa)
        # Register after connect: the registration reports the current state, so an
        # unconnected socket's HUP does not show up as a spurious write edge.
        c = Conn(s, network, None)
        if err in (0, _errno.EISCONN):
            return c
        if err not in (_errno.EINPROGRESS, _errno.EALREADY, _errno.EINTR):
            raise OSError(err, f"dial {network} {_fmt(sa)}: {os.strerror(err)}")
        pd = c._pd
        w = pd.w
        # The "syscall" here is asking how the connect went; ask before the first wait,
        # too: the registration's edge may have been harvested before we read w.seq.
        while True:
            seen = w.seq
            err = s.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
            if err == _errno.EISCONN:
                return c
            if err and err not in (_errno.EINPROGRESS, _errno.EALREADY, _errno.EINTR):
                raise OSError(err, f"dial {network} {_fmt(sa)}: {os.strerror(err)}")
            if not err:
                try:  # SO_ERROR is 0 while in progress, too: are we connected?
                    c._raddr = s.getpeername()
                    return c
                except OSError:
                    pass
            e = pd.wait(w, seen, deadline)
            if e:
                raise _err(e)
    except BaseException:
        if c is not None:
            c.close()
        else:
            s.close()
        raise


def _fmt(sa: Any) -> str:
    if isinstance(sa, tuple):
        return join_host_port(str(sa[0]), sa[1])
    return str(sa)


def listen_packet(network: str, address: str) -> PacketConn:
    """A datagram endpoint bound to ``address`` ("udp": "host:port"; "unixgram": a path)."""
    fam = _check_net(network, _PACKET)
    if network == "unixgram":
        path = _unix_path(address)
        s = _new_socket(AF_UNIX, SOCK_DGRAM)
        try:
            s.bind(path)
        except BaseException:
            s.close()
            raise
        unlink = path if isinstance(path, str) and not path.startswith("\0") else None
        return PacketConn(s, network, AF_UNIX, unlink)
    s, af = _bound_socket(network, fam, address, SOCK_DGRAM)
    return PacketConn(s, network, af)
