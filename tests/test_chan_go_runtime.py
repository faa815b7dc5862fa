"""Runtime contract (SPEC §3.1): run, go handles, gosched, gomaxprocs,
num_goroutine, syscall, panic propagation, deadlock detection and cleanup.
"""

import re
import threading
import time as _stdtime

import pytest

import pyruntime as rt
from pyruntime import chan, go, nilchan, select
from pyruntime import sync
from pyruntime import testing
from pyruntime import time as gotime

from conftest import Worker, recv_timeout, run, runtime_threads_settled, wait_until

pytestmark = pytest.mark.timeout(30)

DEADLOCK_MSG = "fatal error: all goroutines are asleep - deadlock!"


# ---------------------------------------------------------------- run


def test_run_returns_main_result(procs):
    assert run(lambda: 42, procs) == 42


def test_run_passes_args_and_kwargs(procs):
    def main(a, b, *, c):
        return (a, b, c)

    assert rt.run(main, 1, "two", c=[3], gomaxprocs=procs) == (1, "two", [3])


def test_run_callable_twice(procs):
    def main(k):
        c = chan()
        go(lambda: c.send(k * 2))
        return c.recv()

    assert run(main, procs, 1) == 2
    assert run(main, procs, 5) == 10


def test_run_many_times_in_a_row(procs):
    for k in range(10):
        assert run(lambda: k, procs) == k


def test_run_reraises_exception_from_main(procs):
    class Boom(Exception):
        pass

    def main():
        raise Boom("from main")

    with pytest.raises(Boom, match="from main"):
        run(main, procs)
    assert run(lambda: "again", procs) == "again"


def test_gomaxprocs_param_and_query(procs):
    def main():
        return rt.gomaxprocs()

    assert run(main, procs) == procs


def test_gomaxprocs_change_at_run_time(procs):
    def main():
        prev = rt.gomaxprocs(2)
        now = rt.gomaxprocs()
        # Goroutines still run after the stop-the-world resize.
        c = chan()
        for k in range(10):
            go(c.send, k)
        total = sum(c.recv() for _ in range(10))
        prev2 = rt.gomaxprocs(1)
        go(c.send, 100)
        return prev, now, total, prev2, c.recv(), rt.gomaxprocs()

    assert run(main, procs) == (procs, 2, 45, 2, 100, 1)


def test_gomaxprocs_below_one_is_a_query(procs):
    # Go: runtime.GOMAXPROCS(n) with n < 1 returns the current value and changes nothing.
    def main():
        return rt.gomaxprocs(0), rt.gomaxprocs(-1), rt.gomaxprocs()

    assert run(main, procs) == (procs, procs, procs)
    before = rt.gomaxprocs()  # no runtime: the next runtime's default
    assert rt.gomaxprocs(0) == before and rt.gomaxprocs(-5) == before
    assert rt.gomaxprocs() == before


@pytest.mark.parametrize("bad", [True, False, 0.0, 2.0, "2", [2]], ids=repr)
def test_gomaxprocs_non_int_is_a_type_error(procs, bad):
    def main():
        with pytest.raises(TypeError, match="gomaxprocs must be an int"):
            rt.gomaxprocs(bad)
        return rt.gomaxprocs()

    assert run(main, procs) == procs
    with pytest.raises(TypeError, match="gomaxprocs must be an int"):
        rt.gomaxprocs(bad)  # no runtime running: the same check


def test_gomaxprocs_shrink_leaves_no_reference_to_an_exited_ms_greenlets(procs):
    # A retired M's thread exits; nothing may keep a greenlet of that thread alive after
    # that, neither its g0 (the thread's main greenlet) nor its pooled worker greenlets,
    # even though the program still holds G handles (g.m is the retired M, g.glet was its
    # worker).  greenlet drops an exited thread's main greenlet itself when it finds a
    # reference it cannot see: a garbage M's g0 dangled and the collector crashed
    # (test_programs.py has the crash).
    import weakref

    from pyruntime._core import proc

    def main():
        rt.gomaxprocs(4)
        ran = chan(64)
        handles, glets = [], []
        for _ in range(50):  # until goroutines have run on every P (bounded)
            if len({pid for pid, _ in glets}) == 4:
                break
            for _ in range(8):
                def work():
                    t = 0
                    for _ in range(20000):
                        t += 1
                    rt.gosched()
                    g = proc.getg()
                    ran.send((g.p.id, weakref.ref(g.glet)))
                handles.append(go(work))
            for _ in range(8):
                glets.append(ran.recv())
        retiring = [m for m in proc.sched.allm if not m.is_m0]
        g0s = [weakref.ref(m.g0) for m in retiring]
        workers = [r for pid, r in glets if pid != 0]
        rt.gomaxprocs(1)
        # (Parked through the runtime, not a plain join: M0 keeps scheduling meanwhile.)
        wait_until(lambda: not any(m.thread.is_alive() for m in retiring), timeout=20,
                   what="the retired Ms' threads ended")
        # greenlet frees an exited thread's main greenlet from a pending call on the main
        # thread, shortly after the thread is gone.
        wait_until(lambda: all(r() is None for r in g0s + workers), timeout=10,
                   what="the exited Ms' greenlets freed")
        return len(retiring), len(handles) > 0

    assert run(main, procs) == (3, True)


