"""Trace records → Chrome Trace Event JSON (the layout is described in trace.py).

A record is ``(name, ts_ns, goid, pid, x)`` (see ``trace._XKEYS`` for ``x``).  The
:class:`Converter` replays records in time order through a small model of the
scheduler — each G's state and since-when, each P's current run and queue length — and
writes one JSON event per line:

* a G run becomes an ``X`` slice on its P's track (and a copy on its M's track) when it
  ends, so its duration, its end reason and the runnable→running latency that preceded
  it (``wait_ns``) are all known;
* a wake-up becomes a short nested ``GoUnblock`` slice inside the waker's run plus a
  ``s``/``f`` flow pair, written when the wakee next starts (the ``f`` sits exactly on
  the wakee's slice start, which is what Perfetto binds reliably);
* counters are written when a value changes;
* every Go tracer event also appears under its Go name as a thread-scoped instant
  (``"ph":"i","s":"t"``, category ``sched``): ``GoStart`` at the start of each run slice
  (exactly one per slice; ``inferred`` when the run began before the window), ``GoBlock``
  (with the wait reason), ``GoStop``, ``GoDestroy`` and ``GoSyscallBegin`` where the run
  ends, ``GoSyscallEnd`` on the syscall M's track, ``ProcSteal`` where sysmon takes a
  blocked M's unstarted Gs (see :meth:`Converter._blocked_m`).  ``GoCreate`` and
  ``GoUnblock`` are the nested slices above.  An instant that shares its timestamp
  with a flow end must come after it in the file (Perfetto binds a flow to the topmost
  slice open on the track, and a 0-length instant counts), so ``GoStart`` is written
  with its run's slice, after the run's ``f``.

The converter also adds up, per start function, the time its goroutines spent in each
state (running, runnable, waiting by reason, syscall); that table goes to
``otherData.functions`` and ``pyruntime report`` prints it.

Records from different Ms reach the buffer slightly out of order (a timestamp is taken,
then the append happens), so the spool is merged through a 200 ms reorder window, and the
model tolerates the leftovers (a ``GoStart`` seen before its ``GoUnblock``).
"""

from __future__ import annotations

import functools
import json
import marshal
import os
from operator import itemgetter
from typing import Any, Iterable

__all__ = ["Converter", "convert_records", "convert_spool", "fn_name", "TraceFormatError", "FORMAT_VERSION"]

FORMAT_VERSION = 1
PID_PROCS, PID_STATS, PID_THREADS = 1, 2, 3
TID_STW, TID_GC, TID_OUTSIDE = 101, 102, 103  # never equal to a pid
TID_P0, TID_M0, TID_SYSMON, TID_SM0 = 1000, 2000, 2999, 3000
MINI_NS = 100                 # nested GoUnblock/GoCreate slices last at most 100 ns
REORDER_NS = 200_000_000      # spool merge window

RUNNING, RUNNABLE, WAITING, SYSCALL = "Running", "Runnable", "Waiting", "Syscall"
_STATES = (RUNNING, RUNNABLE, WAITING, SYSCALL)


class TraceFormatError(ValueError):
    """A spool or trace file that is not what pyruntime writes."""


# --------------------------------------------------------------------------- names

def fn_name(fn: Any) -> str:
    """``module:qualname`` of a goroutine's start function (``main`` for ``__main__``)."""
    if fn is None:
        return "?"
    if isinstance(fn, str):
        return fn
    f = fn
    for _ in range(16):  # partials, and wrappers that name what they wrap (WaitGroup.go)
        if isinstance(f, functools.partial):
            f = f.func
        elif callable(getattr(f, "__wrapped__", None)):
            f = f.__wrapped__
        else:
            break
    f = getattr(f, "__func__", f)  # bound methods
    qn = getattr(f, "__qualname__", None)
    if not isinstance(qn, str):
        qn = getattr(f, "__name__", None)
    if not isinstance(qn, str):
        qn = type(f).__qualname__
    mod = getattr(f, "__module__", None)
    if not isinstance(mod, str):
        mod = type(f).__module__
    if mod == "__main__":
        mod = "main"
    if mod in ("builtins", ""):
        return qn
    return f"{mod}:{qn}"


def display_name(name: str) -> str:
    """``module:qualname`` → ``module.qualname`` (Go's ``main.worker``)."""
    return name.replace(":", ".", 1)


def short_name(name: str) -> str:
    """``module:qualname`` → ``qualname``."""
    return name.split(":", 1)[1] if ":" in name else name


_jcache: dict[Any, str] = {}


def _js(s: Any) -> str:
    """JSON text of ``s`` (cached: reasons and names repeat)."""
    try:
        r = _jcache.get(s)
    except TypeError:
        return json.dumps(s, default=repr)
    if r is None:
        r = json.dumps(s, default=repr)
        if len(_jcache) < 100_000:
            _jcache[s] = r
    return r


def _us(ns: int) -> str:
    """Nanoseconds → microseconds as exact decimal text."""
    if ns < 0:
        return "-" + _us(-ns)
    return f"{ns // 1000}.{ns % 1000:03d}"


# --------------------------------------------------------------------------- model

class _G:
    __slots__ = ("goid", "fn", "label", "st", "since", "reason", "q", "rs", "frm", "prev_ns", "p",
                 "flows", "sm", "sys_start", "run", "rbl", "sysc", "wait", "runs", "uq")

    def __init__(self, goid: int, fn: str) -> None:
        self.goid = goid
        self.fn = fn
        self.label = _js(f"G{goid} {short_name(fn)}")
        self.st: str | None = None
        self.since = 0
        self.reason = ""
        self.q = -1          # queue while runnable: a P id, or -1 (global)
        self.rs: int | None = None  # runnable since (None: before the window)
        self.frm = ""        # what made it runnable: create, yield, preempted, a wait reason, syscall
        self.prev_ns: int | None = None  # how long it was in that state
        self.p = -1          # P it last ran on
        self.flows: list[tuple[str, int, str]] = []  # pending flow starts, written when it next runs
        self.sm = -1
        self.sys_start: int | None = None
        self.run = 0
        self.rbl = 0
        self.sysc = 0
        self.wait: dict[str, int] = {}
        self.runs = 0
        self.uq = -1         # P whose queue holds it while it has never run (a movable G), or -1


