"""Port of Go's test/chan/select2.go: select must not leak waiters.

A receiver runs many selects with one real case and one dummy case that
never fires. Go checks that memory does not grow by more than ~110 KB. We
check, in order of precision:

1. the dummy channel has no queued receivers afterwards (``statistics()``
   when the channel has it, and always ``wait_blocked`` timing out and a
   non-blocking send finding nobody);
2. with ``tracemalloc``, a second batch of selects does not grow traced
   memory by more than a few dozen bytes per select.
"""

import dataclasses
import gc
import tracemalloc

import pytest

from pyruntime import chan, default, go, select
from pyruntime import testing

from conftest import run

pytestmark = pytest.mark.timeout(120)

N = 20_000
# Bytes of traced growth allowed for a whole batch of N selects. A leaked
# waiter object per select costs well over 30 bytes.
MAX_GROWTH = 30 * N


def _sender(c, n):
    for _ in range(n):
        c.send(1)


def _receiver(c, dummy, n):
    for _ in range(n):
        i, _ = select(c.recv, dummy.recv)
        if i == 1:
            raise AssertionError("dummy case fired")


def _queued(ch, words):
    """Waiters on ch counted by ch.statistics() (fields whose name mentions
    one of ``words`` and "wait"/"queue"), or None if it cannot tell."""
    stats = getattr(ch, "statistics", None)
    if stats is None:
        return None
    s = stats()
    fields = dataclasses.asdict(s) if dataclasses.is_dataclass(s) else dict(vars(s))
    counts = [
        v
        for k, v in fields.items()
        if isinstance(v, int)
        and not isinstance(v, bool)
        and any(w in k.lower() for w in words)
        and ("wait" in k.lower() or k.lower().endswith("q") or "queue" in k.lower())
    ]
    return sum(counts) if counts else None


def _queued_receivers(ch):
    return _queued(ch, ("recv", "receiv"))


def _queued_senders(ch):
    return _queued(ch, ("send",))


def _no_stale_waiters(dummy):
    errors = []
    n = _queued_receivers(dummy)
    if n is not None and n != 0:
        errors.append(f"statistics() reports {n} queued receivers on dummy")
    try:
        testing.wait_blocked(dummy.recv, 1, timeout=0.2)
        errors.append("wait_blocked(dummy.recv) found a blocked receiver")
    except TimeoutError:
        pass
    i, _ = select((dummy.send, "lost"), default)
    if i == 0:
        errors.append("a non-blocking send on dummy was accepted by a stale waiter")
    return errors


def test_select2_no_stale_waiters(procs):
    def main():
        c, dummy = chan(), chan()
        go(_sender, c, N)
        _receiver(c, dummy, N)
        return _no_stale_waiters(dummy)

    assert run(main, procs) == []


def test_select2_memory_does_not_grow(procs):
    def main():
        c, dummy = chan(), chan()
        go(_sender, c, 2 * N)
        _receiver(c, dummy, N)  # warm up caches and free lists
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        _receiver(c, dummy, N)
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
        return after - before

    tracemalloc.start()
    try:
        growth = run(main, procs)
    finally:
        tracemalloc.stop()
    assert growth < MAX_GROWTH, f"traced memory grew by {growth} bytes over {N} selects"


def test_select2_statistics_counts_waiters(procs):
    # STYLE.md asks for statistics() on every primitive (len, cap, waiting
    # senders and receivers). It must see parked senders and receivers.
    def main():
        ch = chan(1)
        if not hasattr(ch, "statistics"):
            return None
        ch.send(1)
        go(ch.send, 2)
        go(lambda: select(chan().recv, (ch.send, 3)))
        testing.wait_blocked(ch.send, 2)
        senders = _queued_senders(ch)
        ch.recv()
        ch.recv()
        ch.recv()
        u = chan()
        go(u.recv)
        go(lambda: select(chan().recv, u.recv))
        testing.wait_blocked(u.recv, 2)
        receivers = _queued_receivers(u)
        return senders, receivers, _queued_senders(ch), _queued_receivers(ch)

    r = run(main, procs)
    if r is None:
        pytest.skip("chan.statistics() not implemented")
    assert r == (2, 2, 0, 0)
