"""Reports of a results file: terminal tables, markdown, csv, and one self-contained HTML page.

The input is the frame :func:`tradeoff.harness.results.load` returns: one row per
benchmark, with the param columns between ``compare`` and ``mean`` and the scenario
metric columns between ``unit`` and ``seed``. The rows are cut into sections, in the
order they first appear:

* Timed benchmarks with a compare param (say ``impl``) are put side by side. Rows of the
  same suite and function that agree on every other param form one output row, with one
  column per value of the compare param (in order of first appearance; the first is the
  baseline) holding the mean time per operation and its standard deviation, and then one
  ratio column per other value, ``X/base``: X's time divided by the baseline's, so 2.00x
  means the baseline is twice as fast.
* Timed benchmarks without a compare param go into one plain table per suite.
* Scenarios get a table per function with their params and metrics as columns; with a
  compare param the metrics are pivoted so that each implementation is a column and each
  (params, metric) a row. Their charts show the file's headline metrics
  (``df.attrs["headline"]``, see :func:`tradeoff.harness.results.load`) that the rows
  have, one chart per metric, at most 3; without any, the first numeric metric that
  varies between the rows (a metric with one value in every row is not worth a chart).

What concerns the file as a whole comes first, one line each: a note when the run was
interrupted (``df.attrs["interrupted"]``: its results are incomplete), then the run's
configuration (``df.attrs["config"]``), e.g. ``config: servers=10, load=0.9``. Frames
without these attrs (a csv read back, an old file) render without them.

Times are shown with 3 significant digits in ns/us/ms/s. Metrics whose values are all
whole numbers are shown as integers with thousands separators, others with 4 decimals.

``table`` is aligned plain text for a terminal, ``markdown`` GitHub pipe tables with a
heading per section, ``csv`` the loaded frame as it is (data only: no note, no config
line, which would break csv readers). ``render_html`` writes the same tables into one HTML
page with inline CSS and charts embedded as base64 PNG. pandas and matplotlib are imported
only inside functions.
"""
from __future__ import annotations

import html
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .errors import UserError

__all__ = ["render", "render_html", "render_path", "format_time", "format_table", "header_lines",
           "format_for_path", "FORMATS", "SUFFIX_FORMATS"]

FORMATS = ("table", "markdown", "csv", "html")

_TIME_SCALES = ((1e-9, "ns"), (1e-6, "us"), (1e-3, "ms"), (1.0, "s"))


# ----------------------------------------------------------------------------- formatting

