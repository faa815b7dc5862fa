"""pollDesc and the netpoller front end (Go's ``netpoll.go``).

What it is
----------
A :class:`PollDesc` is the runtime's record for one open file descriptor registered
with the platform poller (``epoll.py`` / ``kqueue.py``).  It has two halves, read and
write (:class:`Half`), each with an edge count (*seq*) and the waiters parked on it.  The
:class:`Netpoller` owns the backend, the table of pollDescs (indexed by *slot*) and the
count of parked goroutines that the scheduler reads; it implements the contract in
``proc.py`` (``poll(timeout) -> list[G]``, ``break_()``, ``waiters``).

Glossary (Go's names in brackets)
    seq       [pdReady] how many edges the poller has reported on this half (it adds
              one per event, under ``pd.lock``).  An I/O path reads it *before* each
              syscall attempt (``seen = h.seq``, our ``pollReset``) and, only when the
              syscall itself said EAGAIN, calls ``wait(h, seen)``, which parks only if
              ``h.seq`` is still ``seen``: an edge that arrived after the attempt began
              (between EAGAIN and the park included) is never lost, and nobody has to
              clear anything, so several goroutines on one half cannot erase each
              other's edges (see *Where we differ*).
    waiters   [rg/wg] ``None``, one G, or a list (G, select waiter or plain-thread
              waiter).  Go allows one G per half because ``fdMutex`` serialises
              readers; we allow several and wake them all (each then retries its
              syscall), which is what concurrent readers of one conn need.
    deadline  [rd/wd] 0: none; -1: expired; > 0: a ``time.monotonic()`` instant.
    armed     when this half's deadline timer (a per-P runtime ``Timer``) will fire;
              0 when disarmed.  The timer is armed lazily, when a goroutine parks
              with a deadline, and left armed after an early wake-up: the deadline is
              absolute, so its firing is correct whenever it happens.
    tag       ``slot | seq << 32``: what the backend returns with each event.  A slot
              is reused for a new descriptor with the next ``seq``, so an event for a
              closed descriptor (already harvested by another M, or coming from a
              dup of the old file) no longer matches and is dropped (Go's ``fdseq``).

I/O protocol (Go's ``internal/poll``: ``fd.Read`` and friends)
    Every read/write/accept/recvfrom/sendto/connect loop is::

        while True:
            seen = h.seq
            try: return syscall()            # data, a short count, b"" at EOF: return it
            except BlockingIOError: pass     # EAGAIN: the only reason to park
            if pd.wait(h, seen): raise ...   # CLOSING / TIMEOUT

    A short read or write says nothing about what comes next: the FIN (or an error)
    may already sit behind the data under the same, already reported edge, so parking
    after a short read without trying the syscall again waits forever (Go parks only
    on EAGAIN too).  A short write is followed by another write attempt at once.

Wait protocol (Go's ``netpollblock``)
    ``wait(half, seen, dl)``: under ``pd.lock``: ``closing`` -> CLOSING; an expired
    deadline -> TIMEOUT; ``seq != seen`` (an edge since the attempt began) -> OK at
    once; otherwise arm the timer, add the G to ``waiters``, count it in
    ``Netpoller.waiters`` and ``proc.park("IO wait", pd.lock)`` (the lock is released
    only after the G is marked waiting, so a waker holding the lock always sees a parked
    G).  Whoever empties ``waiters`` (an event, a deadline timer, a deadline change,
    close) readies the Gs it took and only then uncounts them (``poll`` leaves both to
    its caller).  After waking: CLOSING, else OK if
    an edge came, else TIMEOUT if the deadline passed, else OK (spurious: the caller
    retries its syscall, as in Go).

Invariants
    * ``seq``, ``waiters``, ``closing``, ``deadline`` and ``armed`` change under
      ``pd.lock``; I/O paths only read ``seq`` (one load before each syscall).
    * Nobody readies a G while holding ``pd.lock``; Gs found by ``poll`` are returned
      to the scheduler, which readies them.
    * ``Netpoller.waiters`` == the number of goroutines parked on pollDescs *or taken
      off them and not yet readied*; it changes under ``_wlock`` only.  It keeps
      ``checkdead`` quiet, as in Go, so a G leaves it only once it is on a run queue: a
      G harvested by one M but not yet queued is invisible to checkdead otherwise, and
      an M going idle in that window reported a false deadlock (1 in ~30,000 dials at
      GOMAXPROCS 4, free-threaded).  A decrement made while every P is idle re-runs
      checkdead (``proc.checkdead_idle``): the idling Ms saw the higher count.
    * ``Netpoller.lock`` guards the slot table and ``fdmap`` (fd -> live pollDesc);
      it is never held while a pollDesc lock is taken.

Where we differ from Go, and why
    * Readiness is an edge *count* read before each attempt, not Go's ``pdReady`` bit
      cleared by ``pollReset`` and consumed by ``netpollblock``.  Go can clear a shared
      bit because ``fdMutex`` lets one reader and one writer at a time into an fd; we
      have no fdMutex, and with a bit, goroutine B's reset (or B's wait consuming it)
      could erase the edge goroutine A needed between its EAGAIN and its park (two
      writers on one conn: A parks with buffer space free and no edge to come).  With a
      count, each attempt judges "an edge since *my* syscall" on its own.
    * PollDesc objects are not recycled (only slots are): a conn closed by one
      goroutine may still be referenced by another, and must keep reporting "closed"
      rather than see a stranger's descriptor.
    * Deadline timers are armed when a goroutine parks, not when the deadline is set:
      most deadlines are set and then met without blocking, and a runtime ``Timer``
      belongs to one runtime (``run`` can be called again; an fd may outlive it).
    * A plain OS thread (no runtime, or outside it) cannot park: it waits in
      ``poll(2)`` on its fd and on a per-thread eventfd that close and deadline
      changes write to.
"""

