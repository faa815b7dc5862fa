"""preempt: signal-style asynchronous preemption of pure-Python goroutines.

Go's sysmon sends SIGURG to an M whose G has run for 10 ms; the handler makes the G
call ``asyncPreempt`` at the next safe point.  Python runs signal handlers on the main
thread only, so pyruntime uses the interpreter's own hooks, armed by sysmon for the one
G it preempts, and only while the request is pending (nothing is installed otherwise:
the idle cost is zero):

* **3.12+** — ``sys.monitoring`` *local* events (``JUMP | PY_START``) set on the code
  objects of the target G's stack (``set_local_events`` instruments the bytecode in
  place at once; the running loop hits the instrumented backward jump on its next
  iteration).  Never the global ``set_events``: a frame suspended in a greenlet is on
  no thread's frame chain, so global events neither reach nor leave it correctly.
* **3.11** — a debugger-style attach: ``_PyEval_SetTrace(target tstate,
  trace_trampoline, tracer)`` from the sysmon thread plus ``frame.f_trace`` on the
  target's frames; the tracer detaches itself when it fires.

In the callback, on the target M, the G switches out (``gopreempt``): it becomes
runnable at the tail of its P's queue (a started G cannot go to Go's global queue).

Traps (PYTHON_MECHANISMS.md Q2), each handled here:
* greenlet does not save ``tstate->tracing``: switching away *inside* a callback would
  leave the scheduler and every other G with tracing = 1 and no more callbacks on that
  thread.  So the switch is wrapped in ``PyThreadState_LeaveTracing`` /
  ``EnterTracing``, and :func:`tracing_self_test` checks the counter is 0 in g0.
* never preempt runtime code: the callback returns at once in any code object of the
  pyruntime package, or when the G is not running user code (scheduler contexts run
  with the parking G's status != running).
* nor a G inside ``debug.nopreempt()`` (``g.nopreempt > 0``, Go's ``m.locks > 0``): the
  callback counts the firing in ``deferred`` and returns; the request stays pending and
  the section's exit honours it.
* 3.11's attach shares the single per-thread ``sys.settrace`` slot: a debugger or
  coverage tool's tracer on that M is replaced while a request is pending.  3.12+'s
  ``sys.monitoring`` tool id (4, "pyruntime") coexists with them.
* an exception thrown into a G parked inside a 3.12+ monitoring callback skips the
  innermost frame's ``finally``; the runtime only throws into Gs at shutdown.

``PYRUNTIME_DEBUG=asyncpreemptoff=1`` disables the hooks; cooperative preemption (the
pending flag checked at runtime calls) remains, as with Go's GODEBUG.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any

from greenlet import getcurrent

__all__ = ["Preempter", "available", "tstate_of_current_thread", "tracing_value"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_api = ctypes.pythonapi

_api.PyThreadState_Get.restype = ctypes.c_void_p
_api.PyThreadState_Get.argtypes = []
_EnterTracing = getattr(_api, "PyThreadState_EnterTracing", None)
_LeaveTracing = getattr(_api, "PyThreadState_LeaveTracing", None)
for _f in (_EnterTracing, _LeaveTracing):
    if _f is not None:
        _f.restype = None
        _f.argtypes = [ctypes.c_void_p]

TOOL_ID = 4

# Runtime functions that call user code while holding no runtime lock: the bottom of a
# goroutine's stack (and wrappers that run user callables).  Anything else of the
# pyruntime package on the stack means "inside the runtime" (a lock may be held, a
# scheduler context may be active: a GC or weakref callback can run user-ish code there).
SAFE_CALLERS = frozenset({
    ("proc.py", "_worker_main"),
    ("proc.py", "run"),
    ("sync.py", "WaitGroup.go.<locals>.run"),
    ("sync.py", "Once.do"),
    ("golang.py", "func.<locals>.wrapper"),
})


def in_runtime(frame: Any) -> bool:
    """True if the innermost pyruntime frame on ``frame``'s stack is not a safe caller."""
    f = frame
    while f is not None:
        co = f.f_code
        fn = co.co_filename
        if fn.startswith(_PKG_DIR):
            return (os.path.basename(fn), getattr(co, "co_qualname", co.co_name)) not in SAFE_CALLERS
        f = f.f_back
    return False
_HAVE_MONITORING = sys.version_info >= (3, 12) and hasattr(sys, "monitoring")


def tstate_of_current_thread() -> int:
    return _api.PyThreadState_Get()  # type: ignore[no-any-return]


def _find_tracing_offset() -> int | None:
    """Locate ``tstate->tracing`` empirically: an int that is 1 inside a trace callback
    and 0 outside (offset 44 on 3.11/3.12, 60 on 3.13 when it was measured)."""
    ts = tstate_of_current_thread()
    outside = (ctypes.c_int * 64).from_address(ts)
    before = list(outside)
    inside: list[int] = []

    def tracer(frame: Any, event: str, arg: Any) -> None:
        if not inside:
            inside.extend((ctypes.c_int * 64).from_address(ts))
        return None

    old = sys.gettrace()
    sys.settrace(tracer)
    try:
        (lambda: None)()
    finally:
        sys.settrace(old)
    if not inside:
        return None
    for i in range(64):
        if before[i] == 0 and inside[i] == 1 and i * 4 >= 16:
            return i * 4
    return None