def _null(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return v != v
    return type(v).__name__ in ("NAType", "NaTType")


def _decimals(x: float, digits: int = 3) -> int:
    """Decimals that show ``x`` with ``digits`` significant digits (none beyond the point).

    Counted after rounding, so 0.9997 gets 2 (``1.00``), not 3.
    """
    if x == 0 or not math.isfinite(x):
        return 0
    d = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    r = round(x, d)
    return max(0, digits - 1 - math.floor(math.log10(abs(r)))) if r else d


def _time_scale(seconds: float) -> tuple[float, str]:
    """The largest-resolution unit in which ``seconds`` shows below 1000 after rounding."""
    a = abs(seconds)
    for factor, suffix in _TIME_SCALES[:-1]:
        v = a / factor
        if round(v, _decimals(v)) < 1000:
            return factor, suffix
    return _TIME_SCALES[-1]


def format_time(value: float, unit: str = "second", std: Optional[float] = None) -> str:
    """``31.2 ns``, or ``31.2 ns ±0.4`` with a standard deviation; 3 significant digits.

    Values in another pyperf unit (``byte``, ``integer``) are shown as numbers with the
    unit's name. NaN shows as ``-``.
    """
    if value is None or _null(value) or not math.isfinite(value):
        return "-"
    if unit == "second":
        factor, suffix = _time_scale(value)
    else:   # instruction counts (``--measure instructions``) are pyperf's "integer" unit
        factor, suffix = 1.0, "instr" if unit == "integer" else unit
    v = value / factor
    d = _decimals(v)
    text = f"{v:.{d}f} {suffix}"
    if std is not None and not _null(std) and math.isfinite(std):
        s = std / factor
        sd = d if round(s, d) != 0 or s == 0 else _decimals(s, 1)
        text += f" ±{s:.{sd}f}"
    return text


def _fmt_param(v: Any) -> str:
    if _null(v):
        return "-"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _key(v: Any) -> Any:
    """A hashable, NaN-free stand-in for a param value (1000.0 and 1000 are one key)."""
    if _null(v):
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and type(v).__name__ != "bool_"


def _metric_formatter(values: Sequence[Any]):
    """A formatter for one metric: integers with separators if all values are whole."""
    nums = [float(v) for v in values if _is_number(v) and not _null(v)]
    integral = bool(nums) and all(math.isfinite(v) and v.is_integer() for v in nums)

    def fmt(v: Any) -> str:
        if _null(v):
            return "-"
        if not _is_number(v):
            return str(v)
        if integral:
            return f"{int(v):,}"
        return f"{float(v):,.4f}"

    return fmt


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], fmt: str,
                 align: Optional[Sequence[str]] = None) -> str:
    """One table as aligned text (``table``), a GitHub pipe table (``markdown``) or ``html``.

    ``align`` holds ``"l"`` or ``"r"`` per column (default: all left).
    """
    align = list(align) if align else ["l"] * len(headers)
    if fmt == "markdown":
        lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
                 "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        return "\n".join(lines)
    if fmt == "html":
        def tr(cells, tag):
            num = ' class="num"'
            return "<tr>" + "".join(
                f"<{tag}{num if a == 'r' else ''}>{html.escape(c)}</{tag}>"
                for c, a in zip(cells, align)) + "</tr>"
        body = "\n".join(tr(row, "td") for row in rows)
        return f"<table>\n<thead>{tr(headers, 'th')}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w)
                         for c, w, a in zip(cells, widths, align)).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


# ----------------------------------------------------------------------------- sections

@dataclass
class _Chart:
    categories: list
    series: dict                 # label -> (heights, errors or None)
    ylabel: str


@dataclass
class _Section:
    title: str
    caption: str
    headers: list
    rows: list
    align: list
    charts: list = field(default_factory=list)      # of _Chart


def _columns(df) -> tuple[list[str], list[str]]:
    """The param columns and the metric columns of a frame from ``results.load``."""
    cols = [str(c) for c in df.columns]
    for needed in ("name", "func", "kind", "compare", "mean", "std", "unit", "seed"):
        if needed not in cols:
            raise UserError(f"not a results frame: no column {needed!r}")
    return (cols[cols.index("compare") + 1: cols.index("mean")],
            cols[cols.index("unit") + 1: cols.index("seed")])


def _used(recs, cols) -> list[str]:
    return [c for c in cols if any(not _null(r.get(c)) for r in recs)]


def _label(names, values, fallback) -> str:
    return ", ".join(f"{p}={_fmt_param(v)}" for p, v in zip(names, values)) or str(fallback)


def _unique(seq) -> list:
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


@dataclass
class _Pivot:
    """Rows of one group keyed by (values of the other params, value of the compare param)."""
    others: list        # the params other than the compare param, in column order
    impls: list         # the compare param's values, in order of first appearance
    keys: list          # the distinct tuples of the other params' values, in order
    cell: dict          # (key, impl) -> record

    @classmethod
    def of(cls, recs, cmp, params):
        others = [p for p in _used(recs, params) if p != cmp]
        cell = {}
        for r in recs:
            cell.setdefault((tuple(_key(r.get(p)) for p in others), _key(r[cmp])), r)
        return cls(others, _unique(i for _, i in cell), _unique(k for k, _ in cell), cell)

    def labels(self, fallback) -> list[str]:
        return [_label(self.others, k, fallback) for k in self.keys]


def _chart_time_series(series_raw):
    """Scale {label: (seconds, std)} to one time unit; returns (series, unit suffix)."""
    finite = [abs(v) for vals, _ in series_raw.values() for v in vals if not _null(v)]
    factor, suffix = _time_scale(max(finite)) if finite else (1.0, "s")
    out = {k: ([math.nan if _null(v) else v / factor for v in vals],
               [math.nan if _null(s) else s / factor for s in stds])
           for k, (vals, stds) in series_raw.items()}
    return out, suffix


