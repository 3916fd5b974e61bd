"""Pure-Python versions of the shared C pieces, for the models in every area's tests."""

import math

MASK64 = (1 << 64) - 1


def mix64(x):
    """The splitmix64 finalizer (tradeoff._core.hashing.mix64; Steele, Lea and Flood 2014)."""
    x &= MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class Rng:
    """xoshiro256** 1.0 (Blackman and Vigna, ACM TOMS 2021) seeded with four splitmix64
    steps of the seed, with Lemire's bounded draw and the exponential by inversion: the
    draws of tradeoff._core.rng, for the areas' pure-Python models."""

    def __init__(self, seed):
        x = seed & MASK64
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK64
            s.append(mix64(x))
        if not any(s):
            s[0] = 1
        self.s = s

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def uniform(self):
        """In [0, 1)."""
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def uniform_pos(self):
        """In (0, 1]."""
        return ((self.next() >> 11) + 1.0) * (1.0 / 9007199254740992.0)

    def below(self, n):
        """Lemire's multiply-and-reject: uniform in [0, n)."""
        m = self.next() * n
        lo = m & MASK64
        if lo < n:
            threshold = ((1 << 64) - n) % n
            while lo < threshold:
                m = self.next() * n
                lo = m & MASK64
        return m >> 64

    def exponential(self, mean):
        return -mean * math.log(self.uniform_pos())
