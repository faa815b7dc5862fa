"""pyruntime.trace: an execution trace in Chrome Trace Event JSON (opens in Perfetto).

    rt.trace.start("t.json")                      # streaming: every event, spooled to disk
    rt.trace.start("t.json", max_events=200_000)  # flight recorder: keep the last N events
    ...
    rt.trace.snapshot("now.json")                 # flight recorder: write the window, keep going
    rt.trace.stop()                               # write t.json (Chrome JSON), return its path

What it is
----------
The scheduler has one event hook (``proc.set_tracer``): its transition functions (park,
ready, execute, newproc, goexit, syscalls, steal, sysmon's preempt/STW/blocked-M, the GC
callback) call ``tracer.emit(name, **fields)``.  This module turns that stream into a
trace file laid out like Go's own trace viewer (``go tool trace``; see
``reference/OBSERVABILITY.md``), in three steps:

1. **Record** (hot, on whichever M the transition runs).  ``emit`` turns the event into one
   flat tuple ``(name, ts_ns, goid, pid, x)`` and appends it to a ``collections.deque``;
   that is all.  ``x`` is the event's one extra field (``GoStart``: the M; ``GoBlock``:
   the wait reason; ``GoUnblock``: the waker's goid; ...; see ``_XKEYS``).  A deque append
   is atomic (GIL and free-threaded builds alike), so there is no lock, no I/O and nothing
   that can raise in the caller.  The tracer also exposes ``put`` (the deque's own
   ``append``) so that a core which builds the tuple itself pays no Python frame at all.
2. **Buffer.**  *Flight recorder* (``max_events=N``): the deque has ``maxlen=N`` and
   silently drops the oldest record, Go's ``runtime/trace.FlightRecorder``.
   *Streaming* (the default): a writer thread (``pyruntime-trace-writer``, not an M, no P)
   drains the deque (every 4 ms while events pour in, every 100 ms when idle) and
   appends ``marshal``-ed batches to ``OUT.spool`` next to the output, so memory stays
   bounded on long runs and the hot path never waits for the disk.  If the program dies,
   ``pyruntime trace convert OUT.spool OUT`` still recovers everything written so far.
3. **Convert** (at ``stop``/``snapshot``, off the hot path): ``_tracefmt.Converter`` replays
   the records through a small state machine (each G's state, each P's current run and
   queue) and writes Chrome JSON, one event per line.

Layout of the file (pids and tids; Perfetto labels pid == tid tracks "main thread", so
they never coincide):

    pid 1 PROCS    tid 1000+P  "P0" ...  a slice per G run, named "G7 worker", args: goid,
                               fn, m, end (wait reason on exit), wait_ns (runnable→running),
                               from, prev_ns; nested "GoUnblock"/"GoCreate" slices where the
                               G woke or created another, with a flow arrow to the wakee's
                               next run; instants under Go's names, args {goid, ...}:
                               GoStart (one per run slice, at its start; "inferred" if
                               the run began before the window), GoBlock (reason), GoStop
                               (reason), GoDestroy, GoSyscallBegin; and Preempt, Steal,
                               Handoff (go() placed a never-run G on this idle P),
                               ProcStart/Stop, BlockedM, ProcSteal (sysmon moving a blocked
                               M's never-run Gs to the global queue: derived from BlockedM,
                               the P itself stays on its M)
                   tid 101 "STW", 102 "GC" (spans), 103 "timers & outside" (wake-ups from no G)
    pid 2 STATS    counters "Goroutines" {Running, Runnable, Waiting, Syscall},
                   "Threads" {Running, InSyscall}, "runq P0" ..., "runq global",
                   "GOMAXPROCS"
    pid 3 THREADS  tid 2000+M "M0 (P0)" ...  the same G runs seen from the OS thread, with
                               "blocked M" spans from sysmon; tid 2999 "sysmon";
                   tid 3000+k "syscall M k"  the syscall spans each syscall M ran, each
                               ending with a GoSyscallEnd instant

Timestamps are ``perf_counter_ns()`` (CLOCK_MONOTONIC on Linux) in microseconds with
nanosecond decimals, the clock viztracer uses, so the two files can be merged.

The record (what ``put`` takes; ``emit`` builds the same from its keywords)
    ``(name, ts_ns, goid, pid, x)``, goid 0 / pid -1 when the event has none, and x:
    GoCreate (creator goid, start function) | GoStart M id | GoBlock, GoStop reason |
    GoUnblock waker goid (0: no G, e.g. a syscall M or a timer) | GoSyscallEnd the
    syscall M (any hashable; or ``(m, call_start_ns)``) | ProcStart, ProcStop M id |
    ProcsChange ``(old, new)`` | Steal ``(victim, n)`` | Handoff the creator's P (pid:
    the idle P that got the G) | BlockedM ``(m, stack)`` |
    STWBegin reason | GCBegin gen | GCEnd ``(gen, collected)`` | others None.  ``GoStatus``
    ``(state, reason, name, m)`` and ``TraceStart`` are this module's own.  A GoStart,
    GoUnblock or GoStop stamped with the time the G became running/runnable (the value
    the scheduler already has for ``/sched/latencies``) makes ``wait_ns`` in the trace
    equal the histogram's sample.

Cost (``benchmarks/trace_overhead.py``, ping-pong, GOMAXPROCS=1, 2-vCPU VM)
    Through ``emit(name, **fields)`` every event pays two keyword calls (the core's
    ``_emit`` wrapper, then ``emit``): ~0.5 µs, six times per round trip, so tracing
    more than doubles the round trip (measured: ring +113 %, streaming +146 %).  With
    the core appending records to ``put`` directly (a tuple and a C ``append``), the
    flight recorder costs ~+20 % and streaming ~+39 % (``--inproc``, 9 blocks, on
    2026-11-27).  Streaming's extra is the writer's ``marshal`` (~53 ns a record, the
    cheapest serialiser measured: pickle 96, marshal v2 89) and its GIL hand-offs; the
    rest of the work happens at ``stop``, ~8 µs per event.

Invariants
    * ``emit`` never blocks, never does I/O, never raises.
    * Only the writer thread touches the spool file while a trace runs; ``stop`` joins it
      before converting.
    * At most one trace runs at a time (``_lock`` guards ``_current``).

Where we differ from Go
    * Go writes a binary format per M and converts in ``go tool trace``; we record in
      memory and convert to Chrome JSON at ``stop`` (JSON opens in Perfetto offline and any
      text tool reads it).
    * The run-queue counters are derived from the events (a readied G goes to its home P,
      a steal or a Handoff moves unstarted Gs), so they include ``runnext``; Go's
      schedtrace does not.  ``Handoff`` is ours: Go has no placement at ``go``.
"""

