"""pyruntime.monkey: make blocking stdlib modules cooperate with the runtime.

Call it first, before anything else is imported (like gevent's ``monkey.patch_all``)::

    from pyruntime import monkey
    monkey.patch_all()          # before importing urllib, http.server, socketserver, ...

    import urllib.request
    import pyruntime as rt
    ...

Why first: modules that copy a name at import time (``from socket import socket``,
``from select import select``, ``ssl``'s subclass of ``socket.socket``) keep the
original.  Patching later still covers code that looks names up through the module
(``socket.socket(...)``, ``socket.create_connection``, ``selectors.DefaultSelector()``,
``time.sleep``), and sockets created before the patch stay ordinary.

What is patched, and how it behaves
    ``patch_socket()``  ``socket.socket`` becomes a subclass whose blocking calls
        (``recv*``, ``send*``, ``sendall``, ``accept``, ``connect``, ``connect_ex``) park
        the calling goroutine on the netpoller when they would block, honouring the
        socket's timeout (``TimeoutError("timed out")``, as before).  The OS-level fd
        is always non-blocking; the timeout you set is kept by the object
        (``gettimeout``/``getblocking``/``timeout`` report it as before).  Also
        ``getaddrinfo``, ``gethostbyname``, ``gethostbyname_ex``, ``gethostbyaddr``,
        ``getnameinfo``: a name lookup from a goroutine runs on a syscall M.
    ``patch_time()``  ``time.sleep``: a goroutine parks on a runtime timer
        (``time.sleep(0)`` yields, like ``rt.gosched()``).
    ``patch_select()``  ``select.select``, ``select.poll`` and the ``select()`` method of
        every ``selectors`` class (so ``DefaultSelector``, ``socketserver``'s
        ``PollSelector``, ``subprocess``): a goroutine checks without blocking, then
        parks until one of the fds has an event or the timeout passes.

On a plain OS thread (no goroutine), every patched call behaves as the original:
sockets block the thread (in ``poll(2)``) with the same timeout semantics and
exceptions; ``time.sleep`` and ``select`` are the originals.  So a program can keep
plain threads (an asyncio loop, ``pyruntime.aio``'s loop thread) next to goroutines.

Not patched (they still block the M when called from a goroutine; wrap them in
``rt.syscall``): ``threading`` (``Lock``, ``Event``, ``Condition``: so
``socketserver``'s ``server.shutdown()`` must be called from a plain thread or another
process), ``ssl`` (its reads run in C on the fd), ``os.read``/``os.write`` on pipes,
``select.epoll``/``select.kqueue`` objects used directly, ``subprocess.Popen.wait``.
"""

from __future__ import annotations

import _socket
import errno as _errno
import math
import os
import select as _select
import selectors as _selectors
import socket as _socket_mod
import time as _time
from typing import Any

from . import netpoll as _netpoll
from . import time as _rtime
from ._core import proc
from ._core.chan import chan as _chan
from .netpoll import TIMEOUT

__all__ = ["patch_all", "patch_socket", "patch_time", "patch_select", "is_patched", "get_original"]

_getg = proc.getg
_monotonic = _time.monotonic
_ss = _socket.socket

# Originals, captured when this module is first imported.
_BaseSocket: Any = _socket_mod.socket if not getattr(_socket_mod.socket, "_pyruntime_coop", False) else \
    _socket_mod.socket.__mro__[1]
