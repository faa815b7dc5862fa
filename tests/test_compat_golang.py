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
from pyruntime.compat.golang import chan, default, defer, func, go, nilchan, panic, recover, select

from conftest import EVENTUALLY, Worker, is_ready, recv_timeout, run, wait_reason

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
    with pytest.raises(RuntimeError, match="function test_defer_outside_func_and_bad_arguments uses defer, but not @func"):
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


# --------------------------------------------------------------------------- recover: Go's "directly" rule

def _recover_in_a_helper():
    return recover()


def test_recover_in_a_helper_of_a_deferred_call_stops_nothing():
    # Go: recover returns nil unless called directly by a deferred function.  A deferred
    # lambda that calls a helper that calls recover() must not stop the panic.
    seen = []

    @func
    def f():
        defer(lambda: seen.append(_recover_in_a_helper()))
        panic("boom")

    with pytest.raises(rt.Panic, match="boom"):
        f()
    assert seen == [None]


def test_recover_in_a_helper_of_a_deferred_func_stops_nothing():
    seen = []

    @func
    def handler():
        seen.append(_recover_in_a_helper())  # handler is deferred; the helper is not

    @func
    def f():
        defer(handler)
        panic("boom")

    with pytest.raises(rt.Panic, match="boom"):
        f()
    assert seen == [None]


def test_defer_recover_itself_recovers_nothing():
    # Go: `defer recover()` does not stop a panic (recover is not called *by* a deferred function).
    @func
    def f():
        defer(recover)
        panic("boom")

    with pytest.raises(rt.Panic, match="boom"):
        f()


def test_recover_directly_in_deferred_functions_methods_and_partials():
    import functools

    seen = []

    def direct():
        seen.append(recover())

    class H:
        def m(self):
            seen.append(recover())

    def with_arg(tag):
        seen.append((tag, recover()))

    for d in (direct, H().m, functools.partial(with_arg, "p")):
        @func
        def f():
            defer(d)
            panic("x")

        assert f() is None
    assert seen == ["x", "x", ("p", "x")]


def test_recover_in_the_body_of_a_func_that_a_deferred_call_calls_stops_nothing():
    # The deferred lambda calls a @func: that @func is not the deferred function.
    seen = []

    @func
    def inner():
        seen.append(recover())

    @func
    def f():
        defer(lambda: inner())
        panic("boom")

    with pytest.raises(rt.Panic, match="boom"):
        f()
    assert seen == [None]


def test_defer_from_a_helper_of_a_func_panics():
    # Only the @func body itself may defer: a helper's deferred call would otherwise run
    # at its caller's return.  pygolang panics with this text.
    def helper():
        defer(lambda: None)

    @func
    def f():
        helper()

    with pytest.raises(rt.Panic) as ei:
        f()
    assert ei.value.args == ("function helper uses defer, but not @func",)
    assert isinstance(ei.value, RuntimeError) and isinstance(ei.value, golang._PanicError)


# --------------------------------------------------------------------------- exception chains

def _context_chain(e):
    out = []
    while e is not None:
        out.append(str(e))
        e = e.__context__
    return out


def test_exception_chain_across_deferred_funcs_keeps_the_original():
    # err is in flight; deferred @func d2 raises from its body and its own deferred d21
    # raises too; then d1 raises.  Nothing may be lost: d1 -> d21 -> d2 -> err.
    @func
    def main():
        def d1():
            raise RuntimeError("d1")

        @func
        def d2():
            def d21():
                raise RuntimeError("d21")

            defer(d21)
            raise RuntimeError("d2")

        defer(d1)
        defer(d2)
        raise RuntimeError("err")

    with pytest.raises(RuntimeError, match="^d1$") as ei:
        main()
    assert _context_chain(ei.value) == ["d1", "d21", "d2", "err"]


