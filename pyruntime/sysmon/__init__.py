"""sysmon: the runtime's monitor thread (Go's ``sysmon`` in ``proc.go``).

A daemon OS thread with no P.  It sleeps 20 µs between cycles while it finds work,
doubling up to 10 ms after 50 idle cycles, and sleeps deeply (until an M leaves idle)
when every P is idle and no schedtrace is due.  Each cycle:

* **retake** — a P whose ``schedtick`` has not moved for 10 ms (``forcePreemptNS``)
  while other work waits gets its running G preempted (``proc.preemptone``: the flag
  for cooperative checks plus the asynchronous hook of ``_core/preempt.py``); a request
  not honoured within 2 ms is re-issued on the G's current stack.
* **blocked Ms** — a G that holds its M outside Python bytecode (a direct
  ``time.sleep``, a long C call that releases the GIL) for more than 20 ms: its frame
  and instruction do not move and its thread uses no CPU.  sysmon emits ``BlockedM``,
  prints a report with the stack under ``PYRUNTIME_DEBUG=blockreport=1`` (once per call
  site), and hands that P's unstarted Gs to the global queue, waking an idle P to run
  them (Go's ``handoffp``; the started Gs are bound and must wait).
* **netpoll** — if nobody has polled the network for 10 ms.
* **schedtrace** — ``PYRUNTIME_DEBUG=schedtrace=MS[,scheddetail=1]`` prints Go's exact
  ``SCHED`` lines to stderr every MS milliseconds.

sysmon's shortest sleep is 1 ms, not Go's 20 µs: each cycle must take the GIL from a
running M, and the time slice it enforces is 10 ms anyway.

Where we differ from Go: a G stuck in C cannot lose its P — its started Gs are bound to
that M (SPEC §1.1) — so only unstarted work moves; and sysmon needs the GIL to run, so
``run()`` sets ``sys.setswitchinterval(0.001)`` while sysmon is active (at the default
5 ms, sysmon's own lateness dominated the preemption latency, PYTHON_MECHANISMS Q2/Q6).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from .._core import proc
from .._core.futex import Note
from .._core.g import Grunning, Gsyscall, Gwaiting, STATUS_NAMES

__all__ = ["Sysmon", "schedtrace_line"]

SYSMON_MIN = 1e-3  # Go: 20 µs; see the essay
SYSMON_MAX = 10e-3
SYSMON_IDLE_BEFORE_BACKOFF = 50
SYSMON_BACKOFF_AFTER = 1e-3  # seconds of idle cycles before the back-off starts
PREEMPT_REISSUE_NS = 2_000_000
BLOCKED_NS = 20_000_000
NETPOLL_STALE = 10e-3
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def schedtrace_line(sched: Any, detail: bool, start_ns: int) -> str:
    """Go's ``schedtrace`` output (``proc.go``), one summary line (+ detail lines)."""
    ms = (time.perf_counter_ns() - start_ns) // 1_000_000
    allp = list(sched.allp)
    nsys = len(proc._syscalls.threads)
    threads = len(sched.allm) + nsys + 1  # Ms + syscall Ms + sysmon
    idlethreads = sched.npidle + proc._syscalls.nidle
    head = (f"SCHED {ms}ms: gomaxprocs={sched.gomaxprocs} idleprocs={sched.npidle} threads={threads} "
            f"spinningthreads={sched.nmspinning} needspinning=0 idlethreads={idlethreads} "
            f"runqueue={len(sched.runq)}")
    if not detail:
        qs = " ".join(str(len(p.runq)) for p in allp)
        ticks = " ".join(str(p.schedtick) for p in allp)
        return f"{head} [ {qs} ] schedticks=[ {ticks} ]"
    lines = [f"{head} gcwaiting={str(sched.gcwaiting).lower()} nmidlelocked=0 stopwait=0 sysmonwait=false"]
    for p in allp:
        status = 3 if p.stopped else (0 if p.idle else 1)
        if p.dead:
            status = 4
        lines.append(f"  P{p.id}: status={status} schedtick={p.schedtick} syscalltick=0 m={p.m.id} "
                     f"runqsize={len(p.runq)} gfreecnt={len(p.m.free)} timerslen={len(p.timers)}")
    for m in list(sched.allm):
        cg = m.curg
        lines.append(f"  M{m.id}: p={m.p.id} curg={cg.goid if cg is not None else 'nil'} mallocing=0 throwing=0 "
                     f"preemptoff= locks=0 dying=0 spinning={str(m.spinning).lower()} "
                     f"blocked={str(m.blocked or m.p.idle).lower()} lockedg=nil")
    for g in sorted(list(sched.allgs.values()), key=lambda x: x.goid):
        reason = g.waitreason if g._status == Gwaiting else ""
        mm = g.m.id if (g.m is not None and g._status == Grunning) else "nil"
        lines.append(f"  G{g.goid}: status={g._status}({reason}) m={mm} lockedm=nil")
    return "\n".join(lines)


