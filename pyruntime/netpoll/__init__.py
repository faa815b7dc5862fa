"""pyruntime.netpoll: the network poller (Go's ``netpoll.go`` and its backends).

What it is
----------
One poller instance (epoll on Linux, kqueue on macOS/BSD) for the whole process, with
no thread of its own.  The scheduler drives it through three members (the contract in
``_core/proc.py``):

``poll(timeout) -> list[G]``
    Harvest readiness events.  ``timeout`` 0: do not block; ``None``: block until an
    event or ``break_()``; otherwise seconds.  Returns the goroutines the events make
    ready; the caller readies them (Go's ``netpoll`` + ``injectglist``).
``break_()``
    Wake a ``poll`` blocked on another thread (Go's ``netpollBreak``).
``waiters``
    How many goroutines are parked on file descriptors.  While it is non-zero the
    scheduler polls before idling and ``checkdead`` stays quiet, as in Go.

Who calls ``poll``: ``find_runnable`` without blocking when its queues are empty;
exactly one idle M blocking, until its next timer (``_wakem`` breaks it when work
arrives); sysmon, when nobody has polled for 10 ms.

Backend contract (one implementation per file; Go's ``netpollinit`` ... ``netpollBreak``)
    ``Backend()``                  init: create the instance and its break mechanism.
    ``open(fd, tag) -> errno``     register ``fd`` once, edge-triggered, for read and
                                   write, with ``tag`` returned by every event.  0 on
                                   success; ``EEXIST`` (epoll) when this open file is
                                   already registered under this fd; ``EPERM`` when the
                                   fd cannot be polled.
    ``modify(fd, tag) -> errno``   point an existing registration at a new tag.
    ``close(fd) -> errno``         deregister (before the fd is closed).
    ``wait(timeout) -> [(tag, modebits)]``  block as ``poll`` above; ``modebits`` is
                                   MODE_R | MODE_W | MODE_ERR; break events are
                                   consumed, never returned.
    ``break_()``                   wake a blocked ``wait``; at most one wake in flight.
    ``detects_reuse``              True if ``open`` reports EEXIST for a live
                                   registration (epoll); otherwise the netpoller keeps
                                   each fd's (st_dev, st_ino) to tell reuse apart.
    ``reinit()``                   after ``fork()``, in the child.
    ``shutdown()``                 release the instance (a poller that lost the race to
                                   be the process's one).

Locks and preemption: sysmon can preempt a goroutine in any code outside the pyruntime
package, and a preempted goroutine's M runs other goroutines of its P.  So no
``threading.Lock`` here is held across a call into library Python code (a second
goroutine of that M taking the same lock would block the thread for good); only C
calls and pyruntime code run under them.

Modules
    ``polldesc.py``  the pollDesc (one per fd: read/write halves, deadlines, waiters)
                     and the ``Netpoller`` front end; the wait protocol and its
                     invariants are written there.
    ``epoll.py``     Linux backend (ctypes: the registration carries a 64-bit tag).
    ``kqueue.py``    macOS/BSD backend (``select.kqueue``; ``udata`` carries the tag).

Users: :mod:`pyruntime.net` (Go's ``net``) and :mod:`pyruntime.monkey` (cooperative
``socket``/``select``/``selectors``).  ``get()`` creates the poller on first use and
installs it with ``proc.set_netpoller``.
"""

from __future__ import annotations

import os
import sys
import threading

from .._core import proc
from .polldesc import (
    CLOSING,
    MODE_ERR,
    MODE_R,
    MODE_W,
    OK,
    TIMEOUT,
    Half,
    Netpoller,
    PollDesc,
)

# Import the backend now, at ``import pyruntime`` time: a first import from inside a
# goroutine could be preempted half-way (importlib is library code) and another
# goroutine of the same thread would then see a partially initialised module.
if sys.platform.startswith("linux"):
    from . import epoll as _backend_mod
else:  # pragma: no cover - macOS / BSD
    from . import kqueue as _backend_mod

__all__ = ["get", "Netpoller", "PollDesc", "Half", "OK", "CLOSING", "TIMEOUT", "MODE_R", "MODE_W", "MODE_ERR",
           "new_backend"]

_lock = threading.Lock()
_np: Netpoller | None = None


def new_backend():  # type: ignore[no-untyped-def]
    """The platform's backend: epoll on Linux, kqueue where the OS has it."""
    if sys.platform.startswith("linux"):
        return _backend_mod.EpollBackend()
    import select

    if hasattr(select, "kqueue"):
        return _backend_mod.KqueueBackend()
    raise OSError(f"pyruntime.netpoll: no poller backend for {sys.platform}")


def get() -> Netpoller:
    """The process's netpoller, created and installed in the scheduler on first use."""
    np = _np
    if np is not None:
        if proc.netpoller is not np:
            proc.set_netpoller(np)
        return np
    return _create()


def _create() -> Netpoller:
    # Build it outside the lock: creating a backend runs library Python code (ctypes),
    # where sysmon may preempt this goroutine, and another goroutine of the same M
    # would then block the whole thread on the lock.  Under the lock: C calls only.
    global _np
    np = Netpoller(new_backend())
    with _lock:
        if _np is None:
            _np = np
            np = None  # type: ignore[assignment]
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_np.reinit)
        proc.set_netpoller(_np)
        chosen = _np
    if np is not None:
        np.backend.shutdown()
    return chosen
