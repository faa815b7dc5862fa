"""pyruntime.sync: Go's ``sync`` package on the runtime semaphore (``_core/sema.py``).

* :class:`Mutex` — Go's two modes.  *Normal*: a woken waiter competes with newly
  arriving goroutines (which usually win, being on a CPU already) and, if it loses,
  queues again at the *front*.  *Starvation* (a waiter waited more than 1 ms):
  ``unlock`` hands the mutex directly to the first waiter, newcomers queue at the tail;
  the mode ends when the new owner is the last waiter or waited less than 1 ms.
  Spinning follows ``runtime_canSpin`` (at most 4 rounds, multicore, another P running,
  empty local queue); under the GIL a spinner holds the GIL the owner needs, so it
  rarely spins usefully — measured and documented in HACKING.md.
* :class:`RWMutex` — Go's writer-preferring algorithm (readerCount / readerWait).
* :class:`WaitGroup` (with ``go``), :class:`Once`, :class:`Cond`.  The WaitGroup counter
  has Go's range, an int32: ``add`` past ``2**31 - 1`` panics with "sync: WaitGroup
  counter overflow" (a ``PanicValueError``; Go's counter would wrap to a negative value
  and panic with "sync: negative WaitGroup counter", we name the cause instead), and
  below 0 with "sync: negative WaitGroup counter".

The integer state Go updates with atomics is guarded here by a small ``threading.Lock``
per object (correct on free-threaded builds); goroutines block only in the semaphore.

Use these, not ``threading.Lock``, between goroutines.  Preemption can switch a
goroutine out at any bytecode of user code, also while it holds a plain
``threading.Lock``; if another goroutine on the same M then calls ``acquire()`` on it,
the M's OS thread blocks in the kernel and the holder, bound to that thread for life,
can never run again to release it: the M is wedged for good.  :class:`Mutex` parks the
waiting goroutine instead, so the holder runs and unlocks.  A ``threading.Lock`` that
must be shared with plain threads or C code is safe to hold inside
``pyruntime.debug.nopreempt()`` (Go's ``m.locks > 0``: preemption is deferred until the
section ends), as long as the section never blocks (no channel operation, sleep or
``Mutex.lock`` while holding it: parking lets the next goroutine of the M run into the
same ``acquire``).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from ._core import proc
from ._core.errors import Panic, PanicValueError
from ._core.g import WaitReason
from ._core.sema import Sema as _Sema  # the runtime's internal semaphore: not a public name here

__all__ = ["Mutex", "RWMutex", "WaitGroup", "Once", "Cond", "Locker"]

STARVATION_NS = 1_000_000
WAITGROUP_MAX = 2**31 - 1  # Go's WaitGroup counter is an int32 (the high half of a uint64)
ACTIVE_SPIN = 4
ACTIVE_SPIN_CNT = 30
_NCPU = os.cpu_count() or 1
_perf = time.perf_counter_ns
_wait_lock = threading.Lock()


def _mutex_waited(ns: int) -> None:
    """Add to ``/sync/mutex/wait/total:seconds`` (blocked in Mutex.Lock, RWMutex.RLock or
    RWMutex.Lock, as Go counts it); Ms add concurrently, so under a lock."""
    with _wait_lock:
        proc.metrics.mutex_wait_ns += ns


def _can_spin(i: int) -> bool:
    if i >= ACTIVE_SPIN or _NCPU <= 1:
        return False
    s = proc.sched
    if s.gomaxprocs <= s.npidle + s.nmspinning + 1:
        return False
    g = proc.getg()
    if g is None:
        return False
    p = g.m.p
    return not p.runq and p.runnext is None


class Mutex:
    """A mutual-exclusion lock (``lock``, ``unlock``, ``try_lock``, ``with m:``)."""

    __slots__ = ("_lk", "_locked", "_starving", "_woken", "_nwait", "_sema")

    def __init__(self) -> None:
        self._lk = threading.Lock()
        self._locked = False
        self._starving = False
        self._woken = False
        self._nwait = 0
        self._sema = _Sema(0)

    def lock(self) -> None:
        """Lock; if the mutex is held, block until it is available."""
        lk = self._lk
        lk.acquire()
        if not self._locked and not self._starving:
            self._locked = True
            lk.release()
            return
        lk.release()
        self._lock_slow()

    def _lock_slow(self) -> None:
        lk = self._lk
        t0 = _perf()
        starving = False
        awoke = False
        queued = False
        spins = 0
        while True:
            lk.acquire()
            if awoke:
                self._woken = False
                awoke = False
            if not self._starving:
                if not self._locked:
                    self._locked = True
                    lk.release()
                    break
                if not starving and _can_spin(spins):
                    lk.release()
                    spins += 1
                    for _ in range(ACTIVE_SPIN_CNT):  # procyield
                        pass
                    continue
            if starving and self._locked:
                self._starving = True
            self._nwait += 1
            lk.release()
            self._sema.acquire(WaitReason.SYNC_MUTEX_LOCK, lifo=queued)
            queued = True
            starving = starving or _perf() - t0 > STARVATION_NS
            lk.acquire()
            if self._starving:
                # Handed off to us (unlock kept it locked for us).
                if not starving or self._nwait == 0:
                    self._starving = False
                lk.release()
                break
            lk.release()
            awoke = True
            spins = 0
        _mutex_waited(_perf() - t0)

    def try_lock(self) -> bool:
        """Lock if free and return True; never blocks."""
        with self._lk:
            if self._locked or self._starving:
                return False
            self._locked = True
            return True

    def unlock(self) -> None:
        """Unlock.  Unlocking an unlocked mutex raises Panic("sync: unlock of unlocked mutex")."""
        lk = self._lk
        lk.acquire()
        if not self._locked:
            lk.release()
            raise Panic("sync: unlock of unlocked mutex")
        if self._starving and self._nwait:
            self._nwait -= 1
            lk.release()
            self._sema.release(handoff=True)
            return
        self._locked = False
        self._starving = False
        wake = self._nwait > 0 and not self._woken
        if wake:
            self._nwait -= 1
            self._woken = True
        lk.release()
        if wake:
            self._sema.release()

    def locked(self) -> bool:
        return self._locked

    def __enter__(self) -> "Mutex":
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def statistics(self) -> dict[str, Any]:
        return {"locked": self._locked, "starving": self._starving, "waiters": self._nwait}


Locker = Mutex

_MAX_READERS = 1 << 30


class RWMutex:
    """A reader/writer lock: many readers (``rlock``/``runlock``) or one writer
    (``lock``/``unlock``).  A blocked writer keeps new readers out (Go's rule)."""

    __slots__ = ("_w", "_lk", "_reader_count", "_reader_wait", "_writer_sem", "_reader_sem")

    def __init__(self) -> None:
        self._w = Mutex()
        self._lk = threading.Lock()
        self._reader_count = 0
        self._reader_wait = 0
        self._writer_sem = _Sema(0)
        self._reader_sem = _Sema(0)

    def rlock(self) -> None:
        with self._lk:
            self._reader_count += 1
            pending = self._reader_count < 0
        if pending:
            t0 = _perf()
            self._reader_sem.acquire(WaitReason.SYNC_RWMUTEX_RLOCK)
            _mutex_waited(_perf() - t0)

    def try_rlock(self) -> bool:
        with self._lk:
            if self._reader_count < 0:
                return False
            self._reader_count += 1
            return True

    def runlock(self) -> None:
        wake = False
        with self._lk:
            r = self._reader_count - 1
            if r + 1 == 0 or r + 1 == -_MAX_READERS:
                raise Panic("sync: RUnlock of unlocked RWMutex")
            self._reader_count = r
            if r < 0:
                self._reader_wait -= 1
                wake = self._reader_wait == 0
        if wake:
            self._writer_sem.release()

    def lock(self) -> None:
        self._w.lock()
        with self._lk:
            r = self._reader_count
            self._reader_count -= _MAX_READERS
            self._reader_wait += r
            wait = r != 0 and self._reader_wait != 0
        if wait:
            t0 = _perf()
            self._writer_sem.acquire(WaitReason.SYNC_RWMUTEX_LOCK)
            _mutex_waited(_perf() - t0)

    def try_lock(self) -> bool:
        if not self._w.try_lock():
            return False
        with self._lk:
            if self._reader_count != 0:
                ok = False
            else:
                self._reader_count -= _MAX_READERS
                ok = True
        if not ok:
            self._w.unlock()
        return ok

    def unlock(self) -> None:
        with self._lk:
            if self._reader_count >= 0:
                raise Panic("sync: Unlock of unlocked RWMutex")
            self._reader_count += _MAX_READERS
            r = self._reader_count
        for _ in range(r):
            self._reader_sem.release()
        self._w.unlock()

    def __enter__(self) -> "RWMutex":
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def rlocker(self) -> "_RLocker":
        return _RLocker(self)


class _RLocker:
    __slots__ = ("_rw",)

    def __init__(self, rw: RWMutex) -> None:
        self._rw = rw

    def lock(self) -> None:
        self._rw.rlock()

    def unlock(self) -> None:
        self._rw.runlock()

    def __enter__(self) -> "_RLocker":
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()


class WaitGroup:
    """Waits for a collection of goroutines: ``add(n)``, ``done()``, ``wait()``, ``go(f)``."""

    __slots__ = ("_lk", "_n", "_waiters", "_sema")

    def __init__(self) -> None:
        self._lk = threading.Lock()
        self._n = 0
        self._waiters = 0
        self._sema = _Sema(0)

    def add(self, delta: int) -> None:
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"WaitGroup.add: delta must be an int, got {delta!r}")
        lk = self._lk
        lk.acquire()
        n = self._n + delta
        if n < 0:
            lk.release()
            raise Panic("sync: negative WaitGroup counter")
        if n > WAITGROUP_MAX:
            lk.release()
            raise PanicValueError(f"sync: WaitGroup counter overflow: {self._n} + {delta} > {WAITGROUP_MAX} "
                                  "(Go's counter is an int32)")
        self._n = n
        w = 0
        if n == 0 and self._waiters:
            w = self._waiters
            self._waiters = 0
        lk.release()
        for _ in range(w):
            self._sema.release()

    def done(self) -> None:
        self.add(-1)

    def wait(self) -> None:
        lk = self._lk
        lk.acquire()
        if self._n == 0:
            lk.release()
            return
        self._waiters += 1
        lk.release()
        self._sema.acquire(WaitReason.SYNC_WAITGROUP_WAIT)

    def go(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``add(1)`` and run ``f(*args, **kwargs)`` in a new goroutine that calls ``done()``."""
        if not callable(f):
            raise TypeError(f"WaitGroup.go: {f!r} is not callable")
        self.add(1)

        def run() -> None:
            try:
                f(*args, **kwargs)
            finally:
                self.done()

        run.__wrapped__ = f  # type: ignore[attr-defined]  # traces name the goroutine after f
        return proc.newproc(run, (), {})

    @property
    def counter(self) -> int:
        return self._n


class Once:
    """Runs a function exactly once: ``once.do(f)``."""

    __slots__ = ("_done", "_m")

    def __init__(self) -> None:
        self._done = False
        self._m = Mutex()

    def do(self, f: Callable[[], Any]) -> None:
        if self._done:
            return
        if not callable(f):
            raise TypeError(f"Once.do: {f!r} is not callable")
        with self._m:
            if not self._done:
                try:
                    f()
                finally:
                    self._done = True


class Cond:
    """A condition variable on locker ``L`` (a Mutex by default): ``wait``, ``signal``,
    ``broadcast``.  ``wait`` unlocks ``L``, parks, and locks ``L`` again.  A ``wait`` that
    fails (``L`` not held: the unlock panics) or is interrupted while parked leaves no
    waiter queued; a signal it had already taken is passed on to the next waiter."""

    __slots__ = ("L", "_lk", "_waiters")

    def __init__(self, L: Any = None) -> None:
        self.L = L if L is not None else Mutex()
        if not (hasattr(self.L, "lock") and hasattr(self.L, "unlock")):
            raise TypeError("Cond: L must have lock() and unlock() (a sync.Mutex or RWMutex)")
        self._lk = threading.Lock()
        self._waiters: list[_Sema] = []

    def wait(self) -> None:
        # Queue before unlocking L (Go's notifyListAdd), so a signal sent between the
        # unlock and the park is not lost.
        s = _Sema(0)
        with self._lk:
            self._waiters.append(s)
        try:
            self.L.unlock()  # Panic when L is not held: then we never waited
        except BaseException:
            self._leave(s)
            raise
        try:
            s.acquire(WaitReason.SYNC_COND_WAIT)
        except BaseException:
            # Interrupted while parked (Ctrl-C, the runtime stopping, ...): leave no
            # stale waiter behind for the next signal() to waste.
            self._leave(s)
            raise
        finally:
            self.L.lock()

    def _leave(self, s: _Sema) -> None:
        """Take the abandoned waiter ``s`` off the queue.  If a signal already chose it,
        pass that wakeup on to the next waiter instead of losing it (a spurious wakeup
        is allowed for a Cond, a lost one is not)."""
        with self._lk:
            try:
                self._waiters.remove(s)
                return
            except ValueError:
                nxt = self._waiters.pop(0) if self._waiters else None
        if nxt is not None:
            nxt.release()

    def signal(self) -> None:
        with self._lk:
            s = self._waiters.pop(0) if self._waiters else None
        if s is not None:
            s.release()

    def broadcast(self) -> None:
        with self._lk:
            ws, self._waiters = self._waiters, []
        for s in ws:
            s.release()


# --- no public ``Sema`` (begin) -----------------------------------------------------------
def __getattr__(name: str) -> Any:
    # ``pyruntime.sync.Sema`` used to be the runtime's internal semaphore (``acquire(reason)``
    # takes a wait reason, ``release(handoff=)``), reachable by accident; it is not part of
    # this package's contract.  Say where a user-level semaphore is.
    if name == "Sema":
        raise AttributeError("module 'pyruntime.sync' has no attribute 'Sema': for a counting semaphore use "
                             "pyruntime.compat.golang.sync.Sema(n) (acquire/release) or a buffered chan(n)")
    raise AttributeError(f"module 'pyruntime.sync' has no attribute {name!r}")
# --- no public ``Sema`` (end) -------------------------------------------------------------
