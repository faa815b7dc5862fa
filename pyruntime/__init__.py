"""pyruntime: Go's runtime rebuilt on real host hardware for Python.

Goroutines are greenlets (G), OS threads are Ms, each pinned to a P with its own run
queue; channels, ``select``, timers, ``sync`` and ``context`` follow Go's semantics.

    import pyruntime as rt
    from pyruntime import go, chan, select, default

    def main():
        ch = chan()
        go(lambda: ch.send("hello"))
        print(ch.recv())

    rt.run(main)
"""

from __future__ import annotations

from ._core.chan import chan, default, nilchan, select
from ._core.errors import Deadlock, Panic, RuntimeFatal
from ._core.g import G
from ._core.proc import gomaxprocs, gosched, num_cpu, num_goroutine, run, syscall
from ._core.proc import newproc as _newproc

__version__ = "0.1.0"


def go(fn, *args, **kwargs) -> G:  # type: ignore[no-untyped-def]
    """Start ``fn(*args, **kwargs)`` in a new goroutine and return its handle.

    Calling ``go`` with no runtime running starts one implicitly, with the calling
    thread as M0 and the calling code as the main goroutine."""
    return _newproc(fn, args, kwargs)


from . import time, sync, context, debug, trace, metrics, testing, aio, monkey, net  # noqa: E402

__all__ = [
    "go", "chan", "select", "default", "nilchan", "run", "gosched", "gomaxprocs", "num_goroutine",
    "num_cpu", "syscall", "Panic", "Deadlock", "RuntimeFatal", "G",
    "time", "sync", "context", "debug", "trace", "metrics", "testing", "aio", "monkey", "net",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    # ``pyruntime.panel`` on first use: it brings http.server along, which a program
    # that never serves the panel should not pay for at import.
    if name == "panel":
        import importlib

        return importlib.import_module(".panel", __name__)
    raise AttributeError(f"module 'pyruntime' has no attribute {name!r}")
