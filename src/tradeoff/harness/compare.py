"""Compare two results files: which benchmarks got slower or faster, which metrics changed.

For every timed benchmark present in both files (matched by name) the comparison gives
the ratio of the means, current / base (above 1 is slower), a hierarchical bootstrap
interval for it over pyperf's worker processes, and a Mann-Whitney p-value over all
values (see :mod:`tradeoff.harness.stats`). A benchmark is called

* ``slower`` iff p < alpha and the whole interval lies above 1 + threshold;
* ``faster`` iff p < alpha and the whole interval lies below 1 / (1 + threshold);
* ``no change`` otherwise.

Both must agree. The p-value alone would flag tiny, real but irrelevant shifts, and it
treats values from one process as independent; the interval resamples processes, so a
difference between processes is not mistaken for an effect. The threshold is held to
the interval, not to the point estimate: the slowdown must be *significantly* beyond it.
That matters on a shared machine, where two runs minutes apart can differ by 10% as a
whole (a shift that resampling within one file cannot see): measured on this project's
2-core machine, testing the point estimate against the threshold raised a false alarm in
about 1 of 5 A/A gate runs; testing the interval's bound did not, and still caught every
30% slowdown. The interval's confidence level is ``1 - alpha``, so that both tests are
held to the same standard.

The change is always shown one way, current / base with its interval, whatever the
verdict: ``1.31x [1.25, 1.38]`` is 31% slower, ``0.76x [0.70, 0.81]`` faster.

Scenarios are deterministic, so they are not timed comparisons: their metrics are
compared value by value (numbers with a relative tolerance of 1e-9, anything else
exactly) and every difference is listed. Names found in one file only are listed too.

A file written by an interrupted run (``tradeoff_interrupted``) lacks the cases that had
not finished; the comparison records it (``base_interrupted``, ``current_interrupted``)
and its rendering opens with a note, since the names missing from that side are missing
because the run stopped, not because the benchmarks were removed.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import results
from .errors import UserError

__all__ = ["parse_threshold", "compare", "Comparison", "SLOWER", "FASTER", "NO_CHANGE"]

SLOWER, FASTER, NO_CHANGE = "slower", "faster", "no change"
ROW_COLUMNS = ["name", "base_mean", "current_mean", "ratio", "ci_low", "ci_high",
               "p_value", "verdict", "unit"]
METRIC_COLUMNS = ["name", "metric", "base", "current"]
REL_TOL = 1e-9

_THRESHOLD_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*$")


def parse_threshold(text: Any) -> float:
    """``"5%"``, ``"5 %"``, ``"12.5%"`` or ``"0.05"`` as a fraction (0.05).

    A bare number is a fraction and must be below 1 (``"5"`` is refused rather than read
    as 500%). The result must be above 0 and below 10 (1000%); anything else raises
    UserError naming the value.

    >>> parse_threshold("12.5%"), parse_threshold("0.05")
    (0.125, 0.05)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _THRESHOLD_RE.match(text) if isinstance(text, str) else None
        if not m:
            raise UserError(f"bad threshold {text!r}: expected a percentage like 5% "
                            f"or a fraction like 0.05")
        value = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
        if not m.group(2) and value >= 1.0:
            raise UserError(f"bad threshold {text!r}: a bare number is a fraction (0.05 is 5%); "
                            f"write {m.group(1)}% for a percentage")
    if not (0.0 < value < 10.0):
        raise UserError(f"bad threshold {text!r}: must be above 0% and below 1000%")
    return value