_orig_sleep = _time.sleep
_orig_select = _select.select
_orig_poll = _select.poll
_orig_dns = {name: getattr(_socket_mod, name) for name in
             ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo")}

_saved: dict[tuple[str, str], Any] = {}   # (module, attribute) -> original, while patched


def _set(mod: Any, name: str, value: Any) -> None:
    key = (mod.__name__, name)
    if key not in _saved:
        _saved[key] = getattr(mod, name)
    setattr(mod, name, value)


def get_original(mod_name: str, item_name: str) -> Any:
    """The unpatched object (``get_original("time", "sleep")``)."""
    key = (mod_name, item_name)
    if key in _saved:
        return _saved[key]
    import importlib

    return getattr(importlib.import_module(mod_name), item_name)


def is_patched(mod_name: str, item_name: str | None = None) -> bool:
    """True if ``mod_name`` (or its ``item_name``) has been patched."""
    return any(m == mod_name and (item_name is None or n == item_name) for (m, n) in _saved)


def _unpatch_all() -> None:
    """Restore every original (for tests; not part of the contract)."""
    import importlib

    for (m, n), v in list(_saved.items()):
        if m.startswith("selectors."):
            setattr(getattr(_selectors, m.split(".", 1)[1]), n, v)
        else:
            setattr(importlib.import_module(m), n, v)
    _saved.clear()


# --------------------------------------------------------------------------- helpers

def _timed_out() -> OSError:
    return TimeoutError("timed out")


def _wait_thread(fd: int, write: bool, deadline: float | None) -> None:
    """Block a plain thread until ``fd`` is ready (CPython's own internal_select)."""
    p = _orig_poll()
    p.register(fd, _select.POLLOUT if write else _select.POLLIN)
    while True:
        if deadline is None:
            ms = -1
        else:
            left = deadline - _monotonic()
            if left <= 0:
                raise _timed_out()
            ms = int(math.ceil(left * 1000))
        if p.poll(ms):
            return


def _is_numeric_host(host: Any) -> bool:
    if host is None or host == "" or host == b"":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return True  # let the original raise its TypeError
    for fam in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(fam, host.split("%", 1)[0])
            return True
        except (OSError, ValueError):
            pass
    return False


# --------------------------------------------------------------------------- socket

class socket(_BaseSocket):  # type: ignore[misc,valid-type]
    """``socket.socket`` whose blocking calls park goroutines (see the module doc)."""

    __slots__ = ("_rt_timeout", "_rt_pd")
    _pyruntime_coop = True

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None) -> None:
        _BaseSocket.__init__(self, family, type, proto, fileno)
        t = _ss.gettimeout(self)
        self._rt_timeout = t
        self._rt_pd: Any = None
        if t != 0.0:
            _ss.settimeout(self, 0.0)

    # -- the user's timeout (the fd itself is always non-blocking)

    def settimeout(self, value: Any) -> None:
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise TypeError("Timeout value must be int, float or None") from None
            if value != value:
                raise ValueError("Invalid value NaN (not a number)")
            if value < 0:
                raise ValueError("Timeout value out of range")
            value = float(value)
        self._rt_timeout = value

    def gettimeout(self) -> float | None:
        return self._rt_timeout

    def setblocking(self, flag: bool) -> None:
        self._rt_timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._rt_timeout != 0.0

    @property
    def timeout(self) -> float | None:  # type: ignore[override]
        return self._rt_timeout

    # -- waiting

    def _rt_wait(self, write: bool, deadline: float | None, pd: Any, seen: int) -> None:
        """The call just said EAGAIN: park until the fd is ready.  ``pd``/``seen`` are the
        pollDesc and its edge count read *before* that call (polldesc's I/O protocol);
        if the socket had no live pollDesc then, register it and return at once: edges
        before the registration are not in ``seen``, so the caller tries again first."""
        fd = _ss.fileno(self)
        if fd < 0:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        if _getg() is None:
            _wait_thread(fd, write, deadline)
            return
        cur = self._rt_pd
        if cur is None or cur.closing:
            cur = self._rt_pd = _netpoll.get().open(fd)
            if cur is None:  # pragma: no cover - sockets are pollable
                _wait_thread(fd, write, deadline)
            return
        if cur is not pd:
            return  # replaced since the call began: its seq says nothing about this one
        code = pd.wait(pd.w if write else pd.r, seen, deadline or 0.0)
        if code:
            if code == TIMEOUT:
                raise _timed_out()
            raise OSError(_errno.EBADF, "Bad file descriptor")

    def _rt_call(self, write: bool, fn: Any, *args: Any) -> Any:
        """``fn(self, *args)``, parking only when it said EAGAIN (as Go's ``fd.Read``: a
        short read or write is returned, never taken to mean "drained")."""
        t = self._rt_timeout
        if t == 0.0:
            return fn(self, *args)
        deadline = None
        while True:
            pd = self._rt_pd
            seen = -1 if pd is None else (pd.w.seq if write else pd.r.seq)
            try:
                return fn(self, *args)
            except BlockingIOError:
                pass
            except InterruptedError:
                continue
            if deadline is None and t is not None:
                deadline = _monotonic() + t
            self._rt_wait(write, deadline, pd, seen)

    # -- blocking calls

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        t = self._rt_timeout
        if t == 0.0:
            return _ss.recv(self, bufsize, flags)
        return self._rt_call(False, _ss.recv, bufsize, flags)  # type: ignore[no-any-return]

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self._rt_call(False, _ss.recv_into, buffer, nbytes, flags)  # type: ignore[no-any-return]

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple:
        return self._rt_call(False, _ss.recvfrom, bufsize, flags)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple:
        return self._rt_call(False, _ss.recvfrom_into, buffer, nbytes, flags)

    if hasattr(_ss, "recvmsg"):
        def recvmsg(self, *args: Any) -> tuple:
            return self._rt_call(False, _ss.recvmsg, *args)

        def recvmsg_into(self, *args: Any) -> tuple:
            return self._rt_call(False, _ss.recvmsg_into, *args)

        def sendmsg(self, *args: Any) -> int:
            return self._rt_call(True, _ss.sendmsg, *args)

    def send(self, data: Any, flags: int = 0) -> int:
        return self._rt_call(True, _ss.send, data, flags)

    def sendto(self, data: Any, *args: Any) -> int:
        return self._rt_call(True, _ss.sendto, data, *args)

    def sendall(self, data: Any, flags: int = 0) -> None:
        t = self._rt_timeout
        if t == 0.0:
            return _ss.sendall(self, data, flags)
        pd = self._rt_pd
        seen = -1 if pd is None else pd.w.seq
        blocked = False
        try:
            n = _ss.send(self, data, flags)
            if n == len(data) and (data.__class__ is bytes or data.__class__ is bytearray):
                return None
        except BlockingIOError:
            n, blocked = 0, True
        except InterruptedError:
            n = 0
        mv = memoryview(data)
        if mv.ndim != 1 or mv.itemsize != 1:
            mv = mv.cast("B")
        total = mv.nbytes
        deadline = None if t is None else _monotonic() + t
        while n < total:
            if blocked:  # only after EAGAIN: a short send is retried at once
                self._rt_wait(True, deadline, pd, seen)
            pd = self._rt_pd
            seen = -1 if pd is None else pd.w.seq
            try:
                n += _ss.send(self, mv[n:], flags)
                blocked = False
            except BlockingIOError:
                blocked = True
            except InterruptedError:
                blocked = False
        return None

    def accept(self) -> tuple:
        fd, addr = self._rt_call(False, _ss._accept)
        sock = socket(self.family, self.type, self.proto, fileno=fd)
        # As socket.accept (Issue #7995): a listener with a timeout gives blocking conns
        # unless a default timeout is set.
        if _socket_mod.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, addr

    def connect(self, address: Any) -> None:
        t = self._rt_timeout
        if t == 0.0:
            return _ss.connect(self, address)
        address = self._rt_resolve(address)
        pd = self._rt_pd
        seen = -1 if pd is None else pd.w.seq
        err = _ss.connect_ex(self, address)
        if err == 0 or err == _errno.EISCONN:
            return None
        if err not in (_errno.EINPROGRESS, _errno.EALREADY, _errno.EINTR, _errno.EAGAIN):
            raise OSError(err, os.strerror(err))
        deadline = None if t is None else _monotonic() + t
        while True:
            self._rt_wait(True, deadline, pd, seen)
            # The "syscall": how did the connect go?  seq is read before asking, and a
            # wake-up is only a hint (a stale edge, or the first return of _rt_wait).
            pd = self._rt_pd
            seen = -1 if pd is None else pd.w.seq
            err = _ss.getsockopt(self, _socket.SOL_SOCKET, _socket.SO_ERROR)
            if err in (_errno.EINPROGRESS, _errno.EALREADY, _errno.EINTR):
                continue
            if err == _errno.EAGAIN and self.family == getattr(_socket, "AF_UNIX", None):
                err = _ss.connect_ex(self, address)  # unix backlog was full: try again
                if err in (0, _errno.EISCONN):
                    return None
                if err == _errno.EAGAIN:
                    continue
            if err:
                raise OSError(err, os.strerror(err))
            try:
                _ss.getpeername(self)
                return None
            except OSError:
                continue

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except TimeoutError:
            return _errno.EAGAIN  # CPython reports a timed-out connect_ex as EWOULDBLOCK
        except _socket.gaierror:
            raise
        except OSError as e:
            if e.errno is None:
                raise
            return e.errno
        return 0

    def _rt_resolve(self, address: Any) -> Any:
        """Resolve a host name off the M (CPython's connect would call getaddrinfo in C)."""
        if (self.family in (_socket.AF_INET, _socket.AF_INET6) and isinstance(address, tuple)
                and len(address) >= 2 and not _is_numeric_host(address[0]) and _getg() is not None):
            infos = proc.syscall(_orig_dns["getaddrinfo"], address[0], address[1], self.family, self.type)
            if infos:
                sa = infos[0][4]
                return sa if self.family == _socket.AF_INET else (sa[0], sa[1]) + tuple(address[2:4])
        return address

    # -- close

    def _rt_forget(self) -> None:
        pd = self._rt_pd
        self._rt_pd = None
        if pd is not None:
            pd.evict()
        else:
            np = _netpoll._np
            fd = _ss.fileno(self)
            if np is not None and fd >= 0:
                np.evict_fd(fd)

    def _real_close(self, _ss: Any = _ss) -> None:
        self._rt_forget()
        _BaseSocket._real_close(self)

    def detach(self) -> int:
        self._rt_forget()
        return _BaseSocket.detach(self)


