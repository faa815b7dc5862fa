"""proc: the G/M/P scheduler (Go's ``proc.go``), on real OS threads and greenlets.

What it is
----------
``run(main)`` starts a runtime: ``gomaxprocs`` Ps, each owning exactly one M (an OS
thread) for its whole life.  M0 is the calling thread and the caller's greenlet *is*
the main goroutine.  Every M has a scheduler greenlet, g0, that runs ``schedule()``
when the M has nothing better to do and blocks the thread on the M's note when there
is no work.  Goroutines run on greenlets pooled per M.

Glossary (Go's names)
    G       a goroutine (g.py).  Unstarted: ``(fn, args)``, stealable.  Started: bound to
            its home P/M for life.
    M       an OS thread with a g0 greenlet, a pool of free worker greenlets and a note.
    P       a processor: local run queue (FIFO deque), ``runnext``, timer heap,
            ``schedtick``; guarded by ``p.lock``.
    sched   global run queue (unstarted Gs only), idle-P list, spinning count,
            deadlock accounting; guarded by ``sched.lock``.
    park    ``park(reason, unlock)``: the *only* way a G blocks.  ``ready(g)`` is the
            only way it comes back.
    execute switch to a G: the one place that records runnable→running latency and
            emits ``GoStart``.

Scheduling order (``find_runnable``), as in Go: local timers; every 61st schedtick one G
from the global queue; runnext then the local queue; the global queue (batch); steal
(unstarted Gs only, half, 4 passes, runnext on the last); then drop the P: mark idle,
re-check everything (the spinning "delicate dance"), ``checkdead``, and sleep on the
M's note until the next timer or a wakeup.

Invariants
    * Only the M of a G's home P ever switches to that G's greenlet.
    * ``p.runq``/``p.runnext``/``p.idle`` change only under ``p.lock``.  A readier pushes
      under ``p.lock`` and reads ``p.idle`` under the same lock; the idling M checks the
      queue and sets ``idle`` under it: no wakeup is lost.
    * ``sched.npidle``, ``sched.pidle``, ``sched.nmspinning``, ``sched.nsyscall``,
      ``sched.noutside`` and the global queue change only under ``sched.lock``.
      ``checkdead`` runs under ``sched.lock``.
    * A bound G is never put on the global queue or another P's queue.
    * An idle P's queue is its own M's: nobody steals from an idle P, and its M takes the
      queue's head in the same ``p.lock`` hold that clears ``p.idle`` (``_leave_idle``).
      A P whose M has not started yet is idle.

Where we differ from Go, and why
    * Binding (SPEC §1.1): greenlets are thread-bound, so ``ready`` always queues a G on
      its home P, ``Gosched`` and preemption put it on its home P's tail (not the global
      queue), and stealing and the global queue carry unstarted Gs only.
    * Placement at ``go()``.  Binding makes the P a G first runs on the only chance to
      spread work.  Go puts the new G in the creator's ``runnext`` and calls ``wakep``;
      a spinning M steals it (or what it pushed to the tail) within microseconds.  Here
      the creating M keeps the GIL and starts every new G itself before a woken M gets
      the GIL (up to the 1 ms switch interval), and binding made that permanent:
      ``samples/worker_pool.py --gomaxprocs 4`` ran all 16 workers on P0.  So
      ``newproc`` (``_runqput_new``) keeps Go's ``runnext`` for the new G, and an
      *unstarted* G that the new one pushes out of ``runnext`` goes to the creator's
      tail as in Go *unless* that tail already holds a G and some P is idle: then to
      the least-loaded idle P holding fewer queued Gs than the creator (ties: lowest
      id), whose M is woken (``_handoff``).  The handed G first runs on the P it was
      handed to (the idle-P invariant above).  A burst of ``go()`` is so balanced over
      the creator and the idle Ps, while the creator keeps its two newest Gs:
      create-then-block (ping-pong, the sieve) still runs the new G here and inherits
      the time slice, and ``go a; go b; wait`` keeps a pair that talks to each other on
      one M.  That pair is why the tail must hold a G first: split over two Ms, each of
      its messages is a cross-thread wake-up under the GIL (measured: 8x the round-trip
      time, 10x the CPU).  Gs from the third on are spread, so a pipeline of three Gs
      started together can be split; ``PYRUNTIME_DEBUG=placego=0`` turns placement off
      (Go's behaviour).  Ps whose M has not started are born idle, so this works at
      program start too.  Traced as ``Handoff``.  A burst of tiny Gs pays a scan of
      ``allp`` per ``go()`` and runs most of them on other Ms (HACKING.md, "Measured
      decisions", has the numbers).
    * runq: a ``deque`` under a per-P ``threading.Lock`` instead of Go's lock-free
      256-slot ring: Python has no CAS, and bound Gs readied by other Ms make the queue
      multi-producer.  RUNQ_SIZE (256) still bounds how many *unstarted* Gs stay local;
      beyond it new Gs go to the global queue (Go moves half the ring; we move the new
      one, which keeps the lock hold short).
    * Direct switch: a parking G picks the next G itself (timers, fairness tick, local
      queue) and switches straight to it; only when the local search fails does it
      switch to g0, which steals and sleeps.  Go always goes through g0 (``mcall``); in
      Python each extra greenlet switch costs ~0.4 µs, half the ping-pong budget.
    * A finished G's greenlet runs the next unstarted G inline, with no switch at all.
    * Each P owns one M for life (SPEC), so "idle P" means "its M sleeps on its note";
      there is no ``startm``/``handoffp``.  Blocking kernel calls go to syscall Ms
      (``syscall()``), a separate bounded pool.
    * ``/sched/latencies:seconds`` records every runnable→running interval (Go samples
      1 in 8).
    * Deadlock detection and plain threads (Go has no such threads).  A thread blocked
      on a runtime object (``noutside``) keeps checkdead quiet, as the SPEC says.  A
      live thread that has *used* the runtime (blocked on a runtime object, woken a
      goroutine, or started one: ``_touched``) and is not blocked on one now is
      running its own code and may send again: progress is possible for as long as it
      lives, however long it takes.  A live thread that has never used it is either
      about to (started just before main blocks on the channel it will send on) or
      unrelated (a library's worker): it defers the verdict by DEADLOCK_GRACE seconds
      of no progress, then the deadlock is reported.  So the line is drawn by use,
      not by daemon status, and a thread that only ever used channel buffers (never
      blocked, never woke anyone) is not known.  Threads not started by ``threading``
      are not seen.  sysmon re-checks while a suspicion stands, so the report comes
      once the last such thread ends.
    * Who runs checkdead: an M going idle (Go's ``mput``), a retiring M leaving
      ``allp`` (Go's ``mexit``), and whoever lowers a count that kept it quiet while
      every P is idle (the netpoller's waiters, ``nsyscall``, ``noutside``:
      ``checkdead_idle``): the woken G may have blocked again, and the idle Ms' checks
      saw the old count.  A count is lowered only after the G is readied, so that a G
      in transit always keeps checkdead quiet.
    * Netpoll: the waiter count covers Gs parked on fds and Gs the poller harvested
      but has not queued yet (Go applies netpoll's delta after ``injectglist``).  An
      M blocked in the netpoller is not otherwise counted as progress (Go counts it as
      running): with no waiter nothing it can return would wake a G, and counting it
      would turn a deadlock into a hang.
    * No runtime yet: a runtime operation that would block the main thread while no
      runtime runs and no other thread lives starts the implicit runtime, as ``go()``
      does (``start_to_block``): the wait can only be a deadlock, and it is reported
      (``Deadlock`` raised, the fatal error on stderr) instead of hanging.  With other
      threads alive (or on another thread) it stays a plain thread's wait (SPEC 3.2).
    * Shrinking GOMAXPROCS (``procresize``).  Go destroys the removed P at once: its
      run queue goes to the global queue and every G on it runs elsewhere.  Here only
      unstarted Gs move (``handoff_unstarted``); a started G is bound to its M, so a
      retiring P's M keeps running its bound Gs until they end (a G blocked for ever
      keeps it for ever) and only then leaves (``_retire``).  Its thread then exits.
    * Retiring an M.  Before its thread exits the M disposes of its own greenlets on
      its own thread: ``_kill_m`` unwinds the pooled workers and drops the pool, and
      ``_mstart`` drops ``m.g0`` (the thread's main greenlet); a finished G drops its
      greenlet (``_goexit``).  Nothing may reference a greenlet of an exited thread:
      greenlet frees that thread's state later, from a pending call on the main thread,
      and if the main greenlet is then referenced exactly once from an object
      ``gc.get_referrers`` cannot see, it takes that for a stale C-stack reference and
      drops it.  A retired M is garbage, and a collection whose finalizers run the
      pending call has it in its unreachable list, out of get_referrers' sight: M.g0
      dangled and the collector crashed traversing the M.
    * Interrupts.  Python can raise into a parked goroutine, Go cannot: Ctrl-C, a panic
      in another goroutine and deadlock are *posted* to the main G (``g.exc`` then
      ``ready``) from another thread.  Posted while the G still runs, the ``ready`` is a
      no-op, so ``park`` re-checks ``g.exc`` after marking the G waiting and readies
      itself (sysmon also re-readies a waiting main G with a pending exception).  Every
      park site therefore cleans up when ``park`` raises: a channel op leaves its wait
      queue, ``sleep`` stops its timer, a syscall's completion is keyed (``ready(key=)``)
      so it cannot wake the G out of a later wait.  SIGINT reaches sysmon through
      ``signal.set_wakeup_fd`` (written by CPython's C handler at once), not through the
      Python-level handler, which the main thread may run arbitrarily late.  That
      handler raises only when the main G runs its own code; never in a runtime frame
      (``run``'s own included: raised there it could skip ``shutdown``) and never once
      the runtime is stopping.
    * The end of the program.  Go's exit kills every thread; ours must each be joined
      (SPEC: every runtime thread ends when ``run`` returns, after a panic, a deadlock or
      Ctrl-C too).  ``shutdown`` stops sysmon, unwinds M0's goroutines on the calling
      thread, wakes every other M and *preempts their running Gs into GreenletExit*
      (``gopreempt`` unwinds instead of requeueing while ``sched.stopping``; re-armed
      every 10 ms), joins the Ms, then the syscall Ms (idle ones end at once), and waits
      for their kernel tasks to leave /proc.  Threads stuck in a C call cannot be stopped:
      shutdown waits ``timeout`` (5 s) for such an M and 0.5 s for such a syscall M, then
      leaves it as a daemon that ends when its call returns.  A G with no preemption hook
      (``asyncpreemptoff=1``, ``sysmon=0``) spinning in pure Python is such a thread too.
    * A second Ctrl-C.  Until the last thread is joined, SIGINT stays with our handler,
      which only records it while the runtime stops; the old handler comes back as the
      very last step of ``shutdown``.  ``run`` then raises the recorded Ctrl-C (as plain
      Python raises one in a ``finally``), unless a KeyboardInterrupt is already on its
      way out, which absorbs it.  So a second Ctrl-C never cuts the shutdown short (it
      used to raise inside it and leave threads running, and the next ``run`` said a
      runtime was still running); the price is that it waits for the bounded waits above.
"""

from __future__ import annotations

import atexit
import collections
import heapq
import itertools
import os
import queue
import random
import sys
import threading
import time
import traceback
import weakref
from _thread import get_ident as _get_ident
from typing import Any, Callable

import greenlet as _greenlet_mod

from .errors import Deadlock, Panic, RuntimeFatal
from .futex import Note, RuntimeLock
from .g import G, Gdead, Grunnable, Grunning, Gsyscall, Gwaiting, WaitReason, MUTEX_WAIT_REASONS
from .hist import HOT_MAX, TimeHistogram

getcurrent = _greenlet_mod.getcurrent
greenlet = _greenlet_mod.greenlet
GreenletExit = _greenlet_mod.GreenletExit
perf_counter_ns = time.perf_counter_ns
monotonic = time.monotonic
# The OS sleep, bound at import: ``monkey.patch_all`` replaces ``time.sleep`` with one that
# parks a goroutine, which the runtime's own waits (a steal's back-off, shutdown's wait
# for exited threads) must never do.
_os_sleep = time.sleep

RUNQ_SIZE = 256
GLOBAL_CHECK_EVERY = 61
STEAL_TRIES = 4
RUNNEXT_STEAL_BACKOFF = 3e-6  # seconds (Go: usleep(3))
GOID_BATCH = 16
SYSCALL_MAX_THREADS = int(os.environ.get("PYRUNTIME_SYSCALL_THREADS", "64") or 64)
SYSCALL_IDLE_TIMEOUT = 10.0

