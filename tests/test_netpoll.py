"""The netpoller's pieces in isolation: the epoll backend, the kqueue backend (driven
by a fake kqueue, so it is tested on Linux too), and the Netpoller's pollDesc table
(tags, stale events, sharing, fd reuse behind its back)."""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
import time

import pytest
from conftest import netpoll_barrier, recv_timeout, run, tcp_pair, wait_reason  # noqa: F401

from pyruntime import go, net
from pyruntime.netpoll import MODE_ERR, MODE_R, MODE_W, Netpoller
from pyruntime.netpoll import kqueue as kq_mod
from pyruntime.netpoll.polldesc import CLOSING, OK, TIMEOUT, effective

pytestmark = pytest.mark.timeout(30)

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="epoll is Linux-only")


# --------------------------------------------------------------------------- epoll backend


@linux
def test_epoll_timeout_conversion():
    from pyruntime.netpoll.epoll import MAX_TIMEOUT_MS, timeout_ms

    assert timeout_ms(None) == -1
    assert timeout_ms(0) == 0 and timeout_ms(-3) == 0
    assert timeout_ms(1e-7) == 1          # below 1 ms rounds up, never to a busy 0
    assert timeout_ms(0.0101) == 11       # rounded up: never wake before the timer
    assert timeout_ms(1e12) == MAX_TIMEOUT_MS


@linux
def test_epoll_backend_events_carry_the_tag():
    from pyruntime.netpoll.epoll import EpollBackend

    be = EpollBackend()
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        tag = (7 << 32) | 3
        assert be.open(a.fileno(), tag) == 0
        assert be.open(a.fileno(), tag) == errno.EEXIST   # registered once
        evs = be.wait(0)
        assert evs == [(tag, MODE_W)]                      # writable at registration
        assert be.wait(0) == []                            # edge-triggered: reported once
        b.send(b"x")
        assert be.wait(1.0) == [(tag, MODE_R | MODE_W)]
        assert be.modify(a.fileno(), tag + (1 << 32)) == 0
        b.send(b"y")
        assert be.wait(1.0)[0][0] == tag + (1 << 32)
        b.close()                                          # peer hangup: read ready
        evs = be.wait(1.0)
        assert evs and evs[0][1] & MODE_R
        assert be.close(a.fileno()) == 0
        assert be.close(a.fileno()) == errno.ENOENT
        assert be.is_poll_descriptor(be.epfd) and be.is_poll_descriptor(be.efd)
        assert not be.is_poll_descriptor(a.fileno())
    finally:
        a.close()
        b.close()


@linux
def test_epoll_regular_file_is_not_pollable(tmp_path):
    from pyruntime.netpoll.epoll import EpollBackend

    be = EpollBackend()
    with open(tmp_path / "f", "w") as f:
        assert be.open(f.fileno(), 1) == errno.EPERM


@linux
def test_epoll_break_wakes_a_blocked_wait():
    from pyruntime.netpoll.epoll import EpollBackend

    be = EpollBackend()
    out = []
    t = threading.Thread(target=lambda: out.append((be.wait(None), time.monotonic())))
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    be.break_()
    t.join(10)
    assert not t.is_alive()
    assert out[0][0] == []          # the break itself is never returned
    assert out[0][1] >= t0


@linux
def test_epoll_breaks_coalesce():
    from pyruntime.netpoll.epoll import EpollBackend

    be = EpollBackend()
    be.break_()
    assert be.wakesig
    be.break_()                     # at most one wake in flight: no second write
    assert os.eventfd_read(be.efd) == 1
    os.eventfd_write(be.efd, 1)
    assert be.wait(0) == []         # a non-blocking poll does not consume the wake ...
    assert be.wakesig
    assert be.wait(None) == []      # ... the blocking one does, and returns at once
    assert not be.wakesig           # drained
    assert be.wait(0) == []


# --------------------------------------------------------------------------- kqueue backend (fake)


class _KEvent:
    def __init__(self, ident, filter=kq_mod.EVFILT_READ, flags=kq_mod.EV_ADD, fflags=0, data=0, udata=0):
        self.ident, self.filter, self.flags, self.fflags, self.data, self.udata = ident, filter, flags, fflags, data, udata

    def __repr__(self):
        return f"kevent({self.ident}, {self.filter}, {self.flags:#x}, {self.fflags:#x}, udata={self.udata:#x})"


class _FakeKqueue:
    def __init__(self):
        self.changes = []
        self.pending = []
        self.timeouts = []
        self.fail = {}

    def control(self, changelist, max_events, timeout=None):
        for ev in changelist or ():
            if (ev.ident, ev.filter) in self.fail:
                raise OSError(self.fail[(ev.ident, ev.filter)], "fake")
            self.changes.append(ev)
        if max_events:
            self.timeouts.append(timeout)
            out, self.pending = self.pending[:max_events], self.pending[max_events:]
            return out
        return []

    def fileno(self):
        return 99


