"""``tradeoff history``: each case's figure over successive results files (one per
commit, say), with its interval, the steps that ``compare`` would flag, a plot, and
a self-contained HTML page: what asv's published site gives its users, from plain
results files.

The files are ordered by the date their runs recorded (pyperf's ``date`` of each
worker run; the earliest counts), then by name. Each point is labelled with the
commit the run recorded (``tradeoff_git_commit``) or, without one, the file's
name. A step between two consecutive points is flagged exactly as
:func:`tradeoff.harness.compare.compare` would flag it between those two files
(the same test, threshold and significance level; a plain threshold for
instruction counts), so the history never disagrees with the gate.
"""
from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from . import results
from .errors import UserError

__all__ = ["Point", "History", "load_history", "render", "plot", "render_html"]


@dataclass
class Point:
    """One results file: its label, date, commit, and timed benchmarks by name."""
    path: Path
    label: str
    date: str
    commit: str | None
    benches: dict = field(default_factory=dict)


@dataclass
class History:
    suite: str
    points: list[Point]
    names: list[str]                 # timed cases in at least one file, in first-seen order
    # (name, i) -> verdict of the step from point i-1 to point i (compare's SLOWER/FASTER/NO_CHANGE)
    steps: dict
    threshold: float
    alpha: float

    def mean(self, name: str, i: int) -> float:
        b = self.points[i].benches.get(name)
        if b is None:
            return math.nan
        vals = results.bench_values(b)
        return sum(vals) / len(vals) if vals else math.nan

    def interval(self, name: str, i: int) -> tuple[float, float]:
        """A 95% interval for the mean over the worker processes (normal
        approximation over the run means; the mean itself for a single run)."""
        b = self.points[i].benches.get(name)
        if b is None:
            return math.nan, math.nan
        means = results.run_means(b)
        m = self.mean(name, i)
        if len(means) < 2:
            return m, m
        mu = sum(means) / len(means)
        sd = math.sqrt(sum((x - mu) ** 2 for x in means) / (len(means) - 1))
        half = 1.96 * sd / math.sqrt(len(means))
        return m - half, m + half

    def unit(self, name: str) -> str:
        for p in self.points:
            if name in p.benches:
                return results.bench_info(p.benches[name])["unit"]
        return "second"

    def flagged(self) -> list[tuple[str, int, str]]:
        return [(n, i, v) for (n, i), v in sorted(self.steps.items(), key=lambda kv: (kv[0][1], kv[0][0]))
                if v != "no change"]


def _first_date(suite) -> str:
    dates = [str(r.get_metadata().get("date", "")) for b in suite.get_benchmarks() for r in b.get_runs()]
    dates = [d for d in dates if d]
    return min(dates) if dates else ""


def load_history(paths: Sequence[str | os.PathLike], *, patterns: Sequence[str] = (), threshold: float = 0.05,
                 alpha: float = 0.01) -> History:
    """Read the results files, check that they hold one suite, order them and
    flag the steps; ``patterns`` keep the cases whose name contains one of them."""
    from .compare import NO_CHANGE, _compare_timed

    if len(paths) < 2:
        raise UserError("history needs at least two results files")
    points, suites = [], {}
    for path in paths:
        suite = results.read_suite(path)
        benches = {}
        for b in suite.get_benchmarks():
            info = results.bench_info(b)
            suites.setdefault(info["suite"] or "?", []).append(Path(path).name)
            if info["kind"] == results.KIND_SCENARIO:
                continue
            if patterns and not any(p in b.get_name() for p in patterns):
                continue
            benches.setdefault(b.get_name(), b)
        md = suite.get_benchmarks()[0].get_metadata() if suite.get_benchmarks() else {}
        commit = md.get("tradeoff_git_commit")
        points.append(Point(Path(path), "", _first_date(suite), commit, benches))
    if len(suites) > 1:
        shown = "; ".join(f"{s} ({', '.join(sorted(set(f))[:2])})" for s, f in sorted(suites.items()))
        raise UserError(f"history: the files hold different suites: {shown}")
    points.sort(key=lambda p: (p.date, p.path.name))
    seen: dict[str, None] = {}
    for p in points:
        short = (p.commit or "")[:12]
        p.label = short or p.path.stem
        for name in p.benches:
            seen.setdefault(name, None)
    # two files from one commit: tell them apart by their order
    labels = [p.label for p in points]
    for i, p in enumerate(points):
        if labels.count(p.label) > 1:
            p.label = f"{p.label}#{labels[:i + 1].count(labels[i])}"
    if not seen:
        raise UserError("history: no timed case in common" + (f" matches -k {' '.join(patterns)}" if patterns else ""))
    steps = {}
    for i in range(1, len(points)):
        a, b = points[i - 1], points[i]
        for name in seen:
            if name in a.benches and name in b.benches:
                row = _compare_timed(name, a.benches[name], b.benches[name], threshold, alpha, 0)
                steps[(name, i)] = row["verdict"]
            else:
                steps[(name, i)] = NO_CHANGE
    return History(next(iter(suites)), points, list(seen), steps, threshold, alpha)