def _side_by_side(title, recs, cmp, params) -> _Section:
    pv = _Pivot.of(recs, cmp, params)
    func = recs[0]["func"]
    base = pv.impls[0]
    lead = pv.others or ["benchmark"]
    headers = lead + [str(i) for i in pv.impls] + [f"{i}/{base}" for i in pv.impls[1:]]
    rows, series_raw = [], {str(i): ([], []) for i in pv.impls}
    for key in pv.keys:
        row = [_fmt_param(v) for v in key] if pv.others else [str(func)]
        for impl in pv.impls:
            r = pv.cell.get((key, impl))
            row.append(format_time(r["mean"], r["unit"], r["std"]) if r else "-")
            series_raw[str(impl)][0].append(r["mean"] if r else math.nan)
            series_raw[str(impl)][1].append(r["std"] if r else math.nan)
        b = pv.cell.get((key, base))
        for impl in pv.impls[1:]:
            r = pv.cell.get((key, impl))
            ok = r and b and not _null(r["mean"]) and not _null(b["mean"]) and b["mean"] > 0
            row.append(f"{r['mean'] / b['mean']:.2f}x" if ok else "-")
        rows.append(row)
    caption = (f"mean time per operation ± std, one column per {cmp}; "
               f"X/{base} = X's time divided by {base}'s (2.00x: {base} is twice as fast)")
    series, suffix = _chart_time_series(series_raw)
    return _Section(title, caption, headers, rows,
                    ["l"] * len(lead) + ["r"] * (len(headers) - len(lead)),
                    [_Chart(pv.labels(func), series, f"time per op ({suffix})")])


def _plain(title, recs) -> _Section:
    headers = ["name", "mean ± std", "median", "runs x values"]
    rows = [[str(r["name"]), format_time(r["mean"], r["unit"], r["std"]),
             format_time(r.get("median", math.nan), r["unit"]),
             f"{_fmt_param(r.get('n_runs'))} x {_per_run(r)}"] for r in recs]
    series, suffix = _chart_time_series({"mean": ([r["mean"] for r in recs],
                                                  [r["std"] for r in recs])})
    return _Section(title, "mean time per operation ± std", headers, rows,
                    ["l", "r", "r", "r"],
                    [_Chart([str(r["name"]) for r in recs], series, f"time per op ({suffix})")])