def test_exception_chain_when_the_func_is_called_while_handling_an_exception():
    # Called inside an `except` block: Python sets every new exception's context to the
    # handled one; the chain built by the body and its deferred calls must survive that.
    @func
    def f():
        def d():
            raise RuntimeError("d")

        defer(d)
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("err")  # noqa: B904 - implicit chaining is what is tested

    try:
        raise OSError("outer")
    except OSError:
        with pytest.raises(RuntimeError) as ei:
            f()
    assert _context_chain(ei.value) == ["d", "err", "'inner'", "outer"]


def test_exception_chain_without_defers_keeps_the_bodys_own_context():
    @func
    def f():
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("err")  # noqa: B904

    try:
        raise OSError("outer")
    except OSError:
        with pytest.raises(ValueError) as ei:
            f()
    assert _context_chain(ei.value) == ["err", "'inner'", "outer"]


def test_exception_chain_after_recover_does_not_include_the_recovered_panic():
    @func
    def f():
        def d1():
            raise RuntimeError("d1")

        defer(d1)
        defer(lambda: recover())
        panic("p")

    with pytest.raises(RuntimeError) as ei:
        f()
    assert _context_chain(ei.value) == ["d1"]


# --------------------------------------------------------------------------- @func(Cls) property

def test_func_defines_a_property_with_defer():
    class Conn:
        def __init__(self):
            self.log = []
            self._v = 1

    @func(Conn)
    @property
    def value(self):
        defer(lambda: self.log.append("get deferred"))
        return self._v

    @func(Conn)
    @value.setter
    def value(self, v):  # noqa: F811 - the property grows a setter
        defer(lambda: self.log.append("set deferred"))
        self._v = v

    c = Conn()
    assert isinstance(Conn.__dict__["value"], property)
    assert c.value == 1
    c.value = 5
    assert c.value == 5
    assert c.log == ["get deferred", "set deferred", "get deferred"]


# --------------------------------------------------------------------------- error / errors / fmt

def test_import_shapes():
    import pyruntime.compat.golang.errors as gerrors
    from pyruntime.compat.golang import context as gcontext, errors, fmt, sync as gsync, time as gtime

    assert gerrors is errors is golang.errors
    assert gsync is golang.sync and gcontext is golang.context and gtime is golang.time and fmt is golang.fmt
    assert golang.error is errors.error


def test_error_type_text_and_values():
    from pyruntime.compat.golang import error, errors

    e = error("problem")
    assert str(e) == e.Error() == "problem" and e.Unwrap() is None
    assert isinstance(e, Exception)
    assert error(b"caf\xc3\xa9").Error() == "café"
    assert errors.New("x") == errors.New("x") and hash(errors.New("x")) == hash(error("x"))
    assert errors.New("x") != errors.New("y")
    with pytest.raises(ValueError):
        error()
    with pytest.raises(TypeError):
        errors.New(1)

    class OpError(error):
        def __init__(self, op, err):
            self.op, self.err = op, err

        def Error(self):
            return f"{self.op}: {self.err}"

        def Unwrap(self):
            return self.err

    base = errors.New("unexpected EOF")
    oe = OpError("read", base)
    assert str(oe) == "read: unexpected EOF"
    assert errors.Unwrap(oe) is base and errors.Unwrap(base) is None
    assert errors.Is(oe, base) and errors.Is(oe, errors.New("unexpected EOF"))
    assert not errors.Is(oe, errors.New("EOF"))
    assert errors.As(oe, OpError) is oe and errors.As(oe, KeyError) is None
    with pytest.raises(TypeError):
        errors.Is(1, None)
    with pytest.raises(TypeError):
        errors.As(oe, "OpError")