from __future__ import annotations

import errno as _errno
import os
import select as _select
import threading
import time
from typing import Any

from .._core import proc
from .._core.g import G, WaitReason

__all__ = ["PollDesc", "Half", "Netpoller", "OK", "CLOSING", "TIMEOUT", "MODE_R", "MODE_W", "MODE_ERR"]

# wait() results (Go's pollNoError, pollErrClosing, pollErrTimeout)
OK, CLOSING, TIMEOUT = 0, 1, 2

MODE_R, MODE_W, MODE_ERR = 1, 2, 4

SLOT_MASK = 0xFFFFFFFF

IO_WAIT = WaitReason.IO_WAIT
monotonic = time.monotonic
_park = proc.park
_getcurrent = proc.getcurrent
_poll = _select.poll            # the originals: monkey may patch the module later
_POLLIN = _select.POLLIN
_POLLOUT = _select.POLLOUT


def effective(deadline: float, dl: float) -> float:
    """Combine a half's deadline with a per-call one (0 none, < 0 expired, > 0 when)."""
    if not dl:
        return deadline
    if not deadline:
        return dl
    if deadline < 0:
        return deadline
    return deadline if deadline < dl else dl


class Half:
    """One direction of a pollDesc (Go's rg/rd/rt or wg/wd/wt)."""

    __slots__ = ("pd", "seq", "waiters", "deadline", "armed", "armepoch", "timer", "write")

    def __init__(self, pd: "PollDesc", write: bool) -> None:
        self.pd = pd
        self.write = write
        self.seq = 0                # edges reported so far (see the glossary)
        self.waiters: Any = None
        self.deadline = 0.0
        self.armed = 0.0
        self.armepoch = 0
        self.timer: Any = None


def _timer_fire(h: Half, when: float, seq: Any) -> None:
    """A half's deadline timer (runs on a P's scheduler: must not block)."""
    pd = h.pd
    lk = pd.lock
    lk.acquire()
    if h.armed != when:
        lk.release()
        return  # re-armed or disarmed since: stale
    h.armed = 0.0
    w = h.waiters
    h.waiters = None
    lk.release()
    if w is not None:
        pd.np.wake(w)


def _unlink(h: Half, x: Any) -> bool:
    """Remove waiter ``x`` from ``h`` (under pd.lock); True if it was there."""
    w = h.waiters
    if w is x:
        h.waiters = None
        return True
    if type(w) is list:
        for i, y in enumerate(w):
            if y is x:
                del w[i]
                if not w:
                    h.waiters = None
                elif len(w) == 1:
                    h.waiters = w[0]
                return True
    return False


def _link(h: Half, x: Any) -> None:
    w = h.waiters
    if w is None:
        h.waiters = x
    elif type(w) is list:
        w.append(x)
    else:
        h.waiters = [w, x]


