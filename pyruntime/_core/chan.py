"""chan: Go's channels and ``select`` (``chan.go``, ``select.go``).

Glossary
    sudog    a waiting party on a channel queue: the goroutine (or, for a plain OS
             thread, a note to wake), the value to send or the slot to receive into,
             ``ok`` (False when woken by close), and for select the shared
             :class:`_SelectDone` and the case index.
    recvq / sendq   FIFO deques of sudogs.
    handoff  a send that finds a waiting receiver copies the value straight into its
             sudog and readies it (it goes into ``runnext`` and runs next): no buffer.

Invariants (as in Go)
    * Every field of a channel is guarded by ``ch._lock``.
    * At most one of recvq/sendq holds live sudogs (except a select waiting on both
      directions of one channel, which never pairs with itself).
    * A sudog of a select is claimed by exactly one waker: ``_SelectDone.claim()`` is an
      atomic test-and-set (``Lock.acquire(blocking=False)``, atomic on free-threaded
      builds too).  Wakers skip sudogs whose select was already won; the winner removes
      its other sudogs from the losing channels after it wakes (Go's pass 3).
    * A G is readied only after the channel lock is released (Go's rule).

Where we differ from Go
    * Lock order for select is ``id(ch)`` (Go: the channel's address — the same idea).
    * Values are Python objects; a closed channel yields ``None`` (the "zero value").
    * Timer channels (pyruntime.time) are channels with ``_timer`` set: they report
      ``len``/``cap`` 0 and are drained by ``stop``/``reset`` (Go 1.23).
    * ``chan(n)`` accepts Go's range for a pointer-sized element on a 64-bit machine,
      ``0 <= n <= MAX_CAP`` (``makechan``: the buffer must fit in ``maxAlloc`` = 2**48
      bytes less the channel header); beyond it, ``makechan: size out of range`` panics
      (a ``PanicValueError``).  The buffer is allocated as it fills, as if it were Go's
      ring, so a large capacity costs nothing until it is used.
"""

from __future__ import annotations

import collections
import random
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from . import proc
from .errors import Panic, PanicValueError
from .futex import Note
from .g import WaitReason

__all__ = ["chan", "nilchan", "select", "default", "ChanStatistics"]

# Go's makechan limit for 8-byte elements on 64-bit Linux: (maxAlloc - hchanSize) / 8.
MAX_CAP = ((1 << 48) - 96) // 8

_getcurrent = proc.getcurrent
_ready = proc.ready
_park = proc.park
_shuffle = random.shuffle
_rand = random.random


class _SelectDone:
    """Go's ``g.selectDone``: exactly one waker wins a blocked select."""

    __slots__ = ("_lk", "won")

    def __init__(self) -> None:
        self._lk = threading.Lock()
        self.won: _Sudog | None = None

    def claim(self) -> bool:
        return self._lk.acquire(False)


class _Sudog:
    """A waiter on a channel queue (Go's sudog).  A goroutine blocks in at most one plain
    send or receive at a time, so it keeps one sudog (``G.sudog``) and reuses it, as Go
    caches sudogs per P: by the time the G runs again its sudog is in no queue (the peer
    dequeued it before readying the G, or the G removed it itself when interrupted).
    A select's sudogs (``sel`` set) and an outside thread's (``note`` set) are fresh."""

    __slots__ = ("g", "val", "ok", "sel", "idx", "note")

    def __init__(self, g: Any, val: Any, sel: _SelectDone | None = None, idx: int = -1) -> None:
        self.g = g
        self.val = val
        self.ok = False
        self.sel = sel
        self.idx = idx
        self.note: Note | None = None if g is not None else Note()


def _wake(sg: _Sudog) -> None:
    g = sg.g
    if g is not None:
        _ready(g)
    else:
        sg.note.wakeup()  # type: ignore[union-attr]


def _block(sg: _Sudog, reason: str, lock: Any) -> None:
    """Wait until ``sg`` is completed; ``lock`` (held) is released once we are queued."""
    if sg.g is not None:
        _park(reason, lock)
    else:
        proc.block_outside(sg.note, lock)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChanStatistics:
    """What a channel holds: ``len``, ``cap``, ``closed`` and how many wait on it."""

    len: int
    cap: int
    closed: bool
    waiting_senders: int
    waiting_receivers: int


