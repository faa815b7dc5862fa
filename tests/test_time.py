"""pyruntime.time contract (SPEC §3.3, GO_RUNTIME_FACTS §8.7 and §9).

Lower bounds on elapsed time are checked (a timer never fires early); upper
bounds are never checked tightly (the machine is loaded). Go 1.23+ timer
channels: no stale value can be received after stop/reset returns.
"""

import time as _stdtime

import pytest

from pyruntime import chan, default, go, select
from pyruntime import time as gotime

from conftest import assert_stays_blocked, run

pytestmark = pytest.mark.timeout(30)

EPS = 0.002  # clock granularity slack for "not early" checks


def test_constants():
    assert gotime.nanosecond == pytest.approx(1e-9)
    assert gotime.microsecond == pytest.approx(1e-6)
    assert gotime.millisecond == pytest.approx(1e-3)
    assert gotime.second == 1.0
    assert gotime.minute == 60.0
    assert gotime.hour == 3600.0
    for c in (gotime.nanosecond, gotime.microsecond, gotime.millisecond, gotime.second,
              gotime.minute, gotime.hour):
        assert isinstance(c, float)


def test_now_is_epoch_seconds(procs):
    def main():
        return gotime.now()

    t0 = _stdtime.time()
    t = run(main, procs)
    assert isinstance(t, float)
    assert t0 - 1 <= t <= _stdtime.time() + 1


def test_sleep_not_early(procs):
    def main():
        t0 = _stdtime.monotonic()
        gotime.sleep(50 * gotime.millisecond)
        return _stdtime.monotonic() - t0

    assert run(main, procs) >= 0.05 - EPS


def test_sleep_zero_and_negative_return(procs):
    def main():
        gotime.sleep(0)
        gotime.sleep(-1)
        return "ok"

    assert run(main, procs) == "ok"


def test_sleep_parks_goroutine_not_thread(procs):
    # With one P, other goroutines keep running while one sleeps.
    def main():
        c = chan()

        def sleeper():
            gotime.sleep(0.2)
            c.send("sleeper")

        go(sleeper)
        go(lambda: c.send("worker"))
        return [c.recv(), c.recv()]

    assert run(main, procs) == ["worker", "sleeper"]


def test_many_concurrent_sleeps(procs):
    n = 200

    def main():
        c = chan(n)
        t0 = _stdtime.monotonic()
        for i in range(n):
            go(lambda i=i: (gotime.sleep(0.05), c.send(i)))
        got = sorted(c.recv() for _ in range(n))
        return got, _stdtime.monotonic() - t0

    got, elapsed = run(main, procs)
    assert got == list(range(n))
    assert elapsed >= 0.05 - EPS
    assert elapsed < 10, "sleeps ran one after another instead of concurrently"


def test_sleep_order(procs):
    def main():
        c = chan(3)
        for d in (0.15, 0.05, 0.10):
            go(lambda d=d: (gotime.sleep(d), c.send(d)))
        return [c.recv() for _ in range(3)]

    assert run(main, procs) == [0.05, 0.10, 0.15]


def test_after(procs):
    def main():
        t0 = _stdtime.monotonic()
        c = gotime.after(0.05)
        early = select(c.recv, default)
        v = c.recv()
        return early, v, _stdtime.monotonic() - t0

    early, v, elapsed = run(main, procs)
    assert early == (1, None)
    assert v is not None
    assert elapsed >= 0.05 - EPS


def test_after_in_select_timeout(procs):
    def main():
        never = chan()
        return select(never.recv, gotime.after(0.02).recv)[0]

    assert run(main, procs) == 1


def test_after_func(procs):
    def main():
        c = chan()
        t0 = _stdtime.monotonic()
        gotime.after_func(0.05, lambda: c.send(_stdtime.monotonic()))
        fired_at = c.recv()
        return fired_at - t0

    assert run(main, procs) >= 0.05 - EPS


def test_after_func_stop_prevents_call(procs):
    def main():
        fired = chan(1)
        t = gotime.after_func(0.05, lambda: fired.send("fired"))
        stopped = t.stop()
        assert_stays_blocked(fired, dt=0.15, what="stopped after_func")
        return stopped, t.stop()

    assert run(main, procs) == (True, False)


def test_after_func_runs_in_its_own_goroutine(procs):
    def main():
        c = chan()  # unbuffered: the callback blocks until we receive
        gotime.after_func(0.01, lambda: (c.send(1), c.send(2)))
        return [c.recv(), c.recv()]

    assert run(main, procs) == [1, 2]


def test_tick(procs):
    def main():
        ch = gotime.tick(0.02)
        t0 = _stdtime.monotonic()
        vals = [ch.recv() for _ in range(3)]
        return vals, _stdtime.monotonic() - t0

    vals, elapsed = run(main, procs)
    assert all(v is not None for v in vals)
    assert elapsed >= 0.06 - EPS


# ---------------------------------------------------------------- Timer


def test_timer_fires(procs):
    def main():
        t0 = _stdtime.monotonic()
        t = gotime.Timer(0.05)
        v = t.c.recv()
        return v is not None, _stdtime.monotonic() - t0, t.stop()

    ok, elapsed, stop_after_fire = run(main, procs)
    assert ok
    assert elapsed >= 0.05 - EPS
    assert stop_after_fire is False


def test_timer_stop_before_fire(procs):
    def main():
        t = gotime.Timer(0.05)
        first = t.stop()
        second = t.stop()
        assert_stays_blocked(t.c, dt=0.15, what="receive from a stopped timer")
        return first, second

    assert run(main, procs) == (True, False)


