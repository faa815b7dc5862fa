"""Shared fixtures and helpers for the pyruntime test suite.

Every concurrency test takes the ``procs`` fixture and runs its body with
``rt.run(main, gomaxprocs=procs)``, so the whole suite runs once with a single
P (pure cooperative scheduling) and once with four Ps (several Ms, on a
machine that may have fewer cores).

Rules the helpers below encode:

* Tests synchronise on channels, ``pyruntime.testing.wait_blocked`` or
  polling with a deadline; a sleep is only ever used to show that something
  does *not* happen (and then a correct runtime can never fail the check).
* Helpers whose name says "in a goroutine" must be called from inside
  ``rt.run``: they park the calling goroutine through the runtime (they use
  ``pyruntime.time.sleep`` or channel operations), never the M.

Test modules import the helpers with ``from conftest import ...``; pytest puts
this directory on ``sys.path`` (rootdir conftest, prepend import mode).
"""

from __future__ import annotations

import select as _select
import threading
import time as _stdtime

import pytest

import pyruntime as rt
from pyruntime import chan, default, go, nilchan, select  # noqa: F401  (re-exported)
from pyruntime import debug as rtdebug
from pyruntime import time as gotime

_orig_poll = _select.poll   # captured before any test monkey-patches select

# How long a "this must not happen" observation lasts. Short, because a
# correct runtime passes regardless of how long we look.
NEGATIVE_WAIT = 0.05

# Generous upper bound for things that must eventually happen.
EVENTUALLY = 20.0


@pytest.fixture(params=[1, 4], ids=lambda n: f"procs{n}")
def procs(request):
    """GOMAXPROCS for ``rt.run``: every concurrency test runs under 1 and 4."""
    return request.param


def run(main, procs, *args, **kwargs):
    """``rt.run(main, *args, gomaxprocs=procs, **kwargs)``."""
    return rt.run(main, *args, gomaxprocs=procs, **kwargs)


# ---------------------------------------------------------------------------
# helpers to call from inside a goroutine
# ---------------------------------------------------------------------------


def wait_until(pred, timeout=EVENTUALLY, step=0.001, what="condition"):
    """Poll ``pred()`` until true, parking through ``pyruntime.time.sleep``."""
    deadline = _stdtime.monotonic() + timeout
    while not pred():
        if _stdtime.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        gotime.sleep(step)


def recv_timeout(ch, timeout=EVENTUALLY):
    """``ch.recv()`` that fails the test instead of hanging.

    The pending ``after`` timer also keeps deadlock detection from firing
    while an outside OS thread (invisible to the runtime until it blocks)
    is still on its way to the channel.
    """
    i, v = select(ch.recv, gotime.after(timeout).recv)
    if i != 0:
        raise AssertionError(f"no value received within {timeout}s")
    return v


def tcp_pair():
    """In a goroutine: a TCP listener on 127.0.0.1 and a connected (client, server) pair
    of ``pyruntime.net`` Conns."""
    from pyruntime import net

    ln = net.listen("tcp", "127.0.0.1:0")
    accepted = chan(1)
    go(lambda: accepted.send(ln.accept()))
    c = net.dial("tcp", f"127.0.0.1:{ln.addr[1]}")
    return ln, c, recv_timeout(accepted)



def wait_for_peer_fin(fd):
    """In a goroutine: wait until the kernel has the peer's FIN on socket ``fd`` (poll(2),
    level-triggered: it reads nothing).  Loopback delivery is usually done before the
    sender's close() returns, but a loaded machine may defer it."""
    p = _orig_poll()
    p.register(fd, getattr(_select, "POLLRDHUP", 0) or _select.POLLIN)
    want = getattr(_select, "POLLRDHUP", 0) or _select.POLLIN
    wait_until(lambda: any(ev & want for _, ev in p.poll(0)), what=f"FIN on fd {fd}")

def netpoll_barrier():
    """In a goroutine: return once the netpoller has harvested every readiness edge the
    kernel had queued when it was called.  (A goroutine parks on a fresh marker conn and
    is woken by one byte; epoll hands out queued edges in order, so the poll that
    reports the marker has reported every edge queued before it.)"""
    ln, x, y = tcp_pair()
    got = chan(1)
    m = go(lambda: got.send(x.read(1)))
    wait_reason(m, "IO wait")
    y.write(b"!")
    if recv_timeout(got) != b"!":
        raise AssertionError("netpoll_barrier: the marker byte was lost")
    for o in (x, y, ln):
        o.close()

def is_ready(ch):
    """Non-blocking probe: True (and the value is consumed) if ch can receive now."""
    i, _ = select(ch.recv, default)
    return i == 0


def assert_stays_blocked(done, dt=NEGATIVE_WAIT, what="operation"):
    """Show that nothing arrives on ``done`` for ``dt`` seconds."""
    gotime.sleep(dt)
    i, v = select(done.recv, default)
    assert i == 1, f"{what} completed but should have blocked (got {v!r})"


def wait_reason(g, reason, timeout=EVENTUALLY):
    """Wait until goroutine handle ``g`` is parked with wait reason ``reason``
    (a string, or a tuple of acceptable strings)."""
    reasons = (reason,) if isinstance(reason, str) else tuple(reason)

    def parked():
        for info in rtdebug.goroutines():
            if info.goid == g.goid and info.wait_reason in reasons:
                return True
        return False

    wait_until(parked, timeout, what=f"goroutine {g.goid} waiting with reason in {reasons!r}")


def expect_panic(fn, *args, message=None):
    """Call ``fn(*args)`` and return the ``rt.Panic`` it must raise."""
    try:
        fn(*args)
    except rt.Panic as e:
        if message is not None:
            assert str(e) == message, f"Panic text {str(e)!r} != {message!r}"
        return e
    raise AssertionError(f"{fn!r} did not raise rt.Panic({message!r})")


# ---------------------------------------------------------------------------
# helpers for plain OS threads
# ---------------------------------------------------------------------------


class Worker(threading.Thread):
    """A plain OS thread that records its exception instead of printing it."""

    def __init__(self, target, *args):
        super().__init__(target=None, daemon=True)
        self._fn = target
        self._args = args
        self.error = None
        self.result = None

    def run(self):
        try:
            self.result = self._fn(*self._args)
        except BaseException as e:  # noqa: BLE001 - reported by finish()
            self.error = e

    def finish(self, timeout=EVENTUALLY):
        self.join(timeout)
        assert not self.is_alive(), "outside thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def runtime_threads_settled(before, timeout=0.0):
    """Threads started since ``before`` (a set of threads) that are still alive."""
    deadline = _stdtime.monotonic() + timeout
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or _stdtime.monotonic() >= deadline:
            return extra
        _stdtime.sleep(0.01)