def _mark(verdict: str) -> str:
    return {"slower": " ▲", "faster": " ▼"}.get(verdict, "")


def render(h: History, fmt: str = "table") -> str:
    """The table: one row per case, one column per point, each step ``compare``
    flags marked ▲ (slower) or ▼ (faster), and the change from first to last."""
    from .report import format_table, format_time

    headers = ["case", *[p.label for p in h.points], "last/first"]
    rows = []
    for name in h.names:
        unit = h.unit(name)
        cells = [name]
        for i in range(len(h.points)):
            m = h.mean(name, i)
            cells.append(("-" if math.isnan(m) else format_time(m, unit)) + _mark(h.steps.get((name, i), "")))
        first = next((h.mean(name, i) for i in range(len(h.points)) if not math.isnan(h.mean(name, i))), math.nan)
        last = next((h.mean(name, i) for i in reversed(range(len(h.points)))
                     if not math.isnan(h.mean(name, i))), math.nan)
        cells.append(f"{last / first:.2f}x" if first and not math.isnan(first) and not math.isnan(last) else "-")
        rows.append(cells)
    flagged = h.flagged()
    head = (f"{h.suite}: {len(h.names)} timed case{'s' if len(h.names) != 1 else ''} over {len(h.points)} results "
            f"files, oldest first; ▲/▼: the step compare flags as slower/faster "
            f"(threshold {h.threshold * 100:g}%, alpha {h.alpha:g})")
    dates = "; ".join(f"{p.label}: {p.date[:19] or '?'} ({p.path.name})" for p in h.points)
    tail = f"{len(flagged)} flagged step{'s' if len(flagged) != 1 else ''}" + (
        ": " + ", ".join(f"{n} at {h.points[i].label} ({v})" for n, i, v in flagged[:10]) if flagged else "")
    return "\n".join([head, dates, format_table(headers, rows, fmt, ["l"] + ["r"] * (len(headers) - 1)), tail])


def _draw(h: History, ax, names: Sequence[str]) -> None:
    xs = list(range(len(h.points)))
    for j, name in enumerate(names):
        ys = [h.mean(name, i) for i in xs]
        base = next((y for y in ys if not math.isnan(y)), math.nan)
        if not base or math.isnan(base):
            continue
        rel = [y / base for y in ys]
        lo = [h.interval(name, i)[0] / base for i in xs]
        hi = [h.interval(name, i)[1] / base for i in xs]
        color = f"C{j % 10}"
        ax.plot(xs, rel, marker="o", ms=3, lw=1.2, color=color, label=name)
        ax.fill_between(xs, lo, hi, color=color, alpha=0.15, lw=0)
        for i in xs[1:]:
            v = h.steps.get((name, i), "no change")
            if v != "no change":
                ax.plot([i], [rel[i]], marker="^" if v == "slower" else "v", ms=9, color="red" if v == "slower"
                        else "green", zorder=5)
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xticks(xs)
    ax.set_xticklabels([p.label for p in h.points], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("relative to the first point")
    if len(names) <= 10:
        ax.legend(fontsize=7)


def plot(h: History, path) -> None:
    """Every case relative to its first point, with its interval; flagged steps red ▲ or green ▼."""
    from .plots import figure, save_figure

    fig, ax = figure(8.0, 4.8)
    _draw(h, ax, h.names)
    ax.set_title(f"{h.suite}: history")
    save_figure(fig, path)


def render_html(h: History) -> str:
    """A self-contained page: the table, and one chart per benchmark function."""
    import io

    from .plots import data_uri, figure
    from .report import _CSS

    funcs: dict[str, list[str]] = {}
    for name in h.names:
        funcs.setdefault(name.split("[", 1)[0], []).append(name)
    lines = render(h, "html").split("\n")
    body = [f"<h1>{html.escape(h.suite)}: history</h1>",
            f'<p class="config">{html.escape(lines[0])}</p>', f'<p class="config">{html.escape(lines[1])}</p>',
            "\n".join(lines[2:-1]), f"<p>{html.escape(lines[-1])}</p>"]
    for func, names in funcs.items():
        fig, ax = figure(8.0, 4.2)
        _draw(h, ax, names)
        ax.set_title(func)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        body.append(f"<h2>{html.escape(func)}</h2>")
        body.append(f'<img alt="{html.escape(func)} history" src="{data_uri(buf.getvalue())}">')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(h.suite)} history</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