def test_num_cpu():
    n = rt.num_cpu()
    assert isinstance(n, int) and n >= 1


def test_main_returning_abandons_other_goroutines(procs):
    # Like Go: main returns, the program ends, blocked goroutines are dropped.
    def main():
        c = chan()
        for _ in range(20):
            go(c.recv)
        go(nilchan.recv)
        go(select)
        testing.wait_blocked(c.recv, 20)
        return "bye"

    before = set(threading.enumerate())
    assert run(main, procs) == "bye"
    assert runtime_threads_settled(before) == []


# ---------------------------------------------------------------- go()


def test_go_returns_handle(procs):
    def main():
        c = chan()
        g = go(c.recv)
        testing.wait_blocked(c.recv, 1)
        status_blocked = g.status
        c.send(1)
        wait_until(lambda: g.status == "dead", what="goroutine dead")
        return type(g.goid), g.goid, status_blocked, g.status

    goid_type, goid, blocked, dead = run(main, procs)
    assert goid_type is int and goid > 0
    assert blocked == "waiting"
    assert dead == "dead"


def test_go_passes_args_and_kwargs(procs):
    def main():
        c = chan(1)

        def f(a, b, *, k):
            c.send((a, b, k))

        go(f, 1, 2, k=3)
        return c.recv()

    assert run(main, procs) == (1, 2, 3)


def test_goids_unique_and_handles_stay_dead_after_reuse(procs):
    def main():
        wg = sync.WaitGroup()
        first = []
        for _ in range(50):
            wg.add(1)
            first.append(go(wg.done))
        wg.wait()
        wait_until(lambda: all(g.status == "dead" for g in first), what="first batch dead")
        second = []
        for _ in range(200):  # reuses the dead Gs' storage, if the runtime pools them
            wg.add(1)
            second.append(go(wg.done))
        wg.wait()
        return [g.goid for g in first], [g.goid for g in second], [g.status for g in first]

    ids1, ids2, statuses = run(main, procs)
    assert len(set(ids1 + ids2)) == 250, "goids were reused"
    assert statuses == ["dead"] * 50, "a dead goroutine's handle changed status after G reuse"


def test_num_goroutine(procs):
    def main():
        base = rt.num_goroutine()
        c = chan()
        for _ in range(5):
            go(c.recv)
        during = rt.num_goroutine()
        testing.wait_blocked(c.recv, 5)
        blocked = rt.num_goroutine()
        c.close()
        wait_until(lambda: rt.num_goroutine() == base, what="goroutines exit")
        return base, during, blocked, rt.num_goroutine()

    assert run(main, procs) == (1, 6, 6, 1)


def test_gosched_lets_others_run(procs):
    # Under GOMAXPROCS=1 the flag can only be set if gosched yields the P.
    def main():
        flag = []
        go(lambda: flag.append(True))
        spins = 0
        while not flag:
            rt.gosched()
            spins += 1
            assert spins < 1_000_000
        return flag

    assert run(main, procs) == [True]


# ---------------------------------------------------------------- syscall


def test_syscall_returns_result_and_raises(procs):
    def main():
        r = rt.syscall(pow, 2, 10)
        try:
            rt.syscall(int, "not a number")
        except ValueError as e:
            return r, "invalid literal" in str(e)
        return r, False

    assert run(main, procs) == (1024, True)


def test_syscall_keeps_p_running_other_goroutines(procs):
    # main blocks its thread in a syscall until a goroutine sets the event;
    # with GOMAXPROCS=1 that goroutine can only run if the P was handed off.
    def main():
        ev = threading.Event()
        go(ev.set)
        ok = rt.syscall(ev.wait, 20)
        return ok

    assert run(main, procs) is True


