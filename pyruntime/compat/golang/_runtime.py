"""Start the implicit runtime for pygolang-style code that never calls ``run()``.

``go()`` already does this (``proc.newproc``); pygolang programs also start timers
(``time.after``, ``time.Timer``, ``context.with_timeout``) before any ``go()``, and a
runtime timer needs a P to live on.  Same rule as ``go()``: when the caller is not a
goroutine and no runtime is running, the calling code becomes the main goroutine of a new
implicit runtime (stopped at interpreter exit).
"""

from __future__ import annotations

import threading

from ..._core import proc as _proc

_start_lock = threading.Lock()


def ensure_runtime() -> None:
    """Make sure a runtime is running (starting the implicit one if needed)."""
    if _proc.sched.running:
        return
    with _start_lock:  # two plain threads starting timers at once start one runtime
        if not _proc.sched.running and getattr(_proc.getcurrent(), "_rtg", None) is None:
            _proc._start(None, implicit=True)