def test_timer_stop_after_expiry_leaves_no_stale_value(procs):
    # Go 1.23: the timer expired but nobody received; after Stop returns, a
    # receive must block (no stale value).
    def main():
        t = gotime.Timer(0.01)
        gotime.sleep(0.05)
        t.stop()
        immediate = select(t.c.recv, default)
        assert_stays_blocked(t.c, dt=0.05, what="stale timer value after stop")
        return immediate

    assert run(main, procs) == (1, None)


def test_timer_stop_after_expiry_without_receive_returns_true(procs):
    # Go 1.23 doc: "if the program has not received from t.C already and the
    # timer is running, Stop is guaranteed to return true."
    def main():
        t = gotime.Timer(0.01)
        gotime.sleep(0.05)
        return t.stop()

    assert run(main, procs) is True


def test_timer_reset_after_expiry_leaves_no_stale_value(procs):
    def main():
        t = gotime.Timer(0.01)
        gotime.sleep(0.05)
        t0 = _stdtime.monotonic()
        t.reset(0.05)
        immediate = select(t.c.recv, default)
        v = t.c.recv()
        return immediate, v is not None, _stdtime.monotonic() - t0

    immediate, got, elapsed = run(main, procs)
    assert immediate == (1, None), "stale value after reset"
    assert got
    assert elapsed >= 0.05 - EPS


def test_timer_reset_active_timer(procs):
    def main():
        t = gotime.Timer(10.0)
        t0 = _stdtime.monotonic()
        was_active = t.reset(0.03)
        t.c.recv()
        return was_active, _stdtime.monotonic() - t0

    was_active, elapsed = run(main, procs)
    assert was_active is True
    assert 0.03 - EPS <= elapsed < 9.0


def test_timer_reset_after_stop(procs):
    def main():
        t = gotime.Timer(10.0)
        t.stop()
        t.reset(0.02)
        return t.c.recv() is not None

    assert run(main, procs) is True


def test_timer_channel_len_and_cap_are_zero(procs):
    # Go 1.23: timer channels report len 0 and cap 0 (synchronous).
    def main():
        t = gotime.Timer(0.01)
        gotime.sleep(0.05)
        return len(t.c), t.c.cap()

    assert run(main, procs) == (0, 0)


def test_timer_fires_once(procs):
    def main():
        t = gotime.Timer(0.01)
        t.c.recv()
        assert_stays_blocked(t.c, dt=0.05, what="second value from a one-shot timer")
        return "once"

    assert run(main, procs) == "once"


# ---------------------------------------------------------------- Ticker


def test_ticker_ticks_and_stops(procs):
    def main():
        tk = gotime.Ticker(0.02)
        t0 = _stdtime.monotonic()
        for _ in range(3):
            tk.c.recv()
        elapsed = _stdtime.monotonic() - t0
        tk.stop()
        immediate = select(tk.c.recv, default)
        assert_stays_blocked(tk.c, dt=0.08, what="tick after Ticker.stop")
        return elapsed, immediate

    elapsed, immediate = run(main, procs)
    assert elapsed >= 0.06 - EPS
    assert immediate == (1, None), "stale tick after stop"


def test_ticker_reset_changes_period(procs):
    def main():
        tk = gotime.Ticker(10.0)
        t0 = _stdtime.monotonic()
        tk.reset(0.02)
        tk.c.recv()
        tk.c.recv()
        elapsed = _stdtime.monotonic() - t0
        tk.stop()
        return elapsed

    elapsed = run(main, procs)
    assert 0.04 - EPS <= elapsed < 9.0


def test_ticker_reset_leaves_no_stale_tick(procs):
    def main():
        tk = gotime.Ticker(0.01)
        gotime.sleep(0.05)  # at least one tick is due, unreceived
        tk.reset(10.0)
        r = select(tk.c.recv, default)
        tk.stop()
        return r

    assert run(main, procs) == (1, None)


def test_timer_in_select_with_channel(procs):
    def main():
        c = chan()
        t = gotime.Timer(10.0)

        def sender():
            c.send("data")

        go(sender)
        i, v = select(c.recv, t.c.recv)
        stopped = t.stop()
        return i, v, stopped

    assert run(main, procs) == (0, "data", True)


def test_many_timers_stopped_and_reset(procs):
    # 60 timers: a third stopped, a third reset to fire later, a third left
    # alone. Exactly the un-stopped ones deliver, once each.
    n = 60

    def main():
        timers = [gotime.Timer(0.05) for _ in range(n)]
        stopped = [timers[i].stop() for i in range(0, n, 3)]
        for i in range(1, n, 3):
            timers[i].reset(0.1)
        fired = chan(n)
        wg_done = chan()

        def watch(i, t):
            i_, _ = select(t.c.recv, gotime.after(0.5).recv)
            fired.send((i, i_ == 0))
            wg_done.send(None)

        for i, t in enumerate(timers):
            go(watch, i, t)
        for _ in range(n):
            wg_done.recv()
        fired.close()
        return stopped, sorted(fired)

    stopped, results = run(main, procs)
    assert stopped == [True] * (n // 3)
    for i, got in results:
        assert got == (i % 3 != 0), f"timer {i}: fired={got}"


def test_after_func_many(procs):
    n = 100

    def main():
        c = chan(n)
        for i in range(n):
            gotime.after_func(0.001 * (i % 10), lambda i=i: c.send(i))
        return sorted(c.recv() for _ in range(n))

    assert run(main, procs) == list(range(n))