def _per_run(r) -> str:
    try:
        n, runs = int(r.get("n_values")), int(r.get("n_runs"))
    except (TypeError, ValueError):
        return "-"
    return str(n // runs) if runs and n % runs == 0 else f"{n / runs:.1f}" if runs else "-"


MAX_CHARTS = 3


def _numeric(recs, m) -> list[float]:
    return [float(r.get(m)) for r in recs if _is_number(r.get(m)) and not _null(r.get(m))]


def _charted(recs, metrics, headline) -> list[tuple[str, str]]:
    """The (column, label) of each metric a scenario section charts: the headline metrics
    its rows have (at most ``MAX_CHARTS``), else the first numeric metric whose value is not
    the same in every row (a lone row's metric counts as varying: there is nothing to
    compare it with)."""
    shown = [(col, name) for col, name in headline if col in metrics and _numeric(recs, col)]
    if shown:
        return shown[:MAX_CHARTS]
    for m in metrics:
        vals = _numeric(recs, m)
        if vals and (len(recs) < 2 or len(vals) < len(recs) or len(set(vals)) > 1):
            return [(m, m)]
    return []


# the columns results.load gives every row; a metric of the same name is loaded as metric_<name>
_FIXED = ("name", "suite", "func", "kind", "compare", "mean", "std", "median", "min", "max",
          "n_values", "n_runs", "unit", "seed")


def _metric_name(column: str) -> str:
    """The name a metric has in the results file: ``metric_mean`` is shown as ``mean``."""
    bare = column[len("metric_"):] if column.startswith("metric_") else None
    return bare if bare in _FIXED else column


def _scenario(title, recs, cmp, params, metrics, headline=()) -> _Section:
    metrics = _used(recs, metrics)
    fmts = {m: _metric_formatter([r.get(m) for r in recs]) for m in metrics}
    shown = _charted(recs, metrics, headline)       # the metrics in the charts

    def num(v):
        return v if _is_number(v) else math.nan

    if cmp is None:
        used = _used(recs, params)
        lead = used or ["name"]
        rows = [([_fmt_param(r.get(p)) for p in used] or [str(r["name"])])
                + [fmts[m](r.get(m)) for m in metrics] for r in recs]
        labels = [_label(used, [r.get(p) for p in used], r["name"]) for r in recs]
        charts = [_Chart(labels, {name: ([num(r.get(m)) for r in recs], None)}, name)
                  for m, name in shown]
        return _Section(title, "scenario metrics", lead + [_metric_name(m) for m in metrics], rows,
                        ["l"] * len(lead) + ["r"] * len(metrics), charts)
    pv = _Pivot.of(recs, cmp, params)
    rows = []
    for key in pv.keys:
        for m in metrics:
            rows.append([_fmt_param(v) for v in key] + [_metric_name(m)]
                        + [fmts[m](pv.cell[key, i].get(m)) if (key, i) in pv.cell else "-"
                           for i in pv.impls])
    charts = [_Chart(
        pv.labels(recs[0]["func"]),
        {str(i): ([num(pv.cell[key, i].get(m)) if (key, i) in pv.cell else math.nan
                   for key in pv.keys], None) for i in pv.impls},
        name) for m, name in shown]
    return _Section(title, f"scenario metrics, one column per {cmp}",
                    pv.others + ["metric"] + [str(i) for i in pv.impls], rows,
                    ["l"] * (len(pv.others) + 1) + ["r"] * len(pv.impls), charts)


def _sections(df) -> list[_Section]:
    params, metrics = _columns(df)
    headline = _headline(df, metrics)
    recs = df.to_dict("records")
    groups: dict[tuple, list] = {}
    for r in recs:
        cmp = r.get("compare")
        if _null(cmp) or cmp not in params or _null(r.get(cmp)):
            cmp = None
        suite = "" if _null(r.get("suite")) else str(r.get("suite"))
        func = str(r.get("func"))
        if r.get("kind") == "scenario":
            key = ("scenario", suite, func, cmp)
        elif cmp is not None:
            key = ("side", suite, func, cmp)
        else:
            key = ("plain", suite, "", None)
        groups.setdefault(key, []).append(r)
    out = []
    for (kind, suite, func, cmp), rows in groups.items():
        if kind == "plain":
            out.append(_plain(f"{suite}: benchmarks" if suite else "benchmarks", rows))
            continue
        title = f"{suite}: {func}" if suite else func
        if kind == "side":
            out.append(_side_by_side(title, rows, cmp, params))
        else:
            out.append(_scenario(title + " (scenario)", rows, cmp, params, metrics, headline))
    return out


def _headline(df, metrics) -> list[tuple[str, str]]:
    """The headline metrics of ``df.attrs`` as (column, metric name): a metric named like
    a fixed column (``mean``) is loaded as ``metric_mean``, and charted as ``mean``."""
    names = _attr(df, "headline", [])
    if not isinstance(names, (list, tuple)):
        return []
    out = []
    for name in map(str, names):
        col = name if name in metrics else f"metric_{name}"
        if col in metrics and all(col != c for c, _ in out):
            out.append((col, name))
    return out


def _attr(df, key, default):
    attrs = getattr(df, "attrs", None)
    return attrs.get(key, default) if isinstance(attrs, dict) else default


def _fmt_config_value(v: Any) -> str:
    """``1,000,000``, ``0.9``, ``poisson``: whole numbers with separators, others as written."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (list, tuple)):
        return "/".join(_fmt_config_value(x) for x in v)
    return repr(v) if isinstance(v, float) else str(v)


def header_lines(df) -> list[str]:
    """What concerns the whole file, one line each, for the top of a report: a note when
    the run was interrupted, then its configuration; ``[]`` for a frame without them.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["a", "b"]})
    >>> df.attrs.update(interrupted=True, config={"servers": 10, "load": 0.9, "requests": 10**6})
    >>> header_lines(df)  # doctest: +NORMALIZE_WHITESPACE
    ['note: this run was interrupted: its results are incomplete (2 benchmarks kept)',
     'config: servers=10, load=0.9, requests=1,000,000']
    """
    lines = []
    if _attr(df, "interrupted", False):
        n = len(df)
        lines.append(f"note: this run was interrupted: its results are incomplete "
                     f"({n} benchmark{'s' if n != 1 else ''} kept)")
    config = _attr(df, "config", {})
    if isinstance(config, dict) and config:
        lines.append("config: " + ", ".join(f"{k}={_fmt_config_value(v)}"
                                            for k, v in config.items()))
    return lines


# ----------------------------------------------------------------------------- renderers

_EMPTY = "no benchmarks or scenarios in these results"


def _check_fmt(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}: expected one of {', '.join(FORMATS)}")


def render(df, fmt: str = "table") -> str:
    """The frame from ``results.load`` as ``table``, ``markdown``, ``csv`` (or ``html``)."""
    _check_fmt(fmt)
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "html":
        return render_html(df)
    sections = _sections(df)
    head = header_lines(df)
    if fmt == "markdown":
        parts = head                               # one paragraph each
    else:
        parts = ["\n".join(head)] if head else []
    if not sections:
        return "\n\n".join(parts + [_EMPTY]) + "\n"
    for s in sections:
        table = format_table(s.headers, s.rows, fmt, s.align)
        if fmt == "markdown":
            parts.append(f"### {s.title}\n\n{s.caption}\n\n{table}")
        else:
            parts.append(f"{s.title}\n{s.caption}\n\n{table}")
    return "\n\n".join(parts) + "\n"


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1200px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f2f2f2; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
p.caption { color: #555; font-size: 0.9em; margin: 0.2em 0; }
p.note { background: #fff3cd; border: 1px solid #e0c36c; padding: 0.4em 0.6em; }
p.config { color: #333; font-size: 0.9em; font-family: ui-monospace, monospace; }
img { max-width: 100%; display: block; }
"""