def test_errorf_wraps_with_w_and_raise_from_counts_as_wrapping():
    from pyruntime.compat.golang import errors, fmt

    e1 = errors.New("problem")
    e2 = fmt.Errorf("doing something for %s: %w", "joe", e1)
    assert str(e2) == "doing something for joe: problem"
    assert errors.Is(e2, e1) and errors.Unwrap(e2) is e1
    assert type(e2) is golang.error
    k = KeyError("k")
    e3 = fmt.errorf("two: %w, %w", e1, k)  # Go 1.20: several %w
    assert errors.Unwrap(e3) is None and errors.Is(e3, k) and errors.Is(e3, e1)
    assert errors.As(e3, KeyError) is k
    assert str(fmt.Errorf("bad: %w", 3)) == "bad: %!w(int=3)"
    assert str(fmt.Errorf("none: %w", None)) == "none: %!w(<nil>)"
    assert str(fmt.Errorf("%d%% of %w", 5, e1)) == "5% of problem"

    try:
        try:
            raise e1
        except golang.error as cause:
            raise RuntimeError("wrapper") from cause
    except RuntimeError as w:
        assert errors.Unwrap(w) is e1 and errors.Is(w, e1)


def test_b_and_u_never_fail_and_round_trip():
    from pyruntime.compat.golang import b, u

    assert b("привет") == "привет".encode() and u("привет".encode()) == "привет"
    assert b(b"x") == b"x" and u("x") == "x" and b(bytearray(b"y")) == b"y"
    junk = bytes(range(256))
    assert b(u(junk)) == junk
    s = "a\udc80z"
    assert u(b(s)) == s
    assert isinstance(b("\ud800"), bytes)  # a lone non-escape surrogate still encodes
    with pytest.raises(TypeError):
        b(1)
    with pytest.raises(TypeError):
        u(None)


# --------------------------------------------------------------------------- sync

def test_pyruntime_sync_has_no_sema_trap():
    import pyruntime.sync as rsync

    assert not hasattr(rsync, "Sema")
    with pytest.raises(AttributeError, match=r"compat\.golang\.sync\.Sema"):
        rsync.Sema  # noqa: B018


def test_sema_counts_and_blocks(procs):
    from pyruntime.compat.golang import sync as gsync


    def main():
        s = gsync.Sema(2)
        s.acquire()
        s.acquire()
        got = chan(1)

        def third():
            s.acquire()
            got.send("acquired")

        g = go(third)
        wait_reason(g, "semacquire")
        s.release()
        v = recv_timeout(got)
        with gsync.Sema() as one:  # default: one unit
            assert isinstance(one, gsync.Sema)
        return v

    assert run(main, procs) == "acquired"
    with pytest.raises(ValueError):
        golang.sync.Sema(-1)


def test_rwmutex_pygolang_names_and_unlock_to_rlock(procs):
    from pyruntime.compat.golang import sync as gsync


    def main():
        mu = gsync.RWMutex()
        mu.Lock()
        mu.UnlockToRLock()  # now a reader: other readers get in, writers wait
        mu.RLock()
        mu.RUnlock()
        done = chan(1)

        def writer():
            mu.Lock()
            done.send("w")
            mu.Unlock()

        g = go(writer)
        wait_reason(g, ("sync.RWMutex.Lock", "sync.Mutex.Lock"))
        mu.RUnlock()
        return recv_timeout(done)

    assert run(main, procs) == "w"
    mu = golang.sync.RWMutex()
    with pytest.raises(rt.Panic):
        mu.UnlockToRLock()


def test_workgroup_first_error_cancels_the_others_and_wait_raises_it(procs):
    from pyruntime.compat.golang import context as gctx, sync as gsync

    class MyError(Exception):
        pass

    def main():
        seen = []
        wg = gsync.WorkGroup(gctx.background())

        def waiter(ctx, tag):
            ctx.done().recv()
            seen.append((tag, ctx.err()))

        def failer(ctx):
            raise MyError("first")

        wg.go(waiter, "w")
        wg.go(failer)
        with pytest.raises(MyError, match="first"):
            wg.wait()
        assert seen == [("w", gctx.canceled)]

        out = []
        with gsync.WorkGroup(gctx.background()) as wg2:
            for i in range(3):
                wg2.go(lambda ctx, i: out.append(i), i)
        assert sorted(out) == [0, 1, 2]

        # the block raises: its goroutines are canceled and waited for, its error propagates
        stopped = []
        with pytest.raises(KeyError):
            with gsync.WorkGroup(gctx.background()) as wg3:
                wg3.go(lambda ctx: (ctx.done().recv(), stopped.append(ctx.err())))
                raise KeyError("body")
        assert stopped == [gctx.canceled]
        return True

    assert run(main, procs) is True


