"""Golden tests: replay the reference traces and match the published hit counts.

The traces and ``expected.json`` live in ``shared/traces`` beside the repository
or wherever ``$TRADEOFF_TRACES`` points (see tests/reference.py). Without them these tests are skipped;
with ``$TRADEOFF_TRACES`` set to a folder that lacks them, they fail.

What must match (see shared/traces/README.md):
- LRU: the exact hit count ``lru_hits_exact``.
- FIFO: libCacheSim's hit ratio in percent, to two decimals.
- LFU: within 1 point of libCacheSim's value (the README's contract). Our LFU
  breaks ties between equal counts by least recent use, which is also
  libCacheSim's rule, so the two decimals agree too and are tested as well.
- Belady: libCacheSim's hit ratio to two decimals (MIN has one definition).
- CLOCK, SIEVE, S3-FIFO, ARC, LIRS, W-TinyLFU: within 1 point of libCacheSim's
  value, or a documented reason in ``GAPS`` (the parameter or rule that
  differs); a documented gap is still bounded, so that it cannot grow unseen.

The traces are read with ``tradeoff.traces.read``, as a user would read them.
"""
import json
from functools import lru_cache

import numpy as np
import pytest

from cache_models import model_replay
from tradeoff.cache import replay
from tradeoff.traces import read

from reference import traces_dir as _traces_dir

TRACES_DIR, PROBLEM, PROBLEM_IS_ERROR = _traces_dir()
EXPECTED = json.loads((TRACES_DIR / "expected.json").read_text()) if TRACES_DIR else None


def _trace_file(name):
    for candidate in (f"{name}.trace.gz", f"{name}.trace.xz"):
        if (TRACES_DIR / candidate).is_file():
            return TRACES_DIR / candidate
    raise FileNotFoundError(f"no trace file for {name!r} in {TRACES_DIR}")


@lru_cache(maxsize=None)
def load_trace(name):
    """The keys of a reference trace as a 1-D int64 array, through tradeoff.traces:
    the LIRS text traces by format guessing; scarab is raw big-endian int64
    (Caffeine's "scarab" format), which is never guessed."""
    path = _trace_file(name)
    if path.name.endswith(".xz") and name.startswith("scarab"):
        trace = read(path, format="binary", dtype=">i8")
    else:
        trace = read(path)
        assert trace.format == "text"
    return np.ascontiguousarray(trace.keys)


def _cases():
    if TRACES_DIR is None:
        # An explicit $TRADEOFF_TRACES that is wrong fails (in _require_traces);
        # traces that are simply absent skip.
        marks = () if PROBLEM_IS_ERROR else pytest.mark.skip(reason=PROBLEM)
        return [pytest.param(None, None, marks=marks, id="no-traces")]
    return [
        pytest.param(name, int(cap), id=f"{name}-{cap}")
        for name, info in EXPECTED["traces"].items()
        for cap in info["sizes"]
    ]


CASES = _cases()
TRACE_NAMES = sorted(EXPECTED["traces"]) if EXPECTED else [pytest.param(None, id="no-traces")]


def _require_traces():
    if PROBLEM_IS_ERROR:
        pytest.fail(PROBLEM)
    if TRACES_DIR is None:
        pytest.skip(PROBLEM)


def percent(hits, requests):
    return 100.0 * hits / requests


def test_traces_folder_is_usable_when_requested():
    """A $TRADEOFF_TRACES that points nowhere is an error, not a silent skip."""
    if TRACES_DIR is None and not PROBLEM_IS_ERROR:
        pytest.skip(PROBLEM)
    _require_traces()
    assert EXPECTED["traces"], "expected.json lists no traces"


@pytest.mark.parametrize("name", TRACE_NAMES)
def test_trace_loads_as_described(name):
    _require_traces()
    if name is None:
        pytest.skip(PROBLEM)
    info = EXPECTED["traces"][name]
    keys = load_trace(name)
    assert keys.dtype == np.int64 and keys.ndim == 1
    assert len(keys) == info["requests"]
    assert len(np.unique(keys)) == info["distinct"]


@pytest.mark.parametrize("name, capacity", CASES)
def test_lru_hits_are_exact(name, capacity):
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)]
    keys = load_trace(name)
    result = replay(keys, "lru", capacity)
    assert result.requests == len(keys)
    assert result.hits + result.misses == len(keys)
    assert result.hits == expected["lru_hits_exact"]


