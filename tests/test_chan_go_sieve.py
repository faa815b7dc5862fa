"""Ports of Go's test/chan/sieve1.go and (in spirit) sieve2.go.

sieve1: the classic concurrent prime sieve, a Generate goroutine and a chain
of Filter goroutines created on demand; checks the first 25 primes. When main
returns, the whole pipeline is still running and must simply be abandoned.

sieve2: Eratosthenes with buffered channels, a heap of "peek channels" of
multiples, and an unbounded send proxy that disables its send case with a nil
channel when its queue is empty (the nil-channel idiom).
"""

import collections
import heapq

import pytest

from pyruntime import chan, default, go, nilchan, select

from conftest import run

pytestmark = pytest.mark.timeout(60)


def _primes_upto(n):
    sieve = [True] * (n + 1)
    sieve[0] = sieve[1] = False
    for i in range(2, int(n**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = [False] * len(sieve[i * i :: i])
    return [i for i, p in enumerate(sieve) if p]


# ---------------------------------------------------------------- sieve1


def _generate(ch):
    i = 2
    while True:
        ch.send(i)
        i += 1


def _filter(in_, out, prime):
    while True:
        i = in_.recv()
        if i % prime != 0:
            out.send(i)


def _sieve(primes):
    ch = chan()
    go(_generate, ch)
    while True:
        prime = ch.recv()
        primes.send(prime)
        ch1 = chan()
        go(_filter, ch, ch1, prime)
        ch = ch1


def test_sieve1(procs):
    def main():
        primes = chan()
        go(_sieve, primes)
        return [primes.recv() for _ in range(25)]

    assert run(main, procs) == _primes_upto(100)[:25]


# ---------------------------------------------------------------- sieve2

CHANBUF = 10


def _odds():
    out = chan(50)

    def gen():
        n = 5
        while True:
            out.send(n)
            n += 2

    go(gen)
    return out


def _multiples(p):
    # Odd multiples of p, starting at p*p.
    out = chan(CHANBUF)

    def gen():
        i = p * p
        while True:
            out.send(i)
            i += 2 * p

    go(gen)
    return out


def _sendproxy(out):
    """An unbounded buffer in front of ``out``.

    When the queue is empty the send case uses a nil channel, which disables
    it: select then only waits for new input.
    """
    proxy = chan(CHANBUF)

    def loop():
        q = collections.deque()
        while True:
            target = out if q else nilchan
            i, v = select(proxy.recv, (target.send, q[0] if q else None))
            if i == 0:
                q.append(v)
            else:
                q.popleft()

    go(loop)
    return proxy


def _sieve2():
    out = chan(CHANBUF)
    out.send(2)
    out.send(3)
    composites = chan(CHANBUF)  # all odd composites, in non-decreasing order
    primes = chan(CHANBUF)  # feedback loop: primes >= 3
    primes.send(3)

    def merger():
        h = []  # heap of (head, seq, channel of multiples)
        seq = 0
        while True:
            p = primes.recv()
            m = _multiples(p)
            head = m.recv()  # p*p
            while h and h[0][0] <= head:
                v, s, ch = heapq.heappop(h)
                if v < head:
                    composites.send(v)
                heapq.heappush(h, (ch.recv(), s, ch))
            composites.send(head)
            heapq.heappush(h, (m.recv(), seq, m))
            seq += 1

    def sifter():
        # The merger consumes primes far slower than we produce them; the
        # proxy keeps us from blocking on it (which would deadlock).
        pr = _sendproxy(primes)
        candidates = _odds()
        p = candidates.recv()
        while True:
            c = composites.recv()
            while p < c:
                pr.send(p)
                out.send(p)
                p = candidates.recv()
            if p == c:
                p = candidates.recv()

    go(merger)
    go(sifter)
    return out


def test_sieve2(procs):
    n = 300

    def main():
        primes = _sieve2()
        return [primes.recv() for _ in range(n)]

    assert run(main, procs) == _primes_upto(2000)[:n]


def test_nil_channel_disables_send_case(procs):
    # The bare idiom: a proxy fed in bursts, drained slowly, loses nothing
    # and keeps order; while its queue is empty its send case never fires.
    def main():
        out = chan()
        proxy = _sendproxy(out)
        for k in range(100):
            proxy.send(k)  # never blocks for long: the proxy buffers
        got = [out.recv() for _ in range(100)]
        # Queue empty now: the send case is on nilchan, nothing may arrive.
        empty = select(out.recv, default)
        return got, empty

    got, empty = run(main, procs)
    assert got == list(range(100))
    assert empty == (1, None)