def test_kqueue_backend_registers_both_filters_edge_triggered_with_the_tag():
    kq = _FakeKqueue()
    be = kq_mod.KqueueBackend(kq, _KEvent)
    # init registered the EVFILT_USER break event
    user = kq.changes[0]
    assert (user.filter, user.flags) == (kq_mod.EVFILT_USER, kq_mod.EV_ADD | kq_mod.EV_CLEAR)
    tag = (5 << 32) | 9
    assert be.open(12, tag) == 0
    r, w = kq.changes[1:3]
    assert (r.ident, r.filter, r.flags, r.udata) == (12, kq_mod.EVFILT_READ, kq_mod.EV_ADD | kq_mod.EV_CLEAR, tag)
    assert (w.ident, w.filter, w.flags, w.udata) == (12, kq_mod.EVFILT_WRITE, kq_mod.EV_ADD | kq_mod.EV_CLEAR, tag)
    be.close(12)
    assert [(e.filter, e.flags) for e in kq.changes[3:5]] == [(kq_mod.EVFILT_READ, kq_mod.EV_DELETE),
                                                              (kq_mod.EVFILT_WRITE, kq_mod.EV_DELETE)]
    kq.fail[(13, kq_mod.EVFILT_READ)] = errno.EBADF
    assert be.open(13, tag) == errno.EBADF
    assert not be.detects_reuse


def test_kqueue_backend_wait_maps_filters_and_consumes_the_break():
    kq = _FakeKqueue()
    be = kq_mod.KqueueBackend(kq, _KEvent)
    kq.pending = [
        _KEvent(3, kq_mod.EVFILT_READ, kq_mod.EV_CLEAR, udata=11),
        _KEvent(3, kq_mod.EVFILT_WRITE, kq_mod.EV_CLEAR, udata=11),
        _KEvent(0, kq_mod.EVFILT_USER, kq_mod.EV_CLEAR),
        _KEvent(4, kq_mod.EVFILT_READ, kq_mod.EV_CLEAR | kq_mod.EV_EOF, udata=12),
        _KEvent(5, kq_mod.EVFILT_WRITE, kq_mod.EV_ERROR, udata=13),
    ]
    be.wakesig = True
    assert be.wait(0) == [(11, MODE_R), (11, MODE_W), (12, MODE_R), (13, MODE_R | MODE_W | MODE_ERR)]
    assert not be.wakesig
    be.wait(None)
    be.wait(2e6)
    be.wait(-1)
    assert kq.timeouts == [0, None, kq_mod.MAX_TIMEOUT_S, 0]


def test_kqueue_backend_break_triggers_the_user_event_once():
    kq = _FakeKqueue()
    be = kq_mod.KqueueBackend(kq, _KEvent)
    n = len(kq.changes)
    be.break_()
    be.break_()
    trig = kq.changes[n:]
    assert len(trig) == 1
    assert (trig[0].filter, trig[0].fflags) == (kq_mod.EVFILT_USER, kq_mod.NOTE_TRIGGER)


def test_netpoller_on_the_kqueue_backend_tells_fd_reuse_by_inode():
    kq = _FakeKqueue()
    np = Netpoller(kq_mod.KqueueBackend(kq, _KEvent))
    a, b = socket.socketpair()
    try:
        pd = np.open(a.fileno())
        assert np.open(a.fileno()) is pd and pd.refs == 2   # same file: shared
        kq.pending = [_KEvent(a.fileno(), kq_mod.EVFILT_READ, kq_mod.EV_CLEAR, udata=pd.tag)]
        assert np.poll(0) == [] and pd.r.seq == 1
        fd = a.fileno()
        a.close()                                  # closed behind the netpoller's back
        c = socket.socket()
        try:
            if c.fileno() != fd:
                pytest.skip("fd number not reused")
            pd2 = np.open(fd)
            assert pd2 is not pd and pd.closing      # the stale pollDesc was retired
            kq.pending = [_KEvent(fd, kq_mod.EVFILT_READ, kq_mod.EV_CLEAR, udata=pd.tag)]
            np.poll(0)
            assert pd2.r.seq == 0                    # the old tag is stale
        finally:
            c.close()
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------- Netpoller table


class _FakeBackend:
    detects_reuse = True

    def __init__(self):
        self.reg = {}
        self.events = []
        self.breaks = 0

    def open(self, fd, tag):
        if fd in self.reg:
            return errno.EEXIST
        self.reg[fd] = tag
        return 0

    def modify(self, fd, tag):
        self.reg[fd] = tag
        return 0

    def close(self, fd):
        return 0 if self.reg.pop(fd, None) is not None else errno.ENOENT

    def wait(self, timeout):
        out, self.events = self.events, []
        return out

    def break_(self):
        self.breaks += 1