@dataclass
class Comparison:
    """The outcome of :func:`compare`.

    ``rows``: one row per timed benchmark found in both files, columns ``name, base_mean,
    current_mean, ratio, ci_low, ci_high, p_value, verdict, unit`` (times in the unit,
    normally seconds per operation; ``ratio`` is current / base). ``metric_changes``:
    ``name, metric, base, current`` for each scenario metric that differs (None where a
    side lacks the metric). ``only_in_base`` / ``only_in_current``: names in one file only.
    ``base_interrupted`` / ``current_interrupted``: whether that file was written by an
    interrupted run (its results are incomplete).
    """

    rows: Any
    metric_changes: Any
    only_in_base: list = field(default_factory=list)
    only_in_current: list = field(default_factory=list)
    threshold: float = 0.05
    alpha: float = 0.01
    base_interrupted: bool = False
    current_interrupted: bool = False

    @property
    def notes(self) -> list[str]:
        """One line per interrupted side, e.g. ``note: the current run was interrupted:
        benchmarks missing from it are not compared``; ``[]`` when neither was."""
        return [f"note: the {side} run was interrupted: benchmarks missing from it are not compared"
                for side, flag in (("base", self.base_interrupted),
                                   ("current", self.current_interrupted)) if flag]

    @property
    def confidence(self) -> float:
        """The confidence level of the intervals: ``1 - alpha``."""
        return 1.0 - self.alpha

    @property
    def regressions(self):
        """The rows whose verdict is ``slower``."""
        return self.rows[self.rows["verdict"] == SLOWER]

    @property
    def summary(self) -> str:
        """``2 slower, 1 faster, 10 no change (threshold 5%, alpha 0.01)``."""
        counts = self.rows["verdict"].value_counts()
        n = [int(counts.get(v, 0)) for v in (SLOWER, FASTER, NO_CHANGE)]
        return (f"{n[0]} slower, {n[1]} faster, {n[2]} no change "
                f"(threshold {self.threshold * 100:g}%, alpha {self.alpha:g})")

    def render(self, fmt: str = "table") -> str:
        """The comparison as aligned text (``table``) or GitHub ``markdown``."""
        from .report import format_table, format_time

        if fmt not in ("table", "markdown"):
            raise UserError(f"unknown comparison format {fmt!r}: expected table or markdown")
        md = fmt == "markdown"

        def block(title, caption, body):
            head = f"### {title}\n\n" if md else f"{title}\n"
            return head + (f"{caption}\n\n" if caption else "") + body

        parts = list(self.notes)
        if len(self.rows):
            table_rows = [[r.name, format_time(r.base_mean, r.unit),
                           format_time(r.current_mean, r.unit),
                           _format_change(r.ratio, r.ci_low, r.ci_high),
                           _format_p(r.p_value), r.verdict]
                          for r in self.rows.itertuples(index=False)]
            parts.append(block(
                "timed benchmarks",
                f"change: current time / base time (above 1: slower, below 1: faster), with its "
                f"{self.confidence * 100:g}% bootstrap interval over worker processes; "
                "p: Mann-Whitney U over all values",
                format_table(["name", "base", "current", "change", "p", "verdict"], table_rows,
                             fmt, ["l", "r", "r", "r", "r", "l"])))
        else:
            parts.append(block("timed benchmarks", "", "none in common"))
        if len(self.metric_changes):
            table_rows = [[str(r.name), str(r.metric), _format_metric(r.base),
                           _format_metric(r.current)]
                          for r in self.metric_changes.itertuples(index=False)]
            parts.append(block(
                "scenario metrics that changed",
                f"numbers compared with a relative tolerance of {REL_TOL:g}; - : not on that side",
                format_table(METRIC_COLUMNS, table_rows, fmt, ["l", "l", "r", "r"])))
        for label, names in (("only in base", self.only_in_base),
                             ("only in current", self.only_in_current)):
            if names:
                parts.append(block(label, "", "\n".join(("- " if md else "  ") + n for n in names)))
        parts.append(self.summary)
        return "\n\n".join(parts) + "\n"


def _format_change(ratio: float, lo: float, hi: float) -> str:
    """current / base and its interval, the same way for every verdict.

    >>> _format_change(1.31, 1.25, 1.38), _format_change(0.76, 0.70, 0.81)
    ('1.31x [1.25, 1.38]', '0.76x [0.70, 0.81]')
    """
    vals = (ratio, lo, hi)
    if any(v is None or not math.isfinite(v) or v <= 0 for v in vals):
        return "-" if ratio is None or not math.isfinite(ratio) else f"{ratio:.2f}x"
    return f"{ratio:.2f}x [{lo:.2f}, {hi:.2f}]"


def _format_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def _format_metric(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def _by_name(suite) -> dict:
    out = {}
    for bench in suite.get_benchmarks():
        out.setdefault(bench.get_name(), bench)
    return out


def _same(a: Any, b: Any) -> bool:
    def is_num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if is_num(a) and is_num(b):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)
    return type(a) is type(b) and a == b


