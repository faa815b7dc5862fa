"""The epoll backend (Linux): Go's ``netpoll_epoll.go``.

One epoll instance for the whole process, shared by every M, plus an eventfd that
``break_()`` writes to wake an M blocked in ``wait``.  Every fd is registered **once**,
edge-triggered, for both directions (``EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET``); the
registration's 64-bit user data is the pollDesc's *tag* (slot | sequence << 32), which
comes back with each event so that an event for a descriptor that has since been closed
and reused is recognised as stale (Go packs the pollDesc pointer and ``fdseq`` the same
way).

Why ctypes and not ``select.epoll``: the standard library's ``epoll.register`` stores
the fd itself as the user data, so it cannot carry a sequence number.  The ctypes calls
cost about 0.4 µs more per ``epoll_wait`` than ``select.epoll.poll`` (measured: 0.9 vs
0.5 µs for an empty non-blocking poll); a poll returns a whole batch, so this is noise
per request.  ``ctypes.CDLL`` releases the GIL during the call, so an M blocked here
does not stop the others.

Mapping (Go's ``netpoll``): ``EPOLLIN|EPOLLRDHUP|EPOLLHUP|EPOLLERR`` -> read ready;
``EPOLLOUT|EPOLLHUP|EPOLLERR`` -> write ready; an event that is exactly ``EPOLLERR``
also reports an error.  The eventfd is drained (and ``wakesig`` cleared) only by a
blocking wait, as in Go: a ``poll(0)`` racing with the blocked M must not eat its wake.  At most 128 events per call.  Timeout: ``None`` -> -1 (block);
0 -> 0; otherwise milliseconds rounded **up** (Go rounds a sub-millisecond delay up to
1 ms; rounding up everywhere means a poll never returns before the caller's next
timer, which would only cost a wasted trip round the scheduler), capped at 1e9 ms.
``EINTR``: return no events (the caller recomputes its timeout, as in Go).
"""

from __future__ import annotations

import ctypes
import errno as _errno
import math
import os
import platform
import struct
from typing import Any

__all__ = ["EpollBackend", "EPOLLIN", "EPOLLOUT", "EPOLLERR", "EPOLLHUP", "EPOLLRDHUP", "EPOLLET"]

EPOLLIN = 0x001
EPOLLPRI = 0x002
EPOLLOUT = 0x004
EPOLLERR = 0x008
EPOLLHUP = 0x010
EPOLLRDHUP = 0x2000
EPOLLET = 1 << 31
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3

MAX_EVENTS = 128
MAX_TIMEOUT_MS = 1_000_000_000

# Mode bits returned by wait(): shared with the kqueue backend and polldesc.
MODE_R, MODE_W, MODE_ERR = 1, 2, 4

_READ_MASK = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR
_WRITE_MASK = EPOLLOUT | EPOLLHUP | EPOLLERR
_REGISTER = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET

BREAK_TAG = (1 << 64) - 1   # the eventfd's user data: never a pollDesc tag

# struct epoll_event is packed on x86 (12 bytes), naturally aligned elsewhere (16).
_PACKED = platform.machine().lower() in ("x86_64", "amd64", "i386", "i486", "i586", "i686", "x86")
_EVENT = struct.Struct("=IQ" if _PACKED else "=I4xQ")
_EVSIZE = _EVENT.size


class _EpollEvent(ctypes.Structure):
    if _PACKED:
        _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


assert ctypes.sizeof(_EpollEvent) == _EVSIZE

_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.epoll_create1.argtypes = [ctypes.c_int]
        lib.epoll_create1.restype = ctypes.c_int
        lib.epoll_ctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(_EpollEvent)]
        lib.epoll_ctl.restype = ctypes.c_int
        lib.epoll_wait.restype = ctypes.c_int
        _libc = lib
    return _libc


_lib()


def timeout_ms(timeout: float | None) -> int:
    """Go's delay conversion, in seconds: None -> -1, <= 0 -> 0, else ms rounded up."""
    if timeout is None:
        return -1
    if timeout <= 0:
        return 0
    ms = math.ceil(timeout * 1000.0)
    return MAX_TIMEOUT_MS if ms > MAX_TIMEOUT_MS else ms