_TRACING_OFF: int | None = None
_tracing_lock = threading.Lock()


def tracing_value(tstate: int) -> int | None:
    """``tstate->tracing`` of a thread state (None if the field could not be located)."""
    global _TRACING_OFF
    with _tracing_lock:
        if _TRACING_OFF is None:
            _TRACING_OFF = _find_tracing_offset() or -1
    if _TRACING_OFF < 0:
        return None
    return ctypes.c_int.from_address(tstate + _TRACING_OFF).value


def _find_trampoline() -> int | None:
    """3.11: the address of CPython's static ``trace_trampoline`` (what ``sys.settrace``
    installs as ``tstate->c_tracefunc``), found next to ``c_traceobj == id(f)``."""
    ts = tstate_of_current_thread()

    def f(frame: Any, event: str, arg: Any) -> None:
        return None

    old = sys.gettrace()
    sys.settrace(f)
    try:
        words = (ctypes.c_void_p * 64).from_address(ts)
        target = id(f)
        for i in range(2, 64):
            if words[i] == target:
                cand = words[i - 2]  # c_tracefunc, c_profileobj, c_traceobj
                if cand:
                    return cand  # type: ignore[no-any-return]
        return None
    finally:
        sys.settrace(old)


def available() -> bool:
    if _EnterTracing is None or _LeaveTracing is None:
        return False
    if _HAVE_MONITORING:
        return True
    return hasattr(_api, "_PyEval_SetTrace")


