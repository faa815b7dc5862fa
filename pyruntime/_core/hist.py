"""Go's time histogram (``runtime/histogram.go``), unsampled.

Layout: ``timeHistMinBucketBits = 9``, ``timeHistMaxBucketBits = 48``,
``timeHistSubBucketBits = 2`` — 40 power-of-two buckets of 4 linear sub-buckets (about
25 % resolution), plus an underflow and an overflow count: 162 counts.  Exported
boundaries in seconds: ``-Inf, 0, 64ns, 128ns, 192ns, 256ns, 320ns, ..., 2^47 ns, +Inf``.

Go samples ``/sched/latencies`` 1 in 8; we record every interval (the count is exact).
``record`` is called on hot paths, so it is a few integer operations; counts are a
plain list mutated by one thread at a time in practice.  On a free-threaded build two
Ms may race on one ``+=``; :class:`TimeHistogram` therefore shards counts per M
(``shard()``) and ``snapshot()`` sums the shards.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

__all__ = ["TimeHistogram", "Histogram", "BUCKETS"]

_MIN_BITS = 9
_MAX_BITS = 48
_SUB_BITS = 2
_NSUB = 1 << _SUB_BITS
_NBUCKETS = _MAX_BITS - _MIN_BITS + 1  # 40
_NCOUNTS = _NBUCKETS * _NSUB  # 160 (plus underflow and overflow)


def _boundaries() -> list[float]:
    b = [-math.inf]
    for i in range(_NCOUNTS):
        bucket, sub = divmod(i, _NSUB)
        if bucket == 0:
            lo = sub << (_MIN_BITS - 1 - _SUB_BITS)
        else:
            bit = bucket + _MIN_BITS - 1
            lo = (1 << (bit - 1)) + (sub << (bit - 1 - _SUB_BITS))
        b.append(lo / 1e9)
    b.append((1 << (_MAX_BITS - 1)) / 1e9)
    b.append(math.inf)
    return b


BUCKETS: tuple[float, ...] = tuple(_boundaries())  # 163 boundaries -> 162 counts


@dataclass(frozen=True)
class Histogram:
    """A histogram as ``metrics.read()`` returns it: ``buckets`` (boundaries in seconds,
    ``len(counts) + 1`` of them) and ``counts``."""

    buckets: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        """The number of samples (the sum of ``counts``)."""
        return sum(self.counts)

    def quantile(self, q: float) -> float:
        """The upper boundary of the bucket holding quantile ``q`` (0..1), in seconds."""
        n = self.total
        if n == 0:
            return 0.0
        want = q * n
        acc = 0
        for i, c in enumerate(self.counts):
            acc += c
            if acc >= want and c:
                hi = self.buckets[i + 1]
                return hi if math.isfinite(hi) else self.buckets[i]
        return self.buckets[-2]


HOT_MAX = 1 << (_MAX_BITS - 1)  # values in (255, HOT_MAX) take the inlined fast path


class _Shard:
    """One writer's counts.  Hot paths inline ``record`` for 256 ns <= ns < 2^47 ns as
    ``n = ns.bit_length(); counts[(n << 2) - 31 + ((ns >> (n - 3)) & 3)] += 1``
    (bucket ``n - 8``, sub-bucket from the two bits below the top one)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts = [0] * (_NCOUNTS + 2)  # [underflow, 160 counts, overflow]; never rebound

    def record(self, ns: int) -> None:
        if ns < 0:
            self.counts[0] += 1
            return
        n = ns.bit_length()
        if n < _MIN_BITS:
            self.counts[1 + (ns >> 6)] += 1
            return
        bucket = n - _MIN_BITS + 1
        if bucket >= _NBUCKETS:
            self.counts[-1] += 1
            return
        self.counts[1 + bucket * _NSUB + ((ns >> (n - 1 - _SUB_BITS)) & 3)] += 1


class TimeHistogram:
    """An exact, sharded histogram of nanosecond durations in Go's bucket layout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shards: list[_Shard] = []
        self._default = self.shard()

    def shard(self) -> _Shard:
        s = _Shard()
        with self._lock:
            self._shards.append(s)
        return s

    def record(self, ns: int) -> None:
        self._default.record(ns)

    def snapshot(self) -> Histogram:
        with self._lock:
            shards = list(self._shards)
        counts = [0] * (_NCOUNTS + 2)
        for s in shards:
            for i, c in enumerate(s.counts):
                counts[i] += c
        return Histogram(BUCKETS, tuple(counts))

    def reset(self) -> None:
        with self._lock:
            for s in self._shards:
                s.counts[:] = [0] * (_NCOUNTS + 2)  # in place: hot paths hold the list