@pytest.mark.parametrize("name, capacity", CASES)
def test_fifo_matches_libcachesim(name, capacity):
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)]
    keys = load_trace(name)
    result = replay(keys, "fifo", capacity)
    assert round(percent(result.hits, len(keys)), 2) == expected["fifo"]
    if len(keys) <= 200_000:  # the pure-Python model is quick enough here
        assert result.hits == model_replay(keys.tolist(), "fifo", capacity)


@pytest.mark.parametrize("name, capacity", CASES)
def test_lfu_within_one_point_of_libcachesim(name, capacity):
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)]
    keys = load_trace(name)
    got = percent(replay(keys, "lfu", capacity).hits, len(keys))
    assert abs(got - expected["lfu"]) <= 1.0, f"lfu {got:.4f}% vs libCacheSim {expected['lfu']}%"
    # Same tie-break rule as libCacheSim (least recently used among equal
    # counts), so the two decimals agree as well.
    assert round(got, 2) == expected["lfu"]


@pytest.mark.parametrize("name, capacity", CASES)
def test_belady_matches_libcachesim(name, capacity):
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)]
    keys = load_trace(name)
    got = percent(replay(keys, "belady", capacity).hits, len(keys))
    assert round(got, 2) == expected["belady"]
    published = EXPECTED["traces"][name].get("caffeine_published", {}).get(str(capacity), {})
    if "belady" in published:
        # Caffeine's simulator: the same optimum, to rounding of the last digit
        assert abs(got - published["belady"]) <= 0.011


OTHERS = ["clock", "sieve", "s3fifo", "arc", "lirs", "wtinylfu"]

# (policy, trace, capacity) -> (largest gap in points, the documented reason)
WTINY_COUNTING = ("libCacheSim's WTinyLFU counts frequencies in a counting Bloom filter "
                  "(32-bit counters, 10 hashes) that overestimates; with exact counts its own "
                  "scheme lands within a point of ours")
WTINY_AGING = ("aging: we halve the count-min sketch every sample_factor*C = 10*C requests "
               "(the paper's rule); libCacheSim halves only after 32*main hits in the main. "
               "sample_factor=32 brings it within about a point")
WTINY_MIXED = ("several 1-2 point effects add up: libCacheSim's window is floor(0.01*C) where "
               "Caffeine's layout rounds up, its Bloom-filter counts, its aging rule, and our "
               "doorkeeper; doorkeeper=False, sample_factor=32 lands within a point")
WTINY_DOORKEEPER = ("the doorkeeper absorbs first occurrences (doorkeeper=False: 44.85, 2.3 "
                    "points closer); the rest is libCacheSim's Bloom-filter counting, which we "
                    "do not offer")
WTINY_LOOP = ("libCacheSim's Bloom-filter counts (its own figure moves 42.1-46.1 when the keys "
              "are relabelled) against our count-min sketch; ours is within 0.7 points of "
              "Belady's 50.54")
GAPS: dict = {
    ("wtinylfu", "multi1", 500): (1.4, WTINY_COUNTING),
    ("wtinylfu", "gli", 500): (2.5, WTINY_COUNTING),
    ("wtinylfu", "gli", 250): (1.5, WTINY_MIXED),
    ("wtinylfu", "sprite", 500): (5.5, WTINY_AGING),
    ("wtinylfu", "sprite", 1000): (5.2, WTINY_AGING),
    ("wtinylfu", "loop", 512): (7.5, WTINY_LOOP),
    ("wtinylfu", "cs", 100): (4.8, WTINY_MIXED),
    ("wtinylfu", "ps", 200): (4.6, WTINY_DOORKEEPER),
}


def _other_cases():
    if TRACES_DIR is None:
        # the same skip (or failure) as CASES, with one more value per case
        return [pytest.param(None, *c.values, marks=c.marks, id=c.id) for c in CASES]
    return [pytest.param(policy, name, int(cap), id=f"{policy}-{name}-{cap}")
            for policy in OTHERS
            for name, info in EXPECTED["traces"].items()
            for cap in info["sizes"]
            if policy in info["sizes"][cap]]


