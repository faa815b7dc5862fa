"""Durations, periods and sizes at the edges (reliability item 12): Go's rules, as
``pyruntime.time``'s docstring states them.

* ``Ticker(1e-81)`` livelocked the runtime (its expiry never advanced, the firings
  piled up in memory): a period below 1 ns is Go's 0 and panics; a valid 1 ns ticker
  neither starves other goroutines nor buffers more than one tick.
* NaN is no duration (ValueError) everywhere, ``context`` and ``net`` included.
* ``+inf`` saturates to Go's largest duration (never fires); an idle M whose next timer
  was at ``inf`` crashed with OverflowError.  ``-inf`` is "now", like any negative.
* ``chan(n)`` beyond Go's makechan limit and a WaitGroup counter beyond int32 panic.
"""

from __future__ import annotations

import math
import threading

import pytest

import pyruntime as rt
from pyruntime import chan, context, go, nilchan, select, sync
from pyruntime import time as gotime
from pyruntime._core import proc
from pyruntime._core.futex import Note

from conftest import EVENTUALLY, Worker, recv_timeout, run, tcp_pair, wait_until

pytestmark = pytest.mark.timeout(60)

MAX_CAP = ((1 << 48) - 96) // 8   # Go's makechan limit, 8-byte elements, 64-bit
WAITGROUP_MAX = 2**31 - 1         # Go's int32 WaitGroup counter
MIN_PERIOD = 1e-6                 # pyruntime.time.MIN_PERIOD


def test_documented_limits():
    from pyruntime._core import chan as chanmod

    assert chanmod.MAX_CAP == MAX_CAP and sync.WAITGROUP_MAX == WAITGROUP_MAX
    assert gotime.MIN_PERIOD == MIN_PERIOD and gotime.MAX_DURATION == (2**63 - 1) * 1e-9


# --------------------------------------------------------------------------- tickers

@pytest.mark.parametrize("dt", [1e-81, 4e-10, 0.0, -1.0, -math.inf])
def test_ticker_period_below_one_nanosecond_panics(procs, dt):
    def main():
        out = []
        with pytest.raises(rt.Panic, match="non-positive interval for NewTicker") as ei:
            gotime.Ticker(dt)
        out.append(isinstance(ei.value, ValueError))
        tk = gotime.Ticker(1.0)
        with pytest.raises(rt.Panic, match="non-positive interval for Ticker.Reset"):
            tk.reset(dt)
        tk.stop()
        out.append(gotime.tick(dt) is nilchan)
        return out

    assert run(main, procs) == [True, True]


def test_one_nanosecond_ticker_neither_starves_goroutines_nor_buffers(procs):
    def main():
        tk = gotime.Ticker(gotime.nanosecond)
        ping, pong = chan(), chan()

        def echo():
            for v in ping:
                pong.send(v)

        go(echo)
        most = 0
        for i in range(300):  # other goroutines keep running while the ticker fires
            ping.send(i)
            assert pong.recv() == i
            most = max(most, len(tk.c._buf))
        ping.close()
        got = [tk.c.recv() for _ in range(3)]  # and it does tick
        tk.stop()
        return most, len(got), tk._rt.period

    most, n, period = run(main, procs)
    assert most <= 1  # capacity 1: a slow reader's ticks are dropped, not queued
    assert n == 3
    assert period == MIN_PERIOD


def test_periodic_runtime_timer_fires_at_most_once_per_check():
    # Below the float clock's resolution ``when + period`` == ``when``: run_timers must
    # still re-arm after now, or it loops forever holding the P's timer lock.
    def main():
        fired = []
        t = proc.Timer(lambda a, w, s: fired.append(w))
        p = proc.getg().m.p
        t.start(gotime._monotonic(), 1.0)
        t.period = 1e-81  # bypass start()'s floor: the guard in run_timers alone
        now = gotime._monotonic()
        proc.run_timers(p, now)
        proc.run_timers(p, now)
        t.stop()
        return len(fired), t.when > now

    assert rt.run(main, gomaxprocs=1) == (1, True)


# --------------------------------------------------------------------------- NaN

NAN_CALLS = {
    "sleep": lambda: gotime.sleep(math.nan),
    "after": lambda: gotime.after(math.nan),
    "Timer": lambda: gotime.Timer(math.nan),
    "after_func": lambda: gotime.after_func(math.nan, lambda: None),
    "Timer.reset": lambda: gotime.Timer(1.0).reset(math.nan),
    "Ticker": lambda: gotime.Ticker(math.nan),
    "Ticker.reset": lambda: gotime.Ticker(1.0).reset(math.nan),
    "tick": lambda: gotime.tick(math.nan),
    "with_timeout": lambda: context.with_timeout(context.background(), math.nan),
    "with_deadline": lambda: context.with_deadline(context.background(), math.nan),
}