_ENV_GOMAXPROCS = "PYRUNTIME_GOMAXPROCS"


# --------------------------------------------------------------------------- metrics

class _Metrics:
    """Always-on counters and histograms (read by pyruntime.metrics)."""

    def __init__(self) -> None:
        self.schedlat = TimeHistogram()
        self.running = TimeHistogram()   # how long a G runs before it blocks/yields/ends
        self.preempt_slices = TimeHistogram()  # how long a preempted G had run
        self.preempt_latency = TimeHistogram()  # sysmon's request -> the G switched out
        self.stw_stopping = TimeHistogram()
        self.stw_total = TimeHistogram()
        self.preemptions = 0
        self.slice_samples: collections.deque[int] = collections.deque(maxlen=10000)  # raw ns, for labs
        self.syscalllat = TimeHistogram()
        self.gcpauses = TimeHistogram()
        self.mutex_wait_ns = 0
        self.goroutines_created = 0


metrics = _Metrics()

# The tracer: None when nobody listens (one global check per transition).
_tracer: Any = None
# Its record sink, ``_tracer.put`` (a C-level ``deque.append``): hot transitions append one
# ``(name, ts_ns, goid, pid, x)`` tuple with no Python frame (pyruntime.trace documents x).
_tput: Any = None


# The netpoller (pyruntime.netpoll installs it on first use; None until then).  Contract:
#   poll(timeout) -> list[G]   timeout 0: do not block; None: block until an event or
#                              break_(); else seconds.  Returns the Gs whose fds are ready,
#                              still counted in ``waiters``: the caller readies them, then
#                              lowers the count (``_inject``), as Go applies netpoll's
#                              delta after injectglist.
#   break_()                   wake a poll blocked on another thread (Go's netpollBreak).
#   waiters                    Gs parked on fds or harvested and not yet readied (keeps
#                              checkdead quiet, as in Go).
#   addwaiters(n)              change ``waiters``.
netpoller: Any = None


def set_netpoller(np: Any) -> None:
    global netpoller
    netpoller = np


def set_tracer(t: Any) -> None:
    """Install (or remove, with None) the object whose ``emit(name, **fields)`` receives
    every scheduler event.  Used by pyruntime.trace."""
    global _tracer, _tput
    _tput = None if t is None else getattr(t, "put", None)
    _tracer = t


# --------------------------------------------------------------------------- P and M

class P:
    """A processor: run queue, runnext, timers, schedtick.  See the module essay."""

    __slots__ = (
        "id", "lock", "runq", "runnext", "idle", "schedtick", "m", "timers", "tlock",
        "ntimers", "sleep_until", "goid_next", "goid_end", "ncreated", "nexited", "dead", "nbound",
        "stall_t0", "stall_ns", "sysmontick", "sysmonwhen", "preempt_at", "preempt_first", "stopped", "fired", "blk_key", "blk_since",
    )

    def __init__(self, pid: int) -> None:
        self.id = pid
        self.lock = threading.Lock()
        self.runq: collections.deque[G] = collections.deque()
        self.runnext: G | None = None
        self.idle = False
        self.schedtick = 0
        self.m: M | None = None
        self.timers: list = []          # heap of (when, seq, timer, tseq)
        self.tlock = threading.Lock()
        self.ntimers = 0                # live timers in the heap
        self.sleep_until: float | None = None
        self.goid_next = 0
        self.goid_end = 0
        self.ncreated = 0
        self.nexited = 0
        self.dead = False      # retiring (GOMAXPROCS shrank): takes no new work
        self.nbound = 0        # started, not yet dead Gs whose home is this P
        self.stall_t0 = 0      # perf_counter_ns when the queue last became non-empty
        self.stall_ns = 0      # total time the queue held a runnable G (PSI "some")
        self.sysmontick = 0    # sysmon's last view of schedtick, and when it changed
        self.sysmonwhen = 0
        self.preempt_at = 0    # when sysmon last asked this P's G to yield
        self.preempt_first = 0  # when the pending request was first made (latency metric)
        self.stopped = False   # parked for stop-the-world
        self.fired: list | None = None  # Gs readied by the timer batch being run
        self.blk_key: Any = None
        self.blk_since = 0

    def runqsize(self) -> int:
        return len(self.runq) + (self.runnext is not None)


class M:
    """A machine: one OS thread, its g0, its pool of free worker greenlets, its note."""

    __slots__ = ("id", "p", "thread", "g0", "curg", "note", "free", "glets", "spinning", "tid", "ident", "lat", "is_m0", "nextg",
                 "in_netpoll", "run_start", "runlen", "tstate", "blocked", "cpu_clock", "latc", "runlenc",
                 "exitlock")

    def __init__(self, mid: int, p: P) -> None:
        self.id = mid
        self.p = p
        self.thread: threading.Thread | None = None
        self.g0: Any = None
        self.curg: G | None = None
        self.note = Note()
        self.free: list = []
        self.glets: weakref.WeakSet = weakref.WeakSet()
        self.spinning = False
        self.tid = 0
        self.ident = -1          # threading.get_ident() of its thread (ready's "same M?" test)
        self.lat = metrics.schedlat.shard()
        self.is_m0 = False
        self.nextg: G | None = None
        self.in_netpoll = False
        self.run_start = 0      # perf_counter_ns when curg started running
        self.runlen = metrics.running.shard()
        self.latc = self.lat.counts        # the shards' count lists, for the inlined records
        self.runlenc = self.runlen.counts
        self.tstate = 0          # the thread's PyThreadState* (preemption hooks)
        # Held while another thread arms a preemption hook on this M (3.11 writes into its
        # thread state); the M's thread takes it and zeroes ``tstate`` before it ends, so
        # no hook is ever armed on a freed thread state.
        self.exitlock = threading.Lock()
        self.blocked = False     # sysmon saw its G stuck outside Python bytecode
        self.cpu_clock: int | None = None


class _Sched:
    """Go's ``sched``: global state, guarded by ``lock``."""

    def __init__(self) -> None:
        # Go's runtime mutex (tri-state futex lock); its statistics() are what the lock
        # lab shows.  Hot per-P and per-channel paths use threading.Lock (HACKING.md).
        self.lock = RuntimeLock()
        self.reset()

    def reset(self) -> None:
        self.running = False
        self.stopping = False
        self.implicit = False
        self.allp: list[P] = []
        self.allm: list[M] = []
        self.retired: list[M] = []   # Ms whose P retired (gomaxprocs shrank): joined at shutdown
        self.gomaxprocs = 0
        self.runq: collections.deque[G] = collections.deque()
        self.pidle: list[P] = []
        self.npidle = 0
        self.nmspinning = 0
        self.nsyscall = 0
        self.noutside = 0
        self.placego = True      # newproc's placement on idle Ps (PYRUNTIME_DEBUG=placego=0: off)
        self.gcwaiting = False   # stop-the-world requested: Ms park at their next safe point
        self.stw_owner: M | None = None
        self.stw_g: G | None = None
        self.preempt_pending = False  # some G has g.preempt set (cheap global check)
        self.sysmon: Any = None
        self.debug: dict[str, int] = {}
        self.stw_t0 = 0
        self.switchinterval: float | None = None
        self.sigint = False
        self.paused = False      # the live panel holds the scheduler (sysmon stands back)
        self.pin_cpus: list[int] = []
        self.m0_affinity: set[int] | None = None
        self.polling = False     # an M is blocked in the netpoller
        self.lastpoll = 0.0      # monotonic time of the last netpoll
        self.goidgen = 0
        self.main_g: G | None = None
        self.m0: M | None = None
        self.panic: BaseException | None = None
        self.dead = False
        self.deadsuspect = 0.0   # monotonic time checkdead first saw "dead but for outside threads"
        self.allgs: dict[int, G] = {}
        self.outside_created = 0
        self.outside_exited = 0
        self.start_ns = perf_counter_ns()


sched = _Sched()


class _TLS(threading.local):
    m: "M | None" = None  # the M this thread is (None: an outside thread)


_tls = _TLS()


# --------------------------------------------------------------------------- helpers

def getg() -> G | None:
    """The goroutine running the calling code, or None outside the runtime."""
    return getattr(getcurrent(), "_rtg", None)


def getm() -> M | None:
    return _tls.m


def _new_goid(p: P | None) -> int:
    if p is not None:
        if p.goid_next == p.goid_end:
            with sched.lock:
                p.goid_next = sched.goidgen + 1
                sched.goidgen += GOID_BATCH
                p.goid_end = sched.goidgen + 1
        goid = p.goid_next
        p.goid_next += 1
        return goid
    with sched.lock:
        sched.goidgen += 1
        return sched.goidgen


def _emit(name: str, **fields: Any) -> None:
    t = _tracer
    if t is not None:
        t.emit(name, **fields)


# --------------------------------------------------------------------------- run queues

def runqput(p: P, g: G, next: bool) -> None:
    """Put ``g`` on ``p``'s queue (``runnext`` if ``next``); wake p's M if it sleeps."""
    if p.dead and g.glet is None:
        _globrunqput(g)
        _wake_any()
        return
    p.lock.acquire()
    q = p.runq
    if not q and p.runnext is None:
        p.stall_t0 = g.runnable_since or perf_counter_ns()  # the queue becomes non-empty
    if next:
        old = p.runnext
        p.runnext = g
        g = old
    if g is not None:
        if g.glet is None and len(q) >= RUNQ_SIZE:
            p.lock.release()
            _runqputslow(p, g)
            return
        q.append(g)
    idle = p.idle
    p.lock.release()
    if idle:
        _wakem(p.m)


def _runqputslow(p: P, g: G) -> None:
    """The local queue is full: move the older half of its unstarted head, and ``g``,
    to the global queue in one batch (Go's ``runqputslow``)."""
    batch = []
    p.lock.acquire()
    q = p.runq
    while q and len(batch) < RUNQ_SIZE // 2 and q[0].glet is None:
        batch.append(q.popleft())
    p.lock.release()
    batch.append(g)
    with sched.lock:
        sched.runq.extend(batch)


def _runqput_new(p: P, g: G) -> None:
    """newproc's ``runqput(p, g, next=True)``, with placement (essay: "Placement at
    go()").  ``g`` goes to ``runnext`` as in Go.  An unstarted G it pushes out of
    ``runnext`` goes to ``p``'s tail, unless that tail already holds a G and some P is
    idle: then to the least-loaded idle P holding fewer queued Gs than ``p`` (its M is
    woken and takes it as it leaves idle).  So ``go a; go b; wait`` keeps both here."""
    p.lock.acquire()
    q = p.runq
    old = p.runnext
    p.runnext = g
    if old is None:
        if not q:
            p.stall_t0 = g.runnable_since
        p.lock.release()
        return
    if old.glet is None and q and sched.npidle and sched.placego:
        load = len(q) + 1
        v = _idle_target(p, load)
        if v is not None:
            p.lock.release()
            for _ in range(len(sched.allp)):
                if _handoff(v, old, p):
                    return
                v = _idle_target(p, load)  # v left idle meanwhile: the next one
                if v is None:
                    break
            runqput(p, old, False)
            return
    if old.glet is None and len(q) >= RUNQ_SIZE:
        p.lock.release()
        _runqputslow(p, old)
        return
    q.append(old)
    p.lock.release()


def _idle_target(p: P, load: int) -> P | None:
    """The least-loaded idle P (not ``p``, not retiring or stopped; ties: lowest id)
    holding fewer queued Gs than ``load``.  Read without their locks: a hint that
    ``_handoff`` confirms."""
    best = None
    for v in sched.allp:
        if v.idle and v is not p and not v.dead and not v.stopped:
            n = len(v.runq) + (v.runnext is not None)
            if n < load:
                best, load = v, n
    return best


def _handoff(v: P, g: G, src: P) -> bool:
    """Queue the unstarted ``g`` on ``v`` if ``v`` is still idle, and wake its M.  An
    idle P is never a steal victim and its M takes its queue's head as it leaves idle
    (``_leave_idle``, under ``v.lock``), so ``g`` first runs on ``v``."""
    v.lock.acquire()
    if not v.idle or v.dead or v.stopped or sched.gcwaiting:
        v.lock.release()
        return False
    q = v.runq
    first = not q and v.runnext is None
    if first:
        v.stall_t0 = g.runnable_since or perf_counter_ns()
    q.append(g)
    v.lock.release()
    if _tput is not None:
        _tput(("Handoff", perf_counter_ns(), g._goid, v.id, src.id))
    if first:  # (an idle P with a queue has a wake-up pending: whoever queued woke it)
        _wakem(v.m)
    return True