def render_html(df, title: str = "tradeoff results") -> str:
    """One self-contained HTML page: inline CSS, tables, and charts as base64 PNG."""
    from . import plots

    body = [f"<h1>{html.escape(title)}</h1>"]
    for line in header_lines(df):
        kind = "note" if line.startswith("note:") else "config"
        body.append(f'<p class="{kind}">{html.escape(line)}</p>')
    sections = _sections(df)
    if not sections:
        body.append(f"<p>{html.escape(_EMPTY)}</p>")
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        body.append(f'<p class="caption">{html.escape(s.caption)}</p>')
        body.append(format_table(s.headers, s.rows, "html", s.align))
        for chart in s.charts:
            if not chart.categories:
                continue
            name = s.title if len(s.charts) == 1 else f"{s.title}: {chart.ylabel}"
            png = plots.bar_chart(chart.categories, chart.series, ylabel=chart.ylabel, title=name)
            body.append(f'<img alt="{html.escape(name)} chart" src="{plots.data_uri(png)}">')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


#: the report format each output suffix asks for (``tradeoff report -o FILE``)
SUFFIX_FORMATS = {".txt": "table", ".text": "table", ".md": "markdown", ".markdown": "markdown",
                  ".csv": "csv", ".html": "html", ".htm": "html"}


def format_for_path(path: str | os.PathLike) -> str:
    """The format a report file's name asks for; an unknown suffix is a UserError rather
    than a text table in, say, ``x.pdf``.

    >>> format_for_path("perf.md"), format_for_path("r.HTML")
    ('markdown', 'html')
    """
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in SUFFIX_FORMATS:
        raise UserError(f"cannot tell the report format from {os.fspath(path)!r}: name it .txt, .md, .csv "
                        f"or .html, or give --format")
    return SUFFIX_FORMATS[ext]


def render_path(path: str | os.PathLike, fmt: str = "table") -> str:
    """Load a results file and render it (``table``, ``markdown``, ``csv`` or ``html``)."""
    from .results import load

    _check_fmt(fmt)
    df = load(path)
    if fmt == "html":
        return render_html(df, title=f"tradeoff results: {os.path.basename(os.fspath(path))}")
    return render(df, fmt)
