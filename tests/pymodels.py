"""Pure-Python versions of the shared C pieces, for the models in every area's tests."""

MASK64 = (1 << 64) - 1


def mix64(x):
    """The splitmix64 finalizer (tradeoff._core.hashing.mix64; Steele, Lea and Flood 2014)."""
    x &= MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)
