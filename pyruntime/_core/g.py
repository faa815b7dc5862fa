"""G: a goroutine record, its statuses and wait reasons.

A G is a plain record.  Until it first runs it is just ``(fn, args, kwargs)`` and may
be stolen by any P; the first M to run it gives it a greenlet from that M's pool, and
from then on the G is bound to that M's P, its *home P* (``g.p``), for life: greenlets
cannot move between OS threads (SPEC §1.1).

Glossary
    status      Go's ``_Gidle`` … ``_Gdead`` (only the ones we use).
    waitreason  Go's wait-reason string while ``_Gwaiting`` (one enum: :class:`WaitReason`).
    glet        the greenlet running this G (``None`` until it first runs).  Greenlets are
                pooled per M (Go's free list of dead Gs): a finished G gives its greenlet
                back, so a goroutine costs no greenlet creation.  G records themselves
                are not reused, so a handle stays true to its goroutine after it ends.
    p           home P (``None`` while unstarted).

Invariants
    * ``status`` changes only in proc.py's transition functions (execute, park, ready,
      goexit, syscall enter/exit), each of which emits its trace event.
    * A G in ``_Gwaiting`` is referenced by whatever will ready it (a sudog in a channel
      queue, a timer, a semaphore queue); ``ready`` on a G that is not waiting is ignored.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["G", "Gidle", "Grunnable", "Grunning", "Gsyscall", "Gwaiting", "Gdead", "STATUS_NAMES", "WaitReason"]

Gidle, Grunnable, Grunning, Gsyscall, Gwaiting, Gdead = 0, 1, 2, 3, 4, 6

STATUS_NAMES = {
    Gidle: "idle",
    Grunnable: "runnable",
    Grunning: "running",
    Gsyscall: "syscall",
    Gwaiting: "waiting",
    Gdead: "dead",
}


class WaitReason:
    """Go's wait-reason strings (``runtime2.go``), the only ones ``park`` accepts."""

    CHAN_RECEIVE = "chan receive"
    CHAN_SEND = "chan send"
    SELECT = "select"
    SELECT_NO_CASES = "select (no cases)"
    CHAN_RECEIVE_NIL = "chan receive (nil chan)"
    CHAN_SEND_NIL = "chan send (nil chan)"
    SLEEP = "sleep"
    IO_WAIT = "IO wait"
    SEMACQUIRE = "semacquire"
    SYNC_MUTEX_LOCK = "sync.Mutex.Lock"
    SYNC_RWMUTEX_RLOCK = "sync.RWMutex.RLock"
    SYNC_RWMUTEX_LOCK = "sync.RWMutex.Lock"
    SYNC_WAITGROUP_WAIT = "sync.WaitGroup.Wait"
    SYNC_COND_WAIT = "sync.Cond.Wait"
    SYSCALL = "syscall"
    PREEMPTED = "preempted"


MUTEX_WAIT_REASONS = frozenset({WaitReason.SYNC_MUTEX_LOCK, WaitReason.SYNC_RWMUTEX_RLOCK, WaitReason.SYNC_RWMUTEX_LOCK})


class G:
    """A goroutine.  ``go()`` returns it as the user's handle (read-only ``goid``, ``status``)."""

    __slots__ = (
        "_goid", "fn", "args", "kwargs", "_status", "waitreason", "glet", "p", "m",
        "waitsince", "runnable_since", "created_by", "created_at", "exc", "timer",
        "param", "started_ns", "gcpause_ns", "preempt", "nopreempt", "waitkey", "sudog", "__weakref__",
    )

    def __init__(self, goid: int, fn: Callable[..., Any] | None, args: tuple, kwargs: dict) -> None:
        self._goid = goid
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self._status = Grunnable
        self.waitreason = ""
        self.glet: Any = None
        self.p: Any = None
        self.m: Any = None
        self.waitsince = 0  # perf_counter_ns() when it last left its M (proc._switch_out)
        self.runnable_since = 0
        self.created_by = 0
        self.created_at: Any = None
        self.exc: BaseException | None = None
        self.timer: Any = None
        self.param: Any = None
        self.started_ns = 0
        self.gcpause_ns = 0
        self.preempt = False  # sysmon asked this G to yield (Go's g.preempt)
        self.nopreempt = 0  # depth of debug.nopreempt() sections (Go's m.locks > 0): no async preemption
        self.waitkey: Any = None  # what an outside completer (a syscall M) will wake us for
        self.sudog: Any = None  # chan.py's reusable waiter for plain send/receive

    @property
    def goid(self) -> int:
        """The goroutine's id (read-only; never reused)."""
        return self._goid

    @property
    def status(self) -> str:
        """Go's status name: "runnable", "running", "waiting", "syscall" or "dead"."""
        return STATUS_NAMES[self._status]

    @property
    def wait_reason(self) -> str:
        """Go's wait reason while waiting, else ""."""
        return self.waitreason if self._status == Gwaiting else ""

    @property
    def home_p(self) -> int | None:
        """The id of the P this G is bound to (None until it first runs)."""
        p = self.p
        return None if p is None else p.id

    def __repr__(self) -> str:
        return f"<goroutine {self.goid} [{self.wait_reason or self.status}]>"
