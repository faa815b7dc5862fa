"""pyruntime.compat.golang.sync: pygolang's ``golang.sync`` over ``pyruntime.sync``.

* ``Mutex``, ``WaitGroup``, ``Once`` — ``pyruntime.sync``'s (``lock``/``unlock``/``with``,
  ``add``/``done``/``wait``, ``do``).
* ``RWMutex`` — ``pyruntime.sync.RWMutex`` with pygolang's Go-style method names too:
  ``Lock``, ``Unlock``, ``RLock``, ``RUnlock``, and ``UnlockToRLock`` (turn a held write
  lock into a read lock atomically: no writer can get in between).
* ``Sema(n=1)`` — a counting semaphore: ``acquire`` takes a unit (parking while there is
  none), ``release`` gives one back (any goroutine or thread may release); ``with sema:``
  acquires and releases.  It starts
  with ``n`` units; the default 1 makes it a lock that is not owned by anyone.
* ``WorkGroup(ctx)`` — a group of goroutines working on one task (Go's ``errgroup``
  with a context): ``wg.go(f, *args, **kw)`` runs ``f(wctx, *args, **kw)`` in a new
  goroutine, where ``wctx`` is a child of ``ctx`` canceled as soon as one ``f`` raises;
  ``wg.wait()`` waits for all of them, cancels ``wctx``, and raises the first exception
  one raised (any ``BaseException``; the runtime's unwinding of a goroutine at program
  end is not one).  ``with WorkGroup(ctx) as wg:`` calls ``wait()`` at the end of the
  block.  If the block raises, ``wctx`` is canceled first (the goroutines should stop,
  the block that fed them is gone), the goroutines are waited for, and the block's
  exception propagates — unless one of them raised: then, as with a ``finally`` that
  raises, theirs propagates with the block's as its ``__context__`` (pygolang's rule).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ... import sync as _sync
from ..._core import proc as _proc
from ..._core.errors import Panic
from ..._core.g import WaitReason
from ..._core.sema import Sema as _CoreSema
from . import context as _context

__all__ = ["Mutex", "RWMutex", "Sema", "Once", "WaitGroup", "WorkGroup"]

Mutex = _sync.Mutex
Once = _sync.Once
WaitGroup = _sync.WaitGroup


class RWMutex(_sync.RWMutex):
    """``pyruntime.sync.RWMutex`` with pygolang's names (``Lock``, ``RLock``, ``UnlockToRLock``, ...)."""

    __slots__ = ()

    def Lock(self) -> None:
        self.lock()

    def Unlock(self) -> None:
        self.unlock()

    def RLock(self) -> None:
        self.rlock()

    def RUnlock(self) -> None:
        self.runlock()

    def UnlockToRLock(self) -> None:
        """Atomically turn the write lock we hold into a read lock."""
        # unlock()'s algorithm (announce the writer gone, wake the readers that queued
        # behind it), except that we count ourselves as one more reader before any other
        # writer can take the inner mutex.
        with self._lk:
            if self._reader_count >= 0:
                raise Panic("sync: UnlockToRLock of unlocked RWMutex")
            self._reader_count += _sync._MAX_READERS
            r = self._reader_count
            self._reader_count += 1
        for _ in range(r):
            self._reader_sem.release()
        self._w.unlock()



class Sema:
    """A counting semaphore with ``n`` units (default 1): ``acquire``, ``release``."""

    __slots__ = ("_s",)

    def __init__(self, n: int = 1) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"Sema: n must be an int (the number of units), got {n!r}")
        if n < 0:
            raise ValueError(f"Sema: n must be >= 0, got {n}")
        self._s = _CoreSema(n)

    def acquire(self) -> None:
        """Take one unit; park until one is released if none is free."""
        self._s.acquire(WaitReason.SEMACQUIRE)

    def release(self) -> None:
        """Give one unit back, waking the longest waiter."""
        self._s.release()

    def __enter__(self) -> "Sema":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<Sema units={self._s.count} waiters={self._s.nwait()}>"


class WorkGroup:
    """Goroutines working on one task under a context; the first exception cancels the rest."""

    def __init__(self, ctx: Any) -> None:
        self._ctx, self._cancel = _context.with_cancel(ctx)
        self._wg = _sync.WaitGroup()
        self._lk = threading.Lock()
        self._err: BaseException | None = None

    def go(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``f(ctx, *args, **kwargs)`` in a new goroutine of the group."""
        if not callable(f):
            raise TypeError(f"WorkGroup.go: {f!r} is not callable")
        ctx = self._ctx

        def run() -> None:
            try:
                f(ctx, *args, **kwargs)
            except _proc.GreenletExit:
                raise  # the runtime unwinding this goroutine at program end: not the task's error
            except BaseException as e:  # noqa: BLE001 - the group reports it from wait()
                with self._lk:
                    first = self._err is None
                    if first:
                        self._err = e
                if first:
                    self._cancel()

        run.__wrapped__ = f  # type: ignore[attr-defined]  # traces name the goroutine after f
        self._wg.go(run)

    def wait(self) -> None:
        """Wait for every goroutine of the group; raise the first exception one raised."""
        self._wg.wait()
        self._cancel()
        err = self._err
        if err is not None:
            try:
                raise err
            finally:
                err = None

    def __enter__(self) -> "WorkGroup":
        return self

    def __exit__(self, typ: Any, val: BaseException | None, tb: Any) -> bool:
        if val is None:
            self.wait()
            return False
        self._cancel()
        self.wait()  # raised here, an exception of theirs gets the block's as its __context__
        return False