from __future__ import annotations

import atexit
import collections
import marshal
import os
import sys
import threading
import time as _time
from typing import Any

from ._core import proc

__all__ = ["start", "stop", "snapshot", "is_tracing", "log", "convert", "SPOOL_MAGIC"]

_clock = _time.perf_counter_ns

SPOOL_MAGIC = b"PYRUNTIME-TRACE-SPOOL 1\n"
# Streaming: the writer drains the buffer often enough that a batch stays well under one
# pymalloc arena (1 MiB, ~9000 records): freeing a bigger batch at once empties arenas,
# which go back to the OS and come back as page faults in the emitting threads (measured:
# 8x the page faults and +15% on ping-pong with 100 ms batches).  Idle programs are
# polled slowly.
FLUSH_INTERVAL = 0.1        # seconds between drains while few events arrive
FLUSH_INTERVAL_BUSY = 0.004  # ... and while many do (~4000 ping-pong records, under half an arena)
BUSY_BATCH = 50  # records in one drain that mean "busy"

# For each event name, the keyword (or keywords) that becomes the record's ``x``.  g and p
# are always fields 2 and 3 (0 / -1 when the event has none).  Unknown names keep every
# other field as a dict, so a new core event shows up in the trace without a change here.
_XKEYS: dict[str, Any] = {
    "GoCreate": "by",
    "GoStart": "m",
    "GoBlock": "reason",
    "GoStop": "reason",
    "GoUnblock": "by",
    "GoDestroy": None,
    "GoSyscallBegin": None,
    "GoSyscallEnd": None,
    "ProcStart": "m",
    "ProcStop": "m",
    "ProcSteal": "m",
    "ProcsChange": ("old", "new"),
    "Steal": ("victim", "n"),
    "Handoff": "from",
    "Preempt": None,
    "BlockedM": ("m", "stack"),
    "STWBegin": "reason",
    "STWEnd": None,
    "GCBegin": "gen",
    "GCEnd": ("gen", "collected"),
}