def _wakem(m: M) -> None:
    """Wake an M sleeping on its note, or blocked in the netpoller (Go's notewakeup /
    netpollBreak)."""
    m.note.wakeup()
    if m.in_netpoll:
        np = netpoller
        if np is not None:
            np.break_()


def _inject(gs: list) -> None:
    """Ready a batch of Gs found by the netpoller (Go's injectglist, no runnext), then
    uncount them from its waiters: until they are queued they must keep checkdead
    quiet (netpoll/polldesc.py's invariants)."""
    for g in gs:
        ready(g, next=False)
    np = netpoller
    if np is not None:
        np.addwaiters(-len(gs))


def _globrunqput(g: G) -> None:
    with sched.lock:
        sched.runq.append(g)


def _globrunqget(p: P, maxn: int) -> G | None:
    """Take a batch of unstarted Gs from the global queue (Go's globrunqgetbatch)."""
    with sched.lock:
        q = sched.runq
        size = len(q)
        if size == 0:
            return None
        n = min(maxn, size, size // max(sched.gomaxprocs, 1) + 1)
        first = q.popleft()
        batch = [q.popleft() for _ in range(n - 1)]
    if batch:
        _runqputbatch(p, batch)
    return first


def _runqputbatch(p: P, batch: list) -> None:
    """Append a batch of (unstarted) Gs to ``p``'s queue, starting its stall clock if
    the queue was empty."""
    p.lock.acquire()
    q = p.runq
    if not q and p.runnext is None:
        p.stall_t0 = perf_counter_ns()
    q.extend(batch)
    p.lock.release()


def _runqget(p: P) -> tuple[G | None, bool]:
    p.lock.acquire()
    g = p.runnext
    if g is not None:
        p.runnext = None
        p.lock.release()
        return g, True
    q = p.runq
    g = q.popleft() if q else None
    p.lock.release()
    return g, False


def _runqsteal(p: P, victim: P, stealnext: bool) -> G | None:
    """Steal half of ``victim``'s unstarted Gs (runnext too on the last pass)."""
    victim.lock.acquire()
    q = victim.runq
    cand = [g for g in q if g.glet is None]
    n = len(cand) - len(cand) // 2
    taken: list[G] = []
    if n:
        taken = cand[:n]
        ids = set(map(id, taken))
        victim.runq = collections.deque(g for g in q if id(g) not in ids)
    elif stealnext and victim.runnext is not None and victim.runnext.glet is None:
        if not victim.idle:
            # Go's runqgrab: give a running victim ~3 µs to run its own runnext first (a
            # G that readies another and then blocks is the common case); stealing it
            # would make every later handoff cross threads.
            victim.lock.release()
            _os_sleep(RUNNEXT_STEAL_BACKOFF)
            victim.lock.acquire()
        rn = victim.runnext
        if rn is not None and rn.glet is None:
            taken = [rn]
            victim.runnext = None
    victim.lock.release()
    if not taken:
        return None
    first = taken.pop()
    if taken:
        _runqputbatch(p, taken)
    _emit("Steal", p=p.id, victim=victim.id, n=len(taken) + 1)
    return first


def _steal_work(p: P) -> G | None:
    allp = sched.allp
    n = len(allp)
    if n <= 1:
        return None
    for i in range(STEAL_TRIES):
        last = i == STEAL_TRIES - 1
        start = random.randrange(n)
        for k in range(n):
            v = allp[(start + k) % n]
            if v is p or v.idle or v.dead:
                continue
            g = _runqsteal(p, v, last)
            if g is not None:
                return g
    return None


def _any_stealable(p: P) -> bool:
    for v in sched.allp:
        if v is p or v.idle:
            continue  # an idle P's queue is its own M's (runqput/_handoff woke it)
        v.lock.acquire()
        found = any(g.glet is None for g in v.runq) or (v.runnext is not None and v.runnext.glet is None)
        v.lock.release()
        if found:
            return True
    return False


def wakep() -> None:
    """Wake an idle P's M to spin (steal) if nobody is spinning (Go's ``wakep``)."""
    if sched.nmspinning or not sched.npidle:
        return
    with sched.lock:
        if sched.nmspinning:
            return
        p = next((q for q in reversed(sched.pidle) if not q.dead), None)
        if p is None:
            return
        sched.pidle.remove(p)
        sched.npidle -= 1
        sched.nmspinning += 1
        p.m.spinning = True
    _wakem(p.m)


def _resetspinning(m: M) -> None:
    with sched.lock:
        if m.spinning:
            m.spinning = False
            sched.nmspinning -= 1
    wakep()


# --------------------------------------------------------------------------- timers

def run_timers(p: P, now: float) -> None:
    """Run ``p``'s expired timers (Go's ``timers.check``).  Callbacks must not block."""
    fired = []
    p.tlock.acquire()
    h = p.timers
    while h and h[0][0] <= now:
        when, _, t, tseq = heapq.heappop(h)
        if t.seq != tseq or t.p is not p:
            continue  # stopped or reset: a stale entry
        if t.period:
            nxt = when + t.period * (1 + int((now - when) / t.period))
            if nxt <= now:  # float rounding (or a period below the clock's resolution)
                nxt = now + max(t.period, MIN_PERIOD)
            t.when = nxt
            heapq.heappush(h, (nxt, next(_tseq), t, tseq))
        else:
            t.p = None
            p.ntimers -= 1
        fired.append((t, when, tseq, t.arg))
    p.tlock.release()
    if not fired:
        return
    # Gs readied by this batch go to the *head* of the local queue in firing order
    # (``ready`` collects them in p.fired).  Go readies each into runnext, which holds
    # one: in a burst of expiries every earlier one is pushed to the tail, behind all
    # queued work, and sleeps late by the length of the queue.
    p.fired = batch = []
    try:
        for t, when, tseq, arg in fired:
            try:
                t.f(arg, when, tseq)
            except BaseException as e:  # a timer callback is runtime code
                _panic(None, e)
    finally:
        p.fired = None
    if batch:
        p.lock.acquire()
        q = p.runq
        if not q and p.runnext is None:
            p.stall_t0 = batch[0].runnable_since
        q.extendleft(reversed(batch))
        p.lock.release()


def next_timer(p: P) -> float | None:
    p.tlock.acquire()
    h = p.timers
    while h and (h[0][2].seq != h[0][3] or h[0][2].p is not p):
        heapq.heappop(h)
    w = h[0][0] if h else None
    p.tlock.release()
    return w


_tseq = itertools.count()

# Go's maxWhen (1<<63 - 1 ns): a timer due later (a huge or infinite duration) is armed
# for then, i.e. it never fires, as Go's ``when()`` saturates an overflowing when.
MAX_WHEN = (2**63 - 1) / 1e9
# The shortest period a periodic timer is re-armed with (pyruntime.time floors Ticker
# periods to it): one firing costs microseconds, and a period below the float clock's
# resolution would not advance ``when`` at all.
MIN_PERIOD = 1e-6


class Timer:
    """A runtime timer: ``f(arg, when, seq)`` runs on a P's scheduler when ``when``
    (monotonic seconds) passes; ``period`` re-arms it.  ``seq`` invalidates heap entries
    lazily on stop/reset (Go's zombies)."""

    __slots__ = ("when", "period", "f", "arg", "seq", "p")

    def __init__(self, f: Callable[[Any, float, float], None], arg: Any = None) -> None:
        self.when = 0.0
        self.period = 0.0
        self.f = f
        self.arg = arg
        self.seq = 0
        self.p: P | None = None

    def start(self, when: float, period: float = 0.0) -> bool:
        """Arm (or re-arm) the timer on the current P.  Returns True if it was active."""
        if not when < MAX_WHEN:
            if when != when:
                raise ValueError("timer: when is NaN")
            when = MAX_WHEN
        if period and period < MIN_PERIOD:
            period = MIN_PERIOD
        was = self.stop()
        g = getg()
        p = g.m.p if (g is not None and g.m is not None) else None
        if p is None or p.dead:
            allp = sched.allp
            if not allp or not sched.running:
                raise RuntimeError("pyruntime: no runtime is running: timers need one; use them inside "
                                   "rt.run(main) or after go() has started the implicit runtime")
            p = allp[0]
        self.when = when
        self.period = period
        p.tlock.acquire()
        self.seq += 1
        self.p = p
        p.ntimers += 1
        heapq.heappush(p.timers, (when, next(_tseq), self, self.seq))
        early = p.timers[0][2] is self
        p.tlock.release()
        if early:
            su = p.sleep_until
            if p.idle and (su is None or when < su):
                _wakem(p.m)
        return was

    def stop(self) -> bool:
        """Disarm; return True if the timer was armed."""
        p = self.p
        if p is None:
            return False
        p.tlock.acquire()
        if self.p is p:
            self.seq += 1
            self.p = None
            p.ntimers -= 1
            p.tlock.release()
            return True
        p.tlock.release()
        return False

    @property
    def active(self) -> bool:
        return self.p is not None


# --------------------------------------------------------------------------- park / ready / execute

def ready(g: G, next: bool = True, key: Any = None) -> None:
    """Make a waiting (or in-syscall) G runnable on its home P (Go's ``goready``).

    ``next``: put it in ``runnext`` if the caller runs on that same P (the woken G runs
    next and inherits the time slice); a G readied from another M or thread goes to the
    tail.  Readying a G that is not waiting is ignored.  ``key``: wake it only if it
    still waits for that (``g.waitkey``): a syscall completing after its G was
    interrupted must not wake the G out of whatever it waits for next."""
    p = g.p
    p.lock.acquire()
    st = g._status
    if (st != Gwaiting and st != Gsyscall) or (key is not None and g.waitkey is not key):
        p.lock.release()
        return
    g._status = Grunnable
    now = g.runnable_since = perf_counter_ns()
    q = p.runq
    if not q and p.runnext is None:
        p.stall_t0 = now
    outside = False
    if next and p.m.ident == (me := _get_ident()):  # called on p's own M (cheaper than _tls.m)
        if p.fired is not None:  # inside run_timers on this P: queued at the head after
            p.fired.append(g)
            p.lock.release()
            return
        old = p.runnext
        p.runnext = g
        if old is not None:
            q.append(old)
    else:
        q.append(g)
        # Woken from a plain thread (not an M: ``_mids``)?  It uses the runtime
        # (``_checkdead``).  Such wakes pass next=True (channels, sync, netpoll), so the
        # ident is at hand; next=False and keyed readies are the runtime's own
        # (netpoll harvest, syscall completions, interrupts).
        outside = next and key is None and me not in _mids
    idle = p.idle
    p.lock.release()
    if outside:
        _touch_outside()
    if _tput is not None:
        # The waker: this M's G if it is running (not in g0, a timer, a syscall M or an
        # outside thread: 0).
        tm = _tls.m
        cur = tm.curg if tm is not None else None
        _tput(("GoUnblock", now, g._goid, p.id, cur._goid if cur is not None and cur._status == Grunning else 0))
    if idle:
        _wakem(p.m)


def park(reason: str, unlock: Any = None, g: G | None = None) -> None:
    """Block the current G with ``reason`` until someone ``ready``s it (Go's ``gopark``).

    ``unlock`` (a lock the caller holds) is released after the G is marked waiting, so a
    waker that takes that lock always sees a waiting G.  Raises the G's pending
    exception (deadlock, panic elsewhere, runtime stopping) when it resumes."""
    if g is None:  # (callers on hot paths pass the current G they already have)
        g = getattr(getcurrent(), "_rtg", None)
        if g is None:
            raise RuntimeFatal("park outside a goroutine")
    if g is sched.stw_g:
        if unlock is not None:
            unlock.release()
        raise RuntimeError(f"pyruntime: goroutine {g.goid} would block ({reason}) while it has the world stopped; "
                           "do not block inside debug.stw()")
    g._status = Gwaiting
    g.waitreason = reason
    if _tput is not None:
        _tput(("GoBlock", perf_counter_ns(), g._goid, g.p.id, reason))
    if unlock is not None:
        unlock.release()
    if sched.stopping:
        g._status = Grunning
        raise GreenletExit()
    if g.exc is not None:
        # An interrupt (Ctrl-C, a panic elsewhere, deadlock) was posted while we were
        # still running: its ready() found us running and did nothing.  Ready ourselves
        # so the switch below comes straight back and we raise it.
        ready(g)
    _switch_out(g, g.m)
    if g.exc is not None:
        e, g.exc = g.exc, None
        raise e


def _switch_out(g: G, m: M) -> None:
    """Leave ``g`` (already waiting/runnable) and run the next G on this M.

    This is ``schedule()``'s non-blocking half fused with ``execute()`` for the hot
    communicate-and-wait path (see the module essay); the blocking half is g0's."""
    p = m.p
    now = perf_counter_ns()
    g.waitsince = now  # (one clock read serves the wait stamp and the run length)
    d = now - m.run_start
    if 255 < d < HOT_MAX:  # m.runlen.record(d), inlined (hist.py)
        n = d.bit_length()
        m.runlenc[(n << 2) - 31 + ((d >> (n - 3)) & 3)] += 1
    else:
        m.runlen.record(d)
    fair = False
    if g.preempt:
        # Any switch is a safe point: the request is honoured, and the time slice is
        # over, so the queue goes first and runnext does not inherit the slice.  (Handing
        # it on would let a pair that ping-pongs through runnext keep the P for ever:
        # every request lands on whichever of the two runs and is cleared at its next
        # park, and the queued Gs -- a main goroutine with a Ctrl-C posted -- starve.)
        _clear_preempt(g, m)
        fair = True
    if (p.timers and p.timers[0][0] <= monotonic()) or sched.runq or sched.gcwaiting:
        nxt = _find_local(p, m, fair)
        if nxt is None:
            m.g0.switch()
            return
        gp, inherit = nxt
    else:
        lk = p.lock
        lk.acquire()
        gp = p.runnext
        q = p.runq
        if fair and q:
            if gp is not None:
                p.runnext = None
                q.append(gp)
            gp = q.popleft()
            inherit = False
        elif gp is not None:
            p.runnext = None
            inherit = True
        else:
            if not q:
                lk.release()
                m.g0.switch()
                return
            gp = q.popleft()
            inherit = False
        if not q and p.runnext is None:
            p.stall_ns += now - p.stall_t0
        lk.release()
    # execute(gp, inherit), inline
    gp._status = Grunning
    gp.m = m
    m.curg = gp
    m.run_start = now
    if not inherit:
        p.schedtick += 1
    rs = gp.runnable_since
    if rs:
        d = now - rs
        if 255 < d < HOT_MAX:  # m.lat.record(d), inlined
            n = d.bit_length()
            m.latc[(n << 2) - 31 + ((d >> (n - 3)) & 3)] += 1
        else:
            m.lat.record(d)
        gp.runnable_since = 0
    if _tput is not None:
        _tput(("GoStart", now, gp._goid, p.id, m.id))
    if gp is g:
        return
    glet = gp.glet
    if glet is not None:
        glet.switch()
        return
    free = m.free
    if free:
        free.pop().switch(gp)
    else:
        # A new greenlet starts at the recursion depth of whoever first switches to it:
        # start it from g0 (shallow), never from a G's deep stack.
        m.nextg = gp
        m.g0.switch()
    # resumed: whoever switched to us already executed us.


def _execute(m: M, gp: G, inherit: bool) -> None:
    """Go's ``execute``: ``gp`` becomes this M's running G (``_switch_out`` inlines it)."""
    gp._status = Grunning
    gp.m = m
    m.curg = gp
    p = m.p
    if not inherit:
        p.schedtick += 1
    now = m.run_start = perf_counter_ns()
    rs = gp.runnable_since
    if rs:
        m.lat.record(now - rs)
        gp.runnable_since = 0
    if _tput is not None:
        _tput(("GoStart", now, gp._goid, p.id, m.id))


def _find_local(p: P, m: M, fair: bool = False) -> tuple[G, bool] | None:
    """The part of ``find_runnable`` that never blocks and never steals.  ``fair``: the
    time slice just ended (a preemption request was honoured): the local queue's head
    goes before runnext (see ``_switch_out``)."""
    if sched.gcwaiting and sched.stw_owner is not m:
        _gcstopm(m)
    if p.timers and p.timers[0][0] <= monotonic():
        run_timers(p, monotonic())
    if sched.runq and p.schedtick % GLOBAL_CHECK_EVERY == 0 and not p.dead:
        g = _globrunqget(p, 1)
        if g is not None:
            return g, False
    p.lock.acquire()
    g = p.runnext
    q = p.runq
    if fair and q and g is not None:
        p.runnext = None
        q.append(g)
        g = None
    if g is not None:
        p.runnext = None
        if not q:
            p.stall_ns += perf_counter_ns() - p.stall_t0
        p.lock.release()
        return g, True
    if q:
        g = q.popleft()
        if not q:
            p.stall_ns += perf_counter_ns() - p.stall_t0
        p.lock.release()
        return g, False
    p.lock.release()
    if sched.runq and not p.dead:
        g = _globrunqget(p, RUNQ_SIZE // 2)
        if g is not None:
            return g, False
    return None


def _getworker(m: M) -> Any:
    free = m.free
    if free:
        return free.pop()
    w = greenlet(_worker_main, parent=m.g0)
    m.glets.add(w)
    return w


def _worker_main(g: G) -> None:
    """Body of a pooled goroutine greenlet: run G after G, inline where possible."""
    me = getcurrent()
    m: M = _tls.m
    while True:
        me._rtg = g
        g.glet = me
        if g.p is None:
            g.p = m.p  # bind: from now on this G lives on this P/M
            m.p.nbound += 1
        try:
            g.fn(*g.args, **g.kwargs)  # (g.fn stays until _goexit: the G's name for dumps and the panel)
        except GreenletExit:
            _goexit(g, m)
            me._rtg = None
            return
        except BaseException as e:
            _panic(g, e)
        _goexit(g, m)
        me._rtg = None
        if sched.stopping:
            return
        # Pick the next G; unstarted ones run right here, with no switch.
        while True:
            nxt = _find_local(m.p, m)
            if nxt is None:
                m.free.append(me)
                g = m.g0.switch()
                break
            gp, inherit = nxt
            _execute(m, gp, inherit)
            if gp.glet is None:
                g = gp
                break
            m.free.append(me)
            g = gp.glet.switch()
            break
        if g is None:  # woken only to exit
            return


def _goexit(g: G, m: M) -> None:
    m.runlen.record(perf_counter_ns() - m.run_start)
    g._status = Gdead
    g.fn = None
    g.args = ()
    g.kwargs = {}
    if g.timer is not None:
        g.timer.stop()
    g.glet = None  # the greenlet goes back to the pool; a dead G must not pin it (_kill_m)
    sched.allgs.pop(g.goid, None)
    m.p.nexited += 1
    m.p.nbound -= 1
    m.curg = None
    if _tput is not None:
        _tput(("GoDestroy", perf_counter_ns(), g._goid, m.p.id, None))


# --------------------------------------------------------------------------- preemption

FORCE_PREEMPT_NS = 10_000_000   # Go's forcePreemptNS: a 10 ms time slice
STW_REPREEMPT = 100e-6          # STW re-preempts every 100 µs while it waits

preempter: Any = None           # preempt.Preempter while a runtime runs (None: hooks off)


def _clear_preempt(g: G, m: M) -> None:
    g.preempt = False
    pr = preempter
    if pr is not None:
        pr.disarm(m)


def _is_preempt_safe(g: G) -> bool:
    """The hook may switch ``g`` out only while it runs user code as the M's curg."""
    m = g.m
    return g._status == Grunning and m is not None and m.curg is g and g is not sched.stw_g


def gopreempt(g: G) -> None:
    """Switch the running G out because sysmon (or STW) asked: Go's ``gopreempt_m``.
    It goes to the tail of its own P's queue (a started G cannot move).  While the
    runtime stops, the G is unwound instead (``GreenletExit`` raised where it runs):
    that is how ``shutdown`` ends a goroutine spinning in pure Python on another M."""
    if sched.stopping:
        raise GreenletExit()
    m = g.m
    p = m.p
    now = perf_counter_ns()
    metrics.preempt_slices.record(now - m.run_start)
    metrics.slice_samples.append(now - m.run_start)
    if p.preempt_first:
        metrics.preempt_latency.record(now - p.preempt_first)
        p.preempt_first = 0
    metrics.preemptions += 1
    g._status = Grunnable
    g.runnable_since = now
    if _tput is not None:
        _tput(("Preempt", now, g._goid, p.id, None))
        _tput(("GoStop", now, g._goid, p.id, "preempted"))
    _requeue_tail(g, m, p)


def _requeue_tail(g: G, m: M, p: P) -> None:
    """Put the running (now runnable) ``g`` at the tail of its own P's queue and run the
    next G: Gosched and preemption (Go uses the global queue; a started G cannot)."""
    p.lock.acquire()
    q = p.runq
    if not q and p.runnext is None:
        p.stall_t0 = g.runnable_since
    q.append(g)
    p.lock.release()
    _switch_out(g, m)
    if g.exc is not None:
        e, g.exc = g.exc, None
        raise e


def preemptone(p: P, now: int) -> bool:
    """Ask the G running on ``p`` to yield (Go's ``preemptone``): the flag for the
    cooperative checks, and the asynchronous hook unless asyncpreemptoff."""
    m = p.m
    g = m.curg
    if g is None or g._status != Grunning or g is sched.stw_g or sched.stopping:
        return False
    if not g.preempt:
        p.preempt_first = now
    g.preempt = True
    sched.preempt_pending = True
    p.preempt_at = now
    _arm(m, g)
    return True


def _arm(m: M, g: G) -> None:
    """Arm the asynchronous hook for ``g`` on ``m`` (re-armed on its current stack if a
    request was pending), unless ``m``'s thread has ended (``M.exitlock``)."""
    pr = preempter
    if pr is None:
        return
    with m.exitlock:
        if m.tstate:
            pr.disarm(m)
            pr.arm(m, g)


def _preempt_exit(m: M) -> None:
    """shutdown: ask the G running on ``m`` to unwind (``gopreempt`` raises GreenletExit
    while ``sched.stopping``).  A G in pure Python gets there at its next bytecode
    boundary the hook sees; one inside a C call, at the call's return."""
    g = m.curg
    if g is None or g._status != Grunning:
        return
    g.preempt = True
    sched.preempt_pending = True
    _arm(m, g)


def check_preempt() -> None:
    """Cooperative preemption point, called by ``go()`` (via newproc) when the G has a
    pending request: the G yields here unless the caller is inside the runtime."""
    g = getattr(getcurrent(), "_rtg", None)
    if g is not None and g.preempt and g._status == Grunning and g is not sched.stw_g and not g.nopreempt:
        from .preempt import in_runtime

        if in_runtime(sys._getframe(3)):  # the user's frame that called go()
            return
        m = g.m
        _clear_preempt(g, m)
        gopreempt(g)


# --------------------------------------------------------------------------- stop the world

class _WorldSema:
    """Go's ``worldsema``: one stop-the-world at a time, queued FIFO."""

    def __init__(self) -> None:
        from .sema import Sema

        self.s = Sema(1)


_worldsema: Any = None


def stop_the_world(reason: str) -> None:
    """Stop every other P at a safe point; the calling goroutine keeps running alone."""
    global _worldsema
    g = getattr(getcurrent(), "_rtg", None)
    if g is None:
        raise RuntimeError("stop_the_world: call it from a goroutine (not from an outside thread or "
                           "with no runtime running)")
    if sched.stw_g is g:
        raise RuntimeError("stop_the_world: the world is already stopped by this goroutine (nested stw)")
    if not isinstance(reason, str):
        raise TypeError(f"stop_the_world: reason must be a str, got {reason!r}")
    if _worldsema is None:
        _worldsema = _WorldSema()
    _worldsema.s.acquire("stopping the world")
    m = g.m
    t0 = perf_counter_ns()
    _emit("STWBegin", g=g.goid, p=m.p.id, reason=reason)
    with sched.lock:
        sched.gcwaiting = True
        sched.stw_owner = m
        sched.stw_g = g
    while True:
        waiting = False
        now = perf_counter_ns()
        for p in sched.allp:
            if p is m.p or p.stopped:
                continue
            p.lock.acquire()
            if p.idle:
                p.stopped = True  # its M checks gcwaiting before it runs anything
            p.lock.release()
            if p.stopped:
                continue
            pm = p.m
            if pm.blocked and pm.curg is not None and pm.curg.preempt:
                continue  # stuck in a C call with the hook armed: it stops on return
            waiting = True
            if now - p.preempt_at >= STW_REPREEMPT * 1e9:
                if not preemptone(p, now):
                    _wakem(pm)  # between Gs (or in an old gcstopm): let it see gcwaiting
        if not waiting:
            break
        _stopnote.sleep(STW_REPREEMPT)
    metrics.stw_stopping.record(perf_counter_ns() - t0)
    sched.stw_t0 = t0


_stopnote = Note()


def start_the_world() -> None:
    """Undo ``stop_the_world``: every stopped M resumes."""
    g = getattr(getcurrent(), "_rtg", None)
    if g is None or sched.stw_g is not g:
        raise RuntimeError("start_the_world: the world is not stopped by this goroutine")
    with sched.lock:
        sched.gcwaiting = False
        sched.stw_owner = None
        sched.stw_g = None
        for p in sched.allp:
            p.stopped = False
    for m in sched.allm:
        _wakem(m)
    metrics.stw_total.record(perf_counter_ns() - sched.stw_t0)
    _emit("STWEnd", g=g.goid, p=g.m.p.id)
    _worldsema.s.release()


def _gcstopm(m: M) -> None:
    """Park this M for stop-the-world (Go's ``gcstopm``) until the world restarts."""
    p = m.p
    while sched.gcwaiting and not sched.stopping:
        # (Re)announce each time: a start_the_world + new stop_the_world may both have
        # happened while this M slept, clearing our flag for the new STW.
        if not p.stopped:
            p.stopped = True
            _stopnote.wakeup()
        m.note.sleep(0.05)


# --------------------------------------------------------------------------- g0: schedule()

def _schedule(m: M) -> None:
    """g0's loop: find a G (blocking when there is none) and switch to it."""
    seen = metrics.preemptions
    while True:
        if metrics.preemptions != seen and preempter is not None:
            seen = metrics.preemptions
            _tracing_self_test(m)
        gp = m.nextg
        if gp is not None:
            m.nextg = None  # handed over by _switch_out, already executed
        else:
            gp, inherit = _find_runnable(m)
            if gp is None:
                return  # stopping
            _execute(m, gp, inherit)
        glet = gp.glet
        if glet is None:
            _getworker(m).switch(gp)
        else:
            glet.switch()


def _find_runnable(m: M) -> tuple[G | None, bool]:
    p = m.p
    if p.idle:  # a new M: its P was born idle (``_start``, ``procresize``)
        r = _leave_idle(m, p)
        if r is not None:
            return r
    while True:
        if sched.stopping:
            return None, False
        if sched.gcwaiting and sched.stw_owner is not m:
            _gcstopm(m)
            continue
        if p.dead and _retire(m, p):
            checkdead_idle()  # the P left allp: the rest may all be idle (Go: mexit's checkdead)
            return None, False
        r = _find_local(p, m)
        if r is not None:
            if m.spinning:
                _resetspinning(m)
            return r
        if sched.gomaxprocs > 1 and not p.dead and (m.spinning or 2 * sched.nmspinning < sched.gomaxprocs - sched.npidle):
            if not m.spinning:
                with sched.lock:
                    m.spinning = True
                    sched.nmspinning += 1
            g = _steal_work(p)
            if g is not None:
                _resetspinning(m)
                return g, False
        np = netpoller
        if np is not None and np.waiters and not sched.polling:
            gs = np.poll(0)  # step 8: non-blocking netpoll
            sched.lastpoll = monotonic()
            if gs:
                _inject(gs)
                continue
        # Drop the P: idle, with the delicate dance.
        p.lock.acquire()
        if p.runnext is not None or p.runq:
            p.lock.release()
            continue
        p.idle = True
        p.lock.release()
        dead = False
        with sched.lock:
            if p not in sched.pidle:
                sched.pidle.append(p)
                sched.npidle += 1
            was_spinning = m.spinning
            if was_spinning:
                m.spinning = False
                sched.nmspinning -= 1
            retry = bool(sched.runq) or sched.stopping
            if not retry and sched.npidle >= len(sched.allp):
                dead = _checkdead()
        if not retry and was_spinning and _any_stealable(p):
            retry = True
        if dead:
            _report_deadlock()
            retry = True
        polled: list = []
        if not retry:
            wt = next_timer(p)
            p.sleep_until = wt
            left = None if wt is None else wt - monotonic()
            if left is None or left > 0:
                np = netpoller
                poller = False
                if np is not None and np.waiters:
                    with sched.lock:
                        if not sched.polling:
                            sched.polling = poller = m.in_netpoll = True
                if poller:
                    # Exactly one idle M blocks in the netpoller, until its next timer.
                    try:
                        if not m.note.is_set():
                            gs = np.poll(left)
                        else:
                            gs = np.poll(0)
                    finally:
                        with sched.lock:
                            sched.polling = m.in_netpoll = False
                        sched.lastpoll = monotonic()
                    m.note.sleep(0)  # consume a wakeup that raced with the poll
                    polled = gs
                else:
                    m.note.sleep(left)
            p.sleep_until = None
        r = _leave_idle(m, p)
        if polled:
            _inject(polled)  # after un-idling: readying onto our own P must not wake us again
        if r is not None:
            return r


def _leave_idle(m: M, p: P) -> tuple[G, bool] | None:
    """The M of idle ``p`` resumes: ``p`` leaves the idle list and, in the same ``p.lock``
    hold that clears ``p.idle``, the M takes the head of its queue (a G handed to this
    idle P by ``_handoff``), so no other P can steal it in between."""
    with sched.lock:
        if p in sched.pidle:
            sched.pidle.remove(p)
            sched.npidle -= 1
        sched.deadsuspect = 0.0  # progress: a deadlock suspicion starts over
    r = None
    p.lock.acquire()
    p.idle = False
    # (gcwaiting is read under p.lock: stop_the_world sets it before it marks idle Ps
    # stopped under their lock, so a P it stopped never runs here.)
    if (p.runnext is not None or p.runq) and not sched.gcwaiting and not sched.stopping and not p.dead:
        gp = p.runnext
        if gp is not None:
            p.runnext = None
            r = gp, True
        else:
            r = p.runq.popleft(), False
        if not p.runq and p.runnext is None:
            p.stall_ns += perf_counter_ns() - p.stall_t0
    p.lock.release()
    sm = sched.sysmon
    if sm is not None and sm.deep:
        sm.wake()
    if r is not None and m.spinning:
        _resetspinning(m)
    return r


def _checkdead() -> bool:
    """Called under sched.lock when every P is idle: is no progress possible?"""
    np = netpoller
    if sched.dead or sched.stopping or sched.nsyscall or sched.noutside or (np is not None and np.waiters):
        return False
    if sched.runq:
        return False
    for p in sched.allp:
        if p.ntimers or p.runnext is not None or p.runq:
            return False
    mg = sched.main_g
    if mg is None or mg._status != Gwaiting:
        return False
    known, other = _outside_threads_alive()
    if known or other:
        # A live plain thread that has used the runtime (``_touched``) and is not blocked
        # on it (that is ``noutside``, above) is running its own code and may well send
        # again: progress is possible for as long as it lives.  One that has not touched
        # a runtime object yet may be about to (a thread started just before main blocked
        # on the channel it will send on): give it DEADLOCK_GRACE seconds of no progress
        # before calling it a deadlock.  Either way sysmon re-checks while the suspicion
        # stands (``recheck_dead``: the thread may end); any M leaving idle resets it.
        now = monotonic()
        if not sched.deadsuspect:
            sched.deadsuspect = now
            return False
        if known or now - sched.deadsuspect < DEADLOCK_GRACE:
            return False
    sched.dead = True
    return True


DEADLOCK_GRACE = 1.0  # seconds (see _checkdead)

# The thread idents of the running Ms (``ready``'s "woken from a plain thread?").
_mids: set[int] = set()

# Plain threads that have used the runtime: blocked on a runtime object, woken a
# goroutine, or started one (``_touch_outside``), by thread ident.  Kept across runs and
# pruned when the thread has ended.
_touched: dict[int, threading.Thread] = {}


def _touch_outside() -> None:
    """The calling thread (no M) uses the runtime: remember it (see ``_checkdead``)."""
    t = threading.current_thread()
    if _touched.get(t.ident) is not t:  # type: ignore[arg-type]
        if len(_touched) >= 64:  # threads come and go with no checkdead to prune them
            for ident, u in list(_touched.items()):
                if not u.is_alive() and _touched.get(ident) is u:
                    del _touched[ident]
        _touched[t.ident] = t  # type: ignore[index]


def _outside_threads_alive() -> tuple[bool, bool]:
    """Python threads alive that are neither M0's nor the runtime's own, as (has one that
    used the runtime, has one that has not).  Threads not started by ``threading`` are
    not seen (a ``_DummyThread`` never reports that it ended)."""
    m0 = sched.m0
    t0 = m0.thread if m0 is not None else None
    known = other = False
    for ident, t in list(_touched.items()):
        if not t.is_alive():
            if _touched.get(ident) is t:
                del _touched[ident]
        elif t is not t0 and not t.name.startswith("pyruntime-") and not isinstance(t, threading._DummyThread):
            known = True
    for t in threading.enumerate():
        if t is t0 or t.name.startswith("pyruntime-") or isinstance(t, threading._DummyThread):
            continue
        if t.is_alive() and _touched.get(t.ident) is not t:  # type: ignore[arg-type]
            other = True
            break
    return known, other


def checkdead_idle() -> None:
    """Run checkdead if every P is idle, and report a deadlock.  For those that take
    away a reason for the idle Ms' checkdead to stay quiet without going idle
    themselves: a retiring M leaving ``allp``, the netpoller's waiter count dropping
    (Go runs checkdead when an M exits, and its netpoll waiters never leave the count
    before they are queued)."""
    if not sched.running:
        return
    with sched.lock:
        dead = sched.npidle >= len(sched.allp) and not sched.runq and _checkdead()
    if dead:
        _report_deadlock()


def recheck_dead() -> None:
    """sysmon, while every P is idle: a deadlock that waited for outside threads
    (``_checkdead``) is reported once they can no longer end it."""
    if not sched.deadsuspect:
        return
    checkdead_idle()


def _report_deadlock() -> None:
    from .debug_impl import dump

    text = dump()
    try:
        sys.stderr.write("fatal error: all goroutines are asleep - deadlock!\n\n" + text)
        sys.stderr.flush()
    except Exception:
        pass
    mg = sched.main_g
    if mg is not None:
        mg.exc = Deadlock("all goroutines are asleep - deadlock!", text)
        ready(mg, next=False)


_CORE_DIR = os.path.dirname(os.path.abspath(__file__))
_PKG_DIR = os.path.dirname(_CORE_DIR) + os.sep  # pyruntime/: the runtime, the CLI, the packages


def _is_runpy(filename: str) -> bool:
    """``pyruntime run`` starts programs through runpy: its frames are not the user's."""
    return filename == "<frozen runpy>" or os.path.basename(filename) == "runpy.py"


def panic_value(e: BaseException) -> str:
    """Go's ``panic: <value>`` text: a runtime Panic prints its message, any other
    exception ``Type: message``."""
    if isinstance(e, Panic):
        return str(e)
    msg = str(e)
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _user_traceback(e: BaseException) -> str:
    """The Python traceback of ``e`` without the runtime's own frames."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not os.path.abspath(f.filename).startswith(_PKG_DIR) and not _is_runpy(f.filename)]
    return "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(e), e))


def _write_panic(g: G | None, e: BaseException) -> None:
    """Go's panic report on stderr: ``panic: <value>``, then ``goroutine N [running]:``
    and the traceback (nothing for Ctrl-C or ``sys.exit()``)."""
    if isinstance(e, (KeyboardInterrupt, SystemExit, GreenletExit)):
        return
    try:
        gid = g.goid if g is not None else 0
        sys.stderr.write(f"panic: {panic_value(e)}\n\ngoroutine {gid} [running]:\n{_user_traceback(e)}\n")
        sys.stderr.flush()
    except Exception:
        pass


def _panic(g: G | None, e: BaseException) -> None:
    """An exception escaped goroutine ``g``: report it like Go and end the program."""
    if sched.stopping:
        return
    _write_panic(g, e)
    if sched.panic is None:
        sched.panic = e
    mg = sched.main_g
    if mg is not None and mg is not g:
        _post_to_main(mg, e)


# --------------------------------------------------------------------------- go()

def _creator_site() -> tuple | None:
    """Where ``go()`` was called: the innermost frame outside the pyruntime package, as
    ``(code, line)`` (Go's "created by ... at file:line").  Recorded only while a tracer or
    the panel listens, so plain ``go()`` pays nothing for it."""
    f = sys._getframe(2)
    for _ in range(8):
        if f is None:
            return None
        if not f.f_code.co_filename.startswith(_PKG_DIR):
            return (f.f_code, f.f_lineno)
        f = f.f_back
    return None


def newproc(fn: Callable[..., Any], args: tuple, kwargs: dict) -> G:
    """``go fn(*args, **kwargs)``."""
    if not callable(fn):
        raise TypeError(f"go: {fn!r} is not callable; pass a function and its arguments: go(fn, *args)")
    cur = getattr(getcurrent(), "_rtg", None)
    if cur is None:
        if not sched.running:
            _start(None, implicit=True)
            cur = getattr(getcurrent(), "_rtg", None)
    if cur is not None:
        if sched.panic is not None and cur is sched.main_g:
            e, sched.main_g.exc = sched.main_g.exc, None
            if e is not None:
                raise e
        if cur.preempt:
            check_preempt()
        p = cur.m.p
        g = G(_new_goid(p), fn, args, kwargs)
        g.created_by = cur.goid
        p.ncreated += 1
        sched.allgs[g.goid] = g
        g.runnable_since = perf_counter_ns()
        if _tput is not None:
            g.created_at = _creator_site()
            _tput(("GoCreate", g.runnable_since, g._goid, p.id, (cur._goid, fn)))
        if p.dead:
            runqput(p, g, True)
        else:
            _runqput_new(p, g)
        if sched.npidle and not sched.nmspinning:
            wakep()
        return g
    # An outside thread: the global queue.
    _touch_outside()
    g = G(_new_goid(None), fn, args, kwargs)
    with sched.lock:
        sched.outside_created += 1
        sched.runq.append(g)
    sched.allgs[g.goid] = g
    g.runnable_since = perf_counter_ns()
    if _tput is not None:
        g.created_at = _creator_site()
        _tput(("GoCreate", g.runnable_since, g._goid, -1, (0, fn)))
    _wake_any()
    return g


def _wake_any() -> None:
    wakep()
    if sched.npidle >= len(sched.allp):
        # Every P sleeps: wake one even if a "spinning" flag is stale.
        with sched.lock:
            p = sched.pidle[0] if sched.pidle else None
        if p is not None:
            _wakem(p.m)


def gosched() -> None:
    """Yield the processor: the G goes to the tail of its P's queue (Go's ``Gosched``;
    Go uses the global queue, but a started G cannot leave its P)."""
    g = getattr(getcurrent(), "_rtg", None)
    if g is None:
        time.sleep(0)
        return
    if sched.stopping:
        raise GreenletExit()  # the program is ending: unwind this goroutine
    m = g.m
    p = m.p
    g._status = Grunnable
    g.runnable_since = perf_counter_ns()
    if _tput is not None:
        _tput(("GoStop", g.runnable_since, g._goid, p.id, "yield"))
    _requeue_tail(g, m, p)


def num_goroutine() -> int:
    """The number of goroutines that currently exist."""
    if not sched.running:
        return 0
    return len(sched.allgs)


# --------------------------------------------------------------------------- syscalls

class _SyscallPool:
    """A bounded, reused pool of syscall Ms (threads without a P).

    Invariant (under ``lock``): ``nidle`` counts workers waiting on the queue that no
    submitted request has claimed yet.  ``submit`` claims one (or starts a worker, up to
    ``SYSCALL_MAX_THREADS``; beyond that requests queue for the next free worker).  A
    worker whose wait times out exits only if it is still unclaimed.  Each runtime gets
    a fresh queue, so a stale stop sentinel can never eat a later request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.q: queue.SimpleQueue = queue.SimpleQueue()
        self.threads: set[threading.Thread] = set()
        self.leaving: list[threading.Thread] = []  # idle workers on their way out (stop joins them)
        self.nidle = 0
        self.busy: dict[int, G] = {}  # thread ident -> the G whose call it runs (the panel)

    def submit(self, req: list) -> None:
        t = None
        with self.lock:
            if self.nidle > 0:
                self.nidle -= 1
            elif len(self.threads) < SYSCALL_MAX_THREADS:
                t = threading.Thread(target=self._loop, args=(self.q,), daemon=True,
                                     name=f"pyruntime-syscall-{len(self.threads)}")
                self.threads.add(t)
        self.q.put(req)
        if t is not None:
            t.start()

    def _loop(self, q: queue.SimpleQueue) -> None:
        me = threading.current_thread()
        while True:
            try:
                req = q.get(timeout=SYSCALL_IDLE_TIMEOUT)
            except queue.Empty:
                with self.lock:
                    if self.nidle > 0 and q is self.q:
                        self.nidle -= 1
                        self.threads.discard(me)
                        self.leaving = [t for t in self.leaving if t.is_alive()]
                        self.leaving.append(me)
                        return
                continue
            if req is None:
                return
            fn, args, kwargs, g, t0 = req[0], req[1], req[2], req[3], req[4]
            t1 = perf_counter_ns()
            metrics.syscalllat.record(t1 - t0)
            busy = self.busy
            ident = me.ident
            busy[ident] = g
            try:
                req[5] = fn(*args, **kwargs)
            except BaseException as e:
                req[6] = e
            busy.pop(ident, None)
            req[0] = req[1] = req[2] = None
            if _tput is not None:
                _tput(("GoSyscallEnd", perf_counter_ns(), g._goid, g.p.id, (threading.get_ident(), t1)))
            ready(g, next=False, key=req)  # (a no-op if its runtime stopped: the G is dead)
            with self.lock:
                if q is not self.q:
                    # The runtime that owned this worker has stopped (the call outlived
                    # shutdown's wait): its count must not leak into the next runtime's
                    # ``nsyscall``, which would keep checkdead quiet for ever.
                    return
                with sched.lock:
                    sched.nsyscall -= 1
                self.nidle += 1
            if sched.npidle >= len(sched.allp):
                checkdead_idle()  # g may have blocked again while we still counted

    def stop(self, timeout: float) -> list[threading.Thread]:
        """Stop every worker; wait up to ``timeout`` for those still in a call.  Returns
        the workers it stopped."""
        with self.lock:
            threads = list(self.threads) + self.leaving
            self.threads.clear()
            self.leaving = []
            self.nidle = 0
            old, self.q = self.q, queue.SimpleQueue()
        for _ in threads:
            old.put(None)
        end = monotonic() + timeout
        for t in threads:
            try:
                t.join(max(0.0, end - monotonic()))
            except RuntimeError:
                pass  # submitted by a goroutine that outlived its M's join, not started yet
        return threads


_syscalls = _SyscallPool()


def syscall(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking call on a syscall M; the G waits in ``_Gsyscall`` and its P runs
    other goroutines.  Returns the call's result or raises its exception."""
    if not callable(fn):
        raise TypeError(f"syscall: {fn!r} is not callable")
    g = getattr(getcurrent(), "_rtg", None)
    if g is None:
        return fn(*args, **kwargs)
    req = [fn, args, kwargs, g, perf_counter_ns(), None, None]
    with sched.lock:
        sched.nsyscall += 1
    g._status = Gsyscall
    g.waitreason = WaitReason.SYSCALL
    g.waitkey = req
    if _tput is not None:
        _tput(("GoSyscallBegin", req[4], g._goid, g.p.id, None))
    _syscalls.submit(req)
    if g.exc is not None:  # an interrupt posted while we were running (see park)
        ready(g)
    _switch_out(g, g.m)
    g.waitkey = None
    if g.exc is not None:
        # Interrupted while the call runs on: it finishes on its syscall M (nobody can
        # stop a thread), and its completion no longer wakes us (``key``).
        e, g.exc = g.exc, None
        raise e
    if req[6] is not None:
        exc = req[6]
        req[6] = None
        raise exc
    return req[5]


def syscall_wait(result: Callable[[], Any], add_done_callback: Callable[[Callable[[Any], None]], Any]) -> Any:
    """Park the current G in ``_Gsyscall`` until an outside completion calls back
    (used by aio: the work runs on another thread's event loop), then ``result()``."""
    g = getattr(getcurrent(), "_rtg", None)
    if g is None:
        return result()
    with sched.lock:
        sched.nsyscall += 1
    key = object()
    g._status = Gsyscall
    g.waitreason = WaitReason.SYSCALL
    g.waitkey = key
    _emit("GoSyscallBegin", g=g.goid, p=g.p.id)

    def done(_: Any) -> None:
        _emit("GoSyscallEnd", g=g.goid, p=g.p.id)
        ready(g, next=False, key=key)
        with sched.lock:
            sched.nsyscall -= 1
        if sched.npidle >= len(sched.allp):
            checkdead_idle()  # g may have blocked again while we still counted

    add_done_callback(done)
    if g.exc is not None:  # an interrupt posted while we were running (see park)
        ready(g)
    _switch_out(g, g.m)
    g.waitkey = None
    if g.exc is not None:
        e, g.exc = g.exc, None
        raise e
    return result()


_shutdown_hooks: list[Callable[[], None]] = []


def on_shutdown(f: Callable[[], None]) -> None:
    """Call ``f()`` when the running runtime shuts down (once)."""
    if f not in _shutdown_hooks:
        _shutdown_hooks.append(f)


# --------------------------------------------------------------------------- outside threads

def start_to_block() -> bool:
    """A runtime object is about to block the calling thread, which runs no goroutine.
    With no runtime running, on the main thread, and no other thread alive that could
    end the wait, start the implicit runtime (as ``go()`` does) and return True: the
    caller is now the main goroutine and parks, so deadlock detection reports what would
    otherwise hang forever (a plain thread's wait is invisible to it).  Otherwise False:
    the thread blocks itself (SPEC 3.2).  Call it before queueing the waiter."""
    if sched.running:
        return False
    me = threading.current_thread()
    if me is not threading.main_thread():
        return False  # a thread that may end must not become M0 (P0 would die with it)
    if threading.active_count() > 1:
        for t in threading.enumerate():
            if t is not me and not t.name.startswith("pyruntime-") and t.is_alive():
                return False  # it may be the one that ends our wait
    _start(None, implicit=True)
    return True


def block_outside(note: Note, unlock: Any) -> None:
    """Block a plain OS thread (not a goroutine) on ``note``; counted for checkdead."""
    _touch_outside()
    with sched.lock:
        sched.noutside += 1
    if unlock is not None:
        unlock.release()
    try:
        note.sleep(None)
    finally:
        with sched.lock:
            sched.noutside -= 1
        if sched.npidle >= len(sched.allp):
            checkdead_idle()  # whoever woke us may have blocked for good while we counted


# --------------------------------------------------------------------------- lifecycle

_next_gomaxprocs: int | None = None  # gomaxprocs(n) called with no runtime running


def _default_gomaxprocs() -> int:
    """GOMAXPROCS for the next runtime: ``gomaxprocs(n)`` set while none ran, else
    ``PYRUNTIME_GOMAXPROCS``, else the CPUs this process may use."""
    if _next_gomaxprocs is not None:
        return _next_gomaxprocs
    v = os.environ.get(_ENV_GOMAXPROCS)
    if v is not None and v.strip() != "":
        t = v.strip()
        if not (t.isascii() and t.isdigit()) or not 1 <= int(t) <= 10000:
            raise ValueError(f"{_ENV_GOMAXPROCS}={v!r}: must be an integer from 1 to 10000")
        return int(t)
    return num_cpu()


def num_cpu() -> int:
    """The number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_procs(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"gomaxprocs must be an int, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"gomaxprocs must be >= 1, got {n}")
    if n > 10000:
        raise ValueError(f"gomaxprocs must be <= 10000 (Go's thread limit), got {n}")
    return n


DEBUG_KEYS = ("schedtrace", "scheddetail", "asyncpreemptoff", "blockreport", "sysmon", "placego")


def parse_debug(v: str) -> dict[str, int]:
    """``PYRUNTIME_DEBUG=key=value,...`` (Go's GODEBUG).  Unknown keys and bad values
    are reported with a RuntimeWarning and ignored; the runtime still starts."""
    import warnings

    out: dict[str, int] = {}
    for item in filter(None, (x.strip() for x in v.split(","))):
        key, _, val = item.partition("=")
        if key not in DEBUG_KEYS:
            warnings.warn(f"PYRUNTIME_DEBUG: unknown key {key!r} (known: {', '.join(DEBUG_KEYS)})",
                          RuntimeWarning, stacklevel=3)
            continue
        try:
            n = int(val) if val else 1
            if n < 0:
                raise ValueError
        except ValueError:
            warnings.warn(f"PYRUNTIME_DEBUG: {key}={val!r} is not a non-negative integer", RuntimeWarning, stacklevel=3)
            continue
        out[key] = n
    return out


def _mcommon(m: M) -> None:
    """Per-M set-up on its own thread: thread state for the preemption hooks, CPU clock."""
    from . import preempt as _pre

    m.tstate = _pre.tstate_of_current_thread()
    m.tid = threading.get_native_id()
    m.ident = threading.get_ident()
    _mids.add(m.ident)
    try:
        m.cpu_clock = time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        m.cpu_clock = None
    cpus = sched.pin_cpus
    if cpus:
        try:
            os.sched_setaffinity(0, {cpus[m.id % len(cpus)]})
        except (AttributeError, OSError):
            pass


def _start(gomaxprocs: int | None, implicit: bool, pin_cpus: bool = False) -> G:
    """Start a runtime with the calling thread as M0 and the caller as the main G."""
    n = _default_gomaxprocs() if gomaxprocs is None else _check_procs(gomaxprocs)
    if sched.running:
        raise RuntimeError("pyruntime: a runtime is already running in this process; "
                           "call run() only from outside goroutines, after the previous run() returned")
    dbg = parse_debug(os.environ.get("PYRUNTIME_DEBUG", ""))
    sched.reset()
    sched.debug = dbg
    sched.placego = dbg.get("placego", 1) != 0
    sched.implicit = implicit
    sched.gomaxprocs = n
    sched.pin_cpus = []
    sched.m0_affinity = None
    if pin_cpus:
        try:
            allowed = sorted(os.sched_getaffinity(0))
            sched.m0_affinity = set(allowed)
            sched.pin_cpus = allowed
        except (AttributeError, OSError):
            pass
    sched.allp = [P(i) for i in range(n)]
    for i, p in enumerate(sched.allp):
        m = M(i, p)
        p.m = m
        sched.allm.append(m)
        if i:
            _born_idle(p)
    m0 = sched.allm[0]
    m0.is_m0 = True
    sched.m0 = m0
    me = getcurrent()
    m0.thread = threading.current_thread()
    _mcommon(m0)
    _tls.m = m0
    m0.g0 = greenlet(_g0_main, parent=me)
    p0 = sched.allp[0]
    main = G(_new_goid(p0), None, (), {})
    main.glet = me
    main.p = p0
    main.m = m0
    main._status = Grunning
    p0.ncreated += 1
    p0.nbound += 1
    sched.allgs[main.goid] = main
    sched.main_g = main
    m0.curg = main
    me._rtg = main
    sched.running = True
    _start_sysmon()
    for m in sched.allm[1:]:
        t = threading.Thread(target=_mstart, args=(m,), name=f"pyruntime-M{m.id}", daemon=True)
        m.thread = t
        t.start()
    _emit("ProcStart", p=0, m=0)
    if implicit:
        atexit.register(_atexit)
    return main


def _born_idle(p: P) -> None:
    """A P whose M has not started yet is idle (its M will look at its queue first, as
    one woken from its note does), so ``go()`` can hand it work before that M first
    gets the GIL.  Called under ``sched.lock`` or before the runtime runs."""
    p.idle = True
    sched.pidle.append(p)
    sched.npidle += 1


def _start_sysmon() -> None:
    global preempter
    from . import preempt as _pre

    gc_install()
    if sched.debug.get("sysmon", 1) == 0:
        return
    if not sched.debug.get("asyncpreemptoff"):
        pr = _pre.Preempter(gopreempt, _is_preempt_safe)
        preempter = pr if pr.enabled else None
    sched.switchinterval = sys.getswitchinterval()
    if sched.switchinterval > 0.001:
        sys.setswitchinterval(0.001)  # sysmon needs the GIL to run at all (Q6)
    from ..sysmon import Sysmon

    sm = Sysmon(sched, metrics)
    sched.sysmon = sm
    _install_sigint()
    sm.start()


_old_sigint: Any = None
_old_wakeup_fd = -1
_sig_r = _sig_w = -1


def _on_sigint(signum: int, frame: Any) -> None:
    # Runs on the main thread between two bytecodes -- possibly inside the runtime with a
    # lock held, and maybe much later than the signal (see ``_install_sigint``).  When the
    # main goroutine is running its own code it raises right here, as plain Python does
    # (this also ends a blocking C call such as an unpatched time.sleep); anywhere else
    # sysmon delivers it (``deliver_sigint``), at the main goroutine's next park or
    # preemption.  Never in a frame of the runtime itself (``run``'s own frame included:
    # raised between ``_start`` and its ``try``, or at the top of its ``finally``, the
    # KeyboardInterrupt skipped ``shutdown`` and left every thread running), and never
    # once the runtime is stopping: ``shutdown`` collects that SIGINT (``_restore_sigint``)
    # and ``run`` raises it after the last thread has ended.
    mg = sched.main_g
    if (mg is not None and mg._status == Grunning and not sched.stopping and frame is not None
            and not frame.f_code.co_filename.startswith(_PKG_DIR)
            and getattr(getcurrent(), "_rtg", None) is mg):
        from .preempt import in_runtime

        if not in_runtime(frame):
            with _sig_lock:  # against sysmon: each SIGINT is raised once
                take_sigint()
                e = mg.exc
                if isinstance(e, KeyboardInterrupt):
                    mg.exc = None  # sysmon posted it already: this is that one
                else:
                    e = KeyboardInterrupt()
            raise e
    if _sig_r < 0:
        sched.sigint = True


_sig_lock = threading.Lock()


def deliver_sigint() -> None:
    """sysmon: if a SIGINT arrived, post KeyboardInterrupt to the main goroutine."""
    with _sig_lock:
        if take_sigint():
            interrupt_main()


def _install_sigint() -> None:
    """While sysmon runs, Ctrl-C is delivered to the main goroutine by sysmon instead of
    being raised wherever the main thread happens to be (it could be inside the
    scheduler holding a run-queue lock, which then deadlocked the shutdown).

    sysmon learns of the signal through ``signal.set_wakeup_fd``: CPython's C-level
    handler writes the signal number to that pipe on whichever thread the kernel picked,
    at once.  The Python-level handler is not enough on its own: it runs only when the
    main thread next checks its eval breaker, and on 3.12+ another thread can clear the
    breaker first while the main thread (M0) goes back to sleep on its futex -- the
    signal then waits for the next unrelated wake-up (seen in CI as a hung Ctrl-C).
    Because the pipe does not depend on which thread receives the signal, the runtime's
    threads do not block SIGINT (a blocked mask would be inherited by every subprocess a
    goroutine starts, which could then not be interrupted or terminated)."""
    global _old_sigint, _old_wakeup_fd, _sig_r, _sig_w
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # the program handles SIGINT itself (or ignores it): leave it alone
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        try:
            old = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except (ValueError, OSError):  # pragma: no cover
            os.close(r)
            os.close(w)
            old = -1
            r = w = -1
        else:
            if old != -1:  # someone else (an event loop) owns the wake-up fd: keep theirs
                signal.set_wakeup_fd(old)
                os.close(r)
                os.close(w)
                r = w = -1
        _old_wakeup_fd, _sig_r, _sig_w = old, r, w
        _old_sigint = signal.signal(signal.SIGINT, _on_sigint)
    except (ValueError, OSError):  # pragma: no cover
        _old_sigint = None


def take_sigint() -> bool:
    """sysmon: has a SIGINT arrived since the last call?  Drains the wake-up pipe (other
    signals' bytes are dropped: their Python handlers run as usual)."""
    hit = False
    if sched.sigint:
        sched.sigint = False
        hit = True
    r = _sig_r
    if r >= 0:
        try:
            data = os.read(r, 256)
        except (BlockingIOError, InterruptedError, OSError):
            data = b""
        if data and _SIGINT_BYTE in data:
            hit = True
    return hit


_SIGINT_BYTE = 2  # signal.SIGINT on every POSIX system we run on


def _restore_sigint() -> bool:
    """Give SIGINT back to the program's previous handler (the last step of ``shutdown``)
    and return True if a SIGINT arrived that nobody has raised yet: one that came while
    the runtime was stopping, or one sysmon posted to a main goroutine that then ended
    without parking.  The wake-up fd is restored and drained first and the handler last:
    from that moment a Ctrl-C raises wherever the main thread is, as in plain Python,
    and there is no runtime state left for it to cut short."""
    global _old_sigint, _old_wakeup_fd, _sig_r, _sig_w
    import signal

    if threading.current_thread() is not threading.main_thread():
        return False
    pending = False
    if _sig_w >= 0:
        try:
            signal.set_wakeup_fd(_old_wakeup_fd)
        except (ValueError, OSError):  # pragma: no cover
            pass
        with _sig_lock:
            pending = take_sigint()
        r, w = _sig_r, _sig_w
        _sig_r = _sig_w = -1  # (from here on our handler records in sched.sigint)
        _old_wakeup_fd = -1
        for fd in (r, w):
            try:
                os.close(fd)
            except OSError:  # pragma: no cover
                pass
    if _old_sigint is not None:
        try:
            # signal.signal() first runs any pending Python-level handler (ours: it only
            # records, the runtime is stopping), then installs the old one.
            signal.signal(signal.SIGINT, _old_sigint)
        except (ValueError, OSError):  # pragma: no cover
            pass
        _old_sigint = None
    if sched.sigint:
        sched.sigint = False
        pending = True
    return pending


def interrupt_main() -> None:
    """Raise KeyboardInterrupt in the main goroutine at its next safe point (called by
    sysmon after a Ctrl-C)."""
    mg = sched.main_g
    if mg is not None and mg.exc is None:
        _post_to_main(mg, KeyboardInterrupt())


def _post_to_main(mg: G, e: BaseException) -> None:
    """Post ``e`` to the main goroutine from any thread: it is raised there at its next
    park (woken now if it waits) or, if it is running, at its next preemption (a busy
    loop would otherwise never see it)."""
    mg.exc = e
    ready(mg, next=False)
    p = mg.p
    if mg._status == Grunning and p is not None and p.m.curg is mg and getg() is not mg:
        preemptone(p, perf_counter_ns())  # -> gopreempt -> raises g.exc


def _stop_sysmon() -> None:
    """Stop the sysmon thread (it must not inspect greenlets that are being unwound).
    The preemption hooks and the SIGINT handler stay until every M has ended
    (``_release_hooks``, ``_restore_sigint``)."""
    sm = sched.sysmon
    if sm is not None:
        sm.stop()
        sched.sysmon = None


def _release_hooks() -> None:
    """Undo what ``_start_sysmon`` set up, but for SIGINT: the preemption hooks, the
    switch interval, M0's CPU affinity, the GC callback."""
    global preempter
    pr = preempter
    preempter = None
    if pr is not None:
        pr.close()
    if sched.switchinterval is not None:
        sys.setswitchinterval(sched.switchinterval)
        sched.switchinterval = None
    if sched.m0_affinity:
        try:
            os.sched_setaffinity(0, sched.m0_affinity)
        except OSError:
            pass
    gc_uninstall()


# --------------------------------------------------------------------------- GC as stop-the-world

_gc_t0 = [0, None]


def _gc_cb(phase: str, info: dict) -> None:
    """Python's collector holds the GIL: every M stops.  We count it as a GC
    stop-the-world pause and charge it to the G that allocated (Go's mark assist)."""
    try:
        if phase == "start":
            _gc_t0[0] = perf_counter_ns()
            g = getattr(getcurrent(), "_rtg", None)
            _gc_t0[1] = g
            if _tracer is not None:
                _emit("GCBegin", gen=info.get("generation", -1), g=g.goid if g is not None else 0,
                      p=g.p.id if g is not None and g.p is not None else -1)
        elif _gc_t0[0]:
            dt = perf_counter_ns() - _gc_t0[0]
            g = _gc_t0[1]
            _gc_t0[0] = 0
            _gc_t0[1] = None
            metrics.gcpauses.record(dt)
            if g is not None:
                g.gcpause_ns += dt
            if _tracer is not None:
                _emit("GCEnd", gen=info.get("generation", -1), g=g.goid if g is not None else 0,
                      p=g.p.id if g is not None and g.p is not None else -1, collected=info.get("collected", 0))
    except Exception:  # interpreter finalisation, greenlet teardown
        pass


def gc_install() -> None:
    import gc

    if _gc_cb not in gc.callbacks:
        gc.callbacks.append(_gc_cb)


def gc_uninstall() -> None:
    import gc

    try:
        gc.callbacks.remove(_gc_cb)
    except ValueError:
        pass


def _tracing_self_test(m: M) -> None:
    """greenlet does not save ``tstate->tracing``; the preemption hook must leave it 0
    in g0 (if a future greenlet saved it, our Leave/EnterTracing would double-count)."""
    from .preempt import tracing_value

    v = tracing_value(m.tstate)
    if v not in (0, None):
        raise RuntimeFatal(f"tstate->tracing is {v} in g0 of M{m.id} after a preemption; "
                           "the greenlet/CPython tracing assumption broke: set PYRUNTIME_DEBUG=asyncpreemptoff=1")


def _g0_main() -> None:
    m = _tls.m
    getcurrent()._rtg = None
    _schedule(m)
    _kill_m(m)


def _mstart(m: M) -> None:
    _tls.m = m
    _mcommon(m)
    me = getcurrent()
    me._rtg = None
    m.g0 = me
    _emit("ProcStart", p=m.p.id, m=m.id)
    try:
        _schedule(m)
    finally:
        _kill_m(m)
        m.g0 = None  # this thread's main greenlet: see _kill_m
        del me
        _emit("ProcStop", p=m.p.id, m=m.id)
        _mids.discard(m.ident)
        _tls.m = None
        with m.exitlock:
            m.tstate = 0


def _kill_m(m: M) -> None:
    """Unwind every goroutine greenlet of this M and drop the M's references to them
    (run on the M's own thread, before it exits or, for M0, before the runtime stops).

    When this M's thread exits, nothing outside it may still reference a greenlet of the
    thread (the module essay, "Retiring an M"): greenlet frees a dead thread's state later,
    from a pending call on the main thread, and if the thread's main greenlet (our g0) is
    then referenced once from an object ``gc.get_referrers`` cannot see, it drops that
    reference as a leak.  Mid-collection a garbage M is such an object: ``M.g0`` dangled
    and the collector crashed traversing the M."""
    me = getcurrent()
    for w in list(m.glets):
        if w is me or w.dead:
            continue
        try:
            w.parent = me
            if w:  # started
                w.throw(GreenletExit)
        except Exception:
            pass
    m.free.clear()
    m.glets = weakref.WeakSet()
    m.curg = None
    m.nextg = None


EXIT_REPREEMPT = 0.01  # shutdown re-arms the exit preemption of a still-running G this often (s)


def shutdown(timeout: float = 5.0) -> bool:
    """Stop the runtime: every M, sysmon and syscall thread ends; other goroutines are
    abandoned (parked ones and runnable ones are unwound with GreenletExit, a running
    one at its next preemption point).  "Ends" means joined: each thread has run its
    last Python code before this returns.  Two waits are bounded, because a thread
    inside a C call cannot be stopped (Go's exit would kill it): an M whose goroutine
    never returns from C, ``timeout`` seconds in all; a syscall M whose call has not
    returned, 0.5 s.  Such a thread is left as a daemon and ends when its call returns.

    Returns True if a Ctrl-C arrived that was not raised yet (during the shutdown, or
    posted to a main goroutine that ended without parking): ``run`` raises it."""
    if not sched.running:
        return False
    me = getcurrent()
    m0 = sched.m0
    sched.stopping = True  # from here on SIGINT only records (_on_sigint)
    sm = sched.sysmon
    ms = sched.allm[1:] + sched.retired
    joined = [m.thread for m in ms if m.thread is not None]
    if sm is not None and sm.thread is not None:
        joined.append(sm.thread)
    _stop_sysmon()  # first: sysmon must not inspect greenlets that are being unwound
    for m in sched.allm:
        _wakem(m)
    # M0's goroutines and g0 live on this thread: unwind them here.
    if m0 is not None and threading.current_thread() is m0.thread:
        _kill_m(m0)
        g0 = m0.g0
        if g0 is not None and g0 and not g0.dead:
            try:
                g0.parent = me
                g0.throw(GreenletExit)
            except Exception:
                pass
    end = monotonic() + timeout
    for m in ms:
        t = m.thread
        if t is None or t is threading.current_thread():
            continue
        while t.is_alive():
            left = end - monotonic()
            if left <= 0:
                break
            # A G spinning in pure Python never reaches a scheduling point: preempt it
            # into GreenletExit (re-armed: it may be in C or in the runtime just now).
            _preempt_exit(m)
            _wakem(m)
            t.join(min(left, EXIT_REPREEMPT))
    joined += _syscalls.stop(min(0.5, max(0.1, end - monotonic())))
    _wait_tasks_gone(joined)
    hooks = list(_shutdown_hooks)
    _shutdown_hooks.clear()
    for f in hooks:
        try:
            f()
        except Exception:
            pass
    _release_hooks()
    main = sched.main_g
    pending = main is not None and isinstance(main.exc, KeyboardInterrupt)
    if main is not None:
        main.exc = None
        main._status = Gdead
    try:
        del me._rtg
    except AttributeError:
        pass
    _tls.m = None
    if m0 is not None:
        _mids.discard(m0.ident)
    sched.running = False
    for g in list(sched.allgs.values()):
        g._status = Gdead  # abandoned, as in Go: never-started and blocked Gs alike
    sched.allgs.clear()
    sched.main_g = None
    _emit("ProcStop", p=0, m=0)
    # Last: once the old handler is back a Ctrl-C raises wherever the main thread is.
    return _restore_sigint() or pending


def _wait_tasks_gone(threads: list[threading.Thread], limit: float = 0.2) -> None:
    """A joined thread has deleted its Python thread state, but its kernel task lingers
    for a few microseconds while libc ends it.  Wait (Linux, at most ``limit`` s) until
    /proc no longer lists the tasks, so that the process really has no runtime thread
    left when ``run`` returns."""
    tids = [t.native_id for t in threads if not t.is_alive() and t.native_id is not None]
    if not tids or not os.path.isdir("/proc/self/task"):
        return
    deadline = monotonic() + limit
    for tid in tids:
        path = f"/proc/self/task/{tid}"
        while os.path.exists(path) and monotonic() < deadline:
            _os_sleep(0.0002)


def _atexit() -> None:
    if sched.running and sched.implicit:
        shutdown(timeout=1.0)


def run(main: Callable[..., Any], *args: Any, gomaxprocs: int | None = None, pin_cpus: bool = False,
        **kwargs: Any) -> Any:
    """Start a runtime, run ``main(*args, **kwargs)`` as the main goroutine, return its result.

    When main returns the program ends, as in Go: other goroutines are abandoned and
    every M and sysmon thread is stopped before ``run`` returns.  An exception escaping
    any goroutine is re-raised here; a deadlock raises :class:`Deadlock`."""
    if not callable(main):
        raise TypeError(f"run: {main!r} is not callable")
    cur = getg()
    if cur is not None:
        if cur is sched.main_g and not sched.implicit:
            # Nested run() in the main goroutine (a program started by `pyruntime run`
            # that calls run() itself): main is already the main goroutine.
            if gomaxprocs is not None and _check_procs(gomaxprocs) != sched.gomaxprocs:
                globals()["gomaxprocs"](gomaxprocs)  # honour the program's own setting
            return main(*args, **kwargs)
        if not (cur is sched.main_g and sched.implicit):
            raise RuntimeError("pyruntime.run: called from inside a goroutine; a runtime is already running")
    if sched.running and sched.implicit:
        shutdown()
    _start(gomaxprocs, implicit=False, pin_cpus=pin_cpus)
    try:
        result = main(*args, **kwargs)
        err = sched.panic
        if err is not None:
            raise err
        return result
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        err = sched.panic
        if err is not None and err is not e and not isinstance(e, Deadlock):
            raise err from None
        if err is None and not isinstance(e, Deadlock):
            _write_panic(sched.main_g, e)  # the main goroutine panicked (Go prints it too)
        raise
    finally:
        # A Ctrl-C during the shutdown (a second one, typically) waits until every thread
        # has ended, then is raised here, as plain Python raises it in a ``finally``;
        # one KeyboardInterrupt already on its way out absorbs it.
        if shutdown() and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            raise KeyboardInterrupt


def gomaxprocs(n: int | None = None) -> int:
    """Return the previous GOMAXPROCS; with ``n`` >= 1 also set it.  ``n`` < 1 (or None)
    only queries, as Go's ``runtime.GOMAXPROCS(n)`` does; a non-int (bool and float
    included) is a TypeError, ``n`` > 10000 a ValueError.

    While a runtime runs, growing adds Ps (each with its M thread) at once; shrinking
    marks the highest Ps *retiring*: they take no new work, hand their unstarted Gs to
    the global queue, and their Ms exit once the Gs bound to them have ended (a started
    G cannot move: SPEC §1.1).  P0 (the main goroutine's) never retires.  Go does this in
    ``procresize`` under stop-the-world; here no G moves, so nothing needs stopping.
    Without a runtime, ``n`` becomes the default for the next one."""
    if n is not None and not isinstance(n, bool) and isinstance(n, int) and n < 1:
        n = None  # Go: GOMAXPROCS(n < 1) is a query
    if n is None:
        return sched.gomaxprocs if sched.running else _default_gomaxprocs()
    n = _check_procs(n)
    if not sched.running:
        global _next_gomaxprocs
        prev = _default_gomaxprocs()
        _next_gomaxprocs = n  # not os.environ: that would leak into child processes
        return prev
    g = getattr(getcurrent(), "_rtg", None)
    if g is None or g is sched.stw_g:
        return procresize(n)
    stop_the_world("GOMAXPROCS")  # as Go's procresize: traced and measured as an STW
    try:
        return procresize(n)
    finally:
        start_the_world()


_resize_lock = threading.Lock()


def procresize(n: int) -> int:
    with _resize_lock:
        start: list[M] = []
        wake: list[M] = []
        with sched.lock:
            old = sched.gomaxprocs
            active = [p for p in sched.allp if not p.dead]
            if n > len(active):
                for p in sched.allp:  # revive retiring Ps first
                    if p.dead and len(active) < n:
                        p.dead = False
                        active.append(p)
                        wake.append(p.m)
                allp = list(sched.allp)
                nid = max(p.id for p in allp) + 1
                mid = max(m.id for m in sched.allm) + 1
                while len(active) < n:
                    p = P(nid)
                    m = M(mid, p)
                    p.m = m
                    nid += 1
                    mid += 1
                    allp.append(p)
                    active.append(p)
                    sched.allm = sched.allm + [m]
                    start.append(m)
                    _born_idle(p)
                sched.allp = allp  # copy-on-write: readers iterate a stable list
            elif n < len(active):
                for p in sorted(active, key=lambda q: q.id, reverse=True):
                    if len(active) == n:
                        break
                    if p is sched.allp[0]:
                        continue
                    p.dead = True
                    active.remove(p)
                    wake.append(p.m)
            sched.gomaxprocs = n
        _emit("ProcsChange", old=old, new=n)
        for m in start:
            t = threading.Thread(target=_mstart, args=(m,), name=f"pyruntime-M{m.id}", daemon=True)
            m.thread = t
            t.start()
        for m in wake:
            _wakem(m)
        return old


def handoff_unstarted(p: P) -> bool:
    """Move ``p``'s unstarted Gs (runq and runnext) to the global queue and wake an idle
    P to run them (Go's ``handoffp`` for the work that can still move).  Returns True if
    ``p`` is left with no queued G at all."""
    p.lock.acquire()
    moved = [g for g in p.runq if g.glet is None]
    if moved:
        p.runq = collections.deque(g for g in p.runq if g.glet is not None)
    rn = p.runnext
    if rn is not None and rn.glet is None:
        moved.append(rn)
        p.runnext = None
    empty = not p.runq and p.runnext is None
    p.lock.release()
    if moved:
        with sched.lock:
            sched.runq.extend(moved)
        _wake_any()
    return empty


def _retire(m: M, p: P) -> bool:
    """On a retiring P: move unstarted Gs to the global queue; once no bound G is left,
    hand the timers to P0 and leave ``allp``.  Returns True when the M should exit."""
    if not handoff_unstarted(p) or p.nbound:
        return False
    with sched.lock:
        if not p.dead or p.nbound:
            return False
        sched.allp = [q for q in sched.allp if q is not p]
        sched.allm = [q for q in sched.allm if q is not m]
        sched.retired.append(m)  # its thread ends by itself; shutdown still joins it
        if p in sched.pidle:
            sched.pidle.remove(p)
            sched.npidle -= 1
        if m.spinning:
            m.spinning = False
            sched.nmspinning -= 1
        p0 = sched.allp[0]
    # Timers (timer channels, after_func, contexts) move to P0.
    p.tlock.acquire()
    moving = [t for (_, _, t, tseq) in p.timers if t.p is p and t.seq == tseq]
    p.timers = []
    p.ntimers = 0
    for t in moving:
        t.p = None
    p.tlock.release()
    for t in moving:
        p0.tlock.acquire()
        t.seq += 1
        t.p = p0
        p0.ntimers += 1
        heapq.heappush(p0.timers, (t.when, next(_tseq), t, t.seq))
        p0.tlock.release()
    if moving:
        _wakem(p0.m)
    _emit("ProcStop", p=p.id, m=m.id)
    return True


def gcpause_hook() -> None:  # placeholder for sysmon issue
    pass


__all__ = [
    "G", "P", "M", "sched", "metrics", "getg", "getm", "park", "ready", "newproc", "gosched",
    "run", "shutdown", "syscall", "num_goroutine", "num_cpu", "gomaxprocs", "Timer",
    "block_outside", "set_tracer", "Panic", "Deadlock", "MUTEX_WAIT_REASONS",
]