class _P:
    __slots__ = ("id", "tid", "cur", "start", "m", "wait_ns", "frm", "prev_ns", "minis", "rq", "blocked", "last_end",
                 "real", "unstarted")

    def __init__(self, pid: int) -> None:
        self.id = pid
        self.tid = TID_P0 + pid
        self.cur: _G | None = None
        self.start = 0
        self.m = pid
        self.wait_ns: int | None = None
        self.frm = ""
        self.prev_ns: int | None = None
        self.minis: list[tuple[int, str, str]] = []  # (ts, name json, args json) nested in the run
        self.rq = 0
        self.blocked: tuple[int, Any] | None = None
        self.last_end = 0
        self.real = True     # the current run began with a GoStart record (not a GoStatus / inference)
        self.unstarted: dict[int, _G] = {}  # never-run Gs queued here, oldest first (what can move)


class Converter:
    """Feed records in time order with :meth:`feed`, then :meth:`finish`."""

    def __init__(self, out: Any, t_start: int | None = None) -> None:
        self.out = out                      # file-like, text
        self.buf: list[str] = []
        self.w = self.buf.append
        self.first = True
        self.gs: dict[int, _G] = {}
        self.ps: dict[int, _P] = {}
        self.names: dict[int, str] = {}
        self.counts = dict.fromkeys(_STATES, 0)
        self.last_counts: tuple = ()
        self.last_threads: tuple = ()
        self.dirty = False
        self.rq_dirty: set[int] = set()
        self.grq = 0
        self.last_rq: dict[int, int] = {}
        self.flow_id = 0
        self.t_start = t_start
        self.t_last = t_start or 0
        self.cts = t_start or 0             # the time the pending counter values belong to
        self.seen_tids: set[tuple[int, int]] = set()
        self.sms: dict[Any, int] = {}
        self.sm_end: dict[int, int] = {}
        self.stw: tuple | None = None
        self.gc: tuple | None = None
        self.fnstats: dict[str, list] = {}
        self.stats = {"records": 0, "runs": 0, "wakeups": 0, "creates": 0, "steals": 0, "stolen": 0,
                      "preemptions": 0, "stw": 0, "gc": 0, "syscalls": 0, "blocked_m": 0, "logs": 0, "handoffs": 0,
                      "procstarts": 0, "procsteals": 0}
        self.meta: dict[str, Any] = {}
        self.gomaxprocs: int | None = None
        self.h = {
            "GoCreate": self._go_create, "GoStart": self._go_start, "GoBlock": self._go_block,
            "GoStop": self._go_stop, "GoUnblock": self._go_unblock, "GoDestroy": self._go_destroy,
            "GoSyscallBegin": self._syscall_begin, "GoSyscallEnd": self._syscall_end,
            "ProcStart": self._proc_start, "ProcStop": self._proc_stop, "ProcStatus": self._proc_status,
            "ProcsChange": self._procs_change, "Steal": self._steal, "Handoff": self._handoff, "Preempt": self._preempt,
            "BlockedM": self._blocked_m, "ProcSteal": self._proc_steal, "STWBegin": self._stw_begin, "STWEnd": self._stw_end,
            "GCBegin": self._gc_begin, "GCEnd": self._gc_end, "GoStatus": self._go_status,
            "TraceStart": self._trace_start, "TraceWindow": self._trace_window, "UserLog": self._user_log,
        }
        self._header()

    # -- output ---------------------------------------------------------------------

    def _flush(self) -> None:
        if self.buf:
            sep = ",\n"
            text = sep.join(self.buf)
            if not self.first:
                text = sep + text
            self.first = False
            self.out.write(text)
            self.buf.clear()

    def _header(self) -> None:
        self.out.write('{"traceEvents":[\n')
        for pid, name in ((PID_PROCS, "PROCS"), (PID_STATS, "STATS"), (PID_THREADS, "THREADS")):
            self.w(f'{{"ph":"M","name":"process_name","pid":{pid},"args":{{"name":"{name}"}}}}')
            self.w(f'{{"ph":"M","name":"process_sort_index","pid":{pid},"args":{{"sort_index":{pid}}}}}')
        for tid, name in ((TID_STW, "STW"), (TID_GC, "GC"), (TID_OUTSIDE, "timers & outside")):
            self._thread(PID_PROCS, tid, name, tid)
        self._thread(PID_THREADS, TID_SYSMON, "sysmon", 0)

    def _thread(self, pid: int, tid: int, name: str, sort: int) -> None:
        if (pid, tid) in self.seen_tids:
            return
        self.seen_tids.add((pid, tid))
        self.w(f'{{"ph":"M","name":"thread_name","pid":{pid},"tid":{tid},"args":{{"name":{_js(name)}}}}}')
        self.w(f'{{"ph":"M","name":"thread_sort_index","pid":{pid},"tid":{tid},"args":{{"sort_index":{sort}}}}}')

    def _instant(self, pid: int, tid: int, ts: int, name: str, args: dict | None = None, cat: str = "sched") -> None:
        a = "" if not args else f',"args":{json.dumps(args, default=repr)}'
        self.w(f'{{"ph":"i","s":"t","cat":"{cat}","name":{_js(name)},"pid":{pid},"tid":{tid},"ts":{_us(ts)}{a}}}')

    def _go_instant(self, tid: int, ts: int, name: str, goid: int, extra: str = "", pid: int = PID_PROCS) -> None:
        """A Go tracer event as a thread-scoped instant, args ``{"goid": ...}`` (+ ``extra``)."""
        self.w(f'{{"ph":"i","s":"t","cat":"sched","name":"{name}","pid":{pid},"tid":{tid},"ts":{_us(ts)},'
               f'"args":{{"goid":{goid}{extra}}}}}')

    def _slice(self, pid: int, tid: int, ts: int, dur: int, name_js: str, cat: str, args: str = "") -> None:
        self.w(f'{{"ph":"X","cat":"{cat}","name":{name_js},"pid":{pid},"tid":{tid},"ts":{_us(ts)},'
               f'"dur":{_us(max(dur, 1))}{args}}}')

    def _ptrack(self, pid: int) -> _P:
        p = self.ps.get(pid)
        if p is None:
            p = self.ps[pid] = _P(pid)
            p.last_end = self.t_start or self.t_last
            self._thread(PID_PROCS, p.tid, f"P{pid}", 10 + pid)
        return p

    def _mtid(self, m: int, pid: int) -> int:
        tid = TID_M0 + m
        if (PID_THREADS, tid) not in self.seen_tids:
            self._thread(PID_THREADS, tid, f"M{m} (P{pid})", 10 + m)
        return tid

    # -- model helpers --------------------------------------------------------------

    def _g(self, goid: int) -> _G:
        g = self.gs.get(goid)
        if g is None:
            g = self.gs[goid] = _G(goid, self.names.get(goid) or ("main" if goid == 1 else "?"))
        return g

    def _enter(self, g: _G, st: str | None, ts: int, reason: str = "") -> None:
        old = g.st
        if old is not None:
            d = ts - g.since
            if d > 0:
                if old is RUNNING:
                    g.run += d
                elif old is RUNNABLE:
                    g.rbl += d
                elif old is SYSCALL:
                    g.sysc += d
                else:
                    g.wait[g.reason] = g.wait.get(g.reason, 0) + d
            self.counts[old] -= 1
        g.st = st
        g.since = ts
        g.reason = reason
        if st is not None:
            self.counts[st] += 1
        self.dirty = True

    def _infer(self, g: _G, st: str, p: int, reason: str = "") -> None:
        """First sight of a G with no status record: it was in ``st`` since the window
        opened (only happens for events that raced with trace.start)."""
        base = self.t_start if self.t_start is not None else self.t_last
        if st is RUNNING:
            pp = self._ptrack(p)
            base = max(base, pp.last_end)
            if pp.cur is None:
                pp.cur = g
                pp.start = base
                pp.wait_ns = None
                pp.frm = ""
                pp.prev_ns = None
                pp.real = False
            g.p = p
        elif st is RUNNABLE:
            g.q = p
            self._rq(p, 1)
        self._enter(g, st, base, reason)

    def _rq(self, p: int, d: int) -> None:
        if p < 0:
            self.grq = max(0, self.grq + d)
            self.rq_dirty.add(-1)
        else:
            pp = self._ptrack(p)
            pp.rq = max(0, pp.rq + d)
            self.rq_dirty.add(p)

    def _account(self, g: _G) -> None:
        s = self.fnstats.get(g.fn)
        if s is None:
            s = self.fnstats[g.fn] = [0, 0, 0, 0, {}, 0]
        s[0] += 1
        s[1] += g.run
        s[2] += g.rbl
        s[3] += g.sysc
        w = s[4]
        for k, v in g.wait.items():
            w[k] = w.get(k, 0) + v
        s[5] += g.runs

    def _counters(self, ts: int) -> None:
        if self.dirty:
            self.dirty = False
            c = self.counts
            key = (c[RUNNING], c[RUNNABLE], c[WAITING], c[SYSCALL])
            if key != self.last_counts:
                self.last_counts = key
                t = _us(ts)
                self.w(f'{{"ph":"C","name":"Goroutines","pid":{PID_STATS},"ts":{t},"args":{{"Running":{key[0]},'
                       f'"Runnable":{key[1]},"Waiting":{key[2]},"Syscall":{key[3]}}}}}')
                th = (key[0], key[3])  # an M runs each running G; a syscall M each syscall
                if th != self.last_threads:
                    self.last_threads = th
                    self.w(f'{{"ph":"C","name":"Threads","pid":{PID_STATS},"ts":{t},"args":{{"Running":{th[0]},'
                           f'"InSyscall":{th[1]}}}}}')
        if self.rq_dirty:
            t = _us(ts)
            for p in self.rq_dirty:
                n = self.grq if p < 0 else self.ps[p].rq
                if self.last_rq.get(p) != n:
                    self.last_rq[p] = n
                    name = "runq global" if p < 0 else f"runq P{p}"
                    self.w(f'{{"ph":"C","name":"{name}","pid":{PID_STATS},"ts":{t},"args":{{"len":{n}}}}}')
            self.rq_dirty.clear()

    def _open(self, pp: _P, g: _G, ts: int, m: int, wait_ns: int | None, frm: str, prev_ns: int | None,
              real: bool = True) -> None:
        pp.cur = g
        pp.real = real
        pp.start = ts
        pp.m = m
        pp.wait_ns = wait_ns
        pp.frm = frm
        pp.prev_ns = prev_ns
        pp.blocked = None
        g.p = pp.id

    def _close(self, pp: _P, ts: int, end: str, end_ev: str = "") -> None:
        """Write the run that ends on ``pp`` at ``ts``."""
        g = pp.cur
        if g is None:
            return
        pp.cur = None
        start = pp.start
        if ts < start:
            ts = start
        dur = ts - start
        pp.last_end = ts
        g.runs += 1
        self.stats["runs"] += 1
        extra = ""
        if pp.wait_ns is not None:
            extra += f',"wait_ns":{pp.wait_ns}'
        if pp.frm:
            extra += f',"from":{_js(pp.frm)}'
        if pp.prev_ns is not None:
            extra += f',"prev_ns":{pp.prev_ns}'
        if end_ev:
            extra += f',"end_ev":"{end_ev}"'
        self._slice(PID_PROCS, pp.tid, start, dur, g.label, "g",
                    f',"args":{{"goid":{g.goid},"fn":{_js(display_name(g.fn))},"m":{pp.m},"end":{_js(end)}{extra}}}')
        mtid = self._mtid(pp.m, pp.id)
        self._slice(PID_THREADS, mtid, start, dur, g.label, "g")
        if pp.blocked is not None:
            bts, stack = pp.blocked
            bts = max(bts, start)
            self._slice(PID_THREADS, mtid, bts, ts - bts, '"blocked M"', "blocked",
                        f',"args":{{"goid":{g.goid},"stack":{json.dumps(stack, default=repr)}}}')
            pp.blocked = None
        if pp.minis:
            minis = sorted(pp.minis, key=itemgetter(0))
            pp.minis = []
            for i, (mts, name_js, args) in enumerate(minis):
                mts = min(max(mts, start), ts)
                nxt = minis[i + 1][0] if i + 1 < len(minis) else ts
                mend = min(mts + MINI_NS, max(nxt, mts), ts - 1)  # strictly inside the run
                if mend <= mts:
                    continue  # no room left inside the run: keep the nesting proper
                self._slice(PID_PROCS, pp.tid, mts, mend - mts, name_js, "wake", args)
        # Go's GoStart, one per run slice, on the slice's first instant.  Written here,
        # after the slice and after the run's flow end (written when the run began, or
        # when a crossed wake-up arrived), so that Perfetto still binds the flow to the
        # slice and not to this 0-length instant.
        a = f'"goid":{g.goid},"m":{pp.m}'
        if pp.wait_ns is not None:
            a += f',"wait_ns":{pp.wait_ns}'
        if not pp.real:
            a += ',"inferred":true'  # the run began before the window: Go writes a GoStatus
        self.w(f'{{"ph":"i","s":"t","cat":"sched","name":"GoStart","pid":{PID_PROCS},"tid":{pp.tid},'
               f'"ts":{_us(start)},"args":{{{a}}}}}')

    def _waker(self, by: int, ts: int, name_js: str, args: str, flow_cat: str, wakee: _G,
               alt_tid: tuple[int, int] | None = None) -> None:
        """A nested slice in the waker's run and a flow to the wakee's next run."""
        self.flow_id += 1
        fid = self.flow_id
        wg = self.gs.get(by) if by else None
        if wg is not None and wg.st is RUNNING and self.ps.get(wg.p) is not None and self.ps[wg.p].cur is wg:
            pp = self.ps[wg.p]
            pp.minis.append((ts, name_js, args))
            pid, tid = PID_PROCS, pp.tid
            sts = max(ts, pp.start)
        else:
            pid, tid = alt_tid or (PID_PROCS, TID_OUTSIDE)
            self._slice(pid, tid, ts, 1, name_js, "wake", args)
            sts = ts
        wakee.flows.append((flow_cat, fid, f'{{"ph":"s","cat":"{flow_cat}","name":"{flow_cat}","id":{fid},'
                                           f'"pid":{pid},"tid":{tid},"ts":{_us(sts)}}}'))
        if wakee.st is RUNNING and wakee.p in self.ps and self.ps[wakee.p].cur is wakee:
            # A wake-up recorded after the wakee already started (records from two Ms
            # crossed): bind the arrow to the run in progress.
            self._flows_to(wakee, self.ps[wakee.p], self.ps[wakee.p].start)

    def _flows_to(self, g: _G, pp: _P, ts: int) -> None:
        for cat, fid, s in g.flows:
            self.w(s)
            self.w(f'{{"ph":"f","bp":"e","cat":"{cat}","name":"{cat}","id":{fid},"pid":{PID_PROCS},'
                   f'"tid":{pp.tid},"ts":{_us(ts)}}}')
        g.flows.clear()

    # -- feeding ----------------------------------------------------------------------

    def feed(self, rec: Any) -> None:
        try:
            name, ts, goid, pid, x = rec
        except (TypeError, ValueError):
            raise TraceFormatError(f"not a trace record: {rec!r}") from None
        if not isinstance(ts, int):
            raise TraceFormatError(f"not a trace record (timestamp {ts!r}): {rec!r}")
        if self.t_start is None:
            self.t_start = ts
        if ts > self.t_last:
            self.t_last = ts
        if ts != self.cts:
            # Counters change once per instant: what several records at one time did.
            if self.dirty or self.rq_dirty:
                self._counters(self.cts)
            self.cts = ts
        self.stats["records"] += 1
        h = self.h.get(name)
        if h is None:
            self._unknown(name, ts, goid, pid, x)
        else:
            h(ts, goid, pid, x)
        if len(self.buf) >= 8192:
            self._flush()

    def _trace_start(self, ts: int, goid: int, pid: int, x: Any) -> None:
        self.meta["pid"], self.meta["max_events"] = (x or (None, None))[:2]
        self.meta["window_complete"] = True

    def _trace_window(self, ts: int, goid: int, pid: int, x: Any) -> None:
        self.meta["window_complete"] = False

    def _go_status(self, ts: int, goid: int, pid: int, x: Any) -> None:
        st, reason, name, m = x
        if name and name != "?":
            self.names[goid] = name
        if goid in self.gs:
            g = self.gs[goid]
            if g.fn in ("?", "main") and name:
                g.fn = name
                g.label = _js(f"G{goid} {short_name(name)}")
            return
        g = self._g(goid)
        if st == "running":
            pp = self._ptrack(pid)
            if pp.cur is not None and pp.cur is not g:
                self._close(pp, ts, "?")
            self._open(pp, g, ts, m if m is not None else pid, None, "", None, False)
            self._enter(g, RUNNING, ts)
        elif st == "runnable":
            g.q = pid
            g.rs = None
            self._rq(pid, 1)
            self._enter(g, RUNNABLE, ts)
        elif st == "syscall":
            g.sys_start = ts
            self._enter(g, SYSCALL, ts, "syscall")
        else:
            self._enter(g, WAITING, ts, reason or "?")

    def _go_create(self, ts: int, goid: int, pid: int, x: Any) -> None:
        if isinstance(x, (tuple, list)):
            by, fn = (list(x) + [None, None])[:2]
        else:
            by, fn = x, None
        name = fn_name(fn) if fn is not None else self.names.get(goid, "?")
        self.names[goid] = name
        old = self.gs.get(goid)
        if old is not None and old.st is not None:  # a goid seen again: a new runtime
            self._enter(old, None, ts)
            self._account(old)
        g = self.gs[goid] = _G(goid, name)
        g.q = pid
        g.rs = ts
        g.frm = "create"
        g.prev_ns = None
        self._rq(pid, 1)
        if pid >= 0:
            g.uq = pid
            self._ptrack(pid).unstarted[goid] = g
        self._enter(g, RUNNABLE, ts)
        self.stats["creates"] += 1
        self._waker(by or 0, ts, '"GoCreate"', f',"args":{{"g":{goid},"by":{by or 0}}}', "create", g)

    def _go_start(self, ts: int, goid: int, pid: int, m: Any) -> None:
        g = self._g(goid)
        pp = self._ptrack(pid)
        m = m if isinstance(m, int) else pid
        if g.st is None:
            self._infer(g, RUNNABLE, pid)
        if g.st is RUNNING:
            op = self.ps.get(g.p)
            if op is not None and op.cur is g:
                if op is pp:
                    return  # duplicate start
                self._close(op, ts, "?")
        if pp.cur is not None:
            self._close(pp, ts, "?")
        wait: int | None = None
        frm, prev = g.frm, g.prev_ns
        if g.st is RUNNABLE:
            if g.rs is not None:
                wait = max(0, ts - g.rs)
            q = g.q
            if q == pid or q < 0:
                self._rq(q, -1)
            elif pp.rq > 0:  # it was stolen: the Steal moved the count here
                self._rq(pid, -1)
            else:
                self._rq(q, -1)
        elif g.st is WAITING or g.st is SYSCALL:
            # Its wake-up is recorded after this start (two Ms' records crossed).
            frm = "syscall" if g.st is SYSCALL else g.reason
            prev = ts - g.since
            wait = 0
        g.rs = None
        g.frm = ""
        g.prev_ns = None
        if g.uq >= 0:
            self._started(g)
        self._enter(g, RUNNING, ts)
        self._open(pp, g, ts, m, wait, frm, prev)
        if g.flows:
            self._flows_to(g, pp, ts)

    def _started(self, g: _G) -> None:
        """``g`` ran: it is bound to a P from now on and can no longer move."""
        up = self.ps.get(g.uq)
        if up is not None:
            up.unstarted.pop(g.goid, None)
        g.uq = -1

    def _running(self, g: _G, pid: int) -> _P:
        """The P ``g`` runs on, inferring that it ran since the window opened if unseen."""
        if g.st is None:
            self._infer(g, RUNNING, pid)
        pp = self.ps.get(g.p) if g.st is RUNNING else None
        if pp is None or pp.cur is not g:
            pp = self._ptrack(pid)
        return pp

    def _stop_running(self, ts: int, goid: int, pid: int, end: str, ev: str) -> _G:
        g = self._g(goid)
        pp = self._running(g, pid)
        if pp.cur is g:
            self._close(pp, ts, end, ev)
        return g

    def _go_block(self, ts: int, goid: int, pid: int, reason: Any) -> None:
        reason = reason if isinstance(reason, str) else str(reason)
        g = self._stop_running(ts, goid, pid, reason, "GoBlock")
        self._go_instant(self._ptrack(pid).tid, ts, "GoBlock", goid, f',"reason":{_js(reason)}')
        self._enter(g, WAITING, ts, reason)

    def _go_stop(self, ts: int, goid: int, pid: int, reason: Any) -> None:
        reason = reason if isinstance(reason, str) else str(reason)
        g = self._stop_running(ts, goid, pid, reason, "GoStop")
        self._go_instant(self._ptrack(pid).tid, ts, "GoStop", goid, f',"g":{goid},"reason":{_js(reason)}')
        g.q = pid
        g.rs = ts
        g.frm = reason
        g.prev_ns = None
        self._rq(pid, 1)
        self._enter(g, RUNNABLE, ts)

    def _go_unblock(self, ts: int, goid: int, pid: int, by: Any) -> None:
        g = self._g(goid)
        by = by if isinstance(by, int) else 0
        if g.st is None:
            self._infer(g, WAITING, pid, "?")
        from_syscall = g.st is SYSCALL
        if g.st is WAITING or g.st is SYSCALL:
            g.frm = "syscall" if from_syscall else g.reason
            g.prev_ns = ts - g.since
            g.q = pid
            g.rs = ts
            self._rq(pid, 1)
            self._enter(g, RUNNABLE, ts)
        self.stats["wakeups"] += 1
        alt = None
        if from_syscall and g.sm >= 0 and not by:
            alt = (PID_THREADS, TID_SM0 + g.sm)
        self._waker(by, ts, '"GoUnblock"', f',"args":{{"g":{goid},"by":{by}}}', "wake", g, alt)

    def _go_destroy(self, ts: int, goid: int, pid: int, x: Any) -> None:
        g = self._stop_running(ts, goid, pid, "exit", "GoDestroy")
        self._go_instant(self._ptrack(pid).tid, ts, "GoDestroy", goid)
        self._enter(g, None, ts)
        self._account(g)
        self.gs.pop(goid, None)

    def _syscall_begin(self, ts: int, goid: int, pid: int, x: Any) -> None:
        g = self._stop_running(ts, goid, pid, "syscall", "GoSyscallBegin")
        self._go_instant(self._ptrack(pid).tid, ts, "GoSyscallBegin", goid)
        g.sys_start = ts
        self._enter(g, SYSCALL, ts, "syscall")

    def _syscall_end(self, ts: int, goid: int, pid: int, x: Any) -> None:
        g = self._g(goid)
        if g.st is None:
            self._infer(g, SYSCALL, pid, "syscall")
        start = g.sys_start
        key = x
        if isinstance(x, (tuple, list)) and len(x) == 2:
            key, st = x
            if isinstance(st, int):
                start = st
        if not isinstance(key, (int, str)):
            key = repr(key)
        k = self.sms.get(key)
        if k is None:
            k = self.sms[key] = len(self.sms)
            self._thread(PID_THREADS, TID_SM0 + k, f"syscall M{k}", 1000 + k)
        g.sm = k
        self.stats["syscalls"] += 1
        if start is None:
            start = self.t_start or ts
        # Without the call's own start time, the span begins when the G asked; a request
        # that queued behind another one on this M starts when that one ended.
        start = min(max(start, self.sm_end.get(k, start)), ts)
        self.sm_end[k] = ts
        self._slice(PID_THREADS, TID_SM0 + k, start, ts - start, _js(f"G{goid} syscall"), "syscall",
                    f',"args":{{"goid":{goid},"fn":{_js(display_name(g.fn))},"p":{pid}}}')
        # where the syscall M finished the call (the span's end), after the span
        self._go_instant(TID_SM0 + k, ts, "GoSyscallEnd", goid, f',"p":{pid}', PID_THREADS)
        g.sys_start = None

    def _proc_status(self, ts: int, goid: int, pid: int, m: Any) -> None:
        pp = self._ptrack(pid)
        if isinstance(m, int):
            pp.m = m
            self._mtid(m, pid)

    def _proc_start(self, ts: int, goid: int, pid: int, m: Any) -> None:
        pp = self._ptrack(pid)
        m = m if isinstance(m, int) else pid
        pp.m = m
        self.stats["procstarts"] += 1
        self._instant(PID_PROCS, pp.tid, ts, "ProcStart", {"p": pid, "m": m})
        self._instant(PID_THREADS, self._mtid(m, pid), ts, "ProcStart", {"p": pid, "m": m})

    def _proc_stop(self, ts: int, goid: int, pid: int, m: Any) -> None:
        pp = self._ptrack(pid)
        if pp.cur is not None:
            self._close(pp, ts, "ProcStop")
        m = m if isinstance(m, int) else pp.m
        self._instant(PID_PROCS, pp.tid, ts, "ProcStop", {"p": pid, "m": m})
        self._instant(PID_THREADS, self._mtid(m, pid), ts, "ProcStop", {"p": pid, "m": m})
        if pid == 0 and m == 0:
            self._runtime_end(ts)

    def _runtime_end(self, ts: int) -> None:
        """The runtime shut down: its goroutines are abandoned (Go's exit)."""
        for pp in self.ps.values():
            if pp.cur is not None:
                self._close(pp, ts, "exit")
            pp.rq = 0
            pp.unstarted.clear()
            self.rq_dirty.add(pp.id)
        self.grq = 0
        self.rq_dirty.add(-1)
        for g in list(self.gs.values()):
            self._enter(g, None, ts)
            self._account(g)
        self.gs.clear()
        self.names.clear()

    def _procs_change(self, ts: int, goid: int, pid: int, x: Any) -> None:
        old, new = (list(x) + [None, None])[:2] if isinstance(x, (tuple, list)) else (None, x)
        if isinstance(new, int):
            self.gomaxprocs = new
            self.w(f'{{"ph":"C","name":"GOMAXPROCS","pid":{PID_STATS},"ts":{_us(ts)},"args":{{"procs":{new}}}}}')
        if old != new:
            self._instant(PID_PROCS, TID_STW, ts, f"GOMAXPROCS {old} → {new}", {"old": old, "new": new})

    def _steal(self, ts: int, goid: int, pid: int, x: Any) -> None:
        victim, n = (list(x) + [None, None])[:2] if isinstance(x, (tuple, list)) else (x, 1)
        n = n if isinstance(n, int) else 1
        self.stats["steals"] += 1
        self.stats["stolen"] += n
        if isinstance(victim, int):
            self._rq(victim, -n)
            vp = self.ps.get(victim)
            if vp is not None and vp.unstarted and pid >= 0:
                # only never-run Gs are stolen (SPEC 1.1): the oldest ones, as runqsteal takes
                tp = self._ptrack(pid)
                for goid in list(vp.unstarted)[:n]:
                    sg = vp.unstarted.pop(goid)
                    sg.uq = pid
                    tp.unstarted[goid] = sg
        self._rq(pid, n)
        self._instant(PID_PROCS, self._ptrack(pid).tid, ts, "Steal", {"p": pid, "victim": victim, "n": n})

    def _handoff(self, ts: int, goid: int, pid: int, x: Any) -> None:
        """``go()`` placed the never-run ``goid`` on idle P ``pid`` (from P ``x``'s runnext)."""
        self.stats["handoffs"] += 1
        g = self.gs.get(goid)
        src = x if isinstance(x, int) else None
        if g is not None and g.st is RUNNABLE and g.uq >= 0:
            self._rq(g.q, -1)
            up = self.ps.get(g.uq)
            if up is not None:
                up.unstarted.pop(goid, None)
            g.q = g.uq = pid
            self._ptrack(pid).unstarted[goid] = g
            self._rq(pid, 1)
        self._instant(PID_PROCS, self._ptrack(pid).tid, ts, "Handoff", {"g": goid, "p": pid, "from": src})

    def _preempt(self, ts: int, goid: int, pid: int, x: Any) -> None:
        self.stats["preemptions"] += 1
        args = {"g": goid, "p": pid}
        self._instant(PID_PROCS, self._ptrack(pid).tid, ts, "Preempt", args)
        self._instant(PID_THREADS, TID_SYSMON, ts, "Preempt", args)

    def _blocked_m(self, ts: int, goid: int, pid: int, x: Any) -> None:
        m, stack = (list(x) + [None, None])[:2] if isinstance(x, (tuple, list)) else (x, None)
        self.stats["blocked_m"] += 1
        pp = self._ptrack(pid)
        g = self.gs.get(goid)
        if g is not None and pp.cur is g:
            pp.blocked = (ts, stack)
        args = {"g": goid, "p": pid, "m": m, "stack": stack}
        self._instant(PID_THREADS, TID_SYSMON, ts, "BlockedM", args)
        self._instant(PID_PROCS, pp.tid, ts, "BlockedM", args)
        # sysmon's retake.  Go's ProcSteal: sysmon takes the P of an M stuck in a syscall
        # and hands it off.  pyruntime's P cannot leave its M (its started Gs are greenlets
        # bound to that thread, SPEC 1.1); what sysmon takes, right after it records
        # BlockedM and every time it does, is the P's movable work: its never-run Gs go to
        # the global queue (proc.handoff_unstarted).  The core records no event of its own
        # for that hand-off, so the count here is this model's: the never-run Gs it has
        # queued on the P.
        moved = list(pp.unstarted.values())
        pp.unstarted.clear()
        for mg in moved:  # each is counted in this P's queue (created or stolen here)
            mg.uq = -1
            if mg.st is RUNNABLE:
                mg.q = -1
                self._rq(pid, -1)
                self._rq(-1, 1)
        self._proc_steal(ts, goid, pid, m, len(moved))

    def _proc_steal(self, ts: int, goid: int, pid: int, m: Any, moved: int | None = None) -> None:
        self.stats["procsteals"] += 1
        pp = self._ptrack(pid)
        a = {"p": pid, "m": m if isinstance(m, int) else None}
        if moved is not None:
            a.update({"g": goid, "moved_gs": moved, "from": "BlockedM", "p_stays_on_m": True})
        self._instant(PID_PROCS, pp.tid, ts, "ProcSteal", a)

    def _stw_begin(self, ts: int, goid: int, pid: int, reason: Any) -> None:
        self.stw = (ts, reason, goid, pid)
        self._instant(PID_PROCS, TID_STW, ts, "STWBegin", {"reason": reason, "g": goid, "p": pid}, "stw")

    def _stw_end(self, ts: int, goid: int, pid: int, x: Any) -> None:
        b = self.stw or (self.t_start or ts, "?", goid, pid)
        self.stw = None
        self.stats["stw"] += 1
        self._instant(PID_PROCS, TID_STW, ts, "STWEnd", {"reason": b[1], "g": goid, "p": pid}, "stw")
        self._slice(PID_PROCS, TID_STW, b[0], ts - b[0], _js(f"STW ({b[1]})"), "stw",
                    f',"args":{{"reason":{_js(b[1])},"g":{b[2]},"p":{b[3]}}}')

    def _gc_begin(self, ts: int, goid: int, pid: int, gen: Any) -> None:
        self.gc = (ts, gen, goid)
        self._instant(PID_PROCS, TID_GC, ts, "GCBegin", {"gen": gen, "g": goid}, "gc")

    def _gc_end(self, ts: int, goid: int, pid: int, x: Any) -> None:
        gen, collected = (list(x) + [None, None])[:2] if isinstance(x, (tuple, list)) else (x, None)
        b = self.gc or (self.t_start or ts, gen, goid)
        self.gc = None
        self.stats["gc"] += 1
        self._instant(PID_PROCS, TID_GC, ts, "GCEnd", {"gen": gen, "g": goid, "collected": collected}, "gc")
        self._slice(PID_PROCS, TID_GC, b[0], ts - b[0], _js(f"GC gen{gen}"), "gc",
                    f',"args":{{"gen":{_js(gen)},"g":{b[2]},"collected":{_js(collected)}}}')

    def _user_log(self, ts: int, goid: int, pid: int, x: Any) -> None:
        cat, msg = (list(x) + ["", ""])[:2] if isinstance(x, (tuple, list)) else ("log", x)
        self.stats["logs"] += 1
        tid = self._ptrack(pid).tid if pid >= 0 else TID_OUTSIDE
        self._instant(PID_PROCS, tid, ts, f"log {cat}: {msg}", {"category": cat, "message": msg, "g": goid}, "user")

    def _unknown(self, name: Any, ts: int, goid: int, pid: int, x: Any) -> None:
        tid = self._ptrack(pid).tid if isinstance(pid, int) and pid >= 0 else TID_OUTSIDE
        args = {"g": goid}
        if isinstance(x, dict):
            args.update(x)
        elif x is not None:
            args["x"] = x
        self._instant(PID_PROCS, tid, ts, str(name), args)

    # -- end --------------------------------------------------------------------------

    def finish(self, end_ns: int | None, extra: dict | None = None) -> dict:
        end = max(end_ns or 0, self.t_last)
        self._counters(self.cts)
        for pp in self.ps.values():
            if pp.cur is not None:
                self._close(pp, end, "running at trace end")
        if self.stw is not None:
            self._stw_end(end, self.stw[2], self.stw[3], None)
        if self.gc is not None:
            self._gc_end(end, self.gc[2], -1, (self.gc[1], None))
        for g in list(self.gs.values()):
            self._enter(g, None, end)
            self._account(g)
        self._counters(end)
        self._flush()
        funcs = {}
        for fn, (n, run, rbl, sysc, wait, runs) in self.fnstats.items():
            funcs[display_name(fn)] = {"goroutines": n, "running_ns": run, "runnable_ns": rbl, "syscall_ns": sysc,
                                       "waiting_ns": dict(sorted(wait.items(), key=lambda kv: -kv[1])), "runs": runs}
        other = {
            "producer": "pyruntime", "format": FORMAT_VERSION, "clock": "perf_counter_ns",
            "start_ns": self.t_start, "end_ns": end, "gomaxprocs": self.gomaxprocs,
            "procs": sorted(self.ps), **self.meta, **(extra or {}), "stats": self.stats, "functions": funcs,
        }
        try:
            from . import __version__ as v
            other["version"] = v
        except Exception:  # pragma: no cover
            pass
        self.out.write('\n],"displayTimeUnit":"ns","otherData":' + json.dumps(other, default=repr) + "}\n")
        return other