def test_syscall_kwargs(procs):
    def main():
        return rt.syscall(sorted, [3, 1, 2], reverse=True)

    assert run(main, procs) == [3, 2, 1]


# ---------------------------------------------------------------- panics


def test_exception_in_goroutine_is_reraised_by_run(procs, capfd):
    raised = []

    def boom():
        e = KeyError("boom-in-goroutine")
        raised.append(e)
        raise e

    def main():
        go(boom)
        chan().recv()  # would block forever; the panic ends the program

    with pytest.raises(KeyError) as ei:
        run(main, procs)
    assert ei.value is raised[0]
    err = capfd.readouterr().err
    assert "panic: " in err
    assert "boom-in-goroutine" in err
    assert re.search(r"^goroutine \d+ \[running\]:", err, re.M), err


def test_rt_panic_in_goroutine_propagates(procs, capfd):
    def main():
        c = chan()
        c.close()
        go(c.send, 1)
        select()

    with pytest.raises(rt.Panic, match="^send on closed channel$"):
        run(main, procs)
    assert "panic: send on closed channel" in capfd.readouterr().err


def test_runtime_usable_after_panic(procs, capfd):
    def bad():
        go(lambda: 1 / 0)
        chan().recv()

    with pytest.raises(ZeroDivisionError):
        run(bad, procs)

    def good():
        c = chan()
        go(c.send, "fine")
        return c.recv()

    assert run(good, procs) == "fine"


def test_no_threads_left_after_panic(procs, capfd):
    before = set(threading.enumerate())

    def main():
        for _ in range(8):
            go(gotime.sleep, 10)
        go(lambda: [][1])
        chan().recv()

    with pytest.raises(IndexError):
        run(main, procs)
    assert runtime_threads_settled(before) == []


# ---------------------------------------------------------------- deadlock


def test_deadlock_main_blocks_on_recv(procs, capfd):
    with pytest.raises(rt.Deadlock):
        run(lambda: chan().recv(), procs)
    assert DEADLOCK_MSG in capfd.readouterr().err


def test_deadlock_main_blocks_on_send(procs, capfd):
    with pytest.raises(rt.Deadlock):
        run(lambda: chan().send(1), procs)
    assert DEADLOCK_MSG in capfd.readouterr().err


def test_deadlock_nilchan_and_empty_select(procs, capfd):
    with pytest.raises(rt.Deadlock):
        run(nilchan.recv, procs)
    with pytest.raises(rt.Deadlock):
        run(lambda: nilchan.send(1), procs)
    with pytest.raises(rt.Deadlock):
        run(select, procs)
    err = capfd.readouterr().err
    assert err.count(DEADLOCK_MSG) == 3


def test_deadlock_with_other_blocked_goroutines_dumps_them(procs, capfd):
    def main():
        a, b = chan(), chan()
        go(a.recv)
        go(b.send, 1)
        testing.wait_blocked(a.recv, 1)
        testing.wait_blocked(b.send, 1)
        chan().recv()

    with pytest.raises(rt.Deadlock):
        run(main, procs)
    err = capfd.readouterr().err
    assert DEADLOCK_MSG in err
    assert re.search(r"^goroutine \d+ \[chan receive\]:", err, re.M), err
    assert re.search(r"^goroutine \d+ \[chan send\]:", err, re.M), err


def test_deadlock_on_waitgroup_and_mutex(procs, capfd):
    def wg_main():
        wg = sync.WaitGroup()
        wg.add(1)
        wg.wait()

    def mu_main():
        m = sync.Mutex()
        m.lock()
        m.lock()

    with pytest.raises(rt.Deadlock):
        run(wg_main, procs)
    with pytest.raises(rt.Deadlock):
        run(mu_main, procs)
    assert capfd.readouterr().err.count(DEADLOCK_MSG) == 2


def test_deadlock_cycle_between_goroutines(procs, capfd):
    # a waits for b, b waits for a, main waits for both: nothing can move.
    def main():
        a, b = chan(), chan()
        done = chan()
        go(lambda: (a.recv(), b.send(1), done.send(1)))
        go(lambda: (b.recv(), a.send(1), done.send(1)))
        done.recv()

    with pytest.raises(rt.Deadlock):
        run(main, procs)
    assert DEADLOCK_MSG in capfd.readouterr().err


