"""pyruntime.panel: watch and control a running program's scheduler in the browser.

    from pyruntime import panel
    p = panel.start(port=0, control=True)   # before run() or while a runtime runs
    print(p.url)                            # http://127.0.0.1:PORT/?token=...
    ...
    p.stop()

or ``pyruntime run FILE --panel [--panel-port N] [--panel-control]``.

What it is
----------
A web page and a JSON/SSE API over a *running* runtime (SPEC §3.5): the P/M/G board
(each P's running G, runnext and local queue, the global queue, Ms and their syscall or
blocked state), the goroutine state graph with live transition counts, per-P timelines,
live scheduling- and syscall-latency heatmaps, the goroutine table with leak suspects,
and the controls (pause, step, breakpoints, GOMAXPROCS, stop-the-world, GC).

Design
------
* **Its own threads.**  The HTTP server (one daemon thread per connection) and the
  collector are neither Ms nor Gs, so the panel answers while the runtime is paused, has
  the world stopped, is deadlocked or is wedged in a C call.
* **Data path.**  The scheduler's one event hook (``pyruntime.trace``'s record tuples)
  appends to the collector's list: one C call on the transitioning M, no lock, no I/O.
  Every 50 ms the collector numbers the records (``seq``), keeps the last 65,536 in a
  ring (one marshal blob per drain) and wakes the SSE streams, which turn records into
  JSON themselves.  A client that falls behind the ring gets a
  ``{"kind": "gap", "dropped": N, "reason": "behind"}`` message with the exact count;
  one that asked for at most ``?max_rate=N`` events a second (the page asks for 2,000;
  the default is 50,000) gets ``"reason": "rate"`` gaps for what it skipped;
  ``Last-Event-ID`` resumes from the ring.  Nothing a client does can block an M.
* **State** (``/api/state``) is read from the scheduler's structures without the
  runtime lock (each P's queue under its own lock with a 10 ms timeout).
* **Controls** are a gate at the transition points (see ``_control.py``'s essay for what
  pause, step and each breakpoint suspend policy guarantee).  With no control active the
  hook is the plain ``append`` again, so a read-only panel costs the records only.
* **Security** (``_server.py``): 127.0.0.1 only; a random 192-bit token, new at every
  start, swapped for an ``HttpOnly; SameSite=Strict`` cookie; a Host allow-list against
  DNS rebinding; an Origin check on every POST/DELETE; no CORS; read-only unless started
  with control; every malformed request answered 4xx without touching the program.

Where it differs from Go
    Go has no live panel: ``go tool trace`` reads a finished trace.  The events are the
    same names as pyruntime's tracer (GoCreate, GoStart, GoBlock, GoUnblock, GoStop, ...).
"""

from __future__ import annotations

import gc
import secrets
import sys
import threading
import time
from typing import Any

from .._core import proc
from . import _control, _state
from ._collector import RING_SIZE, Collector
from ._server import BadRequest, Handler, _Server

__all__ = ["Panel", "start", "current"]

_lock = threading.Lock()
_current: "Panel | None" = None


class _Sink:
    """What the scheduler's hook sees: ``put`` (C append, or the gate's) and ``emit``."""

    def __init__(self, put: Any) -> None:
        from .. import trace as _trace

        self.put = put
        self.emit = _trace._make_emit(put, proc.sched)