class Preempter:
    """Arms and fires asynchronous preemption requests (one per M at a time).

    ``arm(m, g)`` runs on the sysmon thread (holding the GIL); the hook fires on ``m``'s
    thread and calls ``on_preempt(g)`` there (which switches the G out)."""

    def __init__(self, on_preempt: Any, is_runtime_safe: Any) -> None:
        self.on_preempt = on_preempt
        self.is_safe = is_runtime_safe
        self.lock = threading.Lock()
        self.armed: dict[Any, int] = {}       # code object -> refcount (3.12+)
        self.by_m: dict[int, list] = {}      # m.id -> armed code objects (3.12+)
        self.pending: dict[Any, tuple] = {}  # G -> (exception, code) to raise at its next LINE (3.12+)
        self.raising: dict[Any, int] = {}    # code object -> how many pending raises use its LINE events
        self.enabled = available()
        self.fired = 0
        self.requests = 0
        self.deferred = 0  # hook firings declined inside a debug.nopreempt() section
        self._tramp: int | None = None
        self._settrace: Any = None
        if not self.enabled:
            return
        if _HAVE_MONITORING:
            mon = sys.monitoring
            cur = mon.get_tool(TOOL_ID)
            if cur is not None and cur != "pyruntime":
                self.enabled = False
                return
            if cur is None:
                mon.use_tool_id(TOOL_ID, "pyruntime")
            mon.register_callback(TOOL_ID, mon.events.JUMP, self._mon_jump)
            mon.register_callback(TOOL_ID, mon.events.PY_START, self._mon_start)
            mon.register_callback(TOOL_ID, mon.events.LINE, self._mon_line)
        else:
            self._tramp = _find_trampoline()
            st = _api._PyEval_SetTrace
            st.restype = ctypes.c_int
            st.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.py_object]
            self._settrace = st
            if self._tramp is None:
                self.enabled = False

    def close(self) -> None:
        if _HAVE_MONITORING and self.enabled:
            mon = sys.monitoring
            with self.lock:
                for code in {*self.armed, *self.raising}:
                    try:
                        mon.set_local_events(TOOL_ID, code, 0)
                    except ValueError:
                        pass
                self.armed.clear()
                self.by_m.clear()
                self.raising.clear()
                self.pending.clear()
            for ev in (mon.events.JUMP, mon.events.PY_START, mon.events.LINE):
                mon.register_callback(TOOL_ID, ev, None)
            if mon.get_tool(TOOL_ID) == "pyruntime":
                mon.free_tool_id(TOOL_ID)

    # -- arming (sysmon thread) ----------------------------------------------------
    def arm(self, m: Any, g: Any) -> None:
        if not self.enabled:
            return
        self.requests += 1
        # Only the user frames above the innermost runtime frame: below it (the G's base
        # in _worker_main, or g0) a chain may reach frames of suspended or dying greenlets,
        # which must never be touched from another thread (a crash at shutdown and a
        # corrupted f_trace on 3.11 were traced to that).  A suspended G's gr_frame is
        # never walked either: if g0 is current at this instant, sysmon re-issues.
        frames = []
        f = sys._current_frames().get(m.thread.ident) if m.thread is not None else None
        while f is not None and len(frames) < 64:
            if f.f_code.co_filename.startswith(_PKG_DIR):
                break
            frames.append(f)
            f = f.f_back
        if not frames:
            return
        if _HAVE_MONITORING:
            self._arm_monitoring(m, frames)
        else:
            self._arm_trace(m, frames)

    def _arm_monitoring(self, m: Any, frames: list) -> None:
        mon = sys.monitoring
        ev = mon.events.JUMP | mon.events.PY_START
        with self.lock:
            if self.by_m.get(m.id):
                return  # already armed for this M
            codes = []
            for fr in frames:
                code = fr.f_code
                if code.co_filename.startswith(_PKG_DIR) or code in codes:
                    continue
                codes.append(code)
                n = self.armed.get(code, 0)
                if n == 0:
                    try:
                        mon.set_local_events(TOOL_ID, code, ev)
                    except ValueError:
                        codes.pop()
                        continue
                self.armed[code] = n + 1
            self.by_m[m.id] = codes

    def disarm(self, m: Any) -> None:
        if not self.enabled:
            return
        if _HAVE_MONITORING:
            mon = sys.monitoring
            with self.lock:
                codes = self.by_m.pop(m.id, None) or []
                for code in codes:
                    n = self.armed.get(code, 0) - 1
                    if n <= 0:
                        self.armed.pop(code, None)
                        try:
                            mon.set_local_events(TOOL_ID, code, mon.events.LINE if code in self.raising else 0)
                        except ValueError:
                            pass
                    else:
                        self.armed[code] = n

    def _arm_trace(self, m: Any, frames: list) -> None:
        tracer = self._tracer
        for fr in frames:
            fr.f_trace = tracer
            fr.f_trace_lines = True
        ts = m.tstate
        if ts:
            self._settrace(ts, self._tramp, tracer)

    # -- firing (target M) ---------------------------------------------------------
    def _fire(self, code: Any) -> None:
        g = getattr(getcurrent(), "_rtg", None)
        if g is None or not g.preempt:
            return
        if g.nopreempt:
            self.deferred += 1  # a debug.nopreempt() section: its exit yields
            return
        if code.co_filename.startswith(_PKG_DIR) or not self.is_safe(g):
            return
        if in_runtime(sys._getframe(2)):
            return  # e.g. a GC/weakref callback inside a channel operation: not a safe point
        self.disarm(g.m)
        try:
            self._switch_out(g)
        except BaseException as e:
            if not _HAVE_MONITORING:
                raise  # 3.11: an exception from the trace function enters the frame normally
            self._raise_at_next_line(g, code, e)

    def _switch_out(self, g: Any) -> None:
        """Honour the request from inside the hook: leave the callback's tracing state
        (greenlet does not save it) while the G is switched out."""
        g.preempt = False
        self.fired += 1
        ts = g.m.tstate
        _LeaveTracing(ts)  # type: ignore[misc]
        try:
            self.on_preempt(g)
        finally:
            _EnterTracing(ts)  # type: ignore[misc]

    def _raise_at_next_line(self, g: Any, code: Any, e: BaseException) -> None:
        """The G resumed from preemption with an exception posted to it (Ctrl-C, a panic
        elsewhere).  3.12/3.13 do not let an exception raised in a ``JUMP`` callback reach
        the frame's handlers (it skips every ``try``/``with``), but one raised in a
        ``LINE`` callback does: arm LINE on this code object and raise there."""
        mon = sys.monitoring
        with self.lock:
            self.pending[g] = (e, code)
            self.raising[code] = self.raising.get(code, 0) + 1
            try:
                mon.set_local_events(TOOL_ID, code, mon.get_local_events(TOOL_ID, code) | mon.events.LINE)
            except ValueError:  # pragma: no cover - code that cannot be instrumented
                self.pending.pop(g, None)
                self.raising[code] -= 1
                raise e from None

    def _mon_line(self, code: Any, line: int) -> Any:
        g = getattr(getcurrent(), "_rtg", None)
        pend = self.pending.get(g) if g is not None else None
        if pend is None or pend[1] is not code:
            return None  # another goroutine running the same code object
        mon = sys.monitoring
        with self.lock:
            del self.pending[g]
            n = self.raising.get(code, 0) - 1
            if n <= 0:
                self.raising.pop(code, None)
                try:
                    mon.set_local_events(TOOL_ID, code, mon.get_local_events(TOOL_ID, code) & ~mon.events.LINE)
                except ValueError:  # pragma: no cover
                    pass
            else:
                self.raising[code] = n
        raise pend[0]

    def _mon_jump(self, code: Any, instruction_offset: int, destination_offset: int) -> Any:
        self._fire(code)

    def _mon_start(self, code: Any, instruction_offset: int) -> Any:
        self._fire(code)

    def _tracer(self, frame: Any, event: str, arg: Any) -> Any:
        g = getattr(getcurrent(), "_rtg", None)
        if g is None or not g.preempt:
            if sys.gettrace() == self._tracer:
                sys.settrace(None)  # a stale attach: detach (never a user's tracer)
            return None
        code = frame.f_code
        if g.nopreempt:
            self.deferred += 1  # a debug.nopreempt() section: its exit yields
            return self._tracer
        if code.co_filename.startswith(_PKG_DIR) or not self.is_safe(g) or in_runtime(frame):
            return self._tracer
        sys.settrace(None)
        frame.f_trace = None
        self._switch_out(g)
        return None