class PollDesc:
    """The runtime's record of one registered fd (Go's ``pollDesc``)."""

    __slots__ = ("np", "fd", "slot", "tag", "lock", "r", "w", "closing", "eventerr", "refs", "ident")

    def __init__(self, np: "Netpoller", fd: int, slot: int, tag: int) -> None:
        self.np = np
        self.fd = fd
        self.slot = slot
        self.tag = tag
        self.lock = threading.Lock()
        self.r = Half(self, False)
        self.w = Half(self, True)
        self.closing = False
        self.eventerr = False
        self.refs = 1
        self.ident: Any = None   # (st_dev, st_ino), for backends that cannot detect fd reuse

    def __repr__(self) -> str:
        return (f"<PollDesc fd={self.fd} slot={self.slot} seq={self.tag >> 32}"
                f"{' closing' if self.closing else ''}>")

    # ------------------------------------------------------------------ waiting

    def wait(self, h: Half, seen: int, dl: float = 0.0) -> int:
        """Park until an edge newer than ``seen`` (``h.seq`` read before the syscall that
        returned EAGAIN) is reported on ``h`` (Go's ``poll_runtime_pollWait``): OK,
        CLOSING or TIMEOUT.  OK at once if that edge came already.  ``dl`` is an extra
        per-call deadline (monotonic; 0 = none)."""
        g = getattr(_getcurrent(), "_rtg", None)
        if g is None:
            return self._wait_thread(h, seen, dl)
        lk = self.lock
        lk.acquire()
        if self.closing:
            lk.release()
            return CLOSING
        eff = effective(h.deadline, dl) if dl else h.deadline
        if eff and (eff < 0 or monotonic() >= eff):
            lk.release()
            return TIMEOUT
        if h.seq != seen:
            lk.release()
            return OK
        if eff:
            epoch = proc.sched.start_ns
            if not h.armed or eff < h.armed or h.armepoch != epoch:
                t = h.timer
                if t is None:
                    t = h.timer = proc.Timer(_timer_fire, h)
                h.armed = eff
                h.armepoch = epoch
                t.start(eff)
        _link(h, g)
        np = self.np
        np.addwaiters(1)
        try:
            _park(IO_WAIT, lk)
        except BaseException:
            lk.acquire()
            removed = _unlink(h, g)
            lk.release()
            if removed:
                np.addwaiters(-1)
            raise
        if self.closing:
            return CLOSING
        if h.seq != seen:
            return OK
        eff = effective(h.deadline, dl) if dl else h.deadline
        if eff and (eff < 0 or monotonic() >= eff):
            return TIMEOUT
        return OK

    def _wait_thread(self, h: Half, seen: int, dl: float) -> int:
        """A plain OS thread cannot park: poll(2) the fd (level-triggered, so it needs
        no edge bookkeeping) and a per-thread eventfd."""
        lk = self.lock
        tw = _thread_waiter()
        lk.acquire()
        if h.seq != seen:
            lk.release()
            return OK
        _link(h, tw)
        lk.release()
        try:
            p = _poll()
            p.register(self.fd, _POLLOUT if h.write else _POLLIN)
            p.register(tw.rfd, _POLLIN)
            while True:
                if self.closing:
                    return CLOSING
                eff = effective(h.deadline, dl)
                if eff:
                    left = -1.0 if eff < 0 else eff - monotonic()
                    if left <= 0:
                        return TIMEOUT
                    # poll(2) takes an int of ms: a far (or inf) deadline is waited for
                    # a day at a time (the loop re-checks it).
                    ms = int(min(left, 86400.0) * 1000) + 1
                else:
                    ms = -1
                try:
                    evs = p.poll(ms)
                except InterruptedError:  # pragma: no cover - PEP 475 retries
                    continue
                got = False
                for fd, _ in evs:
                    if fd == tw.rfd:
                        tw.drain()
                    else:
                        got = True
                if self.closing:
                    return CLOSING
                if got:
                    return OK
        finally:
            lk.acquire()
            _unlink(h, tw)
            lk.release()

    # ------------------------------------------------------------------ deadlines / close

    def set_deadline(self, h: Half, when: float) -> None:
        """Set ``h``'s deadline (0 none, -1 expired, > 0 monotonic) and make its waiters
        re-evaluate (Go's ``poll_runtime_pollSetDeadline``)."""
        lk = self.lock
        lk.acquire()
        h.deadline = when
        w = h.waiters
        h.waiters = None
        lk.release()
        if w is not None:
            self.np.wake(w)

    def evict(self) -> bool:
        """Mark closing, wake every waiter (they see CLOSING) and deregister the fd
        (Go's ``pollUnblock`` + ``pollClose``).  Call it *before* closing the fd.
        False if it was already closing."""
        lk = self.lock
        lk.acquire()
        if self.closing:
            lk.release()
            return False
        self.closing = True
        wr, ww = self.r.waiters, self.w.waiters
        self.r.waiters = self.w.waiters = None
        self.r.armed = self.w.armed = 0.0
        lk.release()
        for h in (self.r, self.w):
            if h.timer is not None:
                h.timer.stop()
        self.np._unregister(self)
        if wr is not None:
            self.np.wake(wr)
        if ww is not None:
            self.np.wake(ww)
        return True