def patch_socket() -> None:
    """Replace ``socket.socket`` and the name-lookup functions (see the module doc)."""
    _set(_socket_mod, "socket", socket)

    def _wrap(name: str) -> Any:
        orig = _orig_dns[name]

        def lookup(*args: Any, **kwargs: Any) -> Any:
            if _getg() is None or (args and _is_numeric_host(args[0]) and name != "getnameinfo"):
                return orig(*args, **kwargs)
            return proc.syscall(orig, *args, **kwargs)

        lookup.__name__ = name
        lookup.__qualname__ = name
        lookup.__doc__ = orig.__doc__
        return lookup

    for name in _orig_dns:
        if not is_patched("socket", name):
            _set(_socket_mod, name, _wrap(name))


# --------------------------------------------------------------------------- time

def sleep(secs: float) -> None:
    """``time.sleep``: parks a goroutine; the original on a plain thread."""
    if _getg() is None:
        return _orig_sleep(secs)
    if isinstance(secs, bool) or not isinstance(secs, (int, float)):
        try:
            secs = float(secs)
        except (TypeError, ValueError):
            raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as an integer") from None
    if secs != secs:
        raise ValueError("Invalid value NaN (not a number)")
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    if secs == 0:
        proc.gosched()
        return None
    _rtime.sleep(secs)
    return None