class EpollBackend:
    """netpollinit / netpollopen / netpollclose / netpoll / netpollBreak for epoll."""

    name = "epoll"
    detects_reuse = True   # EPOLL_CTL_ADD fails with EEXIST only for the same open file

    def __init__(self) -> None:
        lib = _lib()
        self._wait_fn = lib.epoll_wait
        self._ctl = lib.epoll_ctl
        epfd = lib.epoll_create1(os.O_CLOEXEC)
        if epfd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"epoll_create1: {os.strerror(e)}")
        self.epfd = epfd
        self.efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.wakesig = False   # a break is in flight (Go's netpollWakeSig)
        # The eventfd is level-triggered: a wake that lands while nobody waits is seen
        # by the next poll, which drains it.
        ev = _EpollEvent(EPOLLIN, BREAK_TAG)
        if self._ctl(epfd, EPOLL_CTL_ADD, self.efd, ctypes.byref(ev)) < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"epoll_ctl(eventfd): {os.strerror(e)}")
        self._bufs: list = []   # event buffers: one per concurrent wait (Ms poll concurrently)

    # ------------------------------------------------------------------ contract

    def open(self, fd: int, tag: int) -> int:
        """Register ``fd`` (edge-triggered, both directions) with ``tag``; 0 or an errno
        (``EEXIST``: this open file is already registered under this fd number;
        ``EPERM``: the fd does not support polling, e.g. a regular file)."""
        ev = _EpollEvent(_REGISTER, tag)
        if self._ctl(self.epfd, EPOLL_CTL_ADD, fd, ctypes.byref(ev)) < 0:
            return ctypes.get_errno()
        return 0

    def modify(self, fd: int, tag: int) -> int:
        """Point an existing registration at a new tag (0 or an errno)."""
        ev = _EpollEvent(_REGISTER, tag)
        if self._ctl(self.epfd, EPOLL_CTL_MOD, fd, ctypes.byref(ev)) < 0:
            return ctypes.get_errno()
        return 0

    def close(self, fd: int) -> int:
        """Deregister ``fd`` (0 or an errno; ENOENT/EBADF are normal for a closed fd)."""
        ev = _EpollEvent(0, 0)
        if self._ctl(self.epfd, EPOLL_CTL_DEL, fd, ctypes.byref(ev)) < 0:
            return ctypes.get_errno()
        return 0

    def wait(self, timeout: float | None) -> list:
        """Wait for events; return ``[(tag, modebits), ...]`` (break events consumed)."""
        bufs = self._bufs
        try:
            buf = bufs.pop()
        except IndexError:
            buf = (_EpollEvent * MAX_EVENTS)()
        try:
            n = self._wait_fn(self.epfd, buf, MAX_EVENTS, timeout_ms(timeout))
            if n <= 0:
                if n < 0:
                    e = ctypes.get_errno()
                    if e != _errno.EINTR:
                        raise OSError(e, f"epoll_wait: {os.strerror(e)}")
                return []
            out = []
            append = out.append
            for events, tag in _EVENT.iter_unpack(memoryview(buf).cast("B")[: n * _EVSIZE]):
                if tag == BREAK_TAG:
                    # Only a blocking poll consumes a break (Go does the same): a
                    # concurrent non-blocking poll must not steal the wake meant for
                    # the M blocked here.  The eventfd is level-triggered, so every
                    # poll sees it until a blocking one drains it.
                    if timeout != 0:
                        self._drain()
                    continue
                mode = 0
                if events & _READ_MASK:
                    mode = MODE_R
                if events & _WRITE_MASK:
                    mode |= MODE_W
                if events == EPOLLERR:
                    mode |= MODE_ERR
                if mode:
                    append((tag, mode))
            return out
        finally:
            bufs.append(buf)

    def break_(self) -> None:
        """Wake a ``wait`` blocked on another thread (at most one wake in flight)."""
        if self.wakesig:
            return
        self.wakesig = True
        try:
            os.eventfd_write(self.efd, 1)
        except BlockingIOError:
            pass  # the counter is saturated: a wake is pending anyway

    def is_poll_descriptor(self, fd: int) -> bool:
        return fd == self.epfd or fd == self.efd

    def shutdown(self) -> None:
        for fd in (self.epfd, self.efd):
            try:
                os.close(fd)
            except OSError:
                pass

    def reinit(self) -> None:
        """After fork: a fresh epoll instance and eventfd (the caller re-registers)."""
        for fd in (self.epfd, self.efd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.__init__()  # type: ignore[misc]

    # ------------------------------------------------------------------ internals

    def _drain(self) -> None:
        try:
            os.eventfd_read(self.efd)
        except (BlockingIOError, OSError):
            pass
        self.wakesig = False