def _dequeue(q: collections.deque) -> _Sudog | None:
    """Pop the first sudog that can still be completed (skipping lost selects)."""
    while q:
        sg = q.popleft()
        sel = sg.sel
        if sel is None:
            return sg
        if sel.claim():
            sel.won = sg
            return sg
    return None


class chan:
    """A Go channel.  ``chan()`` is unbuffered, ``chan(n)`` has a buffer of ``n``.

    ``send(v)``, ``recv()``, ``recv_() -> (v, ok)``, ``close()``, ``len(ch)``,
    ``cap()``, ``for v in ch`` (until closed).  A closed channel receives ``None``
    (``(None, False)`` from ``recv_``); a send on it raises ``Panic("send on closed
    channel")``.  Works from goroutines and from plain OS threads (which block only
    themselves).
    """

    __slots__ = ("_lock", "_cap", "_buf", "_recvq", "_sendq", "_closed", "_timer", "__weakref__")

    def __init__(self, size: int = 0) -> None:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"chan: size must be an int, got {type(size).__name__} {size!r}")
        if size < 0 or size > MAX_CAP:
            raise PanicValueError(f"makechan: size out of range ({size}); use chan() or chan(n) with "
                                  f"0 <= n <= {MAX_CAP}")
        self._lock = threading.Lock()
        self._cap = size
        self._buf: collections.deque = collections.deque()
        self._recvq: collections.deque[_Sudog] = collections.deque()
        self._sendq: collections.deque[_Sudog] = collections.deque()
        self._closed = False
        self._timer: Any = None

    # -- send ---------------------------------------------------------------------
    def send(self, v: Any) -> None:
        """Send ``v``; block until a receiver takes it (or buffer space is free)."""
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            raise Panic("send on closed channel")
        rq = self._recvq
        while rq:
            sg = rq.popleft()
            sel = sg.sel
            if sel is not None:
                if not sel.claim():
                    continue
                sel.won = sg
            lock.release()
            sg.val = v
            sg.ok = True
            g = sg.g
            if g is not None:
                _ready(g)
            else:
                sg.note.wakeup()  # type: ignore[union-attr]
            return
        buf = self._buf
        if len(buf) < self._cap:
            buf.append(v)
            lock.release()
            return
        g = getattr(_getcurrent(), "_rtg", None)
        if g is not None:
            sg = g.sudog  # see _Sudog: one per G, reused
            if sg is None:
                sg = g.sudog = _Sudog(g, v)
            else:
                sg.val = v
                sg.ok = False
            self._sendq.append(sg)
            try:
                _park(WaitReason.CHAN_SEND, lock, g)
            except BaseException:
                self._unqueue(self._sendq, sg)
                raise
        else:
            if proc.start_to_block():  # no runtime, nobody else: report the deadlock
                lock.release()
                return self.send(v)
            sg = _Sudog(g, v)
            self._sendq.append(sg)
            proc.block_outside(sg.note, lock)  # type: ignore[arg-type]
        if not sg.ok:
            raise Panic("send on closed channel")

    def _trysend(self, v: Any) -> bool:
        """Non-blocking send (``select`` with ``default``); raises on a closed channel."""
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            raise Panic("send on closed channel")
        sg = _dequeue(self._recvq)
        if sg is not None:
            lock.release()
            sg.val = v
            sg.ok = True
            _wake(sg)
            return True
        if len(self._buf) < self._cap:
            self._buf.append(v)
            lock.release()
            return True
        lock.release()
        return False

    # -- receive ------------------------------------------------------------------
    def recv_(self) -> tuple[Any, bool]:
        """Receive ``(value, ok)``; ``ok`` is False once the channel is closed and drained."""
        if self._timer is not None:
            self._timer._maybe_run()
        lock = self._lock
        lock.acquire()
        buf = self._buf
        if buf:
            v = buf.popleft()
            # A sender waits only when the buffer is full: move its value in.
            sq = self._sendq
            while sq:
                sg = sq.popleft()
                sel = sg.sel
                if sel is not None:
                    if not sel.claim():
                        continue
                    sel.won = sg
                buf.append(sg.val)
                sg.val = None
                sg.ok = True
                lock.release()
                _wake(sg)
                return v, True
            lock.release()
            return v, True
        sq = self._sendq
        while sq:
            sg = sq.popleft()
            sel = sg.sel
            if sel is not None:
                if not sel.claim():
                    continue
                sel.won = sg
            lock.release()
            v = sg.val
            sg.val = None
            sg.ok = True
            g = sg.g
            if g is not None:
                _ready(g)
            else:
                sg.note.wakeup()  # type: ignore[union-attr]
            return v, True
        if self._closed:
            lock.release()
            return None, False
        g = getattr(_getcurrent(), "_rtg", None)
        if g is not None:
            sg = g.sudog  # see _Sudog: one per G, reused
            if sg is None:
                sg = g.sudog = _Sudog(g, None)
            else:
                sg.ok = False
            self._recvq.append(sg)
            try:
                if self._timer is not None:
                    self._timer._blocked(1)
                    try:
                        _park(WaitReason.CHAN_RECEIVE, lock, g)
                    finally:
                        self._timer._blocked(-1)
                else:
                    _park(WaitReason.CHAN_RECEIVE, lock, g)
            except BaseException:
                self._unqueue(self._recvq, sg)
                raise
            v = sg.val
            sg.val = None  # the sudog outlives this receive: do not keep the value alive
            return v, sg.ok
        else:
            if proc.start_to_block():  # no runtime, nobody else: report the deadlock
                lock.release()
                return self.recv_()
            sg = _Sudog(g, None)
            self._recvq.append(sg)
            if self._timer is not None:
                self._timer._blocked(1)
                try:
                    proc.block_outside(sg.note, lock)  # type: ignore[arg-type]
                finally:
                    self._timer._blocked(-1)
            else:
                proc.block_outside(sg.note, lock)  # type: ignore[arg-type]
        return sg.val, sg.ok

    def _unqueue(self, q: collections.deque, sg: _Sudog) -> None:
        """Take ``sg`` off wait queue ``q`` if it is still there: a select's losing cases
        (pass 3), or a wait an exception interrupted (Ctrl-C, a panic elsewhere,
        deadlock), so that no later peer hands a value to a sudog nobody reads.  If a
        peer already completed an interrupted op, that one operation is lost with the
        interrupt, as a KeyboardInterrupt can lose the result of any Python call."""
        lock = self._lock
        lock.acquire()
        try:
            q.remove(sg)
        except ValueError:
            pass
        lock.release()

    def recv(self) -> Any:
        """Receive a value (``None`` from a closed, drained channel)."""
        return self.recv_()[0]

    def _tryrecv(self) -> tuple[bool, Any, bool]:
        """Non-blocking receive: (selected, value, ok)."""
        if self._timer is not None:
            self._timer._maybe_run()
        lock = self._lock
        lock.acquire()
        buf = self._buf
        if buf:
            v = buf.popleft()
            sg = _dequeue(self._sendq)
            if sg is not None:
                buf.append(sg.val)
                sg.val = None
                sg.ok = True
                lock.release()
                _wake(sg)
                return True, v, True
            lock.release()
            return True, v, True
        sg = _dequeue(self._sendq)
        if sg is not None:
            lock.release()
            v = sg.val
            sg.val = None
            sg.ok = True
            _wake(sg)
            return True, v, True
        if self._closed:
            lock.release()
            return True, None, False
        lock.release()
        return False, None, False

    # -- close --------------------------------------------------------------------
    def close(self) -> None:
        """Close the channel: every waiting receiver gets ``(None, False)``, every
        waiting sender panics with "send on closed channel"."""
        lock = self._lock
        lock.acquire()
        if self._closed:
            lock.release()
            raise Panic("close of closed channel")
        self._closed = True
        woken = []
        for q in (self._recvq, self._sendq):
            while q:
                sg = _dequeue(q)
                if sg is None:
                    break
                sg.val = None
                sg.ok = False
                woken.append(sg)
        lock.release()
        for sg in woken:
            _wake(sg)

    # -- introspection ------------------------------------------------------------
    def __len__(self) -> int:
        if self._timer is not None:
            return 0
        return len(self._buf)

    def cap(self) -> int:
        """The buffer size (0 for unbuffered and timer channels)."""
        return 0 if self._timer is not None else self._cap

    def __iter__(self) -> Iterator[Any]:
        while True:
            v, ok = self.recv_()
            if not ok:
                return
            yield v

    def statistics(self) -> ChanStatistics:
        """A snapshot: ``len``, ``cap``, ``closed``, waiting senders and receivers."""
        with self._lock:
            ns = sum(1 for sg in self._sendq if sg.sel is None or not sg.sel._lk.locked())
            nr = sum(1 for sg in self._recvq if sg.sel is None or not sg.sel._lk.locked())
            return ChanStatistics(len(self), self.cap(), self._closed, ns, nr)

    def _count_waiters(self, send: bool) -> int:
        with self._lock:
            q = self._sendq if send else self._recvq
            return sum(1 for sg in q if sg.sel is None or not sg.sel._lk.locked())

    def __repr__(self) -> str:
        return f"<chan cap={self._cap} len={len(self._buf)}{' closed' if self._closed else ''}>"


