"""What a new user hit (issue 17): figures that mislead, errors that were not one line
and exit 2, outputs checked only after the work, and rough edges of the CLI."""
import numpy as np
import pytest

from clitools import cli
from tradeoff import load

WORKLOAD = "zipf:alpha=0.9,objects=2000,requests=20000"


# ------------------------------------------------------------------ measurements that mislead

def test_index_writes_land_among_the_keys_not_after_them(monkeypatch):
    """A write inserts a key drawn like the others: anywhere in the key order (before,
    every written key was above every present key: all B-tree writes hit the last leaf)."""
    from tradeoff.index import experiment as ex

    seen = {}

    class Recorder(ex._Sorted):
        def __init__(self, keys):
            super().__init__(keys)
            seen["present"] = np.sort(keys)
            seen["written"] = []

        def insert(self, k, row):
            seen["written"].append(k)
            super().insert(k, row)

    monkeypatch.setattr(ex, "_Sorted", Recorder)
    ex.compare(ex.parse_mix("write:100"), keys=20_000, ops=2_000, kinds=["sorted"])
    present, written = seen["present"], np.array(seen["written"])
    assert len(written) > 100 and len(np.unique(written)) == len(written)
    assert not np.isin(written, present).any()                   # new keys
    where = np.searchsorted(present, written) / len(present)     # their places in the key order
    assert where.max() < 1.0                                     # not all appended at the end
    assert 0.35 < np.median(where) < 0.65 and where.min() < 0.1 and where.max() > 0.9


def test_index_advice_says_what_np_insert_costs():
    from tradeoff.index import experiment as ex

    df = ex.compare(ex.parse_mix("read:50,write:50"), keys=20_000, ops=1_000, kinds=["btree", "sorted"])
    text = ex.advice(df, ex.parse_mix("read:50,write:50"), 100)
    assert "half the array" not in text
    if "sorted is" in text and "writes cost" in text:
        assert "copies the whole array" in text


def test_simulate_ring_calls_the_share_expected_not_the_least(tmp_path):
    code, stdout, stderr = cli("simulate", "ring", "--partitioner", "ring:vnodes=10,jump", "--nodes", "10",
                               "--keys", "2e4", "--add", "1", "-q", "-o", tmp_path / "r.json")
    assert code == 0, stderr
    assert "least" not in stdout and "ideal" not in stdout
    assert "expected" in stdout and "not a lower bound" in stdout
    df = load(tmp_path / "r.json")
    assert df["expected"].tolist() == pytest.approx([1 / 11] * 2)


def test_mrc_refuses_a_sample_of_too_few_keys(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "t.trace"
    path.write_text("\n".join(str(k) for k in rng.integers(0, 2606, 20_000)) + "\n")
    code, stdout, stderr = cli("mrc", path, "--sample", "0.0001")
    assert code == 2 and stdout == ""
    assert "an estimate needs at least 100" in stderr and "0.038" in stderr
    assert len(stderr.strip().splitlines()) == 1
    code, stdout, stderr = cli("mrc", path, "--sample", "0.1", "--plot", tmp_path / "c.svg")
    assert code == 0, stderr
    assert "rate 10%" in stdout and "0.0999" not in stdout        # the rate as asked, not T/P
    assert "SHARDS estimate" in (tmp_path / "c.svg").read_text()  # the plot says it is sampled
    assert "note: only" in stderr                                  # few keys: a warning


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("where", ["afile/x.csv", "/proc/x.csv"])
def test_mrc_unwritable_output_is_one_line_exit_2(tmp_path, where):
    trace = tmp_path / "t.trace"
    trace.write_text("1\n2\n1\n")
    (tmp_path / "afile").write_text("")
    out = where if where.startswith("/") else str(tmp_path / where)
    code, stdout, stderr = cli("mrc", trace, "-o", out)
    assert code == 2, stderr
    assert "cannot write" in stderr and len(stderr.strip().splitlines()) == 1
    assert stdout == ""                                  # refused before the work


@pytest.mark.parametrize("command", [
    ["simulate", "cache", "--workload", WORKLOAD, "--policy", "lru", "--size", "100"],
    ["simulate", "balance", "--policy", "rr", "--servers", "2", "--requests", "2000"],
])
def test_an_unwritable_plot_is_refused_before_the_work_and_nothing_is_written(tmp_path, command):
    (tmp_path / "afile").write_text("")
    out = tmp_path / "r.json"
    code, stdout, stderr = cli(*command, "-o", out, "--plot", tmp_path / "afile" / "p.png")
    assert code == 2 and "cannot write the plot" in stderr
    assert "[1/" not in stderr and stdout == ""          # no replay or simulation ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.parametrize("command", [
    ["simulate", "ring", "--partitioner", "jump", "--nodes", "3", "--keys", "1000"],
    ["simulate", "index", "--kinds", "btree", "--keys", "1000", "--ops", "100"],
])
def test_an_unwritable_results_file_is_refused_before_the_work(tmp_path, command):
    (tmp_path / "afile").write_text("")
    code, stdout, stderr = cli(*command, "-o", tmp_path / "afile" / "r.json")
    assert code == 2 and "cannot write results" in stderr and "[1/1]" not in stderr


