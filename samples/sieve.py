"""The concurrent prime sieve (Go's test/chan/sieve1.go): a goroutine per prime,
connected by unbuffered channels, each filtering multiples of its prime.

    pyruntime run samples/sieve.py [N]
"""

import sys

import pyruntime as rt
from pyruntime import chan, go


def generate(ch: chan) -> None:
    i = 2
    while True:
        ch.send(i)
        i += 1


def filter_(src: chan, dst: chan, prime: int) -> None:
    for i in src:
        if i % prime:
            dst.send(i)


def sieve(n: int) -> list[int]:
    ch = chan()
    go(generate, ch)
    primes = []
    for _ in range(n):
        prime = ch.recv()
        primes.append(prime)
        ch1 = chan()
        go(filter_, ch, ch1, prime)
        ch = ch1
    return primes


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    primes = sieve(n)
    print(f"first {n} primes:", " ".join(map(str, primes)))
    print(f"goroutines alive at the end: {rt.num_goroutine()} (the pipeline, abandoned when main returns, as in Go)")


if __name__ == "__main__":
    rt.run(main)