class _NilChan:
    """The nil channel: send and receive block forever, close panics."""

    __slots__ = ()

    def send(self, v: Any) -> None:
        _block_forever(WaitReason.CHAN_SEND_NIL)

    def recv_(self) -> tuple[Any, bool]:
        _block_forever(WaitReason.CHAN_RECEIVE_NIL)
        return None, False  # pragma: no cover

    def recv(self) -> Any:
        _block_forever(WaitReason.CHAN_RECEIVE_NIL)

    def close(self) -> None:
        raise Panic("close of nil channel")

    def __len__(self) -> int:
        return 0

    def cap(self) -> int:
        return 0

    def __iter__(self) -> Iterator[Any]:
        self.recv()
        return iter(())

    def __repr__(self) -> str:
        return "nilchan"


nilchan = _NilChan()


def _block_forever(reason: str) -> None:
    g = getattr(_getcurrent(), "_rtg", None)
    if g is not None or proc.start_to_block():
        while True:
            _park(reason)
    note = Note()
    while True:
        proc.block_outside(note, None)


class _Default:
    __slots__ = ()

    def __repr__(self) -> str:
        return "default"


default = _Default()


def _parse_case(i: int, c: Any) -> tuple[int, Any, Any]:
    """-> (kind, channel, value): kind 0 recv, 1 recv_, 2 send, 3 default."""
    if c is default:
        return 3, None, None
    if isinstance(c, tuple):
        if len(c) != 2:
            raise TypeError(f"select: case {i}: a send case is (ch.send, value), got a tuple of {len(c)}")
        fn, v = c
        ch = getattr(fn, "__self__", None)
        if isinstance(ch, (chan, _NilChan)) and getattr(fn, "__name__", "") == "send":
            return 2, ch, v
        raise TypeError(f"select: case {i}: a send case is (ch.send, value), got ({fn!r}, ...)")
    ch = getattr(c, "__self__", None)
    name = getattr(c, "__name__", "")
    if isinstance(ch, (chan, _NilChan)):
        if name == "recv":
            return 0, ch, None
        if name == "recv_":
            return 1, ch, None
    raise TypeError(f"select: case {i}: expected ch.recv, ch.recv_, (ch.send, v) or default, got {c!r}")