@pytest.mark.parametrize("name", list(NAN_CALLS))
def test_nan_is_no_duration(procs, name):
    def main():
        with pytest.raises(ValueError, match="NaN"):
            NAN_CALLS[name]()
        return "ok"

    assert run(main, procs) == "ok"


def test_nan_dial_timeout_and_deadline_are_value_errors(procs):
    from pyruntime import net

    def main():
        ln, c, s = tcp_pair()
        try:
            with pytest.raises(ValueError, match="NaN"):
                net.dial("tcp", f"127.0.0.1:{ln.addr[1]}", timeout=math.nan)
            with pytest.raises(ValueError, match="NaN"):
                c.set_read_deadline(math.nan)
        finally:
            for x in (c, s, ln):
                x.close()
        return "ok"

    assert run(main, procs) == "ok"


# --------------------------------------------------------------------------- infinities

def test_infinite_timer_is_pending_forever_and_the_idle_m_survives(procs):
    # The P goes idle with a timer at +inf as its next timer: its M sleeps "until then".
    def main():
        tm = gotime.Timer(math.inf)
        tk = gotime.Ticker(math.inf)
        p = proc.getg().m.p
        c = chan()

        def poke():
            wait_until_plain(lambda: p.sleep_until is not None)
            c.send("woken")

        w = Worker(poke)
        w.start()
        got = c.recv()
        w.finish()
        i, _ = select(tm.c.recv, tk.c.recv, rt.default)
        return got, i, tm.stop(), tk.stop()

    assert run(main, procs) == ("woken", 2, True, True)


def wait_until_plain(pred, timeout=EVENTUALLY):
    import time as _t

    end = _t.monotonic() + timeout
    while not pred():
        assert _t.monotonic() < end, "condition not reached"
        _t.sleep(0.001)


def test_note_sleep_with_an_infinite_timeout_waits_for_the_wakeup():
    n = Note()
    w = Worker(n.sleep, math.inf)
    w.start()
    wait_until_plain(lambda: n.sleeping or not w.is_alive())
    n.wakeup()
    assert w.finish() is True


def test_infinite_sleep_parks_until_interrupted_and_is_not_a_deadlock(procs):
    def main():
        started = chan()

        def sleeper():
            started.send(None)
            gotime.sleep(math.inf)

        go(sleeper)
        started.recv()
        # main blocks too: the only pending work is the sleeper's timer (not a deadlock)
        return recv_timeout(gotime.after(0.01), timeout=EVENTUALLY) is not None

    assert run(main, procs) is True


def test_infinite_timeout_context_has_no_timer_and_still_cancels(procs):
    def main():
        ctx, cancel = context.with_timeout(context.background(), math.inf)
        before = (ctx.deadline(), ctx.err(), ctx._timer)
        cancel()
        return before, ctx.err() is context.canceled

    assert run(main, procs) == ((math.inf, None, None), True)


def test_negative_infinity_is_now(procs):
    def main():
        gotime.sleep(-math.inf)  # returns at once
        v = recv_timeout(gotime.Timer(-math.inf).c)
        ctx, _ = context.with_timeout(context.background(), -math.inf)
        done = recv_timeout(ctx.done()) is None
        return isinstance(v, float), done, ctx.err() is context.deadline_exceeded

    assert run(main, procs) == (True, True, True)


def test_infinite_read_deadline_from_a_plain_thread(procs):
    # poll(2) takes an int of milliseconds: an inf (or ~3-year) deadline overflowed it.
    def main():
        ln, c, s = tcp_pair()
        out = []
        try:
            for far in (math.inf, 1e8):
                c.set_read_deadline(gotime.now() + far)
                w = Worker(c.read, 10)
                w.start()
                s.write(b"hi")
                out.append(w.finish())
        finally:
            for x in (c, s, ln):
                x.close()
        return out

    assert run(main, procs) == [b"hi", b"hi"]


# --------------------------------------------------------------------------- sizes

@pytest.mark.parametrize("n", [MAX_CAP + 1, 2**63, 10**30])
def test_chan_beyond_makechan_limit_panics(n):
    with pytest.raises(rt.Panic, match=r"makechan: size out of range") as ei:
        chan(n)
    assert isinstance(ei.value, ValueError)


def test_chan_at_makechan_limit_is_fine(procs):
    def main():
        c = chan(MAX_CAP)  # nothing is allocated until it fills
        c.send(1)
        return c.cap(), c.recv()

    assert run(main, procs) == (MAX_CAP, 1)


def test_waitgroup_counter_overflow_panics_and_keeps_the_counter(procs):
    def main():
        wg = sync.WaitGroup()
        with pytest.raises(rt.Panic, match="sync: WaitGroup counter overflow") as ei:
            wg.add(10**20)
        assert isinstance(ei.value, ValueError)
        wg.add(WAITGROUP_MAX)
        with pytest.raises(rt.Panic, match="overflow"):
            wg.add(1)
        wg.add(-WAITGROUP_MAX)  # unchanged by the panics: back to 0
        wg.wait()
        return "ok"

    assert run(main, procs) == "ok"
