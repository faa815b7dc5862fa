"""pyruntime.aio: run asyncio coroutines from goroutines.

``await_(coro)`` submits ``coro`` to a runtime-owned asyncio loop (uvloop when
installed) running on its own thread, and parks the calling goroutine in
``_Gsyscall`` until the coroutine finishes; its result is returned and its exception
raised in the goroutine.  The loop thread starts on first use and stops with the
runtime.  From a plain thread, ``await_`` blocks that thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable

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


def loop() -> asyncio.AbstractEventLoop:
    """The runtime's asyncio loop (started on first use)."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            lp = _new_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(lp)
                lp.call_soon(ready.set)
                lp.run_forever()
                lp.close()

            t = threading.Thread(target=run, name="pyruntime-aio", daemon=True)
            t.start()
            ready.wait()
            _loop, _thread = lp, t
            proc.on_shutdown(_stop)
        return _loop


def _stop() -> None:
    global _loop, _thread
    with _lock:
        lp, t = _loop, _thread
        _loop = _thread = None
    if lp is not None and t is not None:
        lp.call_soon_threadsafe(lp.stop)
        t.join(5.0)


def await_(coro: Awaitable[Any]) -> Any:
    """Run ``coro`` on the runtime's asyncio loop; park until it completes."""
    if not asyncio.iscoroutine(coro) and not isinstance(coro, asyncio.Future) and not hasattr(coro, "__await__"):
        raise TypeError(f"await_: expected a coroutine or awaitable, got {coro!r}")

    async def wrap() -> Any:
        return await coro

    fut = asyncio.run_coroutine_threadsafe(wrap(), loop())
    return proc.syscall_wait(fut.result, fut.add_done_callback)
