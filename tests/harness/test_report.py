"""Tests of the reports: side-by-side groups, scenario tables, csv, html, edge cases."""
import base64
import io
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import synth
from tradeoff.harness import report, results
from tradeoff.harness.errors import UserError

IMPLS = [("tradeoff", 30e-9), ("lru_dict", 29e-9), ("cachetools", 120e-9)]
SIZES = [100, 10000]


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    benches = []
    for size in SIZES:
        for impl, mean in IMPLS:
            benches.append(synth.timed("get", {"impl": impl, "size": size},
                                       synth.noisy_runs(rng, mean * (1 + size / 1e5)),
                                       compare="impl"))
    benches.append(synth.timed("build", {"n": 1000}, synth.noisy_runs(rng, 2.5e-3)))
    benches.append(synth.timed("ping", {}, synth.noisy_runs(rng, 1.2)))
    for policy, hit, misses in [("lru", 0.22301, 1234567), ("fifo", 0.2101, 1301990)]:
        benches.append(synth.scenario("replay", {"policy": policy, "cap": 1000},
                                      {"hit_ratio": hit, "misses": misses}, compare="policy"))
    benches.append(synth.scenario("spread", {"nodes": 10}, {"stdev": 0.0991, "moved": 100}))
    benches.append(synth.scenario("spread", {"nodes": 100}, {"stdev": 0.031, "moved": 12000}))
    return synth.write(tmp_path_factory.mktemp("report") / "results.json", benches)


@pytest.fixture(scope="module")
def df(results_file):
    return results.load(results_file)


def expected_ratios(df):
    """{(size, impl): mean(impl) / mean(tradeoff)} computed from the loaded frame."""
    get = df[df.func == "get"]
    out = {}
    for size in SIZES:
        base = get[(get["size"] == size) & (get.impl == "tradeoff")]["mean"].iloc[0]
        for impl, _ in IMPLS[1:]:
            m = get[(get["size"] == size) & (get.impl == impl)]["mean"].iloc[0]
            out[size, impl] = m / base
    return out


def cells(line, fmt):
    if fmt == "markdown":
        return [c.strip() for c in line.strip().strip("|").split("|")]
    return re.split(r"\s{2,}", line.strip())


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_side_by_side_group_with_ratios(df, fmt):
    text = report.render(df, fmt)
    lines = text.splitlines()
    header = next(ln for ln in lines if "lru_dict/tradeoff" in ln)
    assert cells(header, fmt) == ["size", "tradeoff", "lru_dict", "cachetools",
                                  "lru_dict/tradeoff", "cachetools/tradeoff"]
    ratios = expected_ratios(df)
    get = df[df.func == "get"]
    for size in SIZES:
        row = next(cells(ln, fmt) for ln in lines if cells(ln, fmt)[0] == str(size))
        assert row[4] == f"{ratios[size, 'lru_dict']:.2f}x"
        assert row[5] == f"{ratios[size, 'cachetools']:.2f}x"
        base = get[(get["size"] == size) & (get.impl == "tradeoff")].iloc[0]
        assert row[1] == report.format_time(base["mean"], "second", base["std"])
        assert row[1].endswith(tuple("0123456789")) and " ns ±" in row[1]
    # the ratios in this data are far from 1, so a swapped division would show
    assert ratios[100, "cachetools"] > 3.5
    assert "twice as fast" in text                    # the caption explains the ratio


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_plain_and_scenario_tables(df, fmt):
    text = report.render(df, fmt)
    lines = text.splitlines()
    build = next(cells(ln, fmt) for ln in lines if "build[n=1000]" in ln)
    row = df[df.name == "build[n=1000]"].iloc[0]
    assert build[1] == report.format_time(row["mean"], "second", row["std"])
    assert " ms ±" in build[1] and build[3] == "20 x 3"
    assert any("ping" in ln and " s ±" in ln for ln in lines)
    # scenario with a compare param: one column per policy, one row per metric
    header = next(cells(ln, fmt) for ln in lines if "metric" in cells(ln, fmt))
    assert header == ["cap", "metric", "lru", "fifo"]
    hit = next(cells(ln, fmt) for ln in lines if "hit_ratio" in ln)
    assert hit == ["1000", "hit_ratio", "0.2230", "0.2101"]
    misses = next(cells(ln, fmt) for ln in lines if "misses" in ln)
    assert misses == ["1000", "misses", "1,234,567", "1,301,990"]
    # scenario without a compare param: params and metrics as columns
    spread = next(cells(ln, fmt) for ln in lines if cells(ln, fmt)[:1] == ["100"]
                  and "0.0310" in ln)
    assert spread == ["100", "0.0310", "12,000"]