@pytest.mark.parametrize("policy, name, capacity", _other_cases())
def test_other_policies_within_one_point_or_a_documented_reason(policy, name, capacity):
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)][policy]
    keys = load_trace(name)
    got = percent(replay(keys, policy, capacity).hits, len(keys))
    gap = GAPS.get((policy, name, capacity))
    if gap is None:
        assert abs(got - expected) <= 1.0, (
            f"{policy} on {name} at {capacity}: {got:.2f}% vs libCacheSim {expected}%: "
            f"more than 1 point and no documented reason")
    else:
        bound, reason = gap
        assert abs(got - expected) <= bound, (
            f"{policy} on {name} at {capacity}: {got:.2f}% vs {expected}%: beyond the "
            f"documented gap of {bound} points ({reason})")
        assert abs(got - expected) > 1.0, f"documented gap no longer needed: {reason}"


@pytest.mark.parametrize("name, capacity", CASES)
def test_s3fifo_matches_libcachesim_exactly(name, capacity):
    """The default S3-FIFO has its authors' warm-up rule (``fill_main=True``), as
    libCacheSim's ``S3FIFO`` does: the same hit ratio on every golden point."""
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)]["s3fifo"]
    keys = load_trace(name)
    got = percent(replay(keys, "s3fifo", capacity).hits, len(keys))
    assert round(got, 2) == expected
    assert replay(keys, "s3fifo", capacity).hits == replay(keys, "s3fifo", capacity, fill_main=True).hits


def test_s3fifo_papers_variant_is_one_parameter_away():
    """``fill_main=False`` is the paper's Algorithm 1 (new objects always enter the
    small queue): on the looping trace at 512 it gets no hit at all, where the
    authors' warm-up rule gets libCacheSim's 45.5%."""
    _require_traces()
    keys = load_trace("loop")
    paper = percent(replay(keys, "s3fifo", 512, fill_main=False).hits, len(keys))
    default = percent(replay(keys, "s3fifo", 512).hits, len(keys))
    assert paper < 1.0
    assert round(default, 2) == EXPECTED["traces"]["loop"]["sizes"]["512"]["s3fifo"] and default > 45


@pytest.mark.parametrize("name, capacity", CASES)
def test_sieve_matches_libcachesim_exactly(name, capacity):
    """The reference SIEVE equals the reference LFU on several traces, which the
    traces' README calls suspicious; our SIEVE, written from the paper and checked
    against a separate model, reproduces every one of those figures too: on
    multi1, gli, cs and ps, SIEVE and LFU make the same decision on every request."""
    _require_traces()
    expected = EXPECTED["traces"][name]["sizes"][str(capacity)]["sieve"]
    keys = load_trace(name)
    assert round(percent(replay(keys, "sieve", capacity).hits, len(keys)), 2) == expected


def test_wtinylfu_with_libcachesims_counting_and_aging_comes_within_a_point():
    """The reasons given for the W-TinyLFU gaps, checked: with libCacheSim's aging
    period and without the doorkeeper, the aging and mixed cases come within 1.5
    points (ps-200 does not: most of its gap is the doorkeeper and the counting)."""
    _require_traces()
    for name, capacity in [("sprite", 500), ("sprite", 1000), ("cs", 100), ("gli", 250)]:
        expected = EXPECTED["traces"][name]["sizes"][str(capacity)]["wtinylfu"]
        keys = load_trace(name)
        got = percent(replay(keys, "wtinylfu", capacity, doorkeeper=False, sample_factor=32).hits,
                      len(keys))
        assert abs(got - expected) <= 1.5, (name, capacity, got, expected)


def test_wtinylfu_against_caffeines_published_figure():
    _require_traces()
    published = EXPECTED["traces"]["multi1"]["caffeine_published"]["500"]["wtinylfu"]
    keys = load_trace("multi1")
    assert abs(percent(replay(keys, "wtinylfu", 500).hits, len(keys)) - published) <= 1.0


def test_wtinylfu_doorkeeper_explains_most_of_the_ps_gap():
    _require_traces()
    keys = load_trace("ps")
    expected = EXPECTED["traces"]["ps"]["sizes"]["200"]["wtinylfu"]
    with_dk = percent(replay(keys, "wtinylfu", 200).hits, len(keys))
    without = percent(replay(keys, "wtinylfu", 200, doorkeeper=False).hits, len(keys))
    assert abs(without - expected) < abs(with_dk - expected) - 2.0