class _ThreadWaiter:
    """How a plain OS thread waiting on a pollDesc is woken (close, deadline change)."""

    __slots__ = ("rfd", "wfd")

    def __init__(self) -> None:
        if hasattr(os, "eventfd"):
            self.rfd = self.wfd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        else:  # pragma: no cover - macOS
            self.rfd, self.wfd = os.pipe()
            os.set_blocking(self.rfd, False)
            os.set_blocking(self.wfd, False)

    def fire(self) -> None:
        try:
            if self.rfd == self.wfd:
                os.eventfd_write(self.wfd, 1)
            else:  # pragma: no cover - macOS
                os.write(self.wfd, b"x")
        except OSError:
            pass
        return None

    def drain(self) -> None:
        try:
            if self.rfd == self.wfd:
                os.eventfd_read(self.rfd)
            else:  # pragma: no cover - macOS
                os.read(self.rfd, 512)
        except OSError:
            pass

    def __del__(self) -> None:
        for fd in {self.rfd, self.wfd}:
            try:
                os.close(fd)
            except OSError:
                pass


_tls = threading.local()


def _thread_waiter() -> _ThreadWaiter:
    tw = getattr(_tls, "tw", None)
    if tw is None:
        tw = _tls.tw = _ThreadWaiter()
    return tw


class MultiWaiter:
    """One goroutine waiting on several pollDescs at once (the cooperative
    ``select``/``poll``/selectors of :mod:`pyruntime.monkey`).  ``fire()`` is called by
    whoever takes it off a waiter list (an event, its timer, a close); the first call
    returns the G to ready, later ones None."""

    __slots__ = ("g", "lock", "fired", "parked", "timer", "np")

    def __init__(self, np: "Netpoller", g: G) -> None:
        self.np = np
        self.g = g
        self.lock = threading.Lock()
        self.fired = False
        self.parked = False
        self.timer: Any = None

    def fire(self) -> G | None:
        lk = self.lock
        lk.acquire()
        if self.fired:
            lk.release()
            return None
        self.fired = True
        parked = self.parked
        lk.release()
        return self.g if parked else None


def _mw_timeout(mw: MultiWaiter, when: float, seq: Any) -> None:
    g = mw.fire()
    if g is not None:
        proc.ready(g)
        mw.np.addwaiters(-1)