def test_markdown_structure(df):
    md = report.render(df, "markdown")
    assert md.count("### ") == 4                      # get, benchmarks, replay, spread
    assert "|---|---:|---:|---:|---:|---:|" in md
    for block in md.split("### ")[1:]:
        table = [ln for ln in block.splitlines() if ln.startswith("|")]
        assert len({ln.count("|") - ln.count("\\|") for ln in table}) == 1   # rectangular


def test_baseline_is_the_first_value_seen(tmp_path):
    rng = np.random.default_rng(1)
    benches = [synth.timed("op", {"impl": impl}, synth.noisy_runs(rng, m), compare="impl")
               for impl, m in [("peer", 2e-6), ("tradeoff", 1e-6)]]
    frame = results.load(synth.write(tmp_path / "r.json", benches))
    text = report.render(frame, "table")
    assert "tradeoff/peer" in text
    ratio = frame["mean"].iloc[1] / frame["mean"].iloc[0]
    assert f"{ratio:.2f}x" in text and ratio < 0.7


def test_csv_round_trip(df):
    back = pd.read_csv(io.StringIO(report.render(df, "csv")))
    assert list(back.columns) == list(df.columns)
    assert list(back.name) == list(df.name)
    np.testing.assert_allclose(back["mean"], df["mean"], rtol=1e-12)
    assert back["hit_ratio"].dropna().tolist() == [0.22301, 0.2101]


def test_csv_frame_renders_like_the_original(df):
    back = pd.read_csv(io.StringIO(report.render(df, "csv")))
    assert report.render(back, "table") == report.render(df, "table")


def test_html_is_self_contained(df):
    page = report.render_html(df, title="cache <run>")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>cache &lt;run&gt;</title>" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4
    assert all(base64.b64decode(img).startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    ratios = expected_ratios(df)
    assert f"<td class=\"num\">{ratios[10000, 'cachetools']:.2f}x</td>" in page
    assert "<td class=\"num\">1,234,567</td>" in page


def test_render_path(results_file, df):
    assert report.render_path(results_file, "table") == report.render(df, "table")
    assert "data:image/png;base64," in report.render_path(results_file, "html")
    with pytest.raises(UserError):
        report.render_path(results_file, "pdf")
    with pytest.raises(UserError):
        report.render(df, "xml")


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "html"])
def test_empty_frame(df, fmt):
    empty = df.iloc[0:0]
    out = report.render(empty, fmt)
    if fmt == "csv":
        assert out.strip() == ",".join(df.columns)
    else:
        assert "no benchmarks or scenarios" in out


def test_only_scenarios_and_missing_cells(tmp_path):
    rng = np.random.default_rng(2)
    benches = [synth.timed("op", {"impl": impl, "n": n}, synth.noisy_runs(rng, 1e-6),
                           compare="impl") for impl, n in [("a", 1), ("b", 2)]]
    text = report.render(results.load(synth.write(tmp_path / "r.json", benches)), "table")
    n1, n2 = [re.split(r"\s{2,}", ln.strip()) for ln in text.splitlines()[-2:]]
    assert n1[0] == "1" and " us ±" in n1[1] and n1[2:] == ["-", "-"]   # no b, no ratio
    assert n2[0] == "2" and n2[1] == "-" and " us ±" in n2[2] and n2[3] == "-"
    only = [synth.scenario("s", {}, {"m": 0.5, "label": "x"})]
    text = report.render(results.load(synth.write(tmp_path / "s.json", only)), "table")
    assert re.search(r"^s\s+0\.5000\s+x$", text, re.M)


@pytest.mark.parametrize("seconds, std, text", [
    (31.2e-9, 0.4e-9, "31.2 ns ±0.4"),
    (999.7e-9, None, "1.00 us"),
    (2.5e-4, None, "250 us"),
    (1.5, 0.08, "1.50 s ±0.08"),
    (0.5e-9, None, "0.500 ns"),
    (123e-9, 0.04e-9, "123 ns ±0.04"),
    (float("nan"), None, "-"),
    (0.0, None, "0 ns"),
])
def test_format_time(seconds, std, text):
    assert report.format_time(seconds, "second", std) == text


def test_imports_stay_light():
    code = ("import sys; import tradeoff.harness.report, tradeoff.harness.compare, "
            "tradeoff.harness.plots; "
            "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "[]"
