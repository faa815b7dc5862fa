"""pyruntime.context contract (SPEC §3.3)."""

import time as _stdtime

import pytest

from pyruntime import chan, default, go, select
from pyruntime import context
from pyruntime import testing
from pyruntime import time as gotime

from conftest import assert_stays_blocked, run

pytestmark = pytest.mark.timeout(30)

EPS = 0.002


def _is_done(ctx):
    return select(ctx.done().recv, default)[0] == 0


def test_background(procs):
    def main():
        bg = context.background()
        return _is_done(bg), bg.err(), bg.value("k")

    assert run(main, procs) == (False, None, None)


def test_error_values():
    assert isinstance(context.canceled, BaseException)
    assert isinstance(context.deadline_exceeded, BaseException)
    assert context.canceled is not context.deadline_exceeded
    assert str(context.canceled) == "context canceled"
    assert str(context.deadline_exceeded) == "context deadline exceeded"


def test_with_cancel(procs):
    def main():
        ctx, cancel = context.with_cancel(context.background())
        before = (_is_done(ctx), ctx.err())
        cancel()
        after = (_is_done(ctx), ctx.err() is context.canceled)
        cancel()  # idempotent
        again = ctx.err() is context.canceled
        # a closed done channel stays ready forever
        return before, after, again, ctx.done().recv_()

    assert run(main, procs) == ((False, None), (True, True), True, (None, False))


def test_cancel_wakes_waiters(procs):
    n = 4

    def main():
        ctx, cancel = context.with_cancel(context.background())
        woke = chan(n)
        for i in range(n):
            go(lambda i=i: (ctx.done().recv(), woke.send(i)))
        testing.wait_blocked(ctx.done().recv, n)
        assert_stays_blocked(woke, what="waiter on an uncanceled context")
        cancel()
        return sorted(woke.recv() for _ in range(n))

    assert run(main, procs) == list(range(n))


def test_cancel_propagates_to_children_not_parents(procs):
    def main():
        root, cancel_root = context.with_cancel(context.background())
        mid, cancel_mid = context.with_cancel(root)
        leaf, cancel_leaf = context.with_cancel(mid)
        sibling, cancel_sibling = context.with_cancel(root)

        cancel_mid()
        state1 = [_is_done(c) for c in (root, mid, leaf, sibling)]
        errs1 = [c.err() is context.canceled for c in (mid, leaf)]
        cancel_root()
        state2 = [_is_done(c) for c in (root, mid, leaf, sibling)]
        cancel_leaf()
        cancel_sibling()
        return state1, errs1, state2

    assert run(main, procs) == ([False, True, True, False], [True, True], [True, True, True, True])


def test_child_of_canceled_parent_is_canceled_at_once(procs):
    def main():
        parent, cancel = context.with_cancel(context.background())
        cancel()
        child, cc = context.with_cancel(parent)
        tchild, tc = context.with_timeout(parent, 10.0)
        r = (_is_done(child), child.err() is context.canceled, _is_done(tchild), tchild.err() is context.canceled)
        cc()
        tc()
        return r

    assert run(main, procs) == (True, True, True, True)


def test_with_timeout_expires(procs):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 0.05)
        t0 = _stdtime.monotonic()
        early = ctx.err()
        ctx.done().recv()
        elapsed = _stdtime.monotonic() - t0
        err = ctx.err()
        cancel()  # after expiry: err stays deadline_exceeded
        return early, elapsed, err is context.deadline_exceeded, ctx.err() is context.deadline_exceeded

    early, elapsed, err_ok, still_ok = run(main, procs)
    assert early is None
    assert elapsed >= 0.05 - EPS
    assert err_ok and still_ok


def test_with_timeout_cancel_before_expiry(procs):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 10.0)
        cancel()
        return _is_done(ctx), ctx.err() is context.canceled

    assert run(main, procs) == (True, True)


def test_with_deadline(procs):
    def main():
        ctx, cancel = context.with_deadline(context.background(), gotime.now() + 0.05)
        t0 = _stdtime.monotonic()
        ctx.done().recv()
        elapsed = _stdtime.monotonic() - t0
        r = ctx.err() is context.deadline_exceeded
        cancel()
        return elapsed, r

    elapsed, ok = run(main, procs)
    assert elapsed >= 0.05 - 0.01  # deadline is on the wall clock
    assert ok


def test_with_deadline_in_the_past(procs):
    def main():
        ctx, cancel = context.with_deadline(context.background(), gotime.now() - 1)
        r = _is_done(ctx), ctx.err() is context.deadline_exceeded
        cancel()
        return r

    assert run(main, procs) == (True, True)


def test_parent_timeout_cancels_child(procs):
    def main():
        parent, pc = context.with_timeout(context.background(), 0.03)
        child, cc = context.with_cancel(parent)
        child.done().recv()
        r = child.err() is context.deadline_exceeded
        pc()
        cc()
        return r

    assert run(main, procs) is True


def test_child_timeout_not_later_than_parent_deadline(procs):
    def main():
        parent, pc = context.with_timeout(context.background(), 0.05)
        child, cc = context.with_timeout(parent, 10.0)
        t0 = _stdtime.monotonic()
        child.done().recv()
        elapsed = _stdtime.monotonic() - t0
        pc()
        cc()
        return elapsed < 9.0, child.err() is context.deadline_exceeded

    assert run(main, procs) == (True, True)


def test_with_value(procs):
    def main():
        bg = context.background()
        a = context.with_value(bg, "k", 1)
        b = context.with_value(a, "other", 2)
        c, cancel = context.with_cancel(b)
        d = context.with_value(c, "k", 3)  # shadows
        cancel()
        return (
            a.value("k"),
            a.value("other"),
            b.value("k"),
            c.value("other"),
            d.value("k"),
            c.value("k"),
            d.value("missing"),
            _is_done(d),
            d.err() is context.canceled,
        )

    assert run(main, procs) == (1, None, 1, 2, 3, 1, None, True, True)


def test_select_on_done_with_work(procs):
    # The canonical worker loop: stop when the context is canceled.
    def main():
        ctx, cancel = context.with_cancel(context.background())
        work = chan()
        result = chan(1)

        def worker():
            n = 0
            while True:
                i, _ = select(ctx.done().recv, work.recv)
                if i == 0:
                    result.send((n, ctx.err() is context.canceled))
                    return
                n += 1

        go(worker)
        for _ in range(10):
            work.send(None)
        cancel()
        return result.recv()

    assert run(main, procs) == (10, True)


def test_no_deadlock_while_waiting_on_context_timeout(procs, capfd):
    def main():
        ctx, cancel = context.with_timeout(context.background(), 0.05)
        ctx.done().recv()  # only the context's timer can wake us
        cancel()
        return ctx.err() is context.deadline_exceeded

    assert run(main, procs) is True
    assert "deadlock" not in capfd.readouterr().err