class Panel:
    """A running panel: ``url`` (with the token), ``port``, ``token``, ``control``, ``stop()``."""

    def __init__(self, port: int = 0, control: bool = False, ring_size: int = RING_SIZE) -> None:
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"panel.start: port must be an int, got {type(port).__name__} {port!r}")
        if not 0 <= port <= 65535:
            raise ValueError(f"panel.start: port must be 0 (any free port) or 1..65535, got {port}")
        if not isinstance(control, bool):
            raise TypeError(f"panel.start: control must be a bool, got {control!r}")
        if isinstance(ring_size, bool) or not isinstance(ring_size, int) or ring_size < 16:
            raise ValueError(f"panel.start: ring_size must be an int >= 16, got {ring_size!r}")
        self.control = control
        self.token = secrets.token_urlsafe(24)  # 192 bits
        self.stopped = False
        self.collector = Collector(ring_size)
        self.gate = _control.Gate(self.collector)
        self._gated = False
        self._ctl_lock = threading.Lock()
        try:
            self._srv = _Server(("127.0.0.1", port), Handler, self)
        except OSError as e:
            raise OSError(e.errno, f"panel.start: cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
        self.port: int = self._srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/?token={self.token}"
        self.collector.tick = self._tick
        self.collector.start()
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="pyruntime-panel", daemon=True)
        self._thread.start()
        self._install()

    # -- the hook --------------------------------------------------------------------------

    def _install(self) -> None:
        from .. import trace as _trace

        want = bool(self.gate.closed or self.gate.bps or self.gate.hold_g)
        put = self.gate.put if want else self.collector.put
        self._gated = want
        _trace._attach("panel", _Sink(put))

    def _tick(self) -> None:
        """Collector thread, every drain: while the gate is closed (a pause, or an "all"
        breakpoint's hit) sysmon stands back and running Gs are asked to yield."""
        g = self.gate
        if g.closed and proc.sched.running:
            proc.sched.paused = True
            # a G that runs on without a transition is asked again (it may ignore a request
            # made while it was in a C call)
            _control.preempt_running()

    def stop(self) -> None:
        """Stop serving, release anything the controls hold, and detach from the runtime."""
        global _current
        if self.stopped:
            return
        self.stopped = True
        from .. import trace as _trace

        self.gate.shutdown()
        proc.sched.paused = False
        _trace._attach("panel", None)
        self._srv.shutdown()
        self._srv.server_close()
        self.collector.stop()
        with _lock:
            if _current is self:
                _current = None

    def __enter__(self) -> "Panel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- routes ----------------------------------------------------------------------------

    def route(self, h: Handler, method: str, path: str, query: dict) -> None:
        if path == "/" or path.startswith("/static/") or path in ("/index.html", "/favicon.ico"):
            if method != "GET":
                raise BadRequest(405, "method not allowed")
            if path == "/favicon.ico":
                h._send(204, b"", "image/x-icon")
                return
            h.static("index.html" if path in ("/", "/index.html") else path[len("/static/"):])
            return
        if not path.startswith("/api/"):
            raise BadRequest(404, f"not found: {path}")
        name = path[5:]
        if name == "state" and method == "GET":
            with_metrics = (query.get("metrics") or ["1"])[-1] != "0"
            leak: float | None = 5.0
            if "leak" in query:
                try:
                    leak = float(query["leak"][-1])
                except ValueError:
                    raise BadRequest(400, "leak must be a number of seconds (a negative one: no leak analysis)") from None
                if leak != leak:
                    raise BadRequest(400, "leak must be a number of seconds")
                if leak < 0:
                    leak = None
            st = _state.snapshot(self.collector.seq, self.gate.closed, self.gate.hit, with_metrics, leak)
            st["panel"] = {"control": self.control, "dropped": self.collector.dropped,
                           "edges": self.collector.edges, "kinds": dict(self.collector.kinds),
                           "held": self.gate.held_list(), "cpu_ns": self.collector.cpu_ns,
                           "gcs_while_paused": self.gate.panel_gcs,
                           "ring": self.collector.nring}
            h._json(200, st)
        elif name == "events" and method == "GET":
            h.sse(self.collector, query)
        elif name == "breakpoints" and method == "GET":
            h._json(200, {"breakpoints": [b.as_dict() for b in self.gate.bps.values()],
                          "hits": list(self.gate.hitlog)})
        elif name == "breakpoints" and method == "POST":
            try:
                spec = _control.check_breakpoint_spec(h._body())
            except ValueError as e:
                raise BadRequest(400, f"bad breakpoint: {e}") from None
            with self._ctl_lock:
                bp = self.gate.add_breakpoint(spec)
                self._install()
            h._json(200, {"id": bp.id})
        elif name.startswith("breakpoints/") and method == "DELETE":
            try:
                bid = int(name[len("breakpoints/"):])
            except ValueError:
                raise BadRequest(400, "breakpoint id must be an integer") from None
            with self._ctl_lock:
                if self.gate.bps.pop(bid, None) is None:
                    raise BadRequest(404, f"no breakpoint {bid}")
                self._install()
            h._json(200, {"deleted": bid})
        elif method == "POST" and name in ("pause", "resume", "step", "gomaxprocs", "stw", "gc"):
            body = h._body()
            if not isinstance(body, dict):
                raise BadRequest(400, "the body must be a JSON object")
            with self._ctl_lock:
                h._json(200, getattr(self, "_ctl_" + name)(body))
        elif name in ("state", "events", "breakpoints", "pause", "resume", "step", "gomaxprocs", "stw", "gc") \
                or name.startswith("breakpoints/"):
            raise BadRequest(405, f"method {method} not allowed on {path}")
        else:
            raise BadRequest(404, f"not found: {path}")

    # -- controls (under _ctl_lock) ----------------------------------------------------------

    def _need_runtime(self) -> None:
        if not proc.sched.running:
            raise BadRequest(409, "no runtime is running")

    def _ctl_pause(self, body: dict) -> dict:
        timeout = _num(body.get("timeout", 2.0), "timeout", 0.0, 30.0)
        self.gate.pause()
        self._install()
        proc.sched.paused = True
        t0 = time.monotonic()
        rep = _control.pause_report(self.gate)
        while proc.sched.running and rep["ps_parked"] < rep["ps_total"] and time.monotonic() - t0 < timeout:
            _control.preempt_running()
            time.sleep(0.002)
            rep = _control.pause_report(self.gate)
        rep["reached_in_ms"] = round((time.monotonic() - t0) * 1e3, 3)
        rep["complete"] = rep["ps_parked"] >= rep["ps_total"]
        self.collector.sync()  # every transition made before the pause is numbered
        rep["seq"] = self.collector.seq
        return rep

    def _ctl_resume(self, body: dict) -> dict:
        self.gate.resume()
        proc.sched.paused = False
        self._install()
        return {"paused": False}

    def _ctl_step(self, body: dict) -> dict:
        if not self.gate.closed:
            raise BadRequest(409, "step needs a paused runtime: POST /api/pause first")
        timeout = _num(body.get("timeout", 2.0), "timeout", 0.0, 30.0)
        rec, note = self.gate.step(timeout)
        if rec is None:
            return {"stepped": False, "event": None, "note": note}
        ev = self.collector.wait_numbered(rec, timeout=2.0)
        self.collector.sync()
        # The answer is that event (its fields at the top), plus what the step did.
        return {**(ev or {}), "stepped": True, "event": ev, "note": note, "seq": self.collector.seq}

    def _ctl_gomaxprocs(self, body: dict) -> dict:
        self._need_runtime()
        n = body.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10000:
            raise BadRequest(400, "'n' must be an integer from 1 to 10000")
        if self.gate.closed:
            raise BadRequest(409, "the runtime is paused: resume it first")
        t0 = time.perf_counter_ns()
        prev = proc.gomaxprocs(n)
        return {"previous": prev, "gomaxprocs": proc.sched.gomaxprocs,
                "ms": round((time.perf_counter_ns() - t0) / 1e6, 3)}

    def _ctl_stw(self, body: dict) -> dict:
        self._need_runtime()
        ms = _num(body.get("ms", 1.0), "ms", 0.0, 10_000.0)
        if self.gate.closed:
            raise BadRequest(409, "the runtime is paused: resume it first")
        from .. import debug

        done = threading.Event()
        out: dict = {}

        def inject() -> None:
            t0 = time.perf_counter_ns()
            try:
                with debug.stw("panel"):
                    t1 = time.perf_counter_ns()
                    time.sleep(ms / 1e3)  # the real time.sleep: the world stays stopped
                    t2 = time.perf_counter_ns()
                out.update(stopping_ms=(t1 - t0) / 1e6, held_ms=(t2 - t1) / 1e6,
                           pause_ms=(time.perf_counter_ns() - t0) / 1e6)
            except BaseException as e:
                out["error"] = f"{type(e).__name__}: {e}"
            finally:
                done.set()

        proc.newproc(inject, (), {})
        if not done.wait(max(5.0, 3 * ms / 1e3)):
            raise BadRequest(504, "the stop-the-world did not complete (is a goroutine wedged in a C call?)")
        if "error" in out:
            raise BadRequest(409, out["error"])
        return {"requested_ms": ms, **{k: round(v, 3) for k, v in out.items()}}

    def _ctl_gc(self, body: dict) -> dict:
        t0 = time.perf_counter_ns()
        n = gc.collect()
        return {"collected": n, "ms": round((time.perf_counter_ns() - t0) / 1e6, 3)}


