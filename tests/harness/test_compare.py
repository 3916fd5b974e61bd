"""Tests of compare: A/A false alarms, injected slowdowns and speedups, metrics, rendering."""
import numpy as np
import pytest

import synth
from tradeoff.harness.compare import FASTER, NO_CHANGE, SLOWER, compare, parse_threshold
from tradeoff.harness.errors import UserError

# ten benchmarks from 30 ns to about 3.5 us
MEANS = [30e-9 * 1.7 ** k for k in range(10)]


def pair(tmp_path, seed, base_factors=None, cur_factors=None, **noise):
    rng = np.random.default_rng(seed)
    a = synth.write(tmp_path / "base.json", synth.timed_suite(rng, MEANS, base_factors, **noise))
    b = synth.write(tmp_path / "cur.json", synth.timed_suite(rng, MEANS, cur_factors, **noise))
    return a, b


def test_aa_false_alarms(tmp_path):
    """A/A: both files from the same distribution, 50 seeds x 10 benchmarks.

    Measured: 0 of 500 called slower (or faster) at the defaults. With the threshold
    taken out (1e-9), 5 slower + 2 faster of 500 (1.4%, for a 99% interval), while the
    Mann-Whitney p-value alone is below 0.01 in 48 of 500 (9.6%): values from one
    process are correlated, and only the run-level bootstrap accounts for that.
    """
    default, no_threshold, mwu_alone, n = [], [], 0, 0
    for seed in range(50):
        a, b = pair(tmp_path, seed)
        c = compare(a, b)
        default += list(c.rows.verdict)
        no_threshold += list(compare(a, b, threshold=1e-9).rows.verdict)
        mwu_alone += int((c.rows.p_value < 0.01).sum())
        n += len(c.rows)
    assert n == 500
    print(f"A/A defaults: {default.count(SLOWER)} slower, {default.count(FASTER)} faster of {n};"
          f" threshold 1e-9: {no_threshold.count(SLOWER)} slower, "
          f"{no_threshold.count(FASTER)} faster; MWU alone p<0.01: {mwu_alone}")
    assert default.count(SLOWER) <= 1
    assert default.count(FASTER) <= 1
    assert no_threshold.count(SLOWER) + no_threshold.count(FASTER) <= 15   # 3%
    assert mwu_alone > no_threshold.count(SLOWER) + no_threshold.count(FASTER)


@pytest.mark.parametrize("seed", range(5))
def test_injected_slowdown_is_detected(tmp_path, seed):
    a, b = pair(tmp_path, seed, cur_factors={4: 1.3})
    c = compare(a, b)
    verdicts = dict(zip(c.rows.name, c.rows.verdict))
    assert verdicts.pop("bench[i=4]") == SLOWER
    assert set(verdicts.values()) == {NO_CHANGE}
    row = c.rows.set_index("name").loc["bench[i=4]"]
    assert 1.2 < row.ratio < 1.4 and row.ci_low > 1.0 and row.p_value < 0.01
    assert row.ci_low <= row.ratio <= row.ci_high
    assert list(c.regressions.name) == ["bench[i=4]"]


@pytest.mark.parametrize("seed", range(3))
def test_injected_speedup_is_detected(tmp_path, seed):
    a, b = pair(tmp_path, seed, cur_factors={7: 1 / 1.3})
    c = compare(a, b)
    verdicts = dict(zip(c.rows.name, c.rows.verdict))
    assert verdicts.pop("bench[i=7]") == FASTER
    assert set(verdicts.values()) == {NO_CHANGE}
    assert c.regressions.empty


def test_small_real_change_below_threshold_is_no_change(tmp_path):
    a, b = pair(tmp_path, 1, cur_factors={k: 1.02 for k in range(10)}, run_sd=0.005,
                value_sd=0.002, spike_p=0)
    c = compare(a, b)
    assert (c.rows.p_value < 0.01).all()        # real and significant ...
    assert set(c.rows.verdict) == {NO_CHANGE}    # ... but smaller than 5%
    c2 = compare(a, b, threshold=0.01)
    assert set(c2.rows.verdict) == {SLOWER}


def test_compare_is_deterministic(tmp_path):
    a, b = pair(tmp_path, 2, cur_factors={0: 1.1})
    first = compare(a, b, seed=3).rows
    assert first.equals(compare(a, b, seed=3).rows)


def test_render_table_and_markdown(tmp_path):
    a, b = pair(tmp_path, 0, cur_factors={4: 1.3, 7: 1 / 1.3})
    c = compare(a, b)
    row = c.rows.set_index("name").loc["bench[i=4]"]
    text = c.render("table")
    line = next(ln for ln in text.splitlines() if ln.startswith("bench[i=4]"))
    assert f"{row.ratio:.2f}x [{row.ci_low:.2f}, {row.ci_high:.2f}]" in line
    assert row.ratio > 1 and line.rstrip().endswith(SLOWER)
    # faster: the same convention (current / base, below 1), not flipped
    fast = c.rows.set_index("name").loc["bench[i=7]"]
    line = next(ln for ln in text.splitlines() if ln.startswith("bench[i=7]"))
    assert f"{fast.ratio:.2f}x [{fast.ci_low:.2f}, {fast.ci_high:.2f}]" in line
    assert fast.ratio < 1 and line.rstrip().endswith(FASTER)
    assert "current time / base time (above 1: slower, below 1: faster)" in text
    assert text.rstrip().splitlines()[-1] == (
        "1 slower, 1 faster, 8 no change (threshold 5%, alpha 0.01)")
    # times with units: bench[i=0] is about 30 ns
    assert " ns " in next(ln for ln in text.splitlines() if ln.startswith("bench[i=0]")) + " "
    md = c.render("markdown")
    assert "| name | base | current | change | p | verdict |" in md
    assert any(ln.startswith("| bench[i=4] |") and "slower" in ln for ln in md.splitlines())
    with pytest.raises(UserError):
        c.render("html")