# --------------------------------------------------------------------------- context

def test_context_names_and_merge(procs):
    from pyruntime.compat.golang import context as gctx

    assert gctx.deadlineExceeded is rt.context.deadline_exceeded and gctx.canceled is rt.context.canceled

    def main():
        bg = gctx.background()
        k1, k2 = object(), object()
        p1, cancel1 = gctx.with_cancel(gctx.with_value(bg, k1, "one"))
        p2, cancel2 = gctx.with_cancel(gctx.with_value(bg, k2, "two"))
        m, mcancel = gctx.merge(p1, p2)
        assert m.err() is None and m.value(k1) == "one" and m.value(k2) == "two"
        assert is_ready(m.done()) is False
        cancel2()
        assert recv_timeout(m.done()) is None and m.err() is gctx.canceled
        # m left both parents: p1 does not keep it as a child
        assert m not in p1._children
        cancel1()

        # deadline: the earlier one; err: the parent's
        t1, c1 = gctx.with_deadline(bg, rt.time.now() + 3600)
        t2, c2 = gctx.with_timeout(bg, 0.01)
        m2, c3 = gctx.merge(t1, t2)
        assert m2.deadline() == t2.deadline()
        recv_timeout(m2.done())
        assert m2.err() is gctx.deadlineExceeded
        c1(), c2(), c3()

        # an already-done parent: merged is done at once
        m3, c4 = gctx.merge(bg, p2)
        assert m3.err() is gctx.canceled
        mcancel(), c4()
        return True

    assert run(main, procs) is True


def test_context_with_value_matches_keys_by_identity():
    from pyruntime.compat.golang import context as gctx

    class Key:
        def __init__(self, name):
            self.name = name

        def __eq__(self, other):
            return isinstance(other, Key) and other.name == self.name

        __hash__ = None

    k = Key("a")
    c = gctx.with_value(gctx.background(), k, 1)
    assert c.value(k) == 1 and c.value(Key("a")) is None


# --------------------------------------------------------------------------- time

def test_after_func_timer_channel_is_nilchan(procs):
    from pyruntime.compat.golang import time as gtime

    def main():
        fired = chan(1)
        t = gtime.after_func(EVENTUALLY, lambda: fired.send(1))
        t2 = gotime.after_func(EVENTUALLY, lambda: None)
        assert t.c is nilchan and t2.c is nilchan
        i, _ = select(t.c.recv, default)  # the nil channel never delivers
        assert i == 1
        assert t.stop() is True and t2.stop() is True
        assert t.stop() is False
        t.reset(0)
        return recv_timeout(fired)

    assert run(main, procs) == 1


def test_timers_before_any_runtime_start_the_implicit_one():
    # pygolang programs never call run(): a timer made first must work like go() does.
    code = (
        "from pyruntime.compat.golang import time, context, chan, select\n"
        "import pyruntime._core.proc as proc\n"
        "assert not proc.sched.running\n"
        "t = time.Timer(0.01)\n"
        "assert proc.sched.running\n"
        "v = t.c.recv()\n"
        "assert isinstance(v, float), v\n"
        "assert isinstance(time.after(0.01).recv(), float)\n"
        "ctx, cancel = context.with_timeout(context.background(), 0.01)\n"
        "ctx.done().recv()\n"
        "assert ctx.err() is context.deadlineExceeded\n"
        "c = chan(1)\n"
        "time.after_func(0.01, lambda: c.send('f'))\n"
        "assert c.recv() == 'f'\n"
        "tk = time.Ticker(0.01)\n"
        "tk.c.recv(); tk.stop()\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_func_does_not_wrap_a_func_twice():
    @func
    def f():
        defer(lambda: None)
        return 1

    assert func(f) is f and f() == 1