def _compare_timed(name, base, cur, threshold, alpha, seed) -> dict:
    from .stats import bootstrap_ratio_ci, mann_whitney_u

    unit = results.bench_info(base)["unit"]
    bvals, cvals = results.bench_values(base), results.bench_values(cur)
    row = dict(name=name, base_mean=math.nan, current_mean=math.nan, ratio=math.nan,
               ci_low=math.nan, ci_high=math.nan, p_value=math.nan, verdict=NO_CHANGE, unit=unit)
    if not bvals or not cvals:
        return row
    row["base_mean"] = sum(bvals) / len(bvals)
    row["current_mean"] = sum(cvals) / len(cvals)
    if unit == "integer" or results.bench_info(cur)["unit"] == "integer":
        # instruction counts: no noise to test for, a plain relative threshold
        if unit != results.bench_info(cur)["unit"]:
            raise UserError(f"{name}: one file holds instruction counts, the other times; "
                            f"compare two runs measured the same way")
        ratio = row["current_mean"] / row["base_mean"] if row["base_mean"] else math.nan
        verdict = SLOWER if ratio > 1.0 + threshold else FASTER if ratio < 1.0 / (1.0 + threshold) else NO_CHANGE
        row.update(ratio=ratio, ci_low=ratio, ci_high=ratio, verdict=verdict)
        return row
    ratio, lo, hi = bootstrap_ratio_ci([r.values for r in base.get_runs()],
                                       [r.values for r in cur.get_runs()],
                                       confidence=1.0 - alpha, seed=seed)
    _, p = mann_whitney_u(bvals, cvals)
    if p < alpha and lo > 1.0 + threshold:
        verdict = SLOWER
    elif p < alpha and hi < 1.0 / (1.0 + threshold):
        verdict = FASTER
    else:
        verdict = NO_CHANGE
    row.update(ratio=ratio, ci_low=lo, ci_high=hi, p_value=p, verdict=verdict)
    return row


def _compare_metrics(name, binfo, cinfo) -> list[dict]:
    if binfo["kind"] != cinfo["kind"]:
        return [dict(name=name, metric="kind", base=binfo["kind"], current=cinfo["kind"])]
    bm, cm = binfo["metrics"], cinfo["metrics"]
    out = []
    for key in list(bm) + [k for k in cm if k not in bm]:
        b, c = bm.get(key), cm.get(key)
        if key not in bm or key not in cm or not _same(b, c):
            out.append(dict(name=name, metric=key, base=b, current=c))
    return out


def compare(base_path: str | os.PathLike, current_path: str | os.PathLike,
            threshold: float = 0.05, alpha: float = 0.01, seed: int = 0) -> Comparison:
    """Compare two results files; see the module docstring for the method.

    ``threshold`` is the smallest relative change that counts (0.05: 5%), ``alpha`` the
    significance level of the test and ``1 - alpha`` the confidence of the interval,
    ``seed`` the bootstrap's seed (same files and seed, same answer). Bad files raise
    UserError; names in one file only, or no names in common, are not errors.
    """
    import pandas as pd

    if not (0.0 < threshold < 10.0):
        raise UserError(f"bad threshold {threshold!r}: must be above 0% and below 1000%")
    if not (0.0 < alpha < 1.0):
        raise UserError(f"bad alpha {alpha!r}: must be between 0 and 1")
    base_suite, cur_suite = results.read_suite(base_path), results.read_suite(current_path)
    base, cur = _by_name(base_suite), _by_name(cur_suite)
    rows, changes = [], []
    for name, bbench in base.items():
        cbench = cur.get(name)
        if cbench is None:
            continue
        binfo, cinfo = results.bench_info(bbench), results.bench_info(cbench)
        if binfo["kind"] == results.KIND_SCENARIO or cinfo["kind"] == results.KIND_SCENARIO:
            changes += _compare_metrics(name, binfo, cinfo)
        else:
            rows.append(_compare_timed(name, bbench, cbench, threshold, alpha, seed))
    return Comparison(
        rows=pd.DataFrame(rows, columns=ROW_COLUMNS),
        metric_changes=pd.DataFrame(changes, columns=METRIC_COLUMNS),
        only_in_base=[n for n in base if n not in cur],
        only_in_current=[n for n in cur if n not in base],
        threshold=threshold,
        alpha=alpha,
        base_interrupted=_interrupted(base_suite),
        current_interrupted=_interrupted(cur_suite),
    )


def _interrupted(suite) -> bool:
    """Whether a results file was written by an interrupted run."""
    return any(results.bench_info(b)["interrupted"] for b in suite.get_benchmarks())