def select(*cases: Any) -> tuple[int, Any]:
    """Go's ``select``: wait until one case can proceed and run it.

    Cases: ``ch.recv``, ``ch.recv_``, ``(ch.send, v)`` and ``default``.  Returns
    ``(index, value)``: the received value, ``(v, ok)`` for ``recv_``, ``None`` for a
    send or ``default``.  Among ready cases one is chosen uniformly at random; with
    ``default`` it never blocks; ``select()`` blocks forever.
    """
    parsed = [_parse_case(i, c) for i, c in enumerate(cases)]
    dflt = -1
    live: list[tuple[int, int, Any, Any]] = []
    for i, (kind, ch, v) in enumerate(parsed):
        if kind == 3:
            if dflt >= 0:
                raise TypeError("select: multiple defaults")
            dflt = i
        elif ch is not nilchan:
            live.append((i, kind, ch, v))
    if not live:
        if dflt >= 0:
            return dflt, None
        _block_forever(WaitReason.SELECT_NO_CASES if not cases else WaitReason.SELECT)
    # Pass 1, in a uniformly random poll order.
    if len(live) > 1:
        _shuffle(live)
    for i, kind, ch, v in live:
        if kind == 2:
            if ch._trysend(v):
                return i, None
        else:
            ok_sel, val, ok = ch._tryrecv()
            if ok_sel:
                return i, ((val, ok) if kind == 1 else val)
    if dflt >= 0:
        return dflt, None
    return _select_block(live)


