"""``tradeoff simulate cache`` and ``tradeoff mrc``: tables, results files, plots, errors."""

import numpy as np
import pytest

from clitools import cli
from tradeoff import load
from tradeoff.cache import mrc, replay
from tradeoff.traces import write_oracle_general

WORKLOAD = "zipf:alpha=0.9,objects=2000,requests=20000"


@pytest.fixture
def text_trace(tmp_path):
    rng = np.random.default_rng(5)
    keys = rng.zipf(1.3, 5000) % 500
    path = tmp_path / "t.trace"
    path.write_text("\n".join(str(k) for k in keys) + "\n*\n")
    return path, keys.astype(np.int64)


def test_simulate_a_workload_writes_a_table_results_and_a_plot(tmp_path):
    out, plot = tmp_path / "r.json", tmp_path / "mr.png"
    code, stdout, stderr = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru,arc,belady",
                               "--size", "1%,100", "--jobs", "2", "-o", out, "--plot", plot)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert any(l.startswith("lru") for l in lines) and any(l.startswith("belady") for l in lines)
    assert "[6/6]" in stderr                      # progress, one line per replay
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    df = load(out)
    assert len(df) == 6 and set(df["policy"]) == {"lru", "arc", "belady"}
    # the figures are the replay's own
    from tradeoff.cache.simulate import parse_workload
    keys = parse_workload(WORKLOAD)
    lru100 = df[(df.policy == "lru") & (df["size"] == 100)]
    assert lru100["hits"].item() == replay(keys, "lru", 100).hits
    code, report, _ = cli("report", out)
    assert code == 0 and "arc" in report
    code, _, _ = cli("compare", out, out)
    assert code == 0


def test_simulate_a_trace_file_with_parameters(text_trace, tmp_path):
    path, keys = text_trace
    code, stdout, stderr = cli("simulate", "cache", "--trace", path, "--policy",
                               "s3fifo:small_ratio=0.2,s3fifo,lru", "--size", "50", "-q",
                               "-o", tmp_path / "r.json", "--jobs", "1")
    assert code == 0, stderr
    assert "s3fifo:small_ratio=0.2" in stdout
    expected = 100 * replay(keys, "s3fifo", 50, small_ratio=0.2).hit_ratio
    row = next(l for l in stdout.splitlines() if l.startswith("s3fifo:small_ratio=0.2"))
    assert f"{expected:.2f}" in row


def test_simulate_bytes_and_ttl_from_an_oracle_trace(tmp_path):
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 300, 4000)
    sizes = rng.integers(1, 100, 4000)
    times = np.arange(4000) // 10
    path = write_oracle_general(tmp_path / "t.oracleGeneral.bin", keys, sizes, times)
    code, stdout, stderr = cli("simulate", "cache", "--trace", path, "--bytes", "--ttl", "50",
                               "--policy", "lru,sieve", "--size", "20000", "-o", tmp_path / "r.json", "-q")
    assert code == 0, stderr
    assert "byte hit ratio" in stdout
    df = load(tmp_path / "r.json")
    r = replay(keys.astype(np.int64), "lru", 20000, sizes=sizes, times=times, ttl=50)
    got = df[df.policy == "lru"]
    assert got["byte_miss_ratio"].item() == pytest.approx(r.byte_miss_ratio)
    assert got["expired"].item() == r.expired > 0


def test_a_size_above_the_distinct_keys_is_valid_and_says_so(text_trace, tmp_path):
    path, keys = text_trace
    n = len(np.unique(keys))
    code, _, stderr = cli("simulate", "cache", "--trace", path, "--policy", "lru", "--size", n + 5,
                          "-o", tmp_path / "r.json", "-q")
    assert code == 0
    assert "only cold misses remain" in stderr


@pytest.mark.parametrize("args, message", [
    (["--trace", "/nonexistent/t.trace"], "no such file"),
    (["--workload", WORKLOAD, "--policy", "lru,nope"], "unknown policy 'nope'"),
    (["--workload", WORKLOAD, "--policy", "s3fifo:ratio=1"], "unknown parameter 'ratio'"),
    (["--workload", WORKLOAD, "--policy", "s3fifo:small_ratio=2"], "small_ratio"),
    (["--workload", WORKLOAD, "--size", "0"], "below 1"),
    (["--workload", WORKLOAD, "--size", "0%"], "outside (0%, 100%]"),
    (["--workload", WORKLOAD, "--size", "150%"], "outside (0%, 100%]"),
    (["--workload", WORKLOAD, "--size", "0.001%"], "below one object"),
    (["--workload", WORKLOAD, "--size", "ten"], "bad size"),
    (["--workload", "zipf:alpha=0.9,objcts=5"], "unknown parameter 'objcts'"),
    (["--workload", "gauss"], "unknown workload"),
    ([], "either --trace"),
    (["--workload", WORKLOAD, "--trace", "x"], "either --trace"),
    (["--workload", WORKLOAD, "--plot", "x.jpg"], "png or .svg"),
    (["--workload", WORKLOAD, "--bytes"], "need a trace"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("simulate", "cache", *args, "-o", out, "-q")
    assert code == 2
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_trace_without_sizes_refuses_bytes(text_trace, tmp_path):
    path, _ = text_trace
    code, _, stderr = cli("simulate", "cache", "--trace", path, "--bytes", "-o", tmp_path / "r.json")
    assert code == 2 and "no object sizes" in stderr


def test_mrc_command_exact_and_sampled(text_trace, tmp_path):
    path, keys = text_trace
    code, stdout, stderr = cli("mrc", path, "-o", tmp_path / "c.csv", "--plot", tmp_path / "c.svg")
    assert code == 0, stderr
    assert f"{len(keys):,} requests" in stdout
    import pandas as pd
    curve = pd.read_csv(tmp_path / "c.csv")
    assert curve["hits"].tolist() == mrc(keys)["hits"].tolist()
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    code, stdout, _ = cli("mrc", path, "--sample", "0.5")
    assert code == 0 and "SHARDS sample at rate 50%" in stdout and "estimated error" in stdout


@pytest.mark.parametrize("args, message", [
    (["/nonexistent.trace"], "no such file"),
    (["{path}", "--sample", "0"], "0"),
    (["{path}", "--sample", "1.5"], "1.5"),
    (["{path}", "--format", "nope"], "nope"),
])
def test_mrc_bad_input(text_trace, args, message):
    path, _ = text_trace
    code, _, stderr = cli("mrc", *[a.format(path=path) for a in args])
    assert code == 2 and message in stderr
    assert len(stderr.strip().splitlines()) == 1