def patch_time() -> None:
    """Replace ``time.sleep`` (see the module doc)."""
    _set(_time, "sleep", sleep)


# --------------------------------------------------------------------------- select

def _fileno(obj: Any) -> int:
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            fd = int(obj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {obj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


def _park_until(deadline: float | None) -> None:
    """Nothing to wait for: sleep until ``deadline`` (None: forever)."""
    if deadline is None:
        _chan().recv()  # blocks forever (the deadlock detector sees it), as select() would
        return
    left = deadline - _monotonic()
    if left > 0:
        _rtime.sleep(left)


def _coop_wait(fds: list, timeout: float | None, check: Any) -> Any:
    """Park until ``check()`` returns something truthy or ``timeout`` s pass; return the
    last ``check()`` result."""
    deadline = None if timeout is None else _monotonic() + timeout
    if not fds:
        _park_until(deadline)
        return check()
    np = _netpoll.get()
    while True:
        r = np.wait_any(fds, deadline or 0.0, check)
        if r:
            return r
        r = check()
        if r or (deadline is not None and _monotonic() >= deadline):
            return r


def _check_timeout(timeout: Any, what: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            raise TypeError(f"{what}: timeout must be a float or None") from None
    if timeout != timeout:
        raise ValueError("Invalid value NaN (not a number)")
    return float(timeout)


def select(rlist: Any, wlist: Any, xlist: Any, timeout: Any = None) -> tuple:
    """``select.select``: parks a goroutine; the original on a plain thread."""
    if _getg() is None:
        return _orig_select(rlist, wlist, xlist, timeout)
    t = _check_timeout(timeout, "select")
    if t is not None and t < 0:
        raise ValueError("timeout must be non-negative")
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)

    def check() -> Any:
        r = _orig_select(rlist, wlist, xlist, 0)
        return r if (r[0] or r[1] or r[2]) else None

    r = check()
    if r or t == 0:
        return r or ([], [], [])
    want: dict[int, list] = {}
    for o in rlist + xlist:
        want.setdefault(_fileno(o), [False, False])[0] = True
    for o in wlist:
        want.setdefault(_fileno(o), [False, False])[1] = True
    r = _coop_wait([(fd, rw[0], rw[1]) for fd, rw in want.items()], t, check)
    return r or ([], [], [])


class poll:
    """``select.poll()`` objects whose ``poll()`` parks a goroutine."""

    def __init__(self) -> None:
        self._p = _orig_poll()
        self._fds: dict[int, int] = {}

    def register(self, fd: Any, eventmask: int = _select.POLLIN | _select.POLLPRI | _select.POLLOUT) -> None:
        fd = _fileno(fd)
        self._p.register(fd, eventmask)
        self._fds[fd] = eventmask

    def modify(self, fd: Any, eventmask: int) -> None:
        fd = _fileno(fd)
        self._p.modify(fd, eventmask)
        self._fds[fd] = eventmask

    def unregister(self, fd: Any) -> None:
        fd = _fileno(fd)
        self._p.unregister(fd)
        del self._fds[fd]

    def poll(self, timeout: Any = None) -> list:
        if _getg() is None:
            return self._p.poll(timeout)
        t = _check_timeout(timeout, "poll")
        if t is not None and t < 0:
            t = None  # poll(2): a negative timeout means forever
        if t is not None:
            t /= 1000.0
        p = self._p
        r = p.poll(0)
        if r or t == 0:
            return r
        fds = [(fd, bool(m & (_select.POLLIN | _select.POLLPRI)) or not m & _select.POLLOUT,
                bool(m & _select.POLLOUT)) for fd, m in self._fds.items()]
        return _coop_wait(fds, t, lambda: p.poll(0)) or []


def _selector_select(orig: Any) -> Any:
    def select(self: Any, timeout: Any = None) -> list:
        if _getg() is None:
            return orig(self, timeout)
        if timeout is not None and timeout <= 0:
            return orig(self, timeout)
        r = orig(self, 0)
        if r:
            return r
        fds = [(k.fd, bool(k.events & _selectors.EVENT_READ), bool(k.events & _selectors.EVENT_WRITE))
               for k in self.get_map().values()]
        return _coop_wait(fds, None if timeout is None else float(timeout), lambda: orig(self, 0)) or []

    select.__doc__ = orig.__doc__
    select.__name__ = "select"
    select._pyruntime_orig = orig  # type: ignore[attr-defined]
    return select


def _selector_classes() -> list:
    """Every class in ``selectors`` that defines its own ``select`` (``SelectSelector``,
    ``_PollLikeSelector`` under Poll/Epoll/Devpoll, ``KqueueSelector``)."""
    return [c for c in dict.fromkeys(v for v in vars(_selectors).values() if isinstance(v, type))
            if isinstance(c, type) and issubclass(c, _selectors.BaseSelector) and c is not _selectors.BaseSelector
            and "select" in c.__dict__ and not getattr(c.__dict__["select"], "__isabstractmethod__", False)]


def patch_select() -> None:
    """Replace ``select.select``, ``select.poll`` and ``selectors``' ``select`` methods."""
    _set(_select, "select", select)
    _set(_select, "poll", poll)
    for cls in _selector_classes():
        name = cls.__name__
        orig = cls.__dict__["select"]
        if getattr(orig, "_pyruntime_orig", None) is not None:
            continue
        key = (f"selectors.{name}", "select")
        _saved.setdefault(key, orig)
        cls.select = _selector_select(orig)


def patch_all(socket: bool = True, time: bool = True, select: bool = True) -> None:
    """Patch ``socket``, ``time.sleep`` and ``select``/``selectors``.  Call it before
    importing anything else (see the module doc)."""
    if socket:
        patch_socket()
    if time:
        patch_time()
    if select:
        patch_select()
