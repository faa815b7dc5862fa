"""Futex, notes and the runtime lock: the lowest blocking layer of pyruntime.

Design
------
Go builds everything that blocks an *M* (an OS thread) on two primitives:

* ``futexsleep(addr, val, ns)`` / ``futexwakeup(addr, cnt)`` (``lock_futex.go``);
* a *note*, a one-shot event built on them (``m.park``, ``sched.stopnote``).

pyruntime keeps that shape.  On Linux :class:`Futex` calls ``syscall(SYS_futex)``
through ``ctypes.CDLL`` (which releases the GIL while the thread sleeps; ``PyDLL``
would block every thread).  Elsewhere a portable fallback built on a
``threading.Condition`` gives the same contract.

Glossary
    note      a binary event: ``wakeup`` sets it, ``sleep`` waits until it is set
              (or a timeout passes), ``clear`` re-arms it.  Go's note is strictly
              one-shot and throws on a double wakeup; ours is an auto-clearing binary
              semaphore because an idle M is woken by whoever readies work for its P,
              and several parties may do that before it runs (see proc.py).
    RuntimeLock  Go's ≤1.23 tri-state futex mutex (unlocked / locked / sleeping) with
              active spin, passive spin (``sched_yield``) and a futex sleep, counting
              what it does in :meth:`RuntimeLock.statistics`.

Invariants
    * A futex word is only changed under ``_word_lock`` (a ``threading.Lock``): Python
      has no compare-and-swap, and a ``threading.Lock`` is atomic on free-threaded
      builds as well, so the lock stands in for the hardware CAS.  The *sleep* itself
      happens outside that lock, in the kernel, on the word's address, exactly like
      Go's: a wakeup between the check and the sleep is caught by FUTEX_WAIT's value
      comparison.
    * :class:`RuntimeLock`'s counters are written only by the lock's holder: a waiter
      counts its spins and sleeps in locals and adds them once it holds the lock, so
      every count is exact on a free-threaded build too (``+=`` on a shared attribute
      is a read-modify-write that loses updates without the GIL).

Measured here (2 vCPU KVM, CPython 3.11): futex handoff ≈ ``threading.Lock`` handoff
(the woken thread must still re-acquire the GIL, which dominates), and spinning never
helped under the GIL: the spinner holds the GIL the owner needs to release the lock.
So :class:`RuntimeLock` defaults to ``active_spin=0`` and one passive spin (a
``sched_yield`` that releases the GIL); on a free-threaded build it uses Go's
``active_spin=4``.  The scheduler's own structures use ``threading.Lock`` (89 ns
uncontended against ~400 ns for any lock written in Python); :class:`RuntimeLock` is
the teaching and measuring lock, and the lock lab compares the three strategies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["Futex", "Note", "RuntimeLock", "LockStatistics", "HAVE_FUTEX"]

_FUTEX_WAIT_PRIVATE = 128
_FUTEX_WAKE_PRIVATE = 129
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98, "i686": 240, "armv7l": 240}.get(os.uname().machine)


# Longer sleeps are untimed: a huge timespec would overflow ``tv_sec`` (ctypes truncates
# it silently: ``1e300`` became 0 s and an idle M spun) and ``threading`` refuses waits
# above ``TIMEOUT_MAX``; a sleeper may always wake early, and every caller loops.
_MAX_SLEEP = 1e9


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _load_libc():
    if not sys.platform.startswith("linux") or _SYS_FUTEX is None:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.syscall
        fn.restype = ctypes.c_long
        return fn
    except (OSError, AttributeError):
        return None


_syscall = _load_libc()
HAVE_FUTEX = _syscall is not None and os.environ.get("PYRUNTIME_NOFUTEX") != "1"


class Futex:
    """A 32-bit word one can sleep on (Linux ``futex(2)``, private).

    ``sleep(val, timeout)`` blocks while the word equals ``val`` (spurious wake-ups are
    allowed, as in Go); ``wake(n)`` wakes at most ``n`` sleepers.
    """

    __slots__ = ("word", "_addr", "_cond")

    def __init__(self, value: int = 0) -> None:
        self.word = ctypes.c_int32(value)
        self._addr = ctypes.addressof(self.word)
        self._cond = None if HAVE_FUTEX else threading.Condition(threading.Lock())

    @property
    def value(self) -> int:
        return self.word.value

    def sleep(self, val: int, timeout: float | None = None) -> None:
        if timeout is not None and timeout >= _MAX_SLEEP:
            timeout = None  # a timer ~forever away (or inf): callers re-check their deadline
        if self._cond is not None:
            with self._cond:
                if self.word.value == val:
                    self._cond.wait(timeout)
            return
        if timeout is None:
            ts = None
        else:
            if timeout < 0:
                timeout = 0.0
            sec = int(timeout)
            ts = ctypes.byref(_Timespec(sec, int((timeout - sec) * 1e9)))
        r = _syscall(_SYS_FUTEX, ctypes.c_void_p(self._addr), _FUTEX_WAIT_PRIVATE, val, ts, None, 0)
        if r == -1:
            e = ctypes.get_errno()
            if e not in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINTR):  # pragma: no cover
                raise OSError(e, os.strerror(e))

    def wake(self, n: int = 1) -> None:
        if self._cond is not None:
            with self._cond:
                self._cond.notify(n)
            return
        _syscall(_SYS_FUTEX, ctypes.c_void_p(self._addr), _FUTEX_WAKE_PRIVATE, n, None, None, 0)


class Note:
    """An M's park word: ``wakeup()`` sets it, ``sleep()`` waits for it and clears it.

    The key is 0 (clear) or 1 (signalled).  A wakeup that comes before the sleep is not
    lost: the sleeper sees key == 1 and returns at once.  Several wakeups before one
    sleep collapse into one (Go throws on that; see the module essay for why we don't).
    """

    __slots__ = ("_f", "_lock", "sleeping")

    def __init__(self) -> None:
        self._f = Futex(0)
        self._lock = threading.Lock()
        self.sleeping = False

    def wakeup(self) -> None:
        lk = self._lock
        lk.acquire()
        old = self._f.word.value
        self._f.word.value = 1
        sleeping = self.sleeping
        lk.release()
        if old == 0 and sleeping:
            self._f.wake(1)

    def sleep(self, timeout: float | None = None) -> bool:
        """Sleep until woken or ``timeout`` seconds pass; return True if woken."""
        f = self._f
        lk = self._lock
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            lk.acquire()
            if f.word.value == 1:
                f.word.value = 0
                self.sleeping = False
                lk.release()
                return True
            self.sleeping = True
            lk.release()
            if deadline is None:
                f.sleep(0, None)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    lk.acquire()
                    woke = f.word.value == 1
                    f.word.value = 0
                    self.sleeping = False
                    lk.release()
                    return woke
                f.sleep(0, left)

    def is_set(self) -> bool:
        return self._f.word.value == 1


_UNLOCKED, _LOCKED, _SLEEPING = 0, 1, 2
_FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()


@dataclass(frozen=True)
class LockStatistics:
    """Counters of a :class:`RuntimeLock` (all cumulative since creation)."""

    acquisitions: int
    contended: int
    active_spins: int
    passive_spins: int
    sleeps: int
    wake_latency_total_ns: int
    wakes: int

    @property
    def mean_wake_latency_ns(self) -> float:
        return self.wake_latency_total_ns / self.wakes if self.wakes else 0.0


class RuntimeLock:
    """Go's tri-state futex lock (``lock_futex.go``, Go ≤1.23).

    ``lock()``: exchange the word to *locked*; if it was free, done.  Otherwise spin
    ``active_spin`` times (each a busy loop of ``active_spin_cnt`` iterations, Go's
    ``procyield(30)``) retrying the CAS, then ``passive_spin`` times ``sched_yield``,
    then mark the word *sleeping* and futex-sleep.  ``unlock()`` exchanges the word to
    *unlocked* and wakes one sleeper if the old value was *sleeping*.

    Spin defaults come from measurement (module essay): under the GIL ``active_spin=0``.
    """

    __slots__ = (
        "_f", "_cas", "active_spin", "active_spin_cnt", "passive_spin",
        "_acq", "_cont", "_aspins", "_pspins", "_sleeps", "_wake_ns", "_wakes", "_unlock_t",
    )

    def __init__(self, active_spin: int | None = None, active_spin_cnt: int = 30, passive_spin: int = 1) -> None:
        if active_spin is None:
            active_spin = 4 if (_FREE_THREADED and (os.cpu_count() or 1) > 1) else 0
        for name, v in (("active_spin", active_spin), ("active_spin_cnt", active_spin_cnt), ("passive_spin", passive_spin)):
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"RuntimeLock: {name} must be a non-negative int, got {v!r}")
        self._f = Futex(_UNLOCKED)
        self._cas = threading.Lock()  # stands in for the hardware CAS on the word
        self.active_spin = active_spin
        self.active_spin_cnt = active_spin_cnt
        self.passive_spin = passive_spin
        self._acq = self._cont = self._aspins = self._pspins = self._sleeps = 0
        self._wake_ns = self._wakes = 0
        self._unlock_t = 0

    def _xchg(self, new: int) -> int:
        c = self._cas
        c.acquire()
        w = self._f.word
        old = w.value
        w.value = new
        c.release()
        return old

    def _cas_word(self, old: int, new: int) -> bool:
        c = self._cas
        c.acquire()
        w = self._f.word
        ok = w.value == old
        if ok:
            w.value = new
        c.release()
        return ok

    def lock(self) -> None:
        v = self._xchg(_LOCKED)
        if v == _UNLOCKED:
            self._acq += 1  # we hold the lock: only the holder writes the counters
            return
        self._lock_slow(v)

    def _lock_slow(self, v: int) -> None:
        # A waiter counts in locals and adds them to the counters once it holds the lock:
        # several waiters run this loop at once, and ``+=`` on a shared attribute is a
        # read-modify-write that loses updates without the GIL (module invariants).
        aspins = pspins = sleeps = wake_ns = wakes = 0
        wait = v
        word = self._f.word
        cas = self._cas_word
        got = False
        while True:
            for _ in range(self.active_spin):
                if word.value == _UNLOCKED and cas(_UNLOCKED, wait):
                    got = True
                    break
                aspins += 1
                for _ in range(self.active_spin_cnt):  # procyield
                    pass
            if got:
                break
            for _ in range(self.passive_spin):
                if word.value == _UNLOCKED and cas(_UNLOCKED, wait):
                    got = True
                    break
                pspins += 1
                os.sched_yield()
            if got:
                break
            if self._xchg(_SLEEPING) == _UNLOCKED:
                break
            wait = _SLEEPING
            sleeps += 1
            self._f.sleep(_SLEEPING, None)
            t = self._unlock_t
            if t:
                wake_ns += time.perf_counter_ns() - t
                wakes += 1
        # Held now.
        self._acq += 1
        self._cont += 1
        self._aspins += aspins
        self._pspins += pspins
        self._sleeps += sleeps
        self._wake_ns += wake_ns
        self._wakes += wakes

    def unlock(self) -> None:
        v = self._xchg(_UNLOCKED)
        if v == _UNLOCKED:
            from .errors import RuntimeFatal

            raise RuntimeFatal("unlock of unlocked lock")
        if v == _SLEEPING:
            self._unlock_t = time.perf_counter_ns()
            self._f.wake(1)

    def try_lock(self) -> bool:
        ok = self._cas_word(_UNLOCKED, _LOCKED)
        if ok:
            self._acq += 1
        return ok

    def locked(self) -> bool:
        return self._f.word.value != _UNLOCKED

    __enter__ = lock

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def statistics(self) -> LockStatistics:
        """The counters.  Each is exact (only the lock's holder adds to them), but a read
        while other threads use the lock is not one atomic snapshot of all of them."""
        return LockStatistics(self._acq, self._cont, self._aspins, self._pspins, self._sleeps, self._wake_ns, self._wakes)