def _num(v: Any, name: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not lo <= v <= hi:
        raise BadRequest(400, f"'{name}' must be a number from {lo:g} to {hi:g}")
    return float(v)


def start(port: int = 0, control: bool = False, *, ring_size: int = RING_SIZE, quiet: bool = False) -> Panel:
    """Start the panel on 127.0.0.1:``port`` (0: any free port) and return it.

    Callable before ``run()`` (it attaches to the next runtime) or while one runs.  Writes
    ``panel: http://127.0.0.1:PORT/?token=TOKEN`` to stderr (unless ``quiet``).  With
    ``control=True`` the POST endpoints (pause, step, breakpoints, GOMAXPROCS, STW, GC)
    work; otherwise they answer 403.  One panel at a time: RuntimeError if one runs.
    Raises OSError if the port cannot be bound."""
    global _current
    with _lock:
        if _current is not None and not _current.stopped:
            raise RuntimeError(f"panel.start: a panel is already running at {_current.url.split('?')[0]}; "
                               "call its stop() first")
        p = Panel(port, control, ring_size)
        _current = p
    if not quiet:
        try:
            sys.stderr.write(f"panel: {p.url}\n")
            sys.stderr.flush()
        except Exception:
            pass
    return p


def current() -> Panel | None:
    """The running panel, or None."""
    return _current