class Netpoller:
    """The process's netpoller: the object ``proc.set_netpoller`` installs."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.backend_detects_reuse = getattr(backend, "detects_reuse", True)
        self.lock = threading.Lock()       # slot table and fdmap
        self.pds: list[PollDesc | None] = []
        self.seqs: list[int] = []
        self.free: list[int] = []
        self.fdmap: dict[int, PollDesc] = {}
        self.waiters = 0                   # goroutines parked on pollDescs
        self._wlock = threading.Lock()
        self._epoch = 0                    # runtime whose shutdown hook is registered

    # ------------------------------------------------------------------ proc's contract

    def poll(self, timeout: float | None) -> list:
        """Harvest events (``timeout``: 0 = don't block, None = until an event or
        ``break_()``, else seconds) and return the goroutines they make ready.  They are
        still counted in ``waiters``: the caller readies them, then calls
        ``addwaiters(-len(gs))`` (Go's findRunnable applies netpoll's delta after
        injectglist)."""
        evs = self.backend.wait(timeout)
        if not evs:
            return []
        gs: list = []
        pds = self.pds
        for tag, mode in evs:
            try:
                pd = pds[tag & SLOT_MASK]
            except IndexError:  # pragma: no cover - a tag from a forked parent
                continue
            if pd is None or pd.tag != tag:
                continue  # stale: the fd was closed (and maybe reused) since
            lk = pd.lock
            lk.acquire()
            rw = ww = None
            if mode & MODE_R:
                h = pd.r
                h.seq += 1
                rw = h.waiters
                if rw is not None:
                    h.waiters = None
            if mode & MODE_W:
                h = pd.w
                h.seq += 1
                ww = h.waiters
                if ww is not None:
                    h.waiters = None
            if mode & MODE_ERR:
                pd.eventerr = True
            lk.release()
            if rw is not None:
                if type(rw) is G:
                    gs.append(rw)
                else:
                    _collect(rw, gs)
            if ww is not None:
                if type(ww) is G:
                    gs.append(ww)
                else:
                    _collect(ww, gs)
        # The Gs stay counted in ``waiters`` until the caller has readied them and lowers
        # the count by len(gs) itself (proc._inject): in between they are neither queued
        # nor counted anywhere else, and checkdead would call a deadlock.
        return gs

    def break_(self) -> None:
        self.backend.break_()

    # ------------------------------------------------------------------ bookkeeping

    def addwaiters(self, n: int) -> None:
        """Count ``n`` more (or, negative, fewer) parked goroutines.  Lower the count only
        after readying the Gs (see the module essay)."""
        lk = self._wlock
        lk.acquire()
        self.waiters += n
        lk.release()
        if n > 0:
            if self._epoch != proc.sched.start_ns:
                self._epoch = proc.sched.start_ns
                proc.on_shutdown(self._purge)
        else:
            s = proc.sched
            if s.npidle >= len(s.allp):
                # Every P is idle and the readied Gs may already have blocked again: an
                # idling M saw our count and stayed quiet, so checkdead is ours to re-run.
                proc.checkdead_idle()

    def wake(self, w: Any) -> None:
        """Ready the waiters taken off a half (not from ``poll``: a timer, a deadline
        change, a close), then uncount them."""
        if type(w) is G:
            proc.ready(w)
            self.addwaiters(-1)
            return
        gs: list = []
        n = _collect(w, gs)
        for g in gs:
            proc.ready(g)
        if n:
            self.addwaiters(-n)

    def _purge(self) -> None:
        """The runtime stopped: goroutines still listed as waiters are gone."""
        with self.lock:
            pds = list(self.fdmap.values())
        for pd in pds:
            with pd.lock:
                for h in (pd.r, pd.w):
                    w = h.waiters
                    if w is None:
                        continue
                    keep = [x for x in (w if type(w) is list else [w]) if type(x) is _ThreadWaiter]
                    h.waiters = None if not keep else (keep[0] if len(keep) == 1 else keep)
                    h.armed = 0.0
        with self._wlock:
            self.waiters = 0

    # ------------------------------------------------------------------ registration

    def open(self, fd: int) -> PollDesc | None:
        """The pollDesc of ``fd``, registering it if needed (Go's ``pollOpen``).  A
        second open of a registered fd shares its pollDesc (``refs``).  None if the fd
        cannot be polled (a regular file)."""
        stale = None
        with self.lock:
            if self.free:
                slot = self.free.pop()
            else:
                slot = len(self.pds)
                self.pds.append(None)
                self.seqs.append(0)
            seq = self.seqs[slot] = (self.seqs[slot] + 1) & 0xFFFFFFFF
            tag = (seq << 32) | slot
            old = self.fdmap.get(fd)
            ident = None
            if not self.backend_detects_reuse:
                st = os.fstat(fd)
                ident = (st.st_dev, st.st_ino)
                if old is not None and not old.closing and old.ident == ident:
                    old.refs += 1
                    self.free.append(slot)
                    return old
            # The pollDesc must be findable before the kernel knows the tag: another M
            # may harvest the registration's first event before open() returns.
            pd = PollDesc(self, fd, slot, tag)
            pd.ident = ident
            self.pds[slot] = pd
            err = self.backend.open(fd, tag)
            if err == _errno.EEXIST:
                if old is not None and not old.closing:
                    old.refs += 1
                    self.pds[slot] = None
                    self.free.append(slot)
                    return old
                err = self.backend.modify(fd, tag)  # registered under a pd we dropped
            if err:
                self.pds[slot] = None
                self.free.append(slot)
                if err == _errno.EPERM:
                    return None
                raise OSError(err, f"netpoll open fd {fd}: {os.strerror(err)}")
            if old is not None:
                # The kernel accepted a new registration under this fd number, so the
                # file the old pollDesc watched was closed behind our back.
                stale = old
                if self.pds[old.slot] is old:
                    self.pds[old.slot] = None
                    self.free.append(old.slot)
            self.fdmap[fd] = pd
        if stale is not None:
            stale.fd = -1
            stale.evict()
        return pd

    def release(self, pd: PollDesc) -> None:
        """Drop one reference taken by :meth:`open`; the last one deregisters."""
        with self.lock:
            pd.refs -= 1
            last = pd.refs <= 0
        if last:
            pd.evict()

    def evict_fd(self, fd: int) -> None:
        """The fd is about to be closed by someone who never opened it here."""
        pd = self.fdmap.get(fd)
        if pd is not None:
            pd.evict()

    def _unregister(self, pd: PollDesc) -> None:
        with self.lock:
            if self.pds[pd.slot] is pd:
                self.pds[pd.slot] = None
                self.free.append(pd.slot)
                if pd.fd >= 0:
                    self.backend.close(pd.fd)
            if pd.fd >= 0 and self.fdmap.get(pd.fd) is pd:
                del self.fdmap[pd.fd]

    def reinit(self) -> None:
        """After ``fork()`` in the child: a fresh backend instance with every live fd
        registered again (the parent's waiters do not exist here)."""
        self.backend.reinit()
        self.lock = threading.Lock()
        self._wlock = threading.Lock()
        self.waiters = 0
        for pd in list(self.fdmap.values()):
            pd.lock = threading.Lock()
            pd.r.waiters = pd.w.waiters = None
            pd.r.armed = pd.w.armed = 0.0
            pd.r.timer = pd.w.timer = None
            self.backend.open(pd.fd, pd.tag)

    # ------------------------------------------------------------------ multi-fd wait

    def wait_any(self, fds: list, deadline: float, check: Any) -> Any:
        """Park the calling goroutine until one of ``fds`` (``[(fd, want_read,
        want_write)]``) has an event, or ``deadline`` (monotonic, 0 = none) passes.

        ``check()`` is called after the waiter is registered on every fd and returns a
        truthy result if something is ready already (then no parking).  Returns
        ``check()``'s truthy result, or None after a wake-up or a timeout (the caller
        re-checks)."""
        g = proc.getg()
        assert g is not None
        mw = MultiWaiter(self, g)
        held: list = []      # (pd, half) pairs mw is linked on
        opened: list = []    # pds this call opened (released at the end)
        try:
            for fd, want_r, want_w in fds:
                pd = self.open(fd)
                if pd is None:
                    continue  # not pollable: always ready, check() will see it
                opened.append(pd)
                with pd.lock:
                    if pd.closing:
                        continue
                    if want_r:
                        _link(pd.r, mw)
                        held.append((pd, pd.r))
                    if want_w:
                        _link(pd.w, mw)
                        held.append((pd, pd.w))
            r = check()
            if r:
                return r
            if deadline:
                if monotonic() >= deadline:
                    return None
                mw.timer = proc.Timer(_mw_timeout, mw)
                mw.timer.start(deadline)
            lk = mw.lock
            lk.acquire()
            if mw.fired:
                lk.release()
                return None
            mw.parked = True
            self.addwaiters(1)
            try:
                _park(IO_WAIT, lk)
            except BaseException:
                if mw.fire() is not None:
                    self.addwaiters(-1)
                raise
            return None
        finally:
            if mw.timer is not None:
                mw.timer.stop()
            for pd, h in held:
                with pd.lock:
                    _unlink(h, mw)
            for pd in opened:
                self.release(pd)


def _collect(w: Any, gs: list) -> int:
    """Take the Gs out of a waiter value (G, list, or other waiter); fire the others.
    Returns how many parked goroutines were collected."""
    if type(w) is G:
        gs.append(w)
        return 1
    if type(w) is not list:
        w = [w]
    n = 0
    for x in w:
        if type(x) is G:
            gs.append(x)
            n += 1
        else:
            g = x.fire()
            if g is not None:
                gs.append(g)
                n += 1
    return n