# --------------------------------------------------------------------------- drivers

def _infer_window(records: list, final: list) -> list:
    """Status records at the start of a flight-recorder window whose history was
    dropped: each G's first event says what it was doing before it."""
    t0 = records[0][1]
    seen: dict[int, tuple] = {}
    running_p: dict[int, int] = {}
    for name, _ts, goid, pid, _x in records:
        if not goid or goid in seen or not isinstance(name, str):
            continue
        if name == "GoCreate":
            seen[goid] = ()
        elif name == "GoStart":
            seen[goid] = ("GoStatus", t0, goid, pid, ("runnable", "", None, None))
        elif name in ("GoBlock", "GoStop", "GoDestroy", "GoSyscallBegin", "Preempt", "BlockedM"):
            if pid in running_p:
                continue  # another G was already found running there
            running_p[pid] = goid
            seen[goid] = ("GoStatus", t0, goid, pid, ("running", "", None, None))
        elif name == "GoUnblock":
            seen[goid] = ("GoStatus", t0, goid, pid, ("waiting", "?", None, None))
        elif name == "GoSyscallEnd":
            seen[goid] = ("GoStatus", t0, goid, pid, ("syscall", "syscall", None, None))
    names = {r[2]: r[4][2] for r in final if r[0] == "GoStatus"}
    out: list[tuple] = [("TraceWindow", t0, 0, -1, None)]
    out += [r for r in final if r[0] in ("ProcsChange", "ProcStatus")]
    for goid, r in seen.items():
        if r:
            st = r[4]
            out.append((r[0], r[1], r[2], r[3], (st[0], st[1], names.get(goid, "?"), st[3])))
    for r in final:
        if r[0] == "GoStatus" and r[2] not in seen:
            out.append((r[0], t0, r[2], r[3], r[4]))
    return out


