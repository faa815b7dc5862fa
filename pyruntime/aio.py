"""pyruntime.aio: run asyncio coroutines from goroutines.

``await_(coro)`` submits ``coro`` to a runtime-owned asyncio loop (uvloop when
installed) running on its own thread, and parks the calling goroutine until the
coroutine finishes: its result is returned and its exception raised in the goroutine.
While it waits, the goroutine is in ``_Gsyscall`` (as if in a blocking call), so its P
runs other goroutines and deadlock detection knows an outside party will wake it.

The loop thread starts on first use and stops with the runtime: ``run()`` returning,
a panic or a deadlock stop it; coroutines still pending then are cancelled and the
loop is closed.  From a plain thread, ``await_`` blocks that thread.  Calling it on the
loop's own thread (from a callback or a coroutine running there) would deadlock, so it
raises ``RuntimeError``: ``await`` the coroutine there instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any

from ._core import proc

__all__ = ["await_", "loop"]

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # type: ignore[import-not-found]

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def _serve(lp: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(lp)
    lp.call_soon(ready.set)
    try:
        lp.run_forever()
        # Stopped with the runtime: cancel what is left, let it unwind, close.
        pending = [t for t in asyncio.all_tasks(lp) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            lp.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        lp.run_until_complete(lp.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        lp.close()


def loop() -> asyncio.AbstractEventLoop:
    """The runtime's asyncio loop (started on first use)."""
    global _loop, _thread
    lp = _loop
    t = _thread
    if lp is not None and t is not None and t.is_alive():
        return lp
    # Create the loop outside the lock (loop construction runs library Python code, where
    # a goroutine may be preempted); only publishing it happens under the lock.
    new = _new_loop()
    ready = threading.Event()
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            t = threading.Thread(target=_serve, args=(new, ready), name="pyruntime-aio", daemon=True)
            _loop, _thread = new, t
            new = None  # type: ignore[assignment]
            proc.on_shutdown(_stop)
            t.start()
        else:
            ready.set()
        lp, t = _loop, _thread
    if new is not None:
        new.close()
    else:
        ready.wait()
    return lp


def _stop() -> None:
    """Stop the loop thread (a runtime shutdown hook)."""
    global _loop, _thread
    with _lock:
        lp, t = _loop, _thread
        _loop = _thread = None
    if lp is not None and t is not None and t.is_alive():
        try:
            lp.call_soon_threadsafe(lp.stop)
        except RuntimeError:  # already closed
            pass
        t.join(5.0)


def await_(coro: Awaitable[Any]) -> Any:
    """Run ``coro`` on the runtime's asyncio loop; park until it completes and return its
    result (or raise its exception)."""
    if not (asyncio.iscoroutine(coro) or asyncio.isfuture(coro) or hasattr(coro, "__await__")):
        raise TypeError(f"await_: expected a coroutine or awaitable, got {type(coro).__name__} {coro!r}")
    if _thread is not None and threading.current_thread() is _thread:
        if asyncio.iscoroutine(coro):
            coro.close()  # never started: close it rather than warn "never awaited"
        raise RuntimeError("pyruntime.aio.await_ called on the asyncio loop's own thread; use 'await' there")

    async def wrap() -> Any:
        return await coro

    fut = asyncio.run_coroutine_threadsafe(wrap(), loop())
    return proc.syscall_wait(fut.result, fut.add_done_callback)