def test_stale_events_are_dropped_after_the_slot_is_reused():
    be = _FakeBackend()
    np = Netpoller(be)
    pd = np.open(10)
    old_tag = pd.tag
    pd.evict()
    assert pd.closing and 10 not in be.reg
    pd2 = np.open(10)                         # same slot, next sequence number
    assert pd2.slot == pd.slot and pd2.tag != old_tag
    be.events = [(old_tag, MODE_R | MODE_W)]
    assert np.poll(0) == []
    assert pd2.r.seq == 0 and pd2.w.seq == 0
    be.events = [(pd2.tag, MODE_R)]
    np.poll(0)
    assert pd2.r.seq == 1 and pd2.w.seq == 0
    be.events = [(pd2.tag, MODE_R | MODE_W | MODE_ERR)]
    np.poll(0)
    assert pd2.eventerr


def test_open_shares_a_live_registration_and_release_drops_it():
    be = _FakeBackend()
    np = Netpoller(be)
    pd = np.open(20)
    assert np.open(20) is pd and pd.refs == 2
    np.release(pd)
    assert not pd.closing and 20 in be.reg
    np.release(pd)
    assert pd.closing and 20 not in be.reg and 20 not in np.fdmap


def test_evict_fd_and_break():
    be = _FakeBackend()
    np = Netpoller(be)
    pd = np.open(30)
    np.evict_fd(30)
    assert pd.closing
    np.evict_fd(31)  # unknown fd: nothing happens
    np.break_()
    assert be.breaks == 1


def test_effective_deadline():
    assert effective(0.0, 0.0) == 0.0
    assert effective(5.0, 0.0) == 5.0
    assert effective(0.0, 7.0) == 7.0
    assert effective(5.0, 7.0) == 5.0
    assert effective(9.0, 7.0) == 7.0
    assert effective(-1.0, 7.0) == -1.0


def test_wait_codes_on_a_plain_thread():
    be = _FakeBackend()
    np = Netpoller(be)
    a, b = socket.socketpair()
    try:
        pd = np.open(a.fileno())
        seen = pd.r.seq
        pd.r.seq += 1                                        # an edge since the attempt began
        assert pd.wait(pd.r, seen) == OK
        assert pd.wait(pd.r, pd.r.seq, time.monotonic() + 0.02) == TIMEOUT
        b.send(b"x")
        assert pd.wait(pd.r, pd.r.seq) == OK                 # the thread polls the fd itself
        pd.set_deadline(pd.w, -1.0)
        assert pd.wait(pd.w, pd.w.seq) == TIMEOUT
        pd.evict()
        assert pd.wait(pd.r, pd.r.seq) == CLOSING
    finally:
        a.close()
        b.close()


@linux
def test_the_runtime_installs_one_netpoller(procs):
    from pyruntime._core import proc
    from pyruntime.netpoll import get

    def main():
        ln = net.listen("tcp", "127.0.0.1:0")

        def acceptor():
            try:
                ln.accept()
            except net.ErrClosed:
                pass

        g = go(acceptor)
        wait_reason(g, "IO wait")
        np = proc.netpoller
        same = np is get()
        waiting = np.waiters
        ln.close()
        return same, waiting, np.backend.name

    same, waiting, name = run(main, procs)
    assert same and waiting >= 1 and name == "epoll"


@linux
def test_after_fork_the_child_has_its_own_poller():
    from pyruntime.netpoll import get

    np = get()
    ln = net.listen("tcp", "127.0.0.1:0")
    port = ln.addr[1]
    old_epfd = np.backend.epfd
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads alive
        pid = os.fork()
    if pid == 0:  # child: a fresh epoll instance, the listener still registered
        code = 1
        try:
            if np.backend.epfd != old_epfd or os.path.exists(f"/proc/self/fd/{np.backend.epfd}"):
                s = socket.create_connection(("127.0.0.1", port))
                c = ln.accept()
                c.close()
                s.close()
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    ln.close()
    assert os.waitstatus_to_exitcode(status) == 0


def test_an_edge_after_one_attempt_began_is_not_lost_to_another_goroutines_attempt(procs):
    # polldesc's I/O protocol with two goroutines on one half.  A's recv said EAGAIN; then
    # an edge came, and B's read (which took the data) began after it.  A's wait must
    # still return at once: an edge came after A's attempt began.  With one shared ready
    # bit, cleared before each attempt, B's attempt erased it and A parked (two writers on
    # one conn: A then sleeps with buffer space free and no edge to come).
    def main():
        ln, c, s = tcp_pair()
        pd, h = s._pd, s._pd.r
        seen_a = h.seq                          # A, before its syscall
        with pytest.raises(BlockingIOError):
            s._sock.recv(10)                    # A: EAGAIN
        c.write(b"x")
        netpoll_barrier()                       # the edge has been reported
        assert s.read(10) == b"x"               # B: reads it (reading h.seq first)
        code = pd.wait(h, seen_a, time.monotonic() + 5)   # A: must not park
        for o in (c, s, ln):
            o.close()
        return code

    assert run(main, procs) == OK