def _open_out(path: str) -> Any:
    tmp = path + ".tmp"
    return tmp, open(tmp, "w", encoding="utf-8", newline="\n")


def convert_records(records: list, path: str, end_ns: int | None, final: list, mode: str = "ring",
                    max_events: int | None = None) -> dict:
    """Write ``records`` (a flight-recorder window) to ``path`` as Chrome JSON."""
    for r in records:
        if not isinstance(r, (tuple, list)) or len(r) != 5 or not isinstance(r[1], int):
            raise TraceFormatError(f"not a trace record (name, ts_ns, goid, pid, x): {r!r}")
    records.sort(key=itemgetter(1))
    extra: dict[str, Any] = {"mode": mode, "max_events": max_events}
    if records and records[0][0] != "TraceStart":
        extra["window_complete"] = False
        extra["note"] = "flight recorder: older events were dropped; states at the window start are inferred"
        records = _infer_window(records, final) + records
    tmp, f = _open_out(path)
    try:
        with f:
            c = Converter(f, records[0][1] if records else end_ns)
            for r in records:
                c.feed(r)
            other = c.finish(end_ns, extra)
        os.replace(tmp, path)
    except BaseException:
        _rm(tmp)
        raise
    return other


def read_spool(path: str) -> Iterable[list]:
    """The record batches of a spool; stops quietly at a truncated tail."""
    from .trace import SPOOL_MAGIC

    with open(path, "rb") as f:
        head = f.read(len(SPOOL_MAGIC))
        if head != SPOOL_MAGIC:
            raise TraceFormatError(f"{path}: not a pyruntime trace spool (bad header)")
        while True:
            try:
                batch = marshal.load(f)
            except EOFError:
                return
            except (ValueError, TypeError):
                return  # a batch cut short (the program died while writing)
            if not isinstance(batch, list):
                raise TraceFormatError(f"{path}: not a pyruntime trace spool (unexpected {type(batch).__name__})")
            yield batch


def convert_spool(spool: str, path: str, end_ns: int | None, final: list) -> dict:
    """Merge a spool's batches in time order (through a reorder window) into ``path``."""
    tmp, f = _open_out(path)
    key = itemgetter(1)
    try:
        with f:
            c: Converter | None = None
            pending: list = []
            for batch in read_spool(spool):
                pending.extend(batch)
                pending.sort(key=key)
                if c is None and pending:
                    c = Converter(f, pending[0][1])
                cut = pending[-1][1] - REORDER_NS
                i = 0
                n = len(pending)
                while i < n and pending[i][1] < cut:
                    i += 1
                for r in pending[:i]:
                    c.feed(r)  # type: ignore[union-attr]
                del pending[:i]
            if c is None:
                c = Converter(f, end_ns)
            for r in pending:
                c.feed(r)
            other = c.finish(end_ns, {"mode": "stream"})
        os.replace(tmp, path)
    except BaseException:
        _rm(tmp)
        raise
    return other


def _rm(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass
