"""Observability and testing kit (SPEC §3.4): wait_blocked, debug.dump,
debug.goroutines, and Go's wait-reason strings (SPEC §2).
"""

import re

import pytest

from pyruntime import chan, go, nilchan, select
from pyruntime import debug, sync, testing
from pyruntime import time as gotime

from conftest import run, wait_reason

pytestmark = pytest.mark.timeout(30)


# ---------------------------------------------------------------- wait_blocked


def test_wait_blocked_counts_receivers_including_select_cases(procs):
    def main():
        c, other = chan(), chan()
        go(c.recv)
        go(c.recv_)
        go(lambda: select(other.recv, c.recv))
        testing.wait_blocked(c.recv, 3)
        try:
            testing.wait_blocked(c.recv, 4, timeout=0.2)
        except TimeoutError:
            return "3 receivers, not 4"
        return "counted too many"

    assert run(main, procs) == "3 receivers, not 4"


def test_wait_blocked_counts_senders_including_select_cases(procs):
    def main():
        c, other = chan(), chan()
        go(c.send, 1)
        go(lambda: select(other.recv, (c.send, 2)))
        testing.wait_blocked(c.send, 2)
        vals = sorted([c.recv(), c.recv()])
        try:
            testing.wait_blocked(c.send, 1, timeout=0.2)
        except TimeoutError:
            return vals, "none left"
        return vals, "stale sender counted"

    assert run(main, procs) == ([1, 2], "none left")


def test_wait_blocked_times_out_when_nothing_blocks(procs):
    def main():
        c = chan()
        try:
            testing.wait_blocked(c.recv, 1, timeout=0.1)
        except TimeoutError:
            return "timeout"
        return "returned"

    assert run(main, procs) == "timeout"


def test_wait_blocked_distinguishes_direction(procs):
    def main():
        c = chan()
        go(c.send, 1)
        testing.wait_blocked(c.send, 1)
        try:
            testing.wait_blocked(c.recv, 1, timeout=0.1)
        except TimeoutError:
            return c.recv()
        return "a sender counted as a receiver"

    assert run(main, procs) == 1


def test_wait_blocked_default_count_is_one(procs):
    def main():
        c = chan()
        go(c.recv)
        testing.wait_blocked(c.recv)
        c.send("x")
        return "ok"

    assert run(main, procs) == "ok"


# ---------------------------------------------------------------- dump


def _section(dump, goid):
    """The dump text for one goroutine: its header line up to the next header."""
    m = re.search(rf"^goroutine {goid} \[.*?(?=^goroutine \d+ \[|\Z)", dump, re.M | re.S)
    return m.group(0) if m else None


def _parked_in_recv_marker(c):
    c.recv()


def test_dump_format_chan_receive(procs):
    def main():
        c = chan()
        g = go(_parked_in_recv_marker, c)
        testing.wait_blocked(c.recv, 1)
        return g.goid, debug.dump()

    goid, dump = run(main, procs)
    assert re.search(rf"^goroutine {goid} \[chan receive\]:$", dump, re.M), dump
    section = _section(dump, goid)
    assert section is not None
    assert "_parked_in_recv_marker" in section, "the goroutine's Python stack is missing"
    assert re.search(r"^goroutine \d+ \[running\]:$", dump, re.M), "main is not shown running"


@pytest.mark.parametrize(
    "reason",
    [
        "chan receive",
        "chan send",
        "select",
        "select (no cases)",
        "chan receive (nil chan)",
        "chan send (nil chan)",
        "sleep",
        "sync.Mutex.Lock",
        "sync.WaitGroup.Wait",
    ],
)
def test_wait_reasons_in_goroutines_and_dump(procs, reason):
    def main():
        c, d = chan(), chan()
        mu = sync.Mutex()
        mu.lock()
        wg = sync.WaitGroup()
        wg.add(1)
        blockers = {
            "chan receive": c.recv,
            "chan send": lambda: c.send(1),
            "select": lambda: select(c.recv, d.recv),
            "select (no cases)": select,
            "chan receive (nil chan)": nilchan.recv,
            "chan send (nil chan)": lambda: nilchan.send(1),
            "sleep": lambda: gotime.sleep(60),
            "sync.Mutex.Lock": mu.lock,
            "sync.WaitGroup.Wait": wg.wait,
        }
        g = go(blockers[reason])
        wait_reason(g, reason)
        info = [i for i in debug.goroutines() if i.goid == g.goid][0]
        return g.goid, g.status, info.status, debug.dump()

    goid, handle_status, info_status, dump = run(main, procs)
    assert handle_status == "waiting"
    assert info_status == "waiting"
    assert re.search(rf"^goroutine {goid} \[{re.escape(reason)}\]:$", dump, re.M), dump


def test_goroutines_info_fields(procs):
    def main():
        c = chan()
        g = go(_parked_in_recv_marker, c)
        testing.wait_blocked(c.recv, 1)
        infos = debug.goroutines()
        mine = [i for i in infos if i.goid == g.goid]
        return g.goid, len(infos), mine[0] if mine else None

    goid, n, info = run(main, procs)
    assert n >= 2
    assert info is not None
    assert info.status == "waiting"
    assert info.wait_reason == "chan receive"
    assert isinstance(info.home_p, (int, type(None)))
    assert info.created_by is not None
    stack_text = info.stack if isinstance(info.stack, str) else repr(info.stack)
    assert "_parked_in_recv_marker" in stack_text
    for field in ("wait_since",):
        assert hasattr(info, field)