def _make_emit(put: Any, sched: Any) -> Any:
    """The kwargs entry point: ``emit(name, **fields)`` → one record, appended."""
    clock = _clock
    xkeys = _XKEYS
    get_ident = threading.get_ident

    def emit(name: str, **f: Any) -> None:
        try:
            k = xkeys.get(name, emit)
            if k.__class__ is str:
                x = f.get(k)
            elif k is None:
                x = None
            elif k is emit:  # an event this module does not know: keep its fields
                x = {a: b for a, b in f.items() if a != "g" and a != "p"} or None
            else:
                x = tuple([f.get(a) for a in k])
            g = f.get("g", 0)
            if name == "GoCreate":
                gg = sched.allgs.get(g)
                x = (x, gg.fn if gg is not None else None)
            elif name == "GoSyscallEnd":
                x = get_ident()  # the syscall M that ran the call
            elif name == "ProcStart" and f.get("p") == 0 and f.get("m") == 0:
                # A runtime (re)starts: name its main goroutine.
                ts = clock()
                put(("ProcsChange", ts, 0, -1, (sched.gomaxprocs, sched.gomaxprocs)))
                mg = sched.main_g
                if mg is not None:
                    put(("GoStatus", ts, mg.goid, 0, ("running", "", "main", 0)))
            put((name, clock(), g, f.get("p", -1), x))
        except Exception:  # the hook must never disturb the scheduler
            pass

    return emit


def _write_all(f: Any, data: bytes) -> None:
    """``write`` on an unbuffered file may write less than asked: finish the job."""
    mv = memoryview(data)
    while mv:
        k = f.write(mv)
        if not k:
            raise OSError("trace spool: write made no progress")
        mv = mv[k:]