def _scenarios(metrics_by_name):
    return [synth.scenario("replay", {"policy": name}, m, compare="policy")
            for name, m in metrics_by_name.items()]


def test_metric_changes_and_only_in_lists(tmp_path):
    rng = np.random.default_rng(0)
    base = _scenarios({
        "lru": {"hit_ratio": 0.2230, "misses": 777, "note": "ok", "gone": 1},
        "fifo": {"hit_ratio": 0.2100, "misses": 790},
    }) + [synth.timed("get", {"n": 1}, synth.noisy_runs(rng, 1e-7)),
          synth.timed("old", {}, synth.noisy_runs(rng, 1e-7))]
    cur = _scenarios({
        "lru": {"hit_ratio": 0.2230 * (1 + 1e-12), "misses": 780, "note": "changed", "new": 2.5},
        "fifo": {"hit_ratio": 0.2100, "misses": 790},
    }) + [synth.timed("get", {"n": 1}, synth.noisy_runs(rng, 1e-7)),
          synth.timed("new", {}, synth.noisy_runs(rng, 1e-7))]
    c = compare(synth.write(tmp_path / "a.json", base), synth.write(tmp_path / "b.json", cur))
    got = {(r.name, r.metric): (r.base, r.current) for r in c.metric_changes.itertuples()}
    assert got == {
        ("replay[policy=lru]", "misses"): (777, 780),
        ("replay[policy=lru]", "note"): ("ok", "changed"),
        ("replay[policy=lru]", "gone"): (1, None),
        ("replay[policy=lru]", "new"): (None, 2.5),
    }
    assert c.only_in_base == ["old"] and c.only_in_current == ["new"]
    assert list(c.rows.name) == ["get[n=1]"]          # scenarios are not timed comparisons
    text = c.render()
    assert "only in base\n  old" in text and "only in current\n  new" in text
    assert "replay[policy=lru]  misses" in text
    md = c.render("markdown")
    assert "### only in current\n\n- new" in md


def test_kind_change_is_listed(tmp_path):
    rng = np.random.default_rng(0)
    a = synth.write(tmp_path / "a.json", [synth.timed("x", {}, synth.noisy_runs(rng, 1e-6))])
    b = synth.write(tmp_path / "b.json", [synth.scenario("x", {}, {"m": 1})])
    c = compare(a, b)
    assert c.rows.empty
    assert list(c.metric_changes.itertuples(index=False, name=None)) == [
        ("x", "kind", "benchmark", "scenario")]


def test_nothing_in_common_is_not_an_error(tmp_path):
    rng = np.random.default_rng(0)
    a = synth.write(tmp_path / "a.json", [synth.timed("x", {}, synth.noisy_runs(rng, 1e-6))])
    b = synth.write(tmp_path / "b.json", [synth.timed("y", {}, synth.noisy_runs(rng, 1e-6))])
    c = compare(a, b)
    assert c.rows.empty and c.metric_changes.empty and c.regressions.empty
    assert (c.only_in_base, c.only_in_current) == (["x"], ["y"])
    assert list(c.rows.columns) == ["name", "base_mean", "current_mean", "ratio", "ci_low",
                                    "ci_high", "p_value", "verdict", "unit"]
    assert c.render().rstrip().endswith(
        "0 slower, 0 faster, 0 no change (threshold 5%, alpha 0.01)")


def test_bad_files_and_arguments(tmp_path):
    a, _ = pair(tmp_path, 0)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError):
        compare(a, bad)
    with pytest.raises(UserError):
        compare(tmp_path / "missing.json", a)
    with pytest.raises(UserError):
        compare(a, a, threshold=0)
    with pytest.raises(UserError):
        compare(a, a, alpha=1.5)


@pytest.mark.parametrize("text, value", [
    ("5%", 0.05), ("5 %", 0.05), (" 12.5% ", 0.125), ("0.05", 0.05), (".5", 0.5),
    ("999%", 9.99), ("0.1%", 0.001), (0.05, 0.05),
])
def test_parse_threshold_good(text, value):
    assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text", [
    "abc", "", "5%%", "-5%", "0", "0%", "1000%", "10", "5", "1", "1.5", "nan", "inf", "5e", "%5", "5 percent",
    None, True, -0.1,
])
def test_parse_threshold_bad(text):
    with pytest.raises(UserError) as info:
        parse_threshold(text)
    msg = str(info.value)
    assert msg.startswith(f"bad threshold {text!r}:") and "\n" not in msg
