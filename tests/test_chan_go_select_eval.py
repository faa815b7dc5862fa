"""Port of Go's test/chan/select.go: evaluation counting and nil-disable.

Every case expression (channel and value) is evaluated on each entry to the
select, including cases whose channel is nil; a nil channel disables its
case; default fires when nothing else is ready. The counter must reach 10.
"""

import pytest

from pyruntime import chan, default, nilchan, select

from conftest import run

pytestmark = pytest.mark.timeout(30)


def test_select_go_port(procs):
    state = {"counter": 0, "shift": 0}

    def get_value():
        state["counter"] += 1
        return 1 << state["shift"]

    def send(a, b):
        state["shift"] = 0
        i = 0
        while True:
            chosen, _ = select((a.send, get_value()), (b.send, get_value()), default)
            if chosen == 0:
                state["shift"] += 1
                a = nilchan
            elif chosen == 1:
                state["shift"] += 1
                b = nilchan
            else:
                break
            i += 1
        return i

    def main():
        a = chan(1)
        b = chan(1)
        v1 = send(a, b)
        v2 = a.recv() | b.recv()
        v3 = send(a, nilchan)
        return v1, v2, v3, state["counter"], a.recv()

    v1, v2, v3, counter, last = run(main, procs)
    assert v1 == 2, "Send(a, b) sent on both channels"
    assert v2 == 3, "one channel got 1, the other 2"
    assert v3 == 1, "Send(a, nil) sent only on a"
    assert counter == 10, "every case value evaluated on every select entry"
    assert last == 1


def test_select_cases_evaluated_in_source_order(procs):
    # Python evaluates the arguments left to right, once: Go's rule.
    order = []

    def ch(name, c):
        order.append(("chan", name))
        return c

    def val(name, v):
        order.append(("value", name))
        return v

    def main():
        a, b = chan(1), chan(1)
        r = select(
            (ch("a", a).send, val("a", 1)),
            ch("b", b).recv,
            (ch("nil", nilchan).send, val("nil", 3)),
            default,
        )
        return r, len(a)

    assert run(main, procs) == ((0, None), 1)
    assert order == [("chan", "a"), ("value", "a"), ("chan", "b"), ("chan", "nil"), ("value", "nil")]