class _Tracer:
    """One running trace: the record buffer and (streaming) the spool writer."""

    def __init__(self, path: str, max_events: int | None) -> None:
        self.path = path
        self.max_events = max_events
        # Flight recorder: a bounded deque drops the oldest.  Streaming: a list, which the
        # writer empties with one slice copy and one slice delete (atomic C operations;
        # records appended meanwhile stay) instead of a popleft per record.
        self.buf: Any = collections.deque(maxlen=max_events) if max_events else []
        self.put = self.buf.append  # hot-path sink: a C method, no Python frame
        self.emit = _make_emit(self.put, proc.sched)
        self.t0 = _clock()
        self.spool_path: str | None = None
        self.spool: Any = None
        self.error: BaseException | None = None
        self.nspooled = 0
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    # -- streaming -----------------------------------------------------------------

    def open_spool(self) -> None:
        self.spool_path = self.path + ".spool"
        # Unbuffered: each drained batch is one write(2), on disk at once, so a program
        # that dies keeps everything drained before it died (``trace convert``).
        self.spool = open(self.spool_path, "wb", buffering=0)
        _write_all(self.spool, SPOOL_MAGIC)
        self._writer = threading.Thread(target=self._write_loop, name="pyruntime-trace-writer", daemon=True)
        self._writer.start()

    def _write_loop(self) -> None:
        wait = FLUSH_INTERVAL_BUSY
        while not self._stop.wait(wait):
            n = self.drain()
            # busy: drain again soon; quiet: back off (doubling) to the idle interval
            wait = FLUSH_INTERVAL_BUSY if n >= BUSY_BATCH else min(2 * wait, FLUSH_INTERVAL)
        self.drain()

    def drain(self) -> int:
        """Move every buffered record to the spool (writer thread, or stop after join);
        return how many."""
        buf = self.buf
        n = len(buf)
        if not n or self.spool is None:
            return n
        batch = buf[:n]
        del buf[:n]  # only this thread removes records: the first n are exactly the batch
        if self.error is not None:
            return n  # the spool failed: drop, stop() reports it
        try:
            try:
                data = marshal.dumps(batch)
            except ValueError:  # a record holds an object marshal cannot write (a function)
                data = marshal.dumps([_plain_record(r) for r in batch])
            _write_all(self.spool, data)
            self.nspooled += n
        except BaseException as e:  # disk full, file gone: stop spooling, tell stop()
            self.error = e
        return n

    def close_spool(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        self.drain()
        if self.spool is not None:
            try:
                self.spool.close()
            except OSError as e:
                self.error = self.error or e
            self.spool = None


def _plain_record(r: tuple) -> tuple:
    name, ts, g, p, x = r
    return (name, ts, g, p, _plain(x))


def _plain(x: Any) -> Any:
    """``x`` with functions replaced by their names and anything exotic by its repr
    (what the spool can hold)."""
    if x is None or isinstance(x, (int, float, str, bytes)):
        return x
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if callable(x):
        from ._tracefmt import fn_name

        return fn_name(x)
    return repr(x)


# --------------------------------------------------------------------------- states

def _frame_name(g: Any) -> str:
    """The start function of a G that already runs (its outermost user frame)."""
    try:
        from ._core import debug_impl

        frames = debug_impl._user_frames(debug_impl._frames_of(g))
    except Exception:
        return "?"
    if not frames:
        return "?"
    code = frames[-1].f_code
    mod = frames[-1].f_globals.get("__name__", "")
    qn = getattr(code, "co_qualname", code.co_name)
    if mod == "__main__":
        mod = "main"
    return f"{mod}:{qn}" if mod else qn


def _states(ts: int) -> list[tuple]:
    """``GoStatus`` records for every live G and ``ProcStatus`` for every P (Go writes the
    same at each generation start): what was true when the window opened."""
    from ._core.g import Grunnable, Grunning, Gsyscall, Gwaiting
    from ._tracefmt import fn_name

    s = proc.sched
    if not s.running:
        return []
    out: list[tuple] = [("ProcsChange", ts, 0, -1, (s.gomaxprocs, s.gomaxprocs))]
    where: dict[int, int] = {}
    for p in list(s.allp):
        out.append(("ProcStatus", ts, 0, p.id, p.m.id if p.m is not None else p.id))
        p.lock.acquire()
        try:
            queued = list(p.runq)
            if p.runnext is not None:
                queued.append(p.runnext)
        finally:
            p.lock.release()
        for g in queued:
            where[g.goid] = p.id
    try:
        for g in tuple(s.runq):
            where[g.goid] = -1
    except RuntimeError:
        pass
    main = s.main_g
    for g in list(s.allgs.values()):
        st = g._status
        if g is main:
            name = "main"
        elif g.fn is not None:
            name = fn_name(g.fn)
        else:
            name = _frame_name(g)
        home = g.p.id if g.p is not None else -1
        if st == Grunning:
            m = g.m
            pid = m.p.id if m is not None and m.p is not None else home
            out.append(("GoStatus", ts, g.goid, pid, ("running", "", name, m.id if m is not None else pid)))
        elif st == Grunnable:
            out.append(("GoStatus", ts, g.goid, where.get(g.goid, home), ("runnable", "", name, None)))
        elif st == Gwaiting:
            out.append(("GoStatus", ts, g.goid, home, ("waiting", g.waitreason, name, None)))
        elif st == Gsyscall:
            out.append(("GoStatus", ts, g.goid, home, ("syscall", "syscall", name, None)))
    return out


# --------------------------------------------------------------------------- API

_current: _Tracer | None = None
_lock = threading.Lock()

# The scheduler has one hook; the tracer and the live panel may both listen.  Each
# listener is an object with ``put(record)`` and ``emit(name, **fields)``; with one
# listener the core calls its own ``put`` (a C ``append``), with two a tee calls both in
# a fixed order (the panel first: its gate may hold the thread before anything records).
_sinks: dict[str, Any] = {}
_sinks_lock = threading.Lock()


class _Tee:
    def __init__(self, sinks: list) -> None:
        puts = [s.put for s in sinks]

        def put(rec: tuple) -> None:
            for f in puts:
                f(rec)

        self.put = put
        self.emit = _make_emit(put, proc.sched)


def _attach(name: str, sink: Any) -> None:
    """Install (``sink``) or remove (None) one listener of the scheduler's event hook."""
    with _sinks_lock:
        if sink is None:
            _sinks.pop(name, None)
        else:
            _sinks[name] = sink
        order = [_sinks[k] for k in ("panel", "trace") if k in _sinks]
        proc.set_tracer(None if not order else order[0] if len(order) == 1 else _Tee(order))


def _check_path(path: Any, what: str, create: bool = True) -> str:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what}: path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    path = os.fspath(path)
    if not path:
        raise ValueError(f"{what}: path is empty")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{what}: {path!r} is a directory; give a file name such as "
                                f"{os.path.join(path, 'trace.json')!r}")
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise FileNotFoundError(f"{what}: cannot write a trace to {path!r}: directory {d!r} does not exist")
    if not create:
        if not os.access(d, os.W_OK):
            raise PermissionError(13, f"{what}: cannot write a trace to {path!r}: permission denied")
        return path
    try:
        with open(path, "a"):
            pass
    except OSError as e:
        raise type(e)(e.errno, f"{what}: cannot write a trace to {path!r}: {e.strerror}") from None
    return path


