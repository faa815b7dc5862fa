"""The kqueue backend (macOS, the BSDs): Go's ``netpoll_kqueue.go``.

One kqueue for the process.  An fd is registered once with two filters,
``EVFILT_READ`` and ``EVFILT_WRITE``, both ``EV_ADD|EV_CLEAR`` (edge-triggered); the
kevent's ``udata`` carries the pollDesc tag (slot | seq << 32), so stale events are
recognised exactly as with epoll.  ``break_()`` triggers an ``EVFILT_USER`` event
(registered once with ``EV_CLEAR``, fired with ``NOTE_TRIGGER``); Go uses the same
(NetBSD, which lacks it, uses a pipe).

Mapping: a read-filter event -> read ready, a write-filter event -> write ready;
``EV_EOF`` is reported on the filter that saw it; ``EV_ERROR`` -> both directions and
the error bit.  At most 64 events per call.  Timeout: ``None`` blocks; otherwise
seconds, capped at 1e6 s (Darwin rejects longer ones).

Unlike ``EPOLL_CTL_ADD``, ``EV_ADD`` on an already registered fd does not fail, so it
cannot tell the caller that the file under an fd number changed; the netpoller keeps
each fd's ``(st_dev, st_ino)`` instead (``detects_reuse = False``).

This module imports everywhere; the constructor needs ``select.kqueue`` unless a
kqueue-like object is passed in (the unit tests drive it with a fake on Linux).
"""

from __future__ import annotations

import errno as _errno
import select as _select
from collections.abc import Callable
from typing import Any

__all__ = ["KqueueBackend", "EVFILT_READ", "EVFILT_WRITE", "EVFILT_USER", "EV_ADD", "EV_DELETE", "EV_CLEAR",
           "EV_EOF", "EV_ERROR", "NOTE_TRIGGER"]

# <sys/event.h> (Darwin and FreeBSD agree on these, except EVFILT_USER: -10 vs -11)
EVFILT_READ = getattr(_select, "KQ_FILTER_READ", -1)
EVFILT_WRITE = getattr(_select, "KQ_FILTER_WRITE", -2)
EVFILT_USER = getattr(_select, "KQ_FILTER_USER", -11 if __import__("sys").platform.startswith("freebsd") else -10)
EV_ADD = getattr(_select, "KQ_EV_ADD", 0x0001)
EV_DELETE = getattr(_select, "KQ_EV_DELETE", 0x0002)
EV_CLEAR = getattr(_select, "KQ_EV_CLEAR", 0x0020)
EV_EOF = getattr(_select, "KQ_EV_EOF", 0x8000)
EV_ERROR = getattr(_select, "KQ_EV_ERROR", 0x4000)
NOTE_TRIGGER = 0x01000000

MAX_EVENTS = 64
MAX_TIMEOUT_S = 1e6
BREAK_IDENT = 0

MODE_R, MODE_W, MODE_ERR = 1, 2, 4


def timeout_s(timeout: float | None) -> float | None:
    """None -> None (block); <= 0 -> 0; else seconds, capped at 1e6."""
    if timeout is None:
        return None
    if timeout <= 0:
        return 0
    return MAX_TIMEOUT_S if timeout > MAX_TIMEOUT_S else timeout


class KqueueBackend:
    """netpollinit / netpollopen / netpollclose / netpoll / netpollBreak for kqueue."""

    name = "kqueue"
    detects_reuse = False

    def __init__(self, kq: Any = None, kevent: Callable[..., Any] | None = None) -> None:
        self._kevent = kevent if kevent is not None else _select.kevent
        self._injected = kq is not None
        self.kq = kq if kq is not None else _select.kqueue()
        self.wakesig = False
        self.kq.control([self._kevent(BREAK_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR)], 0, 0)

    def open(self, fd: int, tag: int) -> int:
        kev = self._kevent
        flags = EV_ADD | EV_CLEAR
        try:
            self.kq.control([kev(fd, EVFILT_READ, flags, 0, 0, tag), kev(fd, EVFILT_WRITE, flags, 0, 0, tag)], 0, 0)
        except OSError as e:
            # kqueue refuses regular files only for some filters; treat EBADF etc. as errors
            return e.errno or _errno.EINVAL
        return 0

    modify = open  # EV_ADD on a registered (fd, filter) replaces its udata

    def close(self, fd: int) -> int:
        kev = self._kevent
        err = 0
        for filt in (EVFILT_READ, EVFILT_WRITE):
            try:
                self.kq.control([kev(fd, filt, EV_DELETE)], 0, 0)
            except OSError as e:  # closing an fd removes its knotes: ENOENT/EBADF are normal
                err = e.errno or 0
        return err

    def wait(self, timeout: float | None) -> list:
        try:
            evs = self.kq.control(None, MAX_EVENTS, timeout_s(timeout))
        except InterruptedError:
            return []
        out = []
        for ev in evs:
            filt = ev.filter
            if filt == EVFILT_USER:
                self.wakesig = False
                continue
            flags = ev.flags
            if flags & EV_ERROR:
                mode = MODE_R | MODE_W | MODE_ERR
            elif filt == EVFILT_READ:
                mode = MODE_R
            elif filt == EVFILT_WRITE:
                mode = MODE_W
            else:
                continue
            out.append((ev.udata, mode))
        return out

    def break_(self) -> None:
        if self.wakesig:
            return
        self.wakesig = True
        self.kq.control([self._kevent(BREAK_IDENT, EVFILT_USER, 0, NOTE_TRIGGER)], 0, 0)

    def is_poll_descriptor(self, fd: int) -> bool:
        try:
            return fd == self.kq.fileno()
        except Exception:
            return False

    def shutdown(self) -> None:
        if not self._injected:
            self.kq.close()

    def reinit(self) -> None:
        """After fork: kqueues are not inherited by the child; make a new one."""
        if not self._injected:
            self.kq = _select.kqueue()
        self.wakesig = False
        self.kq.control([self._kevent(BREAK_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR)], 0, 0)
