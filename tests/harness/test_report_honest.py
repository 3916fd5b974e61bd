"""Reports that say what matters: headline metrics and the run's config in simulate
results, the legend beside the bars, compare's one ratio convention, interrupted runs."""
import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

import synth
from tradeoff.harness import plots, report, results
from tradeoff.harness.compare import compare


# ------------------------------------------------------------------ the legend of a bar chart

@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures saved while the test runs (bar_chart draws them off pyplot)."""
    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig

    def savefig(fig, *args, **kwargs):
        saved.append(fig)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


@pytest.mark.parametrize("n_cat", [1, 3, 12])
def test_legend_is_outside_the_axes(figures, n_cat):
    """Tall last bars (where a legend at "best" or upper right would sit) and long labels:
    the legend must not overlap the axes, so no bar is hidden, and must stay on the figure."""
    cats = [f"size={10 ** k}" for k in range(n_cat)]
    series = {name: ([1.0 + k for k in range(n_cat)], None)
              for name in ("lru", "w-tinylfu:window=0.01", "belady (offline optimum)")}
    png = plots.bar_chart(cats, series, ylabel="miss ratio", title="t")
    assert png.startswith(b"\x89PNG")
    fig = figures[-1]
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legends = [lg for lg in [ax.get_legend(), *fig.legends] if lg is not None]
    assert len(legends) == 1
    box = legends[0].get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    assert not box.overlaps(axes_box), (box, axes_box)
    page = fig.bbox
    assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1
    assert box.y0 >= page.y0 - 1 and box.y1 <= page.y1 + 1
    for text in legends[0].get_texts():
        assert text.get_window_extent(renderer).x1 <= page.x1 + 1   # the labels are not cut


# ------------------------------------------------------------------ headline metrics and config

CONFIG = {"servers": 10, "load": 0.9, "arrivals": "poisson", "requests": np.int64(1_000_000)}
CONFIG_LINE = "config: servers=10, load=0.9, arrivals=poisson, requests=1,000,000"
POLICIES = [("random", 41.5, 9.1, 77), ("jsq", 12.25, 3.3, 18), ("p2c", 14.0, 3.9, 21)]


def balance_rows():
    """Rows as a balance sweep makes them: config values still among the columns."""
    return [{"servers": 10, "load": 0.9, "policy": policy, "requests": np.int64(1_000_000),
             "p99": p99, "mean": mean, "max_queue": q, "seconds": 0.5 + i}
            for i, (policy, p99, mean, q) in enumerate(POLICIES)]


@pytest.fixture
def balance_file(tmp_path):
    path = tmp_path / "balance.json"
    results.write_rows(balance_rows(), path, suite="simulate-balance", func="balance",
                       params=("servers", "load", "policy"), compare="policy",
                       headline=("p99", "mean"), config=CONFIG)
    return path


def test_write_rows_stores_headline_and_config(balance_file):
    import json

    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(balance_file))
    # the config once, at the file's root (pyperf's metadata common to all benchmarks)
    raw = json.loads(balance_file.read_text())
    assert json.loads(raw["metadata"]["tradeoff_config"]) == {
        "servers": 10, "load": 0.9, "arrivals": "poisson", "requests": 1_000_000}
    assert "tradeoff_config" in suite.get_metadata()
    for bench in suite.get_benchmarks():
        md = bench.get_metadata()
        assert md["tradeoff_headline"] == '["p99","mean"]'
        info = results.bench_info(bench)
        assert info["headline"] == ["p99", "mean"]
        assert info["config"]["requests"] == 1_000_000 and info["interrupted"] is False
        # config keys are no metric of any row; a param of the same name stays a param
        assert set(info["metrics"]) == {"p99", "mean", "max_queue"}
        assert info["params"]["servers"] == 10 and info["params"]["load"] == 0.9
    df = results.load(balance_file)
    assert df.attrs["headline"] == ["p99", "mean"]
    assert df.attrs["config"] == {"servers": 10, "load": 0.9, "arrivals": "poisson",
                                  "requests": 1_000_000}
    assert df.attrs["interrupted"] is False
    assert "requests" not in df.columns and "arrivals" not in df.columns


def test_old_files_have_empty_headline_and_config(tmp_path):
    path = synth.write(tmp_path / "old.json", [synth.scenario("s", {"k": 1}, {"m": 1.5})])
    info = results.bench_info(next(iter(results.read_suite(path))))
    assert (info["headline"], info["config"], info["interrupted"]) == ([], {}, False)
    df = results.load(path)
    assert (df.attrs["headline"], df.attrs["config"], df.attrs["interrupted"]) == ([], {}, False)
    text = report.render(df, "table")
    assert text.splitlines()[0] == "synth: s (scenario)"            # no header lines
    assert "config:" not in text and "note:" not in text


def test_config_line_at_the_top_of_every_format(balance_file):
    df = results.load(balance_file)
    table = report.render(df, "table")
    assert table.splitlines()[0] == CONFIG_LINE
    assert table.count("config:") == 1
    md = report.render(df, "markdown")
    assert md.startswith(CONFIG_LINE + "\n\n### ")                   # a paragraph of its own
    page = report.render_html(df)
    h1 = page.index("</h1>")
    assert page.index(f'<p class="config">{CONFIG_LINE}</p>') > h1
    assert page.index(f'<p class="config">{CONFIG_LINE}</p>') < page.index("<h2>")
    csv = report.render(df, "csv")
    assert pd.read_csv(io.StringIO(csv)).shape == df.shape           # csv stays data only


def _chart_labels(figures):
    return [fig.axes[0].get_ylabel() for fig in figures]


def test_report_charts_the_headline_metrics(balance_file, figures):
    df = results.load(balance_file)
    page = report.render_html(df)
    assert _chart_labels(figures) == ["p99", "mean"]                 # not "requests"
    images = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert [alt for alt, _ in images] == ["simulate-balance: balance (scenario): p99 chart",
                                          "simulate-balance: balance (scenario): mean chart"]
    assert all(base64.b64decode(png).startswith(b"\x89PNG") for _, png in images)


def test_at_most_three_headline_charts(tmp_path, figures):
    path = tmp_path / "ring.json"
    rows = [{"nodes": n, "partitioner": p, "keys": 1000, "stdev": s, "moved": m, "max": x,
             "min": y, "seconds": 0.1}
            for n, p, s, m, x, y in [(10, "jump", 0.01, 90, 110, 90), (10, "maglev", 0.02, 95, 120, 80)]]
    results.write_rows(rows, path, suite="simulate-ring", func="partition",
                       params=("nodes", "partitioner"), compare="partitioner",
                       headline=("stdev", "moved", "max", "min", "absent"), config={"keys": 1000})
    report.render_html(results.load(path))
    assert _chart_labels(figures) == ["stdev", "moved", "max"]


def test_without_headline_a_constant_metric_is_not_charted(tmp_path, figures):
    """An old file (no headline): ``requests`` comes first but is the same in every row,
    so the chart shows the first metric that varies."""
    benches = [synth.scenario("replay", {"policy": p, "size": 100},
                              {"requests": 50000, "miss_ratio": mr, "hits": h}, compare="policy")
               for p, mr, h in [("lru", 0.31, 34500), ("fifo", 0.35, 32500)]]
    report.render_html(results.load(synth.write(tmp_path / "old.json", benches)))
    assert _chart_labels(figures) == ["miss_ratio"]


def test_without_headline_all_constant_means_no_chart(tmp_path, figures):
    benches = [synth.scenario("s", {"k": k}, {"requests": 50000, "label": "x"}) for k in (1, 2)]
    page = report.render_html(results.load(synth.write(tmp_path / "flat.json", benches)))
    assert figures == [] and "<img" not in page
    assert "50,000" in page                                            # the table still shows it


# ------------------------------------------------------------------ interrupted runs

NOTE = "note: this run was interrupted: its results are incomplete (3 benchmarks kept)"


def _interrupted(benches):
    for b in benches:
        b.update_metadata({"tradeoff_interrupted": 1})
    return benches


@pytest.fixture
def interrupted_pair(tmp_path):
    rng = np.random.default_rng(5)
    full = synth.timed_suite(rng, [1e-6, 2e-6, 3e-6, 4e-6])
    cut = _interrupted(synth.timed_suite(rng, [1e-6, 2e-6, 3e-6]))
    return synth.write(tmp_path / "full.json", full), synth.write(tmp_path / "cut.json", cut)


def test_report_notes_an_interrupted_run(interrupted_pair):
    _, cut = interrupted_pair
    df = results.load(cut)
    assert df.attrs["interrupted"] is True
    assert results.bench_info(next(iter(results.read_suite(cut))))["interrupted"] is True
    assert report.render(df, "table").splitlines()[0] == NOTE
    assert report.render(df, "markdown").startswith(NOTE + "\n\n### ")
    page = report.render_path(cut, "html")
    assert f'<p class="note">{NOTE}</p>' in page
    assert page.index("</h1>") < page.index(NOTE) < page.index("<h2>")
    assert report.render_path(cut, "table").splitlines()[0] == NOTE


def test_note_and_config_together(tmp_path):
    path = tmp_path / "both.json"
    results.write_rows(balance_rows()[:1], path, suite="simulate-balance", func="balance",
                       params=("servers", "load", "policy"), compare="policy",
                       extra={"tradeoff_interrupted": 1}, config=CONFIG)
    lines = report.render(results.load(path), "table").splitlines()
    assert lines[:3] == [
        "note: this run was interrupted: its results are incomplete (1 benchmark kept)",
        CONFIG_LINE, ""]


def test_compare_notes_the_interrupted_side(interrupted_pair):
    full, cut = interrupted_pair
    note_cur = "note: the current run was interrupted: benchmarks missing from it are not compared"
    note_base = "note: the base run was interrupted: benchmarks missing from it are not compared"
    c = compare(full, cut)
    assert (c.base_interrupted, c.current_interrupted) == (False, True)
    assert c.only_in_base == ["bench[i=3]"]
    text = c.render("table")
    assert text.splitlines()[0] == note_cur and note_base not in text
    assert c.render("markdown").startswith(note_cur + "\n\n### timed benchmarks")
    c = compare(cut, full)
    assert (c.base_interrupted, c.current_interrupted) == (True, False)
    assert c.render().splitlines()[0] == note_base
    c = compare(cut, cut)
    assert c.render().splitlines()[:3] == [note_base, "", note_cur]
    c = compare(full, full)
    assert (c.base_interrupted, c.current_interrupted) == (False, False)
    assert "note:" not in c.render()


def test_a_real_interrupted_run_reports_the_note(tmp_path):
    from clitools import cli

    suites = __import__("pathlib").Path(__file__).parent / "suites"
    out_file = tmp_path / "i.json"
    code, out, err = cli("run", suites / "interrupted.py", "-k", "first", "-k", "ctrl_c",
                         "--quiet", "-o", out_file)
    assert code == 130, err
    assert out.splitlines()[0] == ("note: this run was interrupted: its results are incomplete "
                                   "(1 benchmark kept)")
    code, out, err = cli("report", out_file, "--format", "markdown")
    assert code == 0 and out.startswith("note: this run was interrupted")


# ------------------------------------------------------------------ compare: one convention

def test_change_is_always_current_over_base():
    from tradeoff.harness.compare import _format_change

    assert _format_change(1.31, 1.25, 1.38) == "1.31x [1.25, 1.38]"
    assert _format_change(0.76, 0.70, 0.81) == "0.76x [0.70, 0.81]"     # not "1.32x faster"
    assert _format_change(1.0004, 0.95, 1.06) == "1.00x [0.95, 1.06]"
    assert _format_change(float("nan"), 1, 1) == "-"


def test_compare_caption_says_which_way(tmp_path):
    rng = np.random.default_rng(0)
    a = synth.write(tmp_path / "a.json", synth.timed_suite(rng, [1e-6, 2e-6]))
    b = synth.write(tmp_path / "b.json", synth.timed_suite(rng, [1e-6, 2e-6], {1: 1 / 1.3}))
    c = compare(a, b)
    text = c.render()
    assert ("change: current time / base time (above 1: slower, below 1: faster), with its 99% "
            "bootstrap interval") in text
    row = c.rows.set_index("name").loc["bench[i=1]"]
    line = next(ln for ln in text.splitlines() if ln.startswith("bench[i=1]"))
    assert row.verdict == "faster" and row.ratio < 1
    assert f"{row.ratio:.2f}x [{row.ci_low:.2f}, {row.ci_high:.2f}]" in line
    assert "x faster" not in text and "x slower" not in text
