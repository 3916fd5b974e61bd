"""tradeoff history: figures over successive results files, with compare's flags."""
from __future__ import annotations

import json

import pyperf
import pytest

from clitools import cli
from tradeoff.harness import results
from tradeoff.harness.compare import compare
from tradeoff.harness.errors import UserError
from tradeoff.harness.history import load_history, render


def _file(path, date: str, commit: str, values: dict, suite: str = "demo", unit: str = "second"):
    """A results file whose runs recorded ``date``: ``values`` maps a case name to
    per-run value lists (one pyperf run per inner list)."""
    benches = []
    for name, runs in values.items():
        md = {"name": name, "unit": unit, "tradeoff_suite": suite, "tradeoff_kind": "benchmark",
              "tradeoff_func": name.split("[")[0], "tradeoff_git_commit": commit}
        benches.append(pyperf.Benchmark([pyperf.Run(v, warmups=None, metadata=dict(md, date=date),
                                                    collect_metadata=False) for v in runs]))
    results.dump_suite(pyperf.BenchmarkSuite(benches), path)
    return path


def _runs(mean: float, n: int = 12, spread: float = 0.002):
    # deterministic small noise around the mean, 3 values per run
    return [[mean * (1 + spread * ((i * 7 + j * 3) % 5 - 2)) for j in range(3)] for i in range(n)]


@pytest.fixture
def three(tmp_path):
    # files given out of order: history sorts them by date
    c = _file(tmp_path / "c.json", "2026-12-03 10:00:00", "cccc", {"f[n=1]": _runs(1.2e-6), "g": _runs(5e-6)})
    a = _file(tmp_path / "a.json", "2026-12-01 10:00:00", "aaaa", {"f[n=1]": _runs(1.0e-6), "g": _runs(5e-6)})
    b = _file(tmp_path / "b.json", "2026-12-02 10:00:00", "bbbb", {"f[n=1]": _runs(1.0e-6), "g": _runs(4e-6)})
    return [c, a, b]


def test_history_orders_by_date_and_flags_what_compare_flags(three):
    h = load_history(three)
    assert [p.label for p in h.points] == ["aaaa", "bbbb", "cccc"]
    assert h.names == ["f[n=1]", "g"]
    # the same verdicts as compare between consecutive files
    ordered = [p.path for p in h.points]
    for i in (1, 2):
        rows = compare(ordered[i - 1], ordered[i]).rows.set_index("name")
        for name in h.names:
            assert h.steps[(name, i)] == rows.loc[name, "verdict"]
    assert h.steps[("f[n=1]", 2)] == "slower" and h.steps[("g", 1)] == "faster"
    assert h.steps[("f[n=1]", 1)] == "no change" and h.steps[("g", 2)] == "slower"
    lo, hi = h.interval("f[n=1]", 0)
    assert lo < h.mean("f[n=1]", 0) < hi
    text = render(h)
    assert "1.20x" in text and "▲" in text and "▼" in text and "3 flagged steps" in text


def test_history_cli_table_plot_and_html(tmp_path, three):
    png, page = tmp_path / "h.png", tmp_path / "h.html"
    code, out, err = cli("history", *three, "--plot", png, "--html", page, "-k", "f[")
    assert code == 0, err
    assert "f[n=1]" in out and "\ng " not in out                 # -k kept f only
    assert png.stat().st_size > 1000
    body = page.read_text()
    assert body.startswith("<!DOCTYPE html>") and "data:image/png;base64," in body and "f[n=1]" in body


def test_instruction_counts_use_the_plain_threshold(tmp_path):
    a = _file(tmp_path / "a.json", "2026-12-01", "a1", {"k": [[1000.0]]}, unit="integer")
    b = _file(tmp_path / "b.json", "2026-12-02", "b1", {"k": [[1010.0]]}, unit="integer")
    assert load_history([a, b], threshold=0.005).steps[("k", 1)] == "slower"
    assert load_history([a, b], threshold=0.02).steps[("k", 1)] == "no change"
    assert "1010 instr" in render(load_history([a, b]))


def test_history_refuses_mixed_suites_and_one_file(tmp_path):
    a = _file(tmp_path / "a.json", "2026-12-01", "a", {"f": _runs(1e-6)}, suite="cache")
    b = _file(tmp_path / "b.json", "2026-12-02", "b", {"f": _runs(1e-6)}, suite="ring")
    with pytest.raises(UserError, match="different suites"):
        load_history([a, b])
    code, out, err = cli("history", a, b)
    assert code == 2 and "different suites" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli("history", a)
    assert code == 2 and "at least two" in err
    code, out, err = cli("history", a, tmp_path / "missing.json")
    assert code == 2
    code, out, err = cli("history", a, a, "--plot", tmp_path / "x.pdf")
    assert code == 2 and not (tmp_path / "x.pdf").exists()


def test_one_commit_twice_gets_two_labels(tmp_path):
    a = _file(tmp_path / "a.json", "2026-12-01", "same", {"f": _runs(1e-6)})
    b = _file(tmp_path / "b.json", "2026-12-02", "same", {"f": _runs(1e-6)})
    assert [p.label for p in load_history([a, b]).points] == ["same#1", "same#2"]
    assert json.loads(a.read_text())