def start(path: str | os.PathLike, max_events: int | None = None) -> None:
    """Start tracing the scheduler into ``path`` (written when :func:`stop` is called).

    ``max_events=N`` makes a flight recorder: only the last N scheduler events are kept
    in memory (each is ~200 bytes) and :func:`snapshot` can write them at any time.
    Without it every event is kept, spooled to ``path + ".spool"`` as the program runs.
    Tracing may start before a runtime runs (``pyruntime run --trace``) or inside one.

    Raises ``RuntimeError`` if a trace is already running, ``OSError`` if ``path`` cannot
    be written, ``TypeError``/``ValueError`` for a bad argument; the program is unaffected."""
    global _current
    if max_events is not None and (isinstance(max_events, bool) or not isinstance(max_events, int)):
        raise TypeError(f"trace.start: max_events must be an int or None, "
                        f"got {type(max_events).__name__} {max_events!r}")
    if max_events is not None and max_events < 1:
        raise ValueError(f"trace.start: max_events must be >= 1, got {max_events}")
    with _lock:
        if _current is not None:
            raise RuntimeError(f"trace.start: a trace is already running (to {_current.path!r}); "
                               "call trace.stop() first")
        path = _check_path(path, "trace.start")
        t = _Tracer(path, max_events)
        if max_events is None:
            try:
                t.open_spool()
            except OSError as e:
                raise type(e)(e.errno, f"trace.start: cannot write the spool file {t.spool_path!r}: "
                                       f"{e.strerror}") from None
        ts = _clock()
        t.put(("TraceStart", ts, 0, -1, (os.getpid(), max_events)))
        _attach("trace", t)
        for r in _states(ts):
            t.put(r)
        _current = t


def stop() -> str:
    """Stop tracing, write the Chrome JSON trace and return its path.

    Raises ``RuntimeError`` if no trace is running and ``OSError`` if the file cannot be
    written (the trace is stopped either way; the program is unaffected)."""
    global _current
    with _lock:
        t = _current
        if t is None:
            raise RuntimeError("trace.stop: no trace is running (call trace.start(path) first)")
        _attach("trace", None)
        _current = None
    end = _clock()
    if t.max_events is None:
        t.close_spool()
        if t.error is not None:
            _unlink(t.spool_path)
            raise OSError(f"trace.stop: writing the spool {t.spool_path!r} failed: {t.error}; no trace written")
        from ._tracefmt import convert_spool

        assert t.spool_path is not None
        convert_spool(t.spool_path, t.path, end_ns=end, final=[])
        _unlink(t.spool_path)
    else:
        _write_ring(t, t.path, end)
    return t.path


def snapshot(path: str | os.PathLike) -> str:
    """Flight recorder: write the events currently in the ring to ``path`` (Chrome JSON)
    without stopping the trace.  Only for ``start(..., max_events=N)``."""
    t = _current
    if t is None:
        raise RuntimeError("trace.snapshot: no trace is running (call trace.start(path, max_events=N) first)")
    if t.max_events is None:
        raise RuntimeError("trace.snapshot: only a flight-recorder trace (start(path, max_events=N)) "
                           "can be snapshotted; a streaming trace is written by stop()")
    path = _check_path(path, "trace.snapshot")
    _write_ring(t, path, _clock())
    return path


def _write_ring(t: _Tracer, path: str, end: int) -> None:
    from ._tracefmt import convert_records

    records = list(t.buf.copy())  # deque.copy is atomic; emitters may still append
    # Only a window whose start was dropped needs today's states (for Gs it never saw).
    final = _states(end) if records and records[0][0] != "TraceStart" else []
    convert_records(records, path, end_ns=end, final=final, mode="ring", max_events=t.max_events)


def is_tracing() -> bool:
    """True while a trace runs."""
    return _current is not None


def log(category: str, message: str = "") -> None:
    """Put a user event (Go's ``trace.Log``) on the current P's track; a no-op when no
    trace runs.  Labs use it to mark phases."""
    t = _current
    if t is None:
        return
    g = proc.getg()
    p = g.m.p.id if g is not None and g.m is not None and g.m.p is not None else -1
    t.put(("UserLog", _clock(), g.goid if g is not None else 0, p, (str(category), str(message))))


def convert(spool: str | os.PathLike, out: str | os.PathLike) -> str:
    """Turn a spool left behind by a program that died while tracing into Chrome JSON."""
    from ._tracefmt import convert_spool

    spool = os.fspath(spool)
    if not os.path.isfile(spool):
        raise FileNotFoundError(2, f"no such file: {spool}")
    out = _check_path(out, "trace.convert", create=False)
    convert_spool(spool, out, end_ns=None, final=[])
    return out


def _unlink(p: str | None) -> None:
    if p:
        try:
            os.unlink(p)
        except OSError:
            pass


def _atexit() -> None:
    """A program that exits with a trace still running gets its file written (Go's
    trace.Stop in a deferred call, done for you)."""
    if _current is not None:
        try:
            path = stop()
            sys.stderr.write(f"pyruntime: trace written to {path} at exit\n")
        except Exception as e:  # pragma: no cover - best effort at exit
            sys.stderr.write(f"pyruntime: trace could not be written at exit: {e}\n")


atexit.register(_atexit)
