"""tradeoff ab: two revisions of a project, built once each, timed in alternating rounds."""
from __future__ import annotations

import subprocess

import pyperf
import pytest

from clitools import cli

PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "abdemo"
version = "0.1"
"""
SUITE = """from tradeoff import benchmark
import abdemo


@benchmark
def work():
    return abdemo.work
"""


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


def _commit(repo, n: int, message: str):
    (repo / "abdemo").mkdir(exist_ok=True)
    (repo / "abdemo" / "__init__.py").write_text(
        f"N = {n}\n\ndef work():\n    s = 0\n    for i in range(N):\n        s += i\n    return s\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", message)


@pytest.fixture
def project(tmp_path, monkeypatch):
    repo = tmp_path / "proj"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "bench.py").write_text(SUITE)
    _commit(repo, 300, "fast")
    _git(repo, "tag", "fast")
    _commit(repo, 900, "three times the work")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("TRADEOFF_DATA_DIR", str(tmp_path / "data"))
    return repo


def test_ab_catches_a_slowdown_and_records_both_sides(project, tmp_path):
    out = tmp_path / "r" / "ab"
    code, stdout, stderr = cli("ab", "fast", "HEAD", "bench.py", "--rounds", "2", "--processes", "2", "--values",
                               "2", "-o", out)
    assert code == 1, stderr
    assert "slower" in stdout and "work" in stdout
    assert "round 2 of 2" in stderr and "building" in stderr
    base = pyperf.BenchmarkSuite.load(str(tmp_path / "r" / "ab-base.json")).get_benchmarks()[0]
    head = pyperf.BenchmarkSuite.load(str(tmp_path / "r" / "ab-head.json")).get_benchmarks()[0]
    # 2 rounds x 2 processes each side, all with the loops of the first process
    assert len([r for r in base.get_runs() if r.values]) == 4 == len([r for r in head.get_runs() if r.values])
    assert base.get_metadata()["tradeoff_git_commit"] != head.get_metadata()["tradeoff_git_commit"]
    assert len({r.get_metadata()["loops"] for b in (base, head) for r in b.get_runs() if r.values}) == 1
    assert head.mean() > 2 * base.mean()
    # the environments are kept: a second call builds nothing
    code, stdout, stderr = cli("ab", "fast", "bench.py", "--rounds", "1", "--processes", "1", "--values", "1",
                               "-o", out, "--threshold", "500%")
    assert "building" not in stderr and code == 0


def test_ab_of_a_revision_against_itself_is_no_change(project, tmp_path):
    code, stdout, stderr = cli("ab", "HEAD", "HEAD", "bench.py", "--rounds", "2", "--processes", "1",
                               "--values", "2", "-o", tmp_path / "aa")
    assert code == 0, stderr
    assert "0 slower" in stdout


@pytest.mark.parametrize("args, message", [
    (["no-such-ref", "bench.py"], "no such git revision: 'no-such-ref'"),
    (["fast", "HEAD", "missing.py"], "missing.py does not exist at"),
    (["fast", "HEAD", "bench.py", "extra"], "BASE [HEAD] SUITE"),
])
def test_ab_bad_input_is_one_line(project, tmp_path, args, message):
    code, stdout, stderr = cli("ab", *args, "--rounds", "1", "-o", tmp_path / "x")
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


def test_ab_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = cli("ab", "HEAD", "bench.py")
    assert code == 2 and "git repository" in stderr


def test_ab_counting_instructions_is_exact(project, tmp_path):
    """Counted, the slowdown is certain: the same count for a revision against itself,
    and about three times the instructions for three times the work."""
    from tradeoff.harness.servers import missing_notice

    notice = missing_notice("valgrind")
    if notice:
        pytest.skip(notice)
    code, stdout, stderr = cli("ab", "fast", "HEAD", "bench.py", "--measure", "instructions", "-o", tmp_path / "c")
    assert code == 1, stderr
    base = pyperf.BenchmarkSuite.load(str(tmp_path / "c-base.json")).get_benchmarks()[0]
    head = pyperf.BenchmarkSuite.load(str(tmp_path / "c-head.json")).get_benchmarks()[0]
    assert base.get_metadata()["unit"] == "integer"
    assert 2.5 < head.get_values()[0] / base.get_values()[0] < 4   # ints above 256 are allocated
    code, stdout, stderr = cli("ab", "HEAD", "HEAD", "bench.py", "--measure", "instructions", "-o", tmp_path / "d")
    assert code == 0 and "0 slower" in stdout
    same = [pyperf.BenchmarkSuite.load(str(tmp_path / f"d-{s}.json")).get_benchmarks()[0].get_values()[0]
            for s in ("base", "head")]
    assert same[0] == same[1]