def _select_block(live: list[tuple[int, int, Any, Any]]) -> tuple[int, Any]:
    g = getattr(_getcurrent(), "_rtg", None)
    if g is None and proc.start_to_block():  # no runtime, nobody else: report the deadlock
        g = getattr(_getcurrent(), "_rtg", None)
    sel = _SelectDone()
    chans = sorted({id(c[2]): c[2] for c in live}.values(), key=id)
    for ch in chans:
        ch._lock.acquire()
    # Re-check with every lock held (a peer may have arrived since pass 1).
    for i, kind, ch, v in live:
        if kind == 2:
            if ch._closed:
                for c in chans:
                    c._lock.release()
                raise Panic("send on closed channel")
            sg = _dequeue_not(ch._recvq, sel)
            if sg is not None:
                for c in chans:
                    c._lock.release()
                sg.val = v
                sg.ok = True
                _wake(sg)
                return i, None
            if len(ch._buf) < ch._cap:
                ch._buf.append(v)
                for c in chans:
                    c._lock.release()
                return i, None
        else:
            buf = ch._buf
            if buf:
                val = buf.popleft()
                sg = _dequeue_not(ch._sendq, sel)
                if sg is not None:
                    buf.append(sg.val)
                    sg.val = None
                    sg.ok = True
                for c in chans:
                    c._lock.release()
                if sg is not None:
                    _wake(sg)
                return i, ((val, True) if kind == 1 else val)
            sg = _dequeue_not(ch._sendq, sel)
            if sg is not None:
                for c in chans:
                    c._lock.release()
                val = sg.val
                sg.val = None
                sg.ok = True
                _wake(sg)
                return i, ((val, True) if kind == 1 else val)
            if ch._closed:
                for c in chans:
                    c._lock.release()
                return i, ((None, False) if kind == 1 else None)
    # Pass 2: enqueue on every channel.
    sgs = []
    for i, kind, ch, v in live:
        sg = _Sudog(g, v if kind == 2 else None, sel, i)
        if g is None and sgs:
            sg.note = sgs[0][0].note  # one note for the whole select
        (ch._sendq if kind == 2 else ch._recvq).append(sg)
        sgs.append((sg, kind, ch))
    timers = [ch._timer for _, kind, ch in sgs if kind != 2 and ch._timer is not None]
    for t in timers:
        t._blocked(1)
    # Every lock is released only once we are waiting (Go's selparkcommit).
    unlock = _UnlockAll(chans)
    try:
        if g is not None:
            _park(WaitReason.SELECT, unlock)
        else:
            proc.block_outside(sgs[0][0].note, unlock)  # type: ignore[arg-type]
    except BaseException:
        sel.claim()  # interrupted (runtime stopping, deadlock, panic): nobody may deliver now
        _select_dequeue(sgs, None)
        raise
    finally:
        for t in timers:
            t._blocked(-1)
    won = sel.won
    # Pass 3: dequeue the losing cases so stale sudogs do not pile up (Go's select6).
    _select_dequeue(sgs, won)
    if won is None:
        raise proc.RuntimeFatal("select woke without a winner")
    for sg, kind, _ in sgs:
        if sg is won:
            if kind == 2:
                if not won.ok:
                    raise Panic("send on closed channel")
                return won.idx, None
            return won.idx, ((won.val, won.ok) if kind == 1 else won.val)
    raise proc.RuntimeFatal("select winner not among its cases")  # pragma: no cover


class _UnlockAll:
    __slots__ = ("chans",)

    def __init__(self, chans: list) -> None:
        self.chans = chans

    def release(self) -> None:
        for c in self.chans:
            c._lock.release()


def _select_dequeue(sgs: list, won: _Sudog | None) -> None:
    for sg, kind, ch in sgs:
        if sg is not won:
            ch._unqueue(ch._sendq if kind == 2 else ch._recvq, sg)


def _dequeue_not(q: collections.deque, mine: _SelectDone) -> _Sudog | None:
    """``_dequeue`` that leaves our own select's sudogs alone (a select never pairs with
    itself, Go's select3)."""
    skipped = []
    found = None
    while q:
        sg = q.popleft()
        if sg.sel is mine:
            skipped.append(sg)
            continue
        sel = sg.sel
        if sel is None:
            found = sg
            break
        if sel.claim():
            sel.won = sg
            found = sg
            break
    if skipped:
        q.extendleft(reversed(skipped))
    return found
