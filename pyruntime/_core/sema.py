"""sema: the runtime's sleep/wakeup semaphore (Go's ``sema.go``), under pyruntime.sync.

A :class:`Sema` is a count plus a FIFO queue of waiters (goroutines, or notes for plain
OS threads).  ``acquire`` takes a unit or parks with the caller's wait reason;
``release(handoff=...)`` adds a unit and wakes the first waiter.  With ``handoff`` the
unit goes *directly* to that waiter (it cannot be barged), and the releasing G yields
so the waiter runs at once and inherits the time slice (Go's starvation-mode handoff:
``semrelease1`` + ``goyield``).

Go keeps one treap of waiters per address in a 251-root table; a Python object per
semaphore is the same thing without the address arithmetic.

Invariants: ``count`` and ``waiters`` change only under ``lock``; a waiter is readied
only after the lock is released.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from . import proc
from .futex import Note

__all__ = ["Sema"]


class _Waiter:
    __slots__ = ("g", "note", "ticket", "t0")

    def __init__(self, g: Any) -> None:
        self.g = g
        self.note = None if g is not None else Note()
        self.ticket = False
        self.t0 = 0


class Sema:
    __slots__ = ("lock", "count", "waiters")

    def __init__(self, count: int = 0) -> None:
        self.lock = threading.Lock()
        self.count = count
        self.waiters: collections.deque[_Waiter] = collections.deque()

    def try_acquire(self) -> bool:
        with self.lock:
            if self.count > 0:
                self.count -= 1
                return True
            return False

    def acquire(self, reason: str, lifo: bool = False) -> int:
        """Take one unit, parking with ``reason`` while none is free.  Returns the ns spent waiting."""
        lk = self.lock
        lk.acquire()
        if self.count > 0:
            self.count -= 1
            lk.release()
            return 0
        t0 = time.perf_counter_ns()
        g = proc.getg()
        if g is None and proc.start_to_block():  # no runtime, nobody else: report the deadlock
            g = proc.getg()
        while True:
            w = _Waiter(g)
            if lifo:
                self.waiters.appendleft(w)
            else:
                self.waiters.append(w)
            if g is not None:
                try:
                    proc.park(reason, lk)
                except BaseException:
                    with lk:
                        try:
                            self.waiters.remove(w)
                        except ValueError:
                            if w.ticket:
                                self.count += 1  # give back a unit handed to us
                    raise
            else:
                proc.block_outside(w.note, lk)  # type: ignore[arg-type]
            if w.ticket:
                return time.perf_counter_ns() - t0
            lk.acquire()
            if self.count > 0:
                self.count -= 1
                lk.release()
                return time.perf_counter_ns() - t0
            lifo = True  # lost to a barger: back to the front (Go requeues at the head)

    def release(self, handoff: bool = False) -> None:
        lk = self.lock
        lk.acquire()
        self.count += 1
        if not self.waiters:
            lk.release()
            return
        w = self.waiters.popleft()
        if handoff:
            self.count -= 1
            w.ticket = True
        lk.release()
        if w.g is not None:
            proc.ready(w.g)
            if handoff and proc.getg() is not None:
                proc.gosched()  # goyield: let the waiter run now, on our time slice
        else:
            w.note.wakeup()  # type: ignore[union-attr]

    def nwait(self) -> int:
        return len(self.waiters)