def test_deadlock_after_timers_expire(procs, capfd):
    # Not while the sleep is pending, but once it has fired and nothing else
    # can wake main.
    def main():
        go(gotime.sleep, 0.05)
        gotime.sleep(0.01)
        chan().recv()

    t0 = _stdtime.monotonic()
    with pytest.raises(rt.Deadlock):
        run(main, procs)
    assert _stdtime.monotonic() - t0 >= 0.05 - 0.002, "deadlock reported while a sleep was pending"
    assert DEADLOCK_MSG in capfd.readouterr().err


def test_panic_while_main_sleeps_ends_program(procs, capfd):
    # The panic ends the program promptly even though main sleeps for 60 s.
    def main():
        go(lambda: {}["missing"])
        gotime.sleep(60)

    t0 = _stdtime.monotonic()
    with pytest.raises(KeyError):
        run(main, procs)
    assert _stdtime.monotonic() - t0 < 25
    assert "panic: " in capfd.readouterr().err


def test_exception_in_main_with_running_goroutines(procs):
    before = set(threading.enumerate())

    def main():
        c = chan()
        for _ in range(4):
            go(lambda: [c.send(i) for i in range(10**9)])
        c.recv()
        raise RuntimeError("main fails")

    with pytest.raises(RuntimeError, match="main fails"):
        run(main, procs)
    assert runtime_threads_settled(before) == []


def test_deadlock_is_an_exception_and_runtime_recovers(procs, capfd):
    assert issubclass(rt.Deadlock, BaseException)
    before = set(threading.enumerate())
    with pytest.raises(rt.Deadlock):
        run(lambda: chan().recv(), procs)
    assert runtime_threads_settled(before) == []
    assert run(lambda: "alive", procs) == "alive"


def test_no_deadlock_while_goroutine_sleeps(procs, capfd):
    def main():
        c = chan()

        def sleeper():
            gotime.sleep(0.1)
            c.send("woke")

        go(sleeper)
        return c.recv()

    assert run(main, procs) == "woke"
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_no_deadlock_while_main_sleeps(procs, capfd):
    def main():
        t0 = _stdtime.monotonic()
        gotime.sleep(0.1)
        return _stdtime.monotonic() - t0

    assert run(main, procs) >= 0.099
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_no_deadlock_while_timer_pending(procs, capfd):
    def main():
        t = gotime.Timer(0.1)
        t.c.recv()
        return gotime.after(0.05).recv() is not None

    assert run(main, procs) is True
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_no_deadlock_while_after_func_pending(procs, capfd):
    def main():
        c = chan()
        gotime.after_func(0.1, lambda: c.send("fired"))
        return c.recv()

    assert run(main, procs) == "fired"
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_no_deadlock_while_goroutine_computes(procs, capfd):
    def main():
        c = chan()

        def work():
            x = 0
            for i in range(300_000):
                x += i
            c.send(x)

        go(work)
        return c.recv()

    assert run(main, procs) == sum(range(300_000))
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_no_deadlock_while_syscall_in_flight(procs, capfd):
    def main():
        c = chan()

        def caller():
            c.send(rt.syscall(_stdtime.sleep, 0.1) or "done")

        go(caller)
        return c.recv()

    assert run(main, procs) == "done"
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_no_deadlock_while_outside_thread_blocked_on_runtime_object(procs, capfd):
    # Thread 1 is parked on a.recv (a runtime object) the whole time main is
    # blocked on b.recv; thread 2 is an ordinary thread that later sends on b.
    a, b = chan(), chan()
    go_ahead = threading.Event()

    def t1_body():
        return a.recv()

    def t2_body():
        go_ahead.wait(20)
        _stdtime.sleep(0.2)
        b.send("from thread 2")

    t1, t2 = Worker(t1_body), Worker(t2_body)

    def main():
        t1.start()
        t2.start()
        testing.wait_blocked(a.recv, 1)
        go_ahead.set()
        v = b.recv()
        a.send("release t1")
        return v

    assert run(main, procs) == "from thread 2"
    assert t1.finish() == "release t1"
    t2.finish()
    assert DEADLOCK_MSG not in capfd.readouterr().err


def test_recv_timeout_helper_sanity(procs):
    # recv_timeout (used by the thread tests) must itself time out cleanly.
    def main():
        try:
            recv_timeout(chan(), timeout=0.05)
        except AssertionError:
            return "timed out"
        return "returned"

    assert run(main, procs) == "timed out"