class Sysmon:
    def __init__(self, sched: Any, metrics: Any) -> None:
        self.sched = sched
        self.metrics = metrics
        self.note = Note()
        self.deep = False
        self._stop = False
        self.thread: threading.Thread | None = None
        self.cycles = 0
        self.reported: set[tuple[str, int]] = set()
        dbg = sched.debug
        self.schedtrace_ms = dbg.get("schedtrace", 0)
        self.scheddetail = bool(dbg.get("scheddetail", 0))
        self.blockreport = bool(dbg.get("blockreport", 0))
        self.start_ns = sched.start_ns
        self.lasttrace = 0

    def start(self) -> None:
        t = threading.Thread(target=self._run, name="pyruntime-sysmon", daemon=True)
        self.thread = t
        t.start()

    def stop(self) -> None:
        self._stop = True
        self.note.wakeup()
        t = self.thread
        if t is not None and t is not threading.current_thread():
            t.join(5.0)

    def wake(self) -> None:
        self.note.wakeup()

    # ------------------------------------------------------------------ loop
    def _run(self) -> None:
        delay = SYSMON_MIN
        idle = 0
        idle_since = time.monotonic()
        sched = self.sched
        while not self._stop:
            # Go backs off after 50 idle cycles of 20 µs, i.e. ~1 ms; each of our cycles may
            # wait for the GIL, so the back-off is by time: idle for 1 ms -> double.
            if idle == 0:
                delay = SYSMON_MIN
                idle_since = time.monotonic()
            elif idle > SYSMON_IDLE_BEFORE_BACKOFF or time.monotonic() - idle_since > SYSMON_BACKOFF_AFTER:
                delay = min(delay * 2, SYSMON_MAX)
            if not self.schedtrace_ms and sched.npidle >= len(sched.allp) and not sched.gcwaiting:
                # Deep sleep: every P idle.  An M leaving idle wakes us (proc._find_runnable).
                self.deep = True
                if sched.npidle >= len(sched.allp) and not sched.sigint:
                    self.note.sleep(0.1)
                proc.deliver_sigint()
                proc.recheck_dead()
                self.deep = False
                idle = 0
                delay = SYSMON_MIN
                continue
            self.note.sleep(delay)
            if self._stop:
                break
            try:
                n = self._cycle()
            except Exception as e:  # sysmon must never die silently
                sys.stderr.write(f"pyruntime: sysmon error: {e!r}\n")
                n = 0
            idle = 0 if n else idle + 1

    def _cycle(self) -> int:
        sched = self.sched
        self.cycles += 1
        proc.deliver_sigint()
        if sched.deadsuspect and sched.npidle >= len(sched.allp):
            proc.recheck_dead()
        mg = sched.main_g
        if mg is not None and mg.exc is not None and mg._status in (Gwaiting, Gsyscall):
            # An interrupt posted to the main G must not be lost to a race with its
            # parking (park re-checks; this is the belt to those braces).
            proc.ready(mg, next=False)
        if sched.paused:
            # The panel holds the scheduler at its transition points: a held M is not
            # blocked, and handing its Gs away or polling would make transitions.
            return 0
        now = time.perf_counter_ns()
        n = self._retake(now)
        if self.cycles % 16 == 0 or n:
            self._check_blocked(now)
        np = proc.netpoller
        if np is not None and np.waiters and not sched.polling and time.monotonic() - sched.lastpoll > NETPOLL_STALE:
            sched.lastpoll = time.monotonic()
            gs = np.poll(0)
            if gs:
                proc._inject(gs)
                n += 1
        if self.schedtrace_ms and (now - self.lasttrace) >= self.schedtrace_ms * 1_000_000:
            self.lasttrace = now
            try:
                sys.stderr.write(schedtrace_line(sched, self.scheddetail, self.start_ns) + "\n")
                sys.stderr.flush()
            except Exception:
                pass
        return n

    def _retake(self, now: int) -> int:
        sched = self.sched
        n = 0
        for p in list(sched.allp):
            m = p.m
            g = m.curg
            if p.idle or g is None or g._status != Grunning:
                p.sysmontick = p.schedtick
                p.sysmonwhen = now
                continue
            if p.schedtick != p.sysmontick or p.sysmonwhen == 0:  # (0: first look at this P)
                p.sysmontick = p.schedtick
                # The slice began when the G started running, not when we noticed.
                rs = m.run_start
                p.sysmonwhen = rs if 0 < rs <= now else now
                continue
            if g.preempt:
                if now - p.preempt_at >= PREEMPT_REISSUE_NS:
                    proc.preemptone(p, now)  # not honoured within 2 ms: re-issue
                continue
            if now - p.sysmonwhen >= proc.FORCE_PREEMPT_NS:
                timers = p.timers
                waits = (bool(p.runq) or p.runnext is not None or bool(sched.runq) or sched.gcwaiting
                         or bool(timers and timers[0][0] <= time.monotonic()))
                if waits and proc.preemptone(p, now):
                    n += 1
        return n

    def _check_blocked(self, now: int) -> None:
        sched = self.sched
        frames = sys._current_frames()
        for p in list(sched.allp):
            m = p.m
            g = m.curg
            th = m.thread
            if p.idle or g is None or g._status != Grunning or th is None:
                p.blk_key = None
                m.blocked = False
                continue
            f = frames.get(th.ident)
            cpu = 0
            if m.cpu_clock is not None:
                try:
                    cpu = time.clock_gettime_ns(m.cpu_clock) // 2_000_000  # 2 ms granularity
                except OSError:
                    cpu = 0
            key = (id(f), f.f_lasti if f is not None else -1, p.schedtick, cpu)
            if key != p.blk_key:
                p.blk_key = key
                p.blk_since = now
                m.blocked = False
                continue
            if now - p.blk_since < BLOCKED_NS or m.blocked:
                continue
            m.blocked = True
            self._report_blocked(p, m, g, f)
            proc.handoff_unstarted(p)

    def _report_blocked(self, p: Any, m: Any, g: Any, f: Any) -> None:
        stack = []
        fr = f
        while fr is not None and len(stack) < 50:
            if not fr.f_code.co_filename.startswith(_PKG_DIR):
                stack.append(f"{fr.f_code.co_name}(...)\n\t{fr.f_code.co_filename}:{fr.f_lineno}")
            fr = fr.f_back
        if proc._tracer is not None:
            proc._emit("BlockedM", g=g.goid, p=p.id, m=m.id, stack=stack[:8])
        if self.blockreport and f is not None:
            site = (f.f_code.co_filename, f.f_lineno)
            if site not in self.reported:
                self.reported.add(site)
                try:
                    sys.stderr.write(
                        f"pyruntime: goroutine {g.goid} blocked M{m.id} (P{p.id}) outside Python for more than "
                        f"{BLOCKED_NS // 1_000_000} ms; use pyruntime.syscall() for blocking calls\n"
                        f"goroutine {g.goid} [running]:\n" + "\n".join(stack) + "\n")
                    sys.stderr.flush()
                except Exception:
                    pass
