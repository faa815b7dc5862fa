"""``RuntimeLock`` statistics are exact under contention (reliability item 4).

The counters used to be ``+=`` on shared attributes outside the lock: a read-modify-write
that loses updates without the GIL (599,995 of 600,000 acquisitions counted on a
free-threaded build).  On a GIL build an ``+=`` of a slot is never interrupted by a
thread switch (no eval-breaker check inside it), so to make the race observable there
the second test runs a trace function between every bytecode of the lock's methods: the
tracer's own calls are eval-breaker checks, and with a 1 µs switch interval a thread
switch can then land between the load and the store of a counter, as it can at any
time on a free-threaded build.
"""

from __future__ import annotations

import os
import sys
import threading

import pytest

from pyruntime._core import futex
from pyruntime._core.futex import RuntimeLock

pytestmark = pytest.mark.timeout(120)

_LOCK_CODES = {RuntimeLock.lock.__code__, RuntimeLock.try_lock.__code__,
               getattr(RuntimeLock, "_lock_slow", RuntimeLock.lock).__code__}


def _hammer(lk: RuntimeLock, nthreads: int, n: int, interleave: bool) -> list[int]:
    """``nthreads`` threads each lock/unlock ``n`` times (every 4th a ``try_lock``);
    returns each thread's count of the acquisitions it made."""
    counts = [0] * nthreads
    start = threading.Barrier(nthreads)

    def opcode_tracer(frame, event, arg):  # runs between the lock's bytecodes
        if event == "opcode":
            os.sched_yield()  # releases the GIL; the calls here are eval-breaker checks
        return opcode_tracer

    def tracer(frame, event, arg):
        if event == "call" and frame.f_code in _LOCK_CODES:
            frame.f_trace_opcodes = True
            return opcode_tracer
        return None

    def worker(i: int) -> None:
        if interleave:
            sys.settrace(tracer)
        start.wait()
        k = 0
        for j in range(n):
            if j % 4 == 3:
                if not lk.try_lock():
                    lk.lock()
            else:
                lk.lock()
            k += 1
            lk.unlock()
        sys.settrace(None)
        counts[i] = k

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        sys.setswitchinterval(old)
    return counts


@pytest.mark.parametrize("spin", [{}, {"active_spin": 4, "passive_spin": 1}], ids=["defaults", "go-spins"])
def test_acquisition_count_is_exact_under_contention(spin):
    lk = RuntimeLock(**spin)
    counts = _hammer(lk, 8, 5000, interleave=False)
    assert sum(counts) == 8 * 5000
    st = lk.statistics()
    assert st.acquisitions == 8 * 5000
    assert st.contended <= st.acquisitions
    assert not lk.locked()


def test_counts_exact_when_threads_switch_between_any_two_bytecodes():
    lk = RuntimeLock()
    nthreads, n = 6, 400
    counts = _hammer(lk, nthreads, n, interleave=True)
    assert sum(counts) == nthreads * n
    st = lk.statistics()
    assert st.acquisitions == nthreads * n, f"lost {nthreads * n - st.acquisitions} acquisitions"
    # Every futex sleep that ended in an acquisition was counted by its waiter.
    assert st.wakes <= st.sleeps
    assert st.contended <= st.acquisitions


def test_free_threaded_build_uses_go_spins():
    # Documented default: spinning only where it can help (no GIL, several CPUs).
    expect = 4 if (futex._FREE_THREADED and (os.cpu_count() or 1) > 1) else 0
    assert RuntimeLock().active_spin == expect
