"""Pause, step and breakpoints: a gate at the scheduler's transition points.

What a control means (stated in the page and in the API answers)
-----------------------------------------------------------------
Every goroutine transition (GoCreate, GoStart, GoBlock, GoUnblock, GoStop, Preempt,
GoSyscallBegin/End, GoDestroy, Steal) is recorded by the scheduler through one hook on
the thread that makes it.  While a control is active the panel's sink is :meth:`Gate.put`
instead of a plain ``list.append``, and the gate may hold the calling thread there,
*before* the transition is recorded and before the code after it runs:

* **pause** closes the gate and asks every running G to yield (the same preemption
  request sysmon uses).  A P is *parked* when its M is held at the gate or sleeps idle
  with nothing to run; a P whose M waits on a lock held by a held M is reported as not
  parked (it cannot move either).  Ms in syscalls keep running their call: their
  completion is held at the gate (``GoSyscallEnd``).  Timers that come due and netpoll
  readiness are held the same way, when the M that would deliver them records the wake.
* Ctrl-C (or a panic, or shutdown) while paused lets everything go: the program ends as
  it would unpaused.
* **step** (paused only) lets exactly one held transition through, the oldest, then the
  gate is closed again; the answer is that event.  If nothing is held, nothing can
  happen and the answer says so.
* **breakpoints** are predicates on (goid, function, from-state, to-state, reason),
  checked at the gate.  ``log`` counts and records; ``g`` holds that G's thread at the
  transition until resume (a started G is bound to its M, so its P waits with it: other
  Ps keep running); ``all`` pauses the runtime with the hit (its stack) as the state's
  ``breakpoint``.

Events keep the time the transition was made (``t_ns``); a held one is recorded when it
is let through.  A collection that the panel's own threads trigger while the runtime is
paused is counted (``panel.gcs_while_paused`` in the state) but not streamed.

Events that are not goroutine transitions (ProcStart/Stop, GOMAXPROCS changes, STW,
GC, BlockedM) are never held: they happen inside the runtime's own critical sections
(a GC callback, a stop-the-world) where holding a thread could wedge the world.

Invariants
    * A held thread holds no runtime lock except, for ``GoBlock``, the lock the parking
      G's caller passed to ``park`` (a channel's), released as soon as it passes; the
      oldest held thread is always released first, so a step never waits on a lock held
      by a thread that is held behind it.
    * The gate never holds a thread while the runtime stops: shutdown opens it.
    * With no control active the sink is the C ``list.append`` again (zero cost).
"""

from __future__ import annotations

import collections
import itertools
import sys
import threading
import time
from typing import Any

from .._core import proc
from .._core.g import Grunning
from . import _state


def _fn_matches(want: str, name: str) -> bool:
    """``fn`` in a breakpoint: the full name ("main:worker", "pkg.mod:Cls.run") or its
    last part ("worker", "run")."""
    return want == name or name.endswith((":" + want, "." + want))

# Transitions the gate may hold (see the essay).
GATED = frozenset({"GoCreate", "GoStart", "GoBlock", "GoUnblock", "GoStop", "Preempt",
                   "GoSyscallBegin", "GoSyscallEnd", "GoDestroy", "Steal"})

# The state each event moves its G from and to.
_FROM = {"GoStart": "runnable", "GoBlock": "running", "GoStop": "running", "Preempt": "running",
         "GoSyscallBegin": "running", "GoDestroy": "running", "GoCreate": "new"}
_TO = {"GoCreate": "runnable", "GoStart": "running", "GoBlock": "waiting", "GoStop": "runnable",
       "Preempt": "runnable", "GoUnblock": "runnable", "GoSyscallBegin": "syscall",
       "GoSyscallEnd": "syscall", "GoDestroy": "dead"}

SUSPEND = ("log", "g", "all")
STATES = ("new", "runnable", "running", "waiting", "syscall", "dead")


class Breakpoint:
    __slots__ = ("id", "goid", "fn", "frm", "to", "reason", "suspend", "hits", "last")

    def __init__(self, bid: int, spec: dict) -> None:
        self.id = bid
        self.goid = spec.get("goid")
        self.fn = spec.get("fn")
        self.frm = spec.get("from")
        self.to = spec["to"]
        self.reason = spec.get("reason")
        self.suspend = spec.get("suspend", "all")
        self.hits = 0
        self.last: dict | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "goid": self.goid, "fn": self.fn, "from": self.frm, "to": self.to,
                "reason": self.reason, "suspend": self.suspend, "hits": self.hits, "last": self.last}


