"""The ``tradeoff`` command line: user errors, help and version, report formats, compare.

The CLI is called in-process (``tradeoff.cli.main([...])``, catching SystemExit) except
where what matters is a fresh interpreter (which modules ``--help`` imports).
"""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import tradeoff
from clitools import QUICK, cli

SUITES = Path(__file__).parent / "harness" / "suites"



def assert_user_error(code: int, err: str, needle: str = "") -> None:
    """Exit status 2 and exactly one line on stderr: ``tradeoff: error: ...``."""
    assert "Traceback" not in err, err
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith("tradeoff: error: "), err
    assert needle in err, f"{needle!r} not in {err!r}"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A real run: one timed case (``summing[n=10]``) and two scenarios of ``tiny.py``."""
    path = tmp_path_factory.mktemp("cli") / "tiny.json"
    code, _, err = cli("run", SUITES / "tiny.py", *QUICK, "-k", "summing[n=10]", "-k", "metrics",
                       "-o", path, "--format", "none")
    assert code == 0, err
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory, results) -> dict[str, Path]:
    """Bad inputs of every kind, by name."""
    d = tmp_path_factory.mktemp("bad")
    (d / "syntax.py").write_text("from tradeoff import benchmark\n\ndef broken(:\n    pass\n")
    (d / "raises.py").write_text("import os\nraise RuntimeError('boom at import')\n")
    (d / "exits.py").write_text("import sys\nsys.exit(3)\n")
    (d / "nothing.py").write_text("X = 1\n")
    (d / "empty.json").write_text("")
    (d / "corrupt.json").write_text('{"version": "1.0", "benchmarks": [')
    (d / "not_pyperf.json").write_text('{"name": "not a benchmark file", "values": [1, 2]}\n')
    (d / "a_list.json").write_text("[1, 2, 3]\n")
    (d / "binary.json").write_bytes(b"\xff\xfe\x00\x01garbage")
    (d / "a_dir").mkdir()
    return {
        "tiny": SUITES / "tiny.py",
        "results": results,
        "missing_py": d / "no_such_suite.py",
        "missing_json": d / "no_such_results.json",
        **{p.stem: p for p in d.iterdir()},
    }


ERRORS = [
    # run / list: the suite
    (["run", "no_such_suite"], "unknown suite 'no_such_suite'"),
    (["list", "no_such_suite"], "unknown suite 'no_such_suite'"),
    (["run", "{missing_py}"], "suite file not found"),
    (["run", "{syntax}"], "SyntaxError"),
    (["run", "{raises}"], "RuntimeError: boom at import"),
    (["run", "{exits}"], "SystemExit"),
    (["run", "{nothing}"], "declares no benchmark or scenario"),
    (["run", "{tiny}", "-k", "zzz_nothing"], "matches -k 'zzz_nothing'"),
    (["run", "{tiny}", "-k", "zzz_nothing", "--list"], "matches -k"),
    (["run", "{tiny}", "-p", "n=ten", "--list"], "bad param n='ten'"),
    (["run", "{tiny}", "-p", "nope=1", "--list"], "unknown param 'nope'"),
    (["run", "{tiny}", "--processes", "0"], "--processes"),
    (["run", "{tiny}", "-o", "{a_dir}"], "is a directory"),
    (["run", "{tiny}", "-k", "metrics", "-o", "{results}/x.json"], "cannot write results"),
    # report: the results file and the format
    (["report", "{missing_json}"], "results file not found"),
    (["report", "{empty}"], "results file is empty"),
    (["report", "{corrupt}"], "not a valid results file"),
    (["report", "{not_pyperf}"], "not a valid results file"),
    (["report", "{a_list}"], "not a valid results file"),
    (["report", "{binary}"], "not a valid results file"),
    (["report", "{a_dir}"], "is a directory"),
    (["report", "{results}", "--format", "bogus"], "'bogus' is not one of"),
    (["report", "{results}", "-o", "{results}/x.md"], "cannot write"),
    # compare: the threshold and the files
    (["compare", "{results}", "{results}", "--threshold", "abc"], "bad threshold 'abc'"),
    (["compare", "{results}", "{results}", "--threshold", "-5%"], "bad threshold '-5%'"),
    (["compare", "{results}", "{results}", "--threshold", "0"], "bad threshold '0'"),
    (["compare", "{results}", "{results}", "--threshold", "0%"], "bad threshold '0%'"),
    (["compare", "{results}", "{results}", "--alpha", "2"], "--alpha"),
    (["compare", "{missing_json}", "{results}"], "results file not found"),
    (["compare", "{results}", "{missing_json}"], "results file not found"),
    (["compare", "{results}", "{corrupt}"], "not a valid results file"),
    (["compare", "{results}"], "Missing argument"),
    # the command line itself
    (["frobnicate"], "No such command 'frobnicate'"),
    (["--frobnicate"], "No such option"),
    (["run", "--frobnicate", "{tiny}"], "No such option '--frobnicate'"),
    (["report", "{results}", "--frobnicate"], "No such option"),
    (["run"], "Missing argument 'SUITE'"),
]


@pytest.mark.parametrize("args, needle", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_user_errors_are_one_line_and_status_2(files, args, needle):
    args = [a.format(**files) for a in args]
    code, out, err = cli(*args)
    assert_user_error(code, err, needle)
    assert out == ""


def test_user_errors_in_a_fresh_process(files):
    """The same, through ``python -m tradeoff``: nothing but the one line reaches stderr."""
    for args in (["run", str(files["raises"])], ["report", str(files["corrupt"])]):
        proc = subprocess.run([sys.executable, "-m", "tradeoff", *args], capture_output=True,
                              text=True, timeout=60)
        assert_user_error(proc.returncode, proc.stderr)
        assert proc.stdout == ""


def test_version():
    code, out, err = cli("--version")
    assert code == 0 and err == ""
    assert out.strip() == f"tradeoff, version {tradeoff.__version__}"
    assert tradeoff.__version__[0].isdigit()
    assert cli("-V")[1] == out


@pytest.mark.parametrize("args", [["--help"], ["-h"], [], ["run", "--help"], ["list", "--help"],
                                  ["report", "--help"], ["compare", "-h"]])
def test_help_exits_0(args):
    code, out, err = cli(*args)
    assert code == 0, err
    assert out.startswith("Usage: tradeoff") and err == ""
    if args and args[0] in ("run", "report", "compare", "list"):
        assert f"tradeoff {args[0]}" in out.splitlines()[0]
    else:
        assert all(cmd in out for cmd in ("run", "report", "compare", "list"))


def test_help_imports_neither_pandas_nor_matplotlib():
    script = (
        "import sys\n"
        "from tradeoff.cli import main\n"
        "for args in ([], ['--help'], ['run', '--help'], ['report', '--help'],\n"
        "             ['compare', '--help'], ['list', '--help'], ['--version']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (args, e.code)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'matplotlib', 'numpy'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr, proc.stderr.splitlines()[-1]
    # and as the docs suggest: python -X importtime -m tradeoff --help
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "tradeoff", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Usage: tradeoff" in proc.stdout
    imported = [ln.rsplit("|", 1)[1].strip() for ln in proc.stderr.splitlines()
                if ln.startswith("import time:") and "|" in ln]
    assert "tradeoff.cli" in imported
    assert not [m for m in imported if m.split(".")[0] in ("pandas", "matplotlib")]


# ------------------------------------------------------------ report formats

def test_report_table(results):
    code, out, err = cli("report", results)
    assert code == 0, err
    assert "summing[n=10]" in out and "mean ± std" in out
    assert "metrics (scenario)" in out and "score" in out and "seed_seen" in out
    assert not any(ln.startswith("|") for ln in out.splitlines())


def test_report_markdown_pipe_tables(results):
    code, out, err = cli("report", results, "--format", "markdown")
    assert code == 0, err
    lines = out.splitlines()
    assert any(ln.startswith("### ") for ln in lines)
    pipes = [ln for ln in lines if ln.startswith("|")]
    assert pipes and all(ln.endswith("|") for ln in pipes)
    seps = [i for i, ln in enumerate(lines) if ln.startswith("|---") or ln.startswith("|:--")]
    assert len(seps) == 2                                  # a timed table and a scenario table
    for i in seps:                                          # a header above, same column count
        assert lines[i - 1].startswith("| ") and lines[i - 1].count("|") == lines[i].count("|")
    assert any("summing[n=10]" in ln for ln in pipes)


def test_report_csv_parses_back(results):
    code, out, err = cli("report", results, "--format", "csv")
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert list(df.name) == ["summing[n=10]", "metrics[k=1]", "metrics[k=2]"]
    assert {"kind", "n", "k", "mean", "score", "seed"} <= set(df.columns)
    assert df.loc[0, "mean"] > 0 and list(df.score.dropna()) == [2, 4]
    assert df.equals(pd.read_csv(io.StringIO(tradeoff.load(results).to_csv(index=False))))


def test_report_html_self_contained_and_atomic(results, tmp_path):
    out_dir = tmp_path / "site"
    out_dir.mkdir()
    target = out_dir / "x.html"
    code, out, err = cli("report", results, "-o", target)          # format from the extension
    assert code == 0, err
    assert out == "" and err.strip() == f"wrote {target}"
    assert sorted(p.name for p in out_dir.iterdir()) == ["x.html"]  # no temp file left behind
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<table>" in page and "summing[n=10]" in page
    marker = "data:image/png;base64,"
    assert page.count(marker) >= 2                                   # a chart per section
    png = base64.b64decode(page.split(marker, 1)[1].split('"', 1)[0])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    low = page.lower()
    assert "<script" not in low and "<link" not in low and 'src="http' not in low


def test_report_output_by_extension_and_overwrite(results, tmp_path):
    target = tmp_path / "r.csv"
    target.write_text("old content\n")
    code, _, err = cli("report", results, "-o", target)
    assert code == 0, err
    assert target.read_text().startswith("name,")
    code, _, err = cli("report", results, "--format", "markdown", "-o", tmp_path / "r.txt")
    assert code == 0, err
    assert (tmp_path / "r.txt").read_text().startswith("### ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.txt"]


def test_report_failed_write_leaves_the_old_file_and_no_temp(results, tmp_path, monkeypatch):
    from tradeoff.harness import results as results_mod

    target = tmp_path / "r.md"
    target.write_text("the previous report\n")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results_mod.os, "replace", full_disk)
    code, out, err = cli("report", results, "-o", target)
    assert_user_error(code, err, "No space left on device")
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]


# ------------------------------------------------------------ compare

@pytest.fixture(scope="module")
def changed(results, tmp_path_factory) -> Path:
    """The scenarios again with k=2,3 and a score one higher; no timed case."""
    path = tmp_path_factory.mktemp("changed") / "changed.json"
    os.environ["TINY_BONUS"] = "1"
    try:
        code, _, err = cli("run", SUITES / "tiny.py", "-k", "metrics", "-p", "k=2,3", "-o", path,
                           "--quiet", "--format", "none")
    finally:
        del os.environ["TINY_BONUS"]
    assert code == 0, err
    return path


def _block(text: str, title: str) -> list[str]:
    """The lines of one block of compare's table output, from its title to a blank line."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_compare_lists_one_sided_names_and_changed_metrics(results, changed):
    code, out, err = cli("compare", results, changed)
    assert code == 0, err
    assert [ln.strip() for ln in _block(out, "only in base")] == ["summing[n=10]", "metrics[k=1]"]
    assert [ln.strip() for ln in _block(out, "only in current")] == ["metrics[k=3]"]
    assert "scenario metrics that changed" in out.splitlines()
    metric_rows = [ln.split() for ln in out.splitlines() if ln.startswith("metrics[")]
    assert metric_rows == [["metrics[k=2]", "score", "4", "5"]]       # seed_seen, label unchanged
    assert _block(out, "timed benchmarks") == ["none in common"]
    assert out.rstrip().endswith("0 slower, 0 faster, 0 no change (threshold 5%, alpha 0.01)")


def test_compare_markdown_and_output_file(results, changed, tmp_path):
    target = tmp_path / "cmp.md"
    code, out, err = cli("compare", results, changed, "--format", "markdown", "-o", target)
    assert code == 0, err
    assert "### only in current" in out and "- metrics[k=3]" in out
    assert "| metrics[k=2] | score | 4 | 5 |" in out
    assert target.read_text().strip() == out.strip()


def test_compare_same_file_no_change(results):
    code, out, err = cli("compare", results, results, "--threshold", "1%")
    assert code == 0, err
    row = next(ln for ln in out.splitlines() if ln.startswith("summing[n=10]"))
    assert row.endswith("no change") and "1.00x" in row
    assert "only in" not in out and "scenario metrics that changed" not in out


@pytest.mark.parametrize("name", ["kind", "mean", "name", "seed"])
def test_a_param_named_like_a_results_column_is_refused(name):
    from tradeoff import benchmark

    with pytest.raises(ValueError, match=f"param '{name}' is the name of a results column"):
        @benchmark(params={name: [1, 2]})
        def clash(**kw):
            return lambda: None
