"""A seeded set of generated header combinations, for the ``cdn`` suite's decision-rate
benchmarks (ours against hishel on the same set) and agreement counts."""
from __future__ import annotations

import email.utils
import random

__all__ = ["header_set", "DATE0"]

DATE0 = 1_700_000_000.0

_CC = ["max-age=60", "max-age=3600", "max-age=0", "s-maxage=300", "public", "private", "no-cache",
       "must-revalidate", "stale-while-revalidate=30", "immutable", "no-store"]
_RCC = [None, None, None, "no-cache", "max-age=0", "max-stale=30"]


def header_set(n: int = 1000, seed: int = 0) -> list:
    """``n`` (request headers, status, response headers, seconds in cache) tuples.

    Typical headers: one to three Cache-Control directives, Date always, ETag and
    Last-Modified half the time, Expires now and then; a request Cache-Control one
    time in two.
    """
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n!r}")
    rng = random.Random(seed)
    out = []
    date = email.utils.formatdate(DATE0, usegmt=True)
    for _ in range(n):
        resp = {"Date": date, "Content-Type": "text/html"}
        cc = rng.sample(_CC, rng.randint(1, 3))
        resp["Cache-Control"] = ", ".join(cc)
        if rng.random() < 0.5:
            resp["ETag"] = f'"{rng.randrange(10 ** 6):x}"'
        if rng.random() < 0.5:
            resp["Last-Modified"] = email.utils.formatdate(DATE0 - rng.randrange(10, 10 ** 6), usegmt=True)
        if rng.random() < 0.2:
            resp["Expires"] = email.utils.formatdate(DATE0 + rng.randrange(-100, 1000), usegmt=True)
        req = {"Accept": "*/*"}
        rcc = rng.choice(_RCC)
        if rcc:
            req["Cache-Control"] = rcc
        out.append((req, rng.choice([200, 200, 200, 301, 404]), resp, float(rng.choice([0, 10, 59, 61, 120, 4000]))))
    return out