def check_breakpoint_spec(spec: Any) -> dict:
    """Validate a POST /api/breakpoints body; raise ValueError saying what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("a breakpoint is a JSON object")
    allowed = {"goid", "fn", "from", "to", "reason", "suspend"}
    extra = set(spec) - allowed
    if extra:
        raise ValueError(f"unknown breakpoint fields: {sorted(extra)} (allowed: {sorted(allowed)})")
    if spec.get("to") not in STATES:
        raise ValueError(f"'to' must be one of {list(STATES)}")
    if spec.get("from") is not None and spec["from"] not in STATES:
        raise ValueError(f"'from' must be one of {list(STATES)} or absent")
    g = spec.get("goid")
    if g is not None and (isinstance(g, bool) or not isinstance(g, int) or g < 1):
        raise ValueError("'goid' must be a positive integer or absent")
    for k in ("fn", "reason"):
        if spec.get(k) is not None and not isinstance(spec[k], str):
            raise ValueError(f"'{k}' must be a string or absent")
    if spec.get("suspend", "all") not in SUSPEND:
        raise ValueError(f"'suspend' must be one of {list(SUSPEND)}")
    return spec


def _stack_of(g: Any) -> list[str]:
    """The G's own Python stack, innermost first (captured only at a breakpoint hit).

    At a transition the G is either the thread's current greenlet (GoBlock, GoStop, ...) or
    the one about to be switched to (GoStart, whose frames are its greenlet's); the
    runtime's and the panel's own frames are left out, as in ``debug.dump()``."""
    from .._core import debug_impl

    glet = g.glet
    try:
        import greenlet

        if glet is not None and greenlet.getcurrent() is glet:
            f = sys._getframe(1)
        else:
            f = getattr(glet, "gr_frame", None) if glet is not None else None
    except Exception:
        f = None
    frames = []
    while f is not None and len(frames) < 64:
        frames.append(f)
        f = f.f_back
    out = list(debug_impl.format_stack(debug_impl._user_frames(frames)))[:32]
    if not out and g.fn is not None:
        out.append(f"{getattr(g.fn, '__qualname__', repr(g.fn))}(...) (not started)")
    return out


class Gate:
    """The panel's sink while a control is active (see the module essay)."""

    def __init__(self, collector: Any) -> None:
        self.collector = collector
        self.append = collector.sink.append
        self.cv = threading.Condition(threading.Lock())
        self.closed = False          # paused: every gated transition waits
        self.tickets = itertools.count(1)
        self.held: collections.OrderedDict[int, dict] = collections.OrderedDict()  # ticket -> what waits
        self.release_upto = 0        # held tickets <= this pass (step)
        self.hold_g: set[int] = set()  # threads a "g" breakpoint holds until resume
        self.gstate: dict[int, str] = {}  # goid -> its state, for "from" (dict ops: atomic)
        self.bps: dict[int, Breakpoint] = {}
        self.bp_ids = itertools.count(1)
        self.hit: dict | None = None
        self.hitlog: collections.deque[dict] = collections.deque(maxlen=256)
        self.open_all = False        # shutting down: nothing is held again
        self.passed: dict[int, tuple] = {}  # ticket -> the record it let through (step)
        self.panel_gcs = 0           # GC events of panel threads while paused (not streamed)

    # -- the hot side (any M, syscall M or outside thread) ------------------------------

    def put(self, rec: tuple) -> None:
        name = rec[0]
        if name in GATED and not self.open_all and not proc.sched.stopping:
            goid = rec[2]
            if name == "GoUnblock":
                frm = self.gstate.get(goid, "waiting")
            elif name == "GoSyscallEnd":
                frm = "syscall"
            else:
                frm = _FROM.get(name)
            to = _TO.get(name)
            if self.bps:
                self._check_bps(rec, goid, frm, to)
            if self.closed or self.hold_g:
                self._wait(rec, goid, frm, to)
            if goid and to is not None:
                if to == "dead":
                    self.gstate.pop(goid, None)
                else:
                    self.gstate[goid] = to
        elif self.closed and (name == "GCBegin" or name == "GCEnd") and getattr(proc._tls, "m", None) is None:
            # A collection the panel's own threads triggered while everything is held: the
            # program did not do it.  Counted, not streamed (so a paused stream stays still).
            self.panel_gcs += 1
            return
        self.append(rec)

    def _check_bps(self, rec: tuple, goid: int, frm: Any, to: Any) -> None:
        g = proc.sched.allgs.get(goid)
        fname: str | None = None
        for bp in list(self.bps.values()):
            if fname is None and bp.to == to:
                fname = _state.g_name(g) if g is not None else ""
            if bp.to != to or (bp.frm is not None and bp.frm != frm):
                continue
            if bp.goid is not None and bp.goid != goid:
                continue
            if bp.reason is not None and rec[4] != bp.reason:
                continue
            if bp.fn is not None and not _fn_matches(bp.fn, fname or ""):
                continue
            bp.hits += 1
            hit = {"id": bp.id, "goid": goid, "from": frm, "to": to, "kind": rec[0],
                   "reason": rec[4] if isinstance(rec[4], str) else None, "fn": fname,
                   "t_ns": rec[1], "p": rec[3] if rec[3] >= 0 else None,
                   "stack": _stack_of(g) if g is not None else [], "suspend": bp.suspend}
            bp.last = hit
            self.hitlog.append(hit)
            if bp.suspend == "all":
                with self.cv:
                    if self.hit is None:
                        self.hit = hit
                    self.closed = True  # the panel's tick preempts the running Gs
            elif bp.suspend == "g":
                with self.cv:
                    self.hold_g.add(threading.get_ident())

    def _wait(self, rec: tuple, goid: int, frm: Any, to: Any) -> None:
        me = threading.get_ident()
        with self.cv:
            if not self.closed and me not in self.hold_g:
                return
            t = next(self.tickets)
            m = getattr(proc._tls, "m", None)
            self.held[t] = {"ticket": t, "kind": rec[0], "g": goid or None, "from": frm, "to": to,
                            "p": m.p.id if m is not None and m.p is not None else None,
                            "m": m.id if m is not None else None, "since": time.monotonic(),
                            "gbp": me in self.hold_g}
            self.cv.notify_all()
            sched = proc.sched
            while not self.open_all and not sched.stopping:  # shutdown releases everyone
                if me not in self.hold_g and (not self.closed or t <= self.release_upto):
                    break
                mg = sched.main_g
                if mg is not None and mg.exc is not None:
                    # Ctrl-C, a panic elsewhere or a deadlock was posted to main: the
                    # program is ending, so the panel lets go (as a resume) rather than
                    # hold it for ever.
                    self.closed = False
                    self.hold_g.clear()
                    self.hit = None
                    sched.paused = False
                    self.cv.notify_all()
                    break
                self.cv.wait(0.05)
            del self.held[t]
            if t <= self.release_upto:
                self.passed[t] = rec
            self.cv.notify_all()

    # -- the panel side -------------------------------------------------------------------

    def pause(self) -> None:
        with self.cv:
            self.closed = True

    def resume(self) -> None:
        with self.cv:
            self.closed = False
            self.hit = None
            self.hold_g.clear()
            self.cv.notify_all()

    def shutdown(self) -> None:
        with self.cv:
            self.open_all = True
            self.closed = False
            self.hold_g.clear()
            self.cv.notify_all()

    def held_list(self) -> list[dict]:
        with self.cv:
            return [dict(h) for h in self.held.values()]

    def step(self, timeout: float) -> tuple[Any, str]:
        """Let exactly one held transition through, the oldest; return (its record, note)."""
        end = time.monotonic() + timeout
        with self.cv:
            if not self.closed:
                return None, "not paused"
            while True:
                cand = [t for t, h in self.held.items() if not h["gbp"]]
                if cand:
                    break
                left = end - time.monotonic()
                if left <= 0:
                    return None, "nothing is held: no transition can happen while paused"
                self.cv.wait(min(left, 0.05))
            t = cand[0]
            self.passed.clear()
            self.release_upto = t  # every older ticket has passed already
            self.cv.notify_all()
            while t not in self.passed:
                left = end - time.monotonic()
                if left <= 0:
                    return None, "the released transition did not complete"
                self.cv.wait(min(left, 0.05))
            return self.passed.pop(t), "ok"

    def add_breakpoint(self, spec: dict) -> Breakpoint:
        bp = Breakpoint(next(self.bp_ids), spec)
        self.bps[bp.id] = bp
        return bp


def preempt_running() -> int:
    """Ask every running G to yield at its next safe point (sysmon's request); return how
    many were asked."""
    n = 0
    now = time.perf_counter_ns()
    for p in list(proc.sched.allp):
        m = p.m
        if m is None:
            continue
        g = m.curg
        if g is not None and g._status == Grunning:
            try:
                if proc.preemptone(p, now):
                    n += 1
            except Exception:
                pass
    return n


def pause_report(gate: Gate) -> dict:
    """What pause reached: Ps parked (held at the gate, or idle with nothing to run), Ms in
    syscalls (their calls run on; completions are held)."""
    held_ps = {h["p"] for h in gate.held_list() if h["p"] is not None}
    parked = 0
    for p in list(proc.sched.allp):
        if p.id in held_ps or p.dead:
            parked += 1
            continue
        m = p.m
        busy = m is not None and m.curg is not None and m.curg._status == Grunning
        if p.idle and not busy:
            parked += 1
    in_sys = sum(1 for v in dict(proc._syscalls.busy).values() if v is not None)
    return {"paused": True, "ps_parked": parked, "ps_total": len(proc.sched.allp),
            "ms_in_syscall": in_sys, "held": len(held_ps)}
