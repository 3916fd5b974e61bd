"""The runner for real: pyperf workers, results files, skips, failures, Ctrl-C, and the gate.

Every run here is real (pyperf workers as subprocesses) on a small suite file from
``suites/``: ``tradeoff run`` called in-process, or in a subprocess where signals are
sent. Timed cases use ``--processes 1 --values 1`` (about a second each) except in the
gate test, which needs enough worker processes for the bootstrap to resample.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyperf
import pytest

import tradeoff
from clitools import QUICK, cli


SUITES = Path(__file__).parent / "suites"



def suite_copy(folder: Path, name: str) -> Path:
    """Copy ``suites/NAME.py`` into ``folder``; return the copy's path."""
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{name}.py"
    shutil.copyfile(SUITES / f"{name}.py", dst)
    return dst


def names(path) -> list[str]:
    return [b.get_name() for b in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks()]


def assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text, text


# ------------------------------------------------------------ one real run of tiny.py

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The whole tiny suite (2 timed, 2 scenarios) run once: (suite file, results, code, out, err)."""
    base = tmp_path_factory.mktemp("tiny")
    suite = suite_copy(base / "one", "tiny")
    results = base / "tiny.json"
    code, out, err = cli("run", suite, *QUICK, "-o", results)
    return suite, results, code, out, err


def test_run_writes_a_pyperf_file(tiny):
    suite, results, code, out, err = tiny
    assert code == 0, err
    assert results.is_file()
    assert names(results) == ["summing[n=10]", "summing[n=20]", "metrics[k=1]", "metrics[k=2]"]
    # pyperf's own tools read the file as it is
    for cmd in (["stats", results], ["compare_to", results, results]):
        proc = subprocess.run([sys.executable, "-m", "pyperf", *map(str, cmd)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "summing[n=10]" in proc.stdout


def test_load_gives_one_row_per_case(tiny):
    _, results, code, _, err = tiny
    assert code == 0, err
    df = tradeoff.load(results)
    assert list(df.name) == ["summing[n=10]", "summing[n=20]", "metrics[k=1]", "metrics[k=2]"]
    assert {"n", "k", "kind", "mean", "score", "seed_seen", "label", "seed"} <= set(df.columns)
    timed = df[df.kind == "benchmark"]
    scen = df[df.kind == "scenario"]
    assert list(timed.n) == [10, 20] and timed.k.isna().all()
    assert list(scen.k) == [1, 2] and scen.n.isna().all()
    assert (timed["mean"] > 0).all() and (timed["n_values"] >= 1).all()
    assert list(scen.score) == [2, 4]
    assert list(scen.label) == ["k1", "k2"]
    assert timed.score.isna().all()
    # the seed: passed to the scenarios (default 42), recorded per case and for the run
    assert list(scen.seed) == [42, 42] and list(scen.seed_seen) == [42, 42]
    suite_md = pyperf.BenchmarkSuite.load(str(results)).get_metadata()
    assert suite_md["tradeoff_run_seed"] == 42
    # which build made the timings: a debug build's are not representative
    from tradeoff.cache._impl import BUILD
    assert suite_md["tradeoff_build"] == BUILD and BUILD in ("release", "debug")
    assert set(df.suite) == {"tiny"}


def test_progress_on_stderr_report_on_stdout(tiny):
    _, results, code, out, err = tiny
    assert code == 0
    lines = err.splitlines()
    assert lines[0].startswith("tradeoff: running 4 cases of tiny")
    for i, name in enumerate(["summing[n=10]", "summing[n=20]", "metrics[k=1]", "metrics[k=2]"], 1):
        assert any(ln.startswith(f"[{i}/4] {name}: ") for ln in lines), err
    assert any(ln.startswith("[3/4] metrics[k=1]: score=2") for ln in lines), err
    assert lines[-1].startswith("tradeoff: 4 done") and str(results) in lines[-1]
    # the report goes to stdout, the progress does not
    assert "summing[n=20]" in out and "[1/4]" not in out


def test_quiet_silences_progress(tmp_path):
    suite = suite_copy(tmp_path, "tiny")
    code, out, err = cli("run", suite, "-k", "metrics", "--quiet", "-o", tmp_path / "q.json")
    assert code == 0
    assert err == ""
    assert "metrics" in out                         # the report still prints
    assert names(tmp_path / "q.json") == ["metrics[k=1]", "metrics[k=2]"]


def test_name_does_not_depend_on_the_path(tiny, tmp_path):
    _, first, code, _, _ = tiny
    assert code == 0
    suite = suite_copy(tmp_path / "elsewhere" / "deeper", "tiny")
    second = tmp_path / "second.json"
    code, _, err = cli("run", suite, *QUICK, "-k", "summing[n=10]", "-k", "metrics", "-o", second,
                       "--format", "none")
    assert code == 0, err
    assert names(second) == ["summing[n=10]", "metrics[k=1]", "metrics[k=2]"]
    assert set(names(second)) <= set(names(first))
    assert set(tradeoff.load(second).suite) == {"tiny"}
    # and so the two runs compare: nothing is "only in" one of them but summing[n=20]
    code, out, err = cli("compare", first, second)
    assert code == 0, err
    assert "only in base" in out and "summing[n=20]" in out and "only in current" not in out


# ------------------------------------------------------------ selection, --list, -p

def listed(*args) -> list[str]:
    code, out, err = cli("run", SUITES / "tiny.py", "--list", *args)
    assert code == 0, err
    return [ln.split()[-1] for ln in out.splitlines()]


def test_list_shows_cases_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("run", SUITES / "tiny.py", "--list", "-o", tmp_path / "x.json")
    assert code == 0, err
    assert out.splitlines() == ["benchmark summing[n=10]", "benchmark summing[n=20]",
                                "scenario  metrics[k=1]", "scenario  metrics[k=2]"]
    assert err == ""
    assert list(tmp_path.iterdir()) == []           # no results file, no results/ folder
    # `tradeoff list SUITE` says the same
    code, out2, _ = cli("list", SUITES / "tiny.py")
    assert code == 0 and out2 == out


@pytest.mark.parametrize("patterns, expected", [
    (["n=1"], ["summing[n=10]"]),                                     # substring
    (["metrics"], ["metrics[k=1]", "metrics[k=2]"]),
    (["summing*"], ["summing[n=10]", "summing[n=20]"]),               # glob
    (["*[[]k=2]"], ["metrics[k=2]"]),                                 # glob, escaped bracket
    (["*=2?]"], ["summing[n=20]"]),
    (["summing[n=20]"], ["summing[n=20]"]),                           # a full name, as printed
    (["n=10", "k=2"], ["summing[n=10]", "metrics[k=2]"]),             # any of several
])
def test_k_selects(patterns, expected):
    args = [a for p in patterns for a in ("-k", p)]
    assert listed(*args) == expected


def test_param_override():
    assert listed("-p", "n=5,1_000") == ["summing[n=5]", "summing[n=1000]", "metrics[k=1]", "metrics[k=2]"]
    assert listed("-p", "n=7", "-p", "k=3") == ["summing[n=7]", "metrics[k=3]"]


def test_param_override_runs_with_the_new_values(tmp_path):
    out_file = tmp_path / "p.json"
    code, _, err = cli("run", SUITES / "tiny.py", "-k", "metrics", "-p", "k=3,5", "--seed", "7",
                       "-o", out_file, "--format", "none")
    assert code == 0, err
    df = tradeoff.load(out_file)
    assert list(df.k) == [3, 5] and list(df.score) == [6, 10]
    assert list(df.seed) == [7, 7] and list(df.seed_seen) == [7, 7]


@pytest.mark.parametrize("args, needle", [
    (["-p", "n=abc"], "bad param n='abc'"),
    (["-p", "n=1.5"], "bad param n='1.5'"),
    (["-p", "nope=1"], "unknown param 'nope'"),
    (["-p", "n"], "bad param 'n'"),
    (["-p", "=3"], "bad param '=3'"),
    (["-k", "no_such_case"], "matches -k"),
])
@pytest.mark.parametrize("list_only", [True, False])
def test_bad_selection_is_one_line_and_status_2(tmp_path, args, needle, list_only):
    extra = ["--list"] if list_only else ["-o", tmp_path / "never.json"]
    code, out, err = cli("run", SUITES / "tiny.py", *args, *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tradeoff: error: ") and needle in err, err
    assert not (tmp_path / "never.json").exists()


# ------------------------------------------------------------ skips and failures

def test_skip_is_reported_and_the_rest_runs(tmp_path):
    out_file = tmp_path / "s.json"
    code, _, err = cli("run", SUITES / "skipping.py", *QUICK, "-o", out_file, "--format", "none")
    assert code == 0, err
    assert "needs_peer: skipped: peer x not installed" in err          # timed: skip in a worker
    assert "needs_peer_too: skipped: peer y not installed" in err      # scenario: in-process
    assert "1 done, 2 skipped" in err
    assert_no_traceback(err)
    assert names(out_file) == ["fine"]


def test_failed_setup_is_reported_and_the_rest_is_kept(tmp_path):
    out_file = tmp_path / "b.json"
    code, out, err = cli("run", SUITES / "broken.py", *QUICK, "-o", out_file)
    assert code == 1
    lines = err.splitlines()
    bad = [ln for ln in lines if "bad_setup: FAILED:" in ln]
    assert len(bad) == 1 and "ValueError" in bad[0] and "bad setup: table has no rows" in bad[0], err
    assert any("bad_scenario: FAILED: ValueError: scenario exploded" in ln for ln in lines), err
    assert any("exits: FAILED: SystemExit: 0" in ln for ln in lines), err   # not the end of the run
    assert "2 done, 3 failed" in err
    assert lines[-1].startswith("tradeoff: 3 case(s) failed: bad_setup: ")
    assert_no_traceback(err)
    assert names(out_file) == ["ok_bench", "ok_scenario"]
    assert "ok_bench" in out                                             # the report of what ran


# ------------------------------------------------------------ Ctrl-C keeps what finished

def interrupted_flags(path) -> list:
    return [b.get_metadata().get("tradeoff_interrupted")
            for b in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks()]


def test_interrupt_keeps_what_finished(tmp_path):
    out_file = tmp_path / "i.json"
    code, out, err = cli("run", SUITES / "interrupted.py", *QUICK, "-o", out_file)
    assert code == 130
    assert "[3/4] ctrl_c: interrupted" in err
    assert err.splitlines()[-1] == f"tradeoff: interrupted: kept 2 of 4 cases in {out_file}"
    assert names(out_file) == ["first", "second"]
    assert interrupted_flags(out_file) == [1, 1]
    assert "first" in out                                               # the report of what ran


def test_interrupt_says_so_even_when_quiet(tmp_path):
    out_file = tmp_path / "i.json"
    code, _, err = cli("run", SUITES / "interrupted.py", "-k", "first", "-k", "ctrl_c", "--quiet",
                       "-o", out_file, "--format", "none")
    assert code == 130
    assert err == f"tradeoff: interrupted: kept 1 of 2 cases in {out_file}\n"
    assert names(out_file) == ["first"] and interrupted_flags(out_file) == [1]


def test_an_interrupt_before_anything_finished_writes_nothing(tmp_path):
    out_file = tmp_path / "i.json"
    code, _, err = cli("run", SUITES / "interrupted.py", "-k", "ctrl_c", "-o", out_file)
    assert code == 130
    assert "nothing written" in err.splitlines()[-1]
    assert not out_file.exists()


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (Linux /proc)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            found.append(cmd)
    return found


def _timing_worker(suite: Path) -> bool:
    """Whether a pyperf worker (not the calibration one) is timing a case of ``suite``."""
    return any("--worker " in cmd and "--calibrate" not in cmd
               for cmd in _processes_mentioning(str(suite)))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals to process groups, /proc")
@pytest.mark.parametrize("target", ["group", "main", "term"])
def test_real_ctrl_c_during_a_timed_case(tmp_path, target):
    """SIGINT while a pyperf worker times ``slow``: to the whole process group (a terminal's
    Ctrl-C) or to the tradeoff process alone (``kill -INT``, a notebook's interrupt); or
    SIGTERM to the tradeoff process (a CI timeout). Each way the finished scenario is kept, the exit status is 130, and no pyperf process is left
    running (the worker would otherwise go on for about 3 s)."""
    suite = suite_copy(tmp_path, "sleepy")
    out_file = tmp_path / "sleepy.json"
    src = str(Path(tradeoff.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "tradeoff", "run", str(suite), "--processes", "1",
                             "--values", "5", "-o", str(out_file)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not _timing_worker(suite):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        if target == "group":
            os.killpg(proc.pid, signal.SIGINT)
        elif target == "term":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "[1/3] first: value=1" in err and "[2/3] slow: interrupted" in err
    assert err.splitlines()[-1] == f"tradeoff: interrupted: kept 1 of 3 cases in {out_file}"
    assert_no_traceback(err)
    assert names(out_file) == ["first"] and interrupted_flags(out_file) == [1]
    deadline = time.monotonic() + 1.0                # time for init to reap them
    while _processes_mentioning(str(suite)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_mentioning(str(suite)) == []


def test_unwritable_output_fails_before_running(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, out, err = cli("run", SUITES / "tiny.py", "-k", "metrics", "-o", blocker / "x.json")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("tradeoff: error: cannot write results to "), err
    assert out == ""


# ------------------------------------------------------------ the gate, for real

# 10 worker processes x 2 values of about 20-40 ms each (pyperf --min-time 0.02, which the
# CLI does not expose, hence the harness API for the runs; the compares go through the
# CLI): about 8 s per run here. Measured on this machine against 6 x 3 at 0.02 s and
# 4 x 3 at pyperf's default 0.1 s: fewer false alarms, and the untouched benchmarks
# were "no change" more often. The bootstrap needs many processes more than many values.
GATE = dict(processes=10, values=2, extra_pyperf_args=["--min-time", "0.02"])


def _gate_run(folder: Path, out: Path, factors: dict) -> None:
    from tradeoff.harness.run import RunOptions, run

    (folder / "factor.json").write_text(json.dumps(factors))
    outcome = run(RunOptions(suite=str(folder / "slowable.py"), output=str(out), quiet=True, **GATE))
    assert outcome.done == ["bench_a", "bench_b", "bench_c", "bench_d"], outcome
    assert names(out) == outcome.done


def _gate_round(folder: Path) -> str | None:
    """Runs A, A again, then B (bench_b 1.3x slower); None if the gate judged both
    comparisons right, else what it got wrong."""
    a, a2, b = folder / "a.json", folder / "a2.json", folder / "b.json"
    _gate_run(folder, a, {})
    _gate_run(folder, a2, {})
    _gate_run(folder, b, {"bench_b": 1.3})

    code, out, err = cli("compare", a, a2)
    if code != 0 or "0 slower" not in out:
        return f"A/A false alarm (exit {code}):\n{out}{err}"

    code, out, err = cli("compare", a, b)
    verdicts = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("bench_")}
    assert set(verdicts) == {"bench_a", "bench_b", "bench_c", "bench_d"}, out
    change = re.search(r"(\d+\.\d+)x \[", verdicts["bench_b"])      # current / base
    if code != 1 or not (verdicts["bench_b"].endswith("slower") and change
                         and float(change.group(1)) > 1):
        return f"missed a 1.3x slowdown of bench_b (exit {code}):\n{out}{err}"
    if not all(verdicts[o].endswith("no change") for o in ("bench_a", "bench_c", "bench_d")) \
            or "1 slower, 0 faster, 3 no change" not in out:
        return f"A/B called an unchanged benchmark changed:\n{out}{err}"
    return None


def test_gate_exit_codes_on_runs_with_known_noise(tmp_path):
    """The gate as CI uses it, on files whose truth is known: ``tradeoff compare A A2``
    exits 0 and ``tradeoff compare A B`` exits 1 with bench_b (1.3x) the one slower.

    The files are pyperf results with the noise of this machine's quiet runs (a few
    percent per worker process, 2% per value, a rare 1.5x spike), from fixed seeds, so the
    test decides the same way every time; the real-timing version below shows the same
    on a quiet machine but cannot be a CI check on a shared one.
    """
    import numpy as np
    import synth

    means = {"bench_a": 20e-6, "bench_b": 30e-6, "bench_c": 40e-6, "bench_d": 50e-6}

    def one_run(path, seed, factors):
        rng = np.random.default_rng(seed)
        return synth.write(path, [
            synth.timed(name, {}, synth.noisy_runs(rng, mean * factors.get(name, 1.0),
                                                   n_runs=10, n_values=2))
            for name, mean in means.items()])

    for seed in range(3):
        a = one_run(tmp_path / f"a{seed}.json", 3 * seed, {})
        a2 = one_run(tmp_path / f"a2{seed}.json", 3 * seed + 1, {})
        b = one_run(tmp_path / f"b{seed}.json", 3 * seed + 2, {"bench_b": 1.3})
        code, out, err = cli("compare", a, a2)
        assert (code, err) == (0, ""), out
        assert "0 slower, 0 faster, 4 no change" in out, out
        code, out, err = cli("compare", a, b)
        assert (code, err) == (1, ""), out
        verdicts = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("bench_")}
        assert verdicts["bench_b"].endswith("slower"), out
        assert float(re.search(r"(\d+\.\d+)x \[", verdicts["bench_b"]).group(1)) > 1.15, out
        assert "1 slower, 0 faster, 3 no change" in out, out


@pytest.mark.timing
def test_gate_aa_passes_and_a_slowdown_fails(tmp_path):
    """Real runs of four 15-40 us benchmarks: A, A again, then bench_b 1.3x slower.

    Not run in CI (marker ``timing``; run it with ``pytest -m timing`` on a quiet
    machine): it fails when a neighbour's load shifts one whole run, as it did in CI
    (round 1 missed the slowdown, round 2 saw a 1.39x change in an untouched benchmark).

    ``tradeoff compare A A2`` must exit 0 (no false alarm); ``tradeoff compare A B`` must
    exit 1, call bench_b slower and the three others "no change".

    A neighbour's load that changes between two runs minutes apart can shift a whole run
    by 10-40% on this 2-core machine, which no resampling within a file can see. Measured
    with this test: 7 of 8 rounds right while other tests ran on the second core, every
    round right on a quiet machine. So the test allows one fresh round (three new runs)
    and fails if both rounds go wrong: a gate that is wrong more often than that is broken.
    """
    suite_copy(tmp_path, "slowable")
    problems = []
    for attempt in range(2):
        problem = _gate_round(tmp_path)
        if problem is None:
            return
        problems.append(f"round {attempt + 1}: {problem}")
    pytest.fail("\n\n".join(problems))


# -- rounds -------------------------------------------------------------------------------

def test_plan_follows_pyperf_rules_and_splits_into_rounds():
    from tradeoff.harness.registry import collect, expand
    from tradeoff.harness.run import RunOptions, plan

    case = next(c for c in expand(collect(str(SUITES / "tiny.py"))) if c.kind == "benchmark")
    p = lambda **kw: plan(RunOptions(suite="x", **kw), case)          # noqa: E731
    assert p() == p(mode="default")
    assert (p().rounds, p().processes, p().values) == (2, 10, 3)    # pyperf: 20 x 3
    assert (p(mode="fast").processes, p(mode="fast").values) == (5, 2)  # max(20/2, 3) x 2
    assert p(mode="rigorous").processes == 20                       # 40 over 2 rounds
    assert (p(processes=1).rounds, p(processes=1).processes) == (1, 1)  # never more rounds than processes
    assert (p(processes=5, rounds=2).processes, p(processes=5, rounds=3).processes) == (3, 2)
    assert p(rounds=1).processes == 20


def test_rounds_add_runs_to_the_same_case(tmp_path):
    out_file = tmp_path / "r.json"
    code, out, err = cli("run", SUITES / "tiny.py", "-k", "summing", "--processes", "4",
                         "--values", "1", "--rounds", "2", "--min-time", "0.001", "-o", out_file)
    assert code == 0, err
    assert "round 2" in err
    for bench in pyperf.BenchmarkSuite.load(str(out_file)):
        measured = [run for run in bench.get_runs() if run.values]
        assert len(measured) == 4, bench.get_name()           # 2 processes in each of 2 rounds
        assert len({run.get_metadata()["loops"] for run in measured}) == 1   # one calibration


# -- a -p override that no case accepts ----------------------------------------------------

def _sized_run(tmp_path, *params, patterns=(), processes=2):
    """Run suites/sized.py in-process (fast mode, 2 processes: 2 rounds planned);
    returns (outcome or the UserError raised, the progress log, the results path)."""
    import io

    from tradeoff.harness.errors import UserError
    from tradeoff.harness.run import RunOptions, run

    log = io.StringIO()
    out = tmp_path / "sized.json"
    opts = RunOptions(suite=str(SUITES / "sized.py"), patterns=list(patterns), params=list(params),
                      mode="fast", processes=processes, values=1, output=str(out))
    try:
        got = run(opts, log=log)
    except UserError as exc:
        got = exc
    return got, log.getvalue(), out


def test_an_override_no_case_accepts_stops_at_the_first_failure(tmp_path):
    """``-p maxsize=-5``: the first case (timed, in a pyperf worker) fails naming -5, so
    the run stops there, before the scenario, and without announcing a round 2."""
    from tradeoff.harness.errors import UserError

    got, log, out = _sized_run(tmp_path, "maxsize=-5", patterns=["fill", "occupancy"])
    assert isinstance(got, UserError), log
    msg = str(got)
    assert msg.startswith("-p maxsize=-5 is invalid: ") and "\n" not in msg
    assert "maxsize must be positive, got -5" in msg
    assert "[1/2] fill[maxsize=-5]: FAILED" in log and "[2/2]" not in log
    assert "round 2" not in log
    assert not out.exists()


def test_an_override_no_case_accepts_is_a_user_error_in_the_cli(tmp_path):
    out = tmp_path / "never.json"
    code, stdout, err = cli("run", SUITES / "sized.py", "-k", "occupancy", "-p", "maxsize=-5",
                            "--quiet", "-o", out)
    assert code == 2
    assert err == ("tradeoff: error: -p maxsize=-5 is invalid: "
                   "ValueError: maxsize must be positive, got -5\n")
    assert stdout == "" and not out.exists()


def test_every_case_failing_with_an_override_is_a_user_error(tmp_path):
    """The error does not name the value (``too few ways``): every case runs once, and
    when none worked the run ends after round 1 with a user error naming the override."""
    from tradeoff.harness.errors import UserError

    got, log, out = _sized_run(tmp_path, "ways=0", patterns=["probe", "assoc"])
    assert isinstance(got, UserError), log
    assert str(got) == ("-p ways=0 is invalid: every case failed with it, the first with: "
                        "setup of probe[ways=0] raised ValueError: too few ways")
    assert "[1/2] probe[ways=0]: FAILED" in log and "[2/2] assoc[ways=0]: FAILED" in log
    assert "round 2" not in log and not out.exists()


@pytest.mark.parametrize("param, pattern", [("ways=0,2", "assoc"),         # the failure first
                                            ("maxsize=8,-5", "occupancy")])  # the success first
def test_an_override_some_cases_accept_is_no_user_error(tmp_path, param, pattern):
    """A case that works means the override is not invalid as such: the run goes on and
    keeps what worked; the failure is reported as a failed case (exit 1 in the CLI)."""
    got, log, out = _sized_run(tmp_path, param, patterns=[pattern])
    assert not isinstance(got, Exception), (got, log)
    assert len(got.done) == 1 and len(got.failed) == 1
    assert names(out) == got.done


def test_no_round_is_announced_when_no_timed_case_is_left(tmp_path):
    """Without overrides: the only timed case fails in round 1, a scenario works; there is
    nothing to run in round 2, so no "round 2 of 2" line."""
    import io

    from tradeoff.harness.run import RunOptions, run

    log = io.StringIO()
    out = tmp_path / "b.json"
    outcome = run(RunOptions(suite=str(SUITES / "broken.py"), patterns=["bad_setup", "ok_scenario"],
                             mode="fast", processes=2, values=1, output=str(out)), log=log)
    assert [n for n, _ in outcome.failed] == ["bad_setup"] and outcome.done == ["ok_scenario"]
    assert "round 2" not in log.getvalue(), log.getvalue()
    assert names(out) == ["ok_scenario"]


# -- quick mode -----------------------------------------------------------------------------

def test_quick_mode_runs_the_suites_own_selection_once(tmp_path):
    from tradeoff.harness.registry import collect, expand
    from tradeoff.harness.run import RunOptions, plan, select

    suite = tmp_path / "withquick.py"
    suite.write_text(
        "from tradeoff import benchmark, scenario\n"
        "QUICK = ['fast_one']\n"
        "@benchmark\ndef fast_one():\n    return lambda: sum(range(10))\n"
        "@benchmark\ndef slow_one():\n    return lambda: sum(range(1000))\n"
        "@scenario\ndef score():\n    return {'x': 1}\n")
    assert [c.name for c in select(RunOptions(suite=str(suite), mode="quick"))] == ["fast_one"]
    # -k overrides the suite's selection; other modes ignore QUICK
    assert [c.name for c in select(RunOptions(suite=str(suite), mode="quick", patterns=["score"]))] == ["score"]
    assert len(select(RunOptions(suite=str(suite), mode="fast"))) == 3
    case = next(c for c in expand(collect(str(suite))) if c.kind == "benchmark")
    how = plan(RunOptions(suite="x", mode="quick"), case)
    assert (how.rounds, how.processes, how.values) == (1, 3, 2)
    # a suite without QUICK runs every case
    assert len(select(RunOptions(suite=str(SUITES / "tiny.py"), mode="quick"))) == \
        len(select(RunOptions(suite=str(SUITES / "tiny.py"))))


def test_quick_mode_from_the_command_line(tmp_path):
    out_file = tmp_path / "q.json"
    code, out, err = cli("run", SUITES / "tiny.py", "--quick", "-k", "summing", "--min-time", "0.001",
                         "-o", out_file)
    assert code == 0, err
    assert "(quick mode)" in err
    for bench in pyperf.BenchmarkSuite.load(str(out_file)):
        assert len([run for run in bench.get_runs() if run.values]) == 3


def test_a_bad_quick_list_is_one_line(tmp_path):
    suite = tmp_path / "badquick.py"
    suite.write_text("from tradeoff import scenario\nQUICK = 'score'\n@scenario\ndef score():\n    return {'x': 1}\n")
    code, out, err = cli("run", suite, "--quick", "-o", tmp_path / "x.json")
    assert code == 2 and "QUICK must be a list" in err


# -- instruction counts -------------------------------------------------------------------

def _need_valgrind():
    from tradeoff.harness.servers import missing_notice

    notice = missing_notice("valgrind")
    if notice:
        pytest.skip(notice)


def _counts(path) -> dict:
    return {b.get_name(): b.get_values()[0] for b in pyperf.BenchmarkSuite.load(str(path))}


def test_instruction_counts_are_the_same_on_every_run_and_catch_a_one_percent_slowdown(tmp_path):
    """Two A/A runs count the same instructions; a kernel made 1% slower (a few more
    additions per call) is flagged by compare's plain threshold, and the A/A pair is not."""
    _need_valgrind()
    suite = tmp_path / "kernel.py"
    suite.write_text(
        "import os\nfrom tradeoff import benchmark\n"
        "EXTRA = int(os.environ.get('KERNEL_EXTRA', '0'))\n"
        "@benchmark(inner_loops=100)\n"
        "def kernel():\n"
        "    data = list(range(1000))\n"
        "    def f():\n"
        "        for _ in range(100):\n"
        "            s = 0\n"
        "            for x in data:\n"
        "                s += x\n"
        "            for x in range(EXTRA):\n"
        "                s += x\n"
        "    return f\n")
    runs = {}
    for label, extra in (("a1", 0), ("a2", 0), ("b", 10)):
        env = dict(os.environ, KERNEL_EXTRA=str(extra))
        out = tmp_path / f"{label}.json"
        proc = subprocess.run([sys.executable, "-m", "tradeoff", "run", str(suite), "--measure", "instructions",
                               "-o", str(out), "-q", "--format", "none"], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        runs[label] = out
    a1, a2, b = (_counts(runs[k])["kernel"] for k in ("a1", "a2", "b"))
    assert a1 == a2                                        # deterministic
    assert 1.005 < b / a1 < 1.03                           # ten more additions on a thousand
    bench = next(iter(pyperf.BenchmarkSuite.load(str(runs["a1"]))))
    md = bench.get_metadata()
    assert md["unit"] == "integer" and md["loops"] >= 1 and md["inner_loops"] == 100
    code, out, err = cli("compare", runs["a1"], runs["a2"], "--threshold", "0.5%")
    assert code == 0 and "no change" in out
    code, out, err = cli("compare", runs["a1"], runs["b"], "--threshold", "0.5%")
    assert code == 1 and "slower" in out


def test_instruction_counts_and_times_do_not_compare(tmp_path):
    _need_valgrind()
    counted, timed = tmp_path / "c.json", tmp_path / "t.json"
    assert cli("run", SUITES / "tiny.py", "-k", "summing[n=10]", "--measure", "instructions", "-o", counted,
               "-q")[0] == 0
    assert cli("run", SUITES / "tiny.py", "-k", "summing[n=10]", "--processes", "1", "--values", "1",
               "--min-time", "0.001", "-o", timed, "-q")[0] == 0
    code, out, err = cli("compare", counted, timed)
    assert code == 2 and "instruction counts" in err


def test_instruction_counts_need_valgrind(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    import tradeoff.harness.servers as servers

    monkeypatch.setattr(servers, "find_binary", lambda name: None)
    from tradeoff.harness.errors import UserError
    from tradeoff.harness.run import RunOptions, run

    with pytest.raises(UserError, match="valgrind"):
        run(RunOptions(suite=str(SUITES / "tiny.py"), measure="instructions", output=str(tmp_path / "x.json")))
    assert not (tmp_path / "x.json").exists()


def test_callgrind_requests_are_no_ops_outside_valgrind():
    from tradeoff._core import callgrind

    assert callgrind.on_valgrind() == 0
    callgrind.zero(); callgrind.start(); callgrind.stop(); callgrind.dump()   # noqa: E702
