"""pyruntime.compat.golang: per-goroutine defer/recover, ``@func(Cls)``, ``chan(dtype=)``.

The defer stack must belong to the goroutine, not to the OS thread: with GOMAXPROCS=1
every goroutine shares one M, and a goroutine that parks inside a ``@func`` must not
have its deferred calls run by another goroutine's return.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest

import pyruntime as rt
from pyruntime import time as gotime
from pyruntime.compat import golang
from pyruntime.compat.golang import chan, defer, func, go, nilchan, panic, recover, select

from conftest import EVENTUALLY, Worker, recv_timeout, run

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- per-goroutine defer

def test_defer_stacks_are_per_goroutine(procs):
    # The audit's repro: A defers and parks inside its @func; B enters its own @func,
    # defers and parks; A resumes, defers again and returns; then B returns.  With one P
    # both run on the same M (thread): each return must run only its own deferred calls.
    def main():
        log = []
        a_parked, a_go, a_done = chan(), chan(), chan(1)
        b_parked, b_go, b_done = chan(), chan(), chan(1)

        @func
        def a():
            defer(lambda: log.append("A-defer1"))
            a_parked.send(None)
            a_go.recv()
            defer(lambda: log.append("A-defer2"))
            log.append("A-return")

        @func
        def b():
            defer(lambda: log.append("B-defer1"))
            b_parked.send(None)
            b_go.recv()
            log.append("B-return")

        def run_a():
            a()
            a_done.send(None)

        def run_b():
            b()
            b_done.send(None)

        go(run_a)
        recv_timeout(a_parked)
        go(run_b)
        recv_timeout(b_parked)
        a_go.send(None)
        recv_timeout(a_done)
        assert log == ["A-return", "A-defer2", "A-defer1"]
        b_go.send(None)
        recv_timeout(b_done)
        return log

    assert run(main, procs) == ["A-return", "A-defer2", "A-defer1", "B-return", "B-defer1"]


def test_a_goroutine_that_ends_while_another_is_parked_in_func(procs):
    # B runs a whole @func while A is parked inside its own.
    def main():
        log = []
        a_parked, a_go, a_done, b_done = chan(), chan(), chan(1), chan(1)

        @func
        def a():
            defer(lambda: log.append("A-defer1"))
            a_parked.send(None)
            a_go.recv()
            defer(lambda: log.append("A-defer2"))
            log.append("A-return")

        @func
        def b():
            defer(lambda: log.append("B-defer1"))
            log.append("B-return")

        def run_a():
            a()
            a_done.send(None)

        def run_b():
            b()
            b_done.send(None)

        go(run_a)
        recv_timeout(a_parked)
        go(run_b)
        recv_timeout(b_done)
        assert log == ["B-return", "B-defer1"]
        a_go.send(None)
        recv_timeout(a_done)
        return log

    assert run(main, procs) == ["B-return", "B-defer1", "A-return", "A-defer2", "A-defer1"]


def test_defer_stacks_are_per_goroutine_many(procs):
    # Many goroutines, each parked in its own @func with its own defers, released in the
    # reverse order: each one's deferred calls see only its own values.
    N = 20

    def main():
        out = chan(N)
        gates = [chan() for _ in range(N)]
        parked = chan(N)

        @func
        def worker(i):
            got = []
            defer(lambda: out.send((i, got)))
            defer(lambda: got.append(i))
            parked.send(i)
            gates[i].recv()
            defer(lambda: got.append(-i))

        for i in range(N):
            go(worker, i)
        for _ in range(N):
            recv_timeout(parked)
        for i in reversed(range(N)):
            gates[i].send(None)
        res = dict(recv_timeout(out) for _ in range(N))
        return res

    res = run(main, procs)
    assert res == {i: [-i, i] for i in range(N)}


def test_defer_state_does_not_leak_to_a_later_goroutine_on_the_same_greenlet(procs):
    # Goroutine greenlets are pooled per M: the next goroutine may run on the greenlet of
    # one that just ended.  Whatever way the @func ended, nothing of it must remain.
    def main():
        res = chan(1)

        @func
        def ends_normally():
            defer(lambda: None)

        @func
        def ends_with_exception():
            defer(lambda: None)
            raise ValueError("x")

        @func
        def ends_recovered():
            defer(lambda: recover())
            panic("p")

        def first(kind):
            if kind == 0:
                ends_normally()
            elif kind == 1:
                try:
                    ends_with_exception()
                except ValueError:
                    pass
            else:
                ends_recovered()
            res.send(golang._frames())

        def second():
            try:
                defer(lambda: None)
            except RuntimeError as e:
                res.send(("defer outside @func", str(e), golang._frames(), recover()))
            else:  # pragma: no cover
                res.send("defer registered on a stale frame")

        out = []
        for kind in range(3):
            go(first, kind)
            out.append(recv_timeout(res))
            go(second)
            out.append(recv_timeout(res))
        return out

    out = run(main, procs)
    for i in range(0, 6, 2):
        assert out[i] is None
        assert out[i + 1][0] == "defer outside @func" and out[i + 1][2:] == (None, None)


def test_defer_in_plain_os_threads():
    # Outside the runtime: each thread (its root greenlet) has its own defer stack.
    log = []
    a_in, b_done = threading.Event(), threading.Event()

    @func
    def a():
        defer(lambda: log.append("A-defer"))
        a_in.set()
        assert b_done.wait(EVENTUALLY)
        log.append("A-return")

    @func
    def b():
        defer(lambda: log.append("B-defer"))
        log.append("B-return")

    ta = Worker(a)
    ta.start()
    assert a_in.wait(EVENTUALLY)
    tb = Worker(b)
    tb.start()
    tb.finish()
    b_done.set()
    ta.finish()
    assert log == ["B-return", "B-defer", "A-return", "A-defer"]
    assert golang._frames() is None


def test_defer_across_an_implicit_runtime_start():
    # A @func on the main thread that starts the runtime implicitly (pygolang style) keeps
    # its defer stack: the calling code becomes the main goroutine on the same greenlet.
    code = (
        "from pyruntime.compat.golang import func, defer, go, chan\n"
        "log = []\n"
        "@func\n"
        "def main():\n"
        "    defer(lambda: log.append('d1'))\n"
        "    ch = chan()\n"
        "    go(ch.send, 1)\n"
        "    defer(lambda: log.append('d2'))\n"
        "    log.append(ch.recv())\n"
        "main()\n"
        "assert log == [1, 'd2', 'd1'], log\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# --------------------------------------------------------------------------- defer / panic / recover

def test_defer_runs_lifo_and_keeps_the_return_value():
    log = []

    @func
    def f(x):
        defer(lambda: log.append(1))
        defer(lambda: log.append(2))
        return x * 2

    assert f(21) == 42
    assert log == [2, 1]


def test_recover_stops_a_panic_and_the_function_returns_none():
    seen = []

    @func
    def f():
        defer(lambda: seen.append(recover()))
        panic("boom")

    assert f() is None
    assert seen == ["boom"]


def test_recover_returns_other_exceptions_and_none_without_one():
    seen = []

    @func
    def f(raise_it):
        defer(lambda: seen.append(recover()))
        assert recover() is None  # not in a deferred call
        if raise_it:
            raise KeyError("k")
        return "ok"

    assert f(False) == "ok"
    assert f(True) is None
    assert seen[0] is None and isinstance(seen[1], KeyError)
    assert recover() is None  # outside any @func


def test_unrecovered_panic_propagates_after_all_defers():
    log = []

    @func
    def f():
        defer(lambda: log.append("d1"))
        defer(lambda: log.append("d2"))
        panic("boom")

    with pytest.raises(rt.Panic, match="boom"):
        f()
    assert log == ["d2", "d1"]


def test_exception_in_a_deferred_call_replaces_the_one_in_flight_and_is_not_lost():
    log = []

    @func
    def f(fail_body):
        defer(lambda: log.append("still runs"))
        defer(lambda: (_ for _ in ()).throw(RuntimeError("from defer")))
        if fail_body:
            raise ValueError("from body")
        return "value"

    with pytest.raises(RuntimeError, match="from defer") as ei:
        f(False)  # a normal return whose deferred call raises must raise
    assert ei.value.__context__ is None
    with pytest.raises(RuntimeError, match="from defer") as ei:
        f(True)
    assert isinstance(ei.value.__context__, ValueError)
    assert log == ["still runs", "still runs"]


def test_recover_in_a_deferred_func_decorated_function():
    seen = []

    @func
    def handler():
        defer(lambda: seen.append("handler's own defer"))
        seen.append(recover())

    @func
    def f():
        defer(handler)
        panic(7)

    assert f() is None
    assert seen == [7, "handler's own defer"]


def test_nested_func_frames_are_separate():
    log = []

    @func
    def inner():
        defer(lambda: log.append("inner"))
        panic("inner panic")

    @func
    def outer():
        defer(lambda: log.append(("outer", recover())))
        try:
            inner()
        except rt.Panic as e:
            log.append(("caught", str(e)))
        return "done"

    assert outer() == "done"
    assert log == ["inner", ("caught", "inner panic"), ("outer", None)]


def test_defer_outside_func_and_bad_arguments():
    with pytest.raises(RuntimeError, match="outside a @func"):
        defer(lambda: None)

    @func
    def f():
        defer(42)

    with pytest.raises(TypeError):
        f()
    with pytest.raises(TypeError):
        func(42)


def test_recover_does_not_stop_the_runtime_unwinding_a_goroutine(procs):
    # At program end the runtime unwinds the goroutines still parked (GreenletExit);
    # their deferred calls run, but recover() must not swallow that unwinding.
    seen = []

    def main():
        parked = chan()

        @func
        def stuck():
            defer(lambda: seen.append(recover()))
            parked.send(None)
            chan().recv()  # forever

        go(stuck)
        recv_timeout(parked)
        return "main returned"

    assert run(main, procs) == "main returned"
    assert seen == [None]


# --------------------------------------------------------------------------- @func(Cls)

def test_func_defines_methods_with_defer():
    class Conn:
        def __init__(self):
            self.log = []

    @func(Conn)
    def close(self, why):
        defer(lambda: self.log.append("deferred"))
        self.log.append(why)
        return "closed"

    @func(Conn)
    @staticmethod
    def kind():
        defer(lambda: None)
        return "static"

    @func(Conn)
    @classmethod
    def make(cls):
        defer(lambda: None)
        return cls()

    c = Conn.make()
    assert isinstance(c, Conn)
    assert c.close("bye") == "closed" and c.log == ["bye", "deferred"]
    assert Conn.kind() == "static" and c.kind() == "static"
    assert Conn.close.__name__ == "close"
    assert isinstance(Conn.__dict__["kind"], staticmethod)
    assert isinstance(Conn.__dict__["make"], classmethod)


class _Sock:
    pass


def close(x):  # a module-level name that @func(Cls) def close must not clobber
    return ("module close", x)


@func(_Sock)
def close(self):  # noqa: F811 - defines _Sock.close and leaves the module's close alone
    defer(lambda: None)
    return "_Sock.close"


def test_func_method_keeps_an_existing_binding_in_the_defining_scope():
    assert close(1) == ("module close", 1)
    assert _Sock().close() == "_Sock.close"

    class K:
        pass

    @func(K)
    def fresh(self):  # no earlier binding: the name is bound to the method's function
        return "fresh"

    assert K().fresh() == "fresh" and fresh(K()) == "fresh"


def test_func_methods_are_per_goroutine_too(procs):
    class Box:
        pass

    @func(Box)
    def hold(self, parked, gate, out):
        defer(lambda: out.send(self))
        parked.send(None)
        gate.recv()

    def main():
        out, parked = chan(2), chan(2)
        gates = [chan(), chan()]
        boxes = [Box(), Box()]
        for bx, gt in zip(boxes, gates):
            go(bx.hold, parked, gt, out)
        recv_timeout(parked)
        recv_timeout(parked)
        gates[1].send(None)
        first = recv_timeout(out)
        gates[0].send(None)
        second = recv_timeout(out)
        return first is boxes[1] and second is boxes[0]

    assert run(main, procs) is True


# --------------------------------------------------------------------------- chan(dtype=)

def test_chan_accepts_object_dtype(procs):
    def main():
        a = chan(dtype=object)
        b = chan(2, dtype="object")
        b.send("x")
        go(a.send, "y")
        i, v = select(a.recv, gotime.after(EVENTUALLY).recv)
        assert i == 0
        return v, b.recv(), b.cap(), isinstance(a, rt.chan)

    assert run(main, procs) == ("y", "x", 2, True)


def test_chan_rejects_other_dtypes_naming_them():
    for dt in ("C.int", "C.structZ", "C.double", "C.bool"):
        with pytest.raises(NotImplementedError, match=dt.replace(".", r"\.")):
            chan(dtype=dt)
        with pytest.raises(NotImplementedError, match=dt.replace(".", r"\.")):
            chan.nil(dt)
    for dt in (int, "int", None):
        with pytest.raises(TypeError, match=re.escape(repr(dt))):
            chan(1, dtype=dt)
    with pytest.raises(ValueError):
        chan(-1)
    with pytest.raises(TypeError):
        chan("3")


def test_chan_isinstance_and_nil():
    assert chan.nil() is nilchan and chan.nil(object) is nilchan and chan.nil("object") is nilchan
    assert isinstance(nilchan, chan)
    assert isinstance(rt.chan(), chan)
    assert isinstance(chan(), rt.chan)
    assert issubclass(rt.chan, chan)
    assert not isinstance(42, chan)