def test_results_and_plot_are_written_both_or_neither(tmp_path, monkeypatch):
    from tradeoff.cache import simulate as sim

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sim, "plot_curves", broken)
    out, plot = tmp_path / "r.json", tmp_path / "p.png"
    code, _, stderr = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru", "--size", "100",
                          "-o", out, "--plot", plot, "-q")
    assert code == 2 and "No space left on device" in stderr
    assert list(tmp_path.iterdir()) == []                # not the results without the plot


def test_a_usage_error_names_the_whole_command():
    code, _, stderr = cli("simulate", "cache", "--bogus")
    assert code == 2 and "see 'tradeoff simulate cache --help'" in stderr
    code, _, stderr = cli("report", "--bogus")
    assert code == 2 and "see 'tradeoff report --help'" in stderr


def test_an_empty_service_file_is_one_line(tmp_path):
    empty = tmp_path / "empty.trace"
    empty.write_text("")
    code, _, stderr = cli("simulate", "balance", "--service", f"file:{empty}", "--requests", "1000",
                          "-o", tmp_path / "b.json")
    assert code == 2 and "holds no numbers" in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.fixture
def results_file(tmp_path):
    out = tmp_path / "r.json"
    code, _, stderr = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru,fifo",
                          "--size", "1%,5%", "-o", out, "-q")
    assert code == 0, stderr
    return out


def test_report_picks_the_format_from_the_suffix_or_refuses(results_file, tmp_path):
    code, _, stderr = cli("report", results_file, "-o", tmp_path / "x.pdf")
    assert code == 2 and "cannot tell the report format" in stderr
    assert not (tmp_path / "x.pdf").exists()
    code, _, _ = cli("report", results_file, "-o", tmp_path / "x.md")
    assert code == 0 and "\n### " in (tmp_path / "x.md").read_text()
    code, _, _ = cli("report", results_file, "-o", tmp_path / "x.txt")
    assert code == 0 and "lru" in (tmp_path / "x.txt").read_text()
    code, _, _ = cli("report", results_file, "--format", "csv", "-o", tmp_path / "x.pdf")
    assert code == 0                                     # asked for by name: written as asked


# ------------------------------------------------------------------ polish

def test_simulate_cache_table_shows_percent_and_objects(tmp_path):
    code, stdout, stderr = cli("simulate", "cache", "--workload", WORKLOAD, "--policy", "lru",
                               "--size", "1%,5%,100", "-q", "-o", tmp_path / "r.json")
    assert code == 0, stderr
    header = next(line for line in stdout.splitlines() if line.startswith("policy"))
    assert "1% (" in header and "5% (" in header and "obj" in header and "100 obj" in header
    assert "in objects" in stdout


def test_simulate_balance_without_detection_shows_no_reinstatement(tmp_path):
    plot = tmp_path / "cdf.svg"
    code, stdout, stderr = cli("simulate", "balance", "--policy", "rr", "--servers", "4", "--load", "0.5",
                               "--requests", "20000", "--fail", "1@0.5s-1s", "-o", tmp_path / "b.json",
                               "--plot", plot)
    assert code == 0, stderr
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("policy"))
    cells = lines[header + 2].split()
    assert cells[-2:] == ["-", "-"]                     # neither detected nor "reinstated in 0.00 s"
    assert "rr: 100%" in stderr and "99%" not in stderr   # progress reaches its end
    assert "server 1 down 0.5-1 s" in plot.read_text()    # the plot says what failed


def test_list_does_not_cut_a_description_mid_sentence():
    code, stdout, _ = cli("list")
    assert code == 0
    text = " ".join(stdout.split())
    assert "outage errors and detection times each policy gives in the discrete-event simulator." in text


def test_generated_data_is_announced_once_with_its_place(tmp_path, monkeypatch, capsys):
    from tradeoff.workloads._store import cached_trace

    monkeypatch.setenv("TRADEOFF_DATA_DIR", str(tmp_path))

    def numbers(n):
        return np.arange(n)

    cached_trace(numbers, n=1000)
    err = capsys.readouterr().err
    assert err.startswith("tradeoff: note: wrote") and str(tmp_path) in err and "TRADEOFF_DATA_DIR" in err
    cached_trace(numbers, n=1000)                       # made already: not said again
    assert capsys.readouterr().err == ""
