"""``tradeoff check``: the exit status a CI step relies on (0 satisfied, 1 violated, 2 bad
input, 3 unknown) and the counterexample on stdout."""
import json
import os
from pathlib import Path

import pytest

from clitools import cli

HISTORIES = Path(os.environ.get("TRADEOFF_HISTORIES", Path(__file__).resolve().parents[2] / ".." / "shared" /
                                "histories"))


@pytest.fixture(scope="module")
def expected():
    path = HISTORIES / "expected.json"
    if not path.exists():
        pytest.skip(f"no reference histories at {HISTORIES} (set TRADEOFF_HISTORIES)")
    return json.loads(path.read_text())["verdicts"]


def test_exit_status_is_the_verdict(expected):
    for name, ok in sorted(expected.items())[:6]:
        code, stdout, stderr = cli("check", HISTORIES / f"{name}.log.gz")
        assert code == (0 if ok else 1), (name, stdout, stderr)
        assert ("verdict: linearizable" in stdout) == ok
        if not ok:
            assert "no order of the operations explains the history" in stdout


def test_a_tiny_budget_is_unknown_exit_3(expected):
    # etcd_002 takes some 9000 steps; the clock is read every 1024
    code, stdout, _ = cli("check", HISTORIES / "etcd_002.log.gz", "--timeout", "1us")
    assert code == 3, stdout
    assert "unknown" in stdout


def test_a_jsonl_history_of_the_replication_simulator(tmp_path):
    hist = tmp_path / "h.jsonl"
    code, _, stderr = cli("simulate", "replication", "--scheme", "leader:sync", "--reads", "leader", "--ops", "300",
                          "--clients", "3", "--keys", "4", "--history", hist, "-o", tmp_path / "r.json", "-q")
    assert code == 0, stderr
    # reads from the leader of a synchronous single leader, no failure: linearizable per key
    code, stdout, stderr = cli("check", hist, "--model", "kv")
    assert code == 0, (stdout, stderr)


@pytest.mark.parametrize("args, message", [
    (["--model", "tree"], "unknown model 'tree'"),
    (["--consistency", "strict"], "unknown consistency 'strict'"),
    (["--consistency", "causal", "--model", "queue"], "model register or kv"),
    (["--timeout", "soon"], "--timeout"),
])
def test_bad_input_exit_2(tmp_path, args, message):
    path = tmp_path / "h.jsonl"
    path.write_text('{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0}\n'
                    '{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 1}\n')
    code, _, stderr = cli("check", path, *args)
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_a_malformed_line_names_its_number(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0}\n{oops\n')
    code, _, stderr = cli("check", path)
    assert code == 2 and "line 2" in stderr and len(stderr.strip().splitlines()) == 1, stderr


# p0 writes 1 then 2; p1 reads 2 then 1: sequentially inconsistent, causally
# inconsistent (WriteCORead) and a monotonic-reads violation, but read-your-writes holds
STALE_SECOND_READ = """\
{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0}
{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 1}
{"process": 0, "type": "invoke", "f": "write", "value": 2, "time": 2}
{"process": 0, "type": "ok", "f": "write", "value": 2, "time": 3}
{"process": 1, "type": "invoke", "f": "read", "time": 4}
{"process": 1, "type": "ok", "f": "read", "value": 2, "time": 5}
{"process": 1, "type": "invoke", "f": "read", "time": 6}
{"process": 1, "type": "ok", "f": "read", "value": 1, "time": 7}
"""


@pytest.mark.parametrize("consistency, code, says", [
    ("linearizable", 1, "NOT linearizable"),
    ("sequential", 1, "NOT sequentially consistent"),
    ("causal", 1, "WriteCORead"),
    ("causal-convergence", 1, "CyclicCF"),
    ("sessions", 1, "monotonic-reads: 1 violation(s)"),
    ("monotonic-reads", 1, "monotonic-reads VIOLATED"),
    ("read-your-writes", 0, "read-your-writes holds"),
    ("monotonic-writes", 0, "monotonic-writes holds"),
])
def test_every_consistency_model_has_its_verdict(tmp_path, consistency, code, says):
    path = tmp_path / "h.jsonl"
    path.write_text(STALE_SECOND_READ)
    got, stdout, stderr = cli("check", path, "--consistency", consistency)
    assert got == code and says in stdout, (stdout, stderr)
    got, stdout, _ = cli("check", path, "--consistency", consistency, "--format-table", "json")
    doc = json.loads(stdout)
    assert got == code and doc["consistency"] == consistency
    assert doc["verdict"] == ("ok" if code == 0 else "violation")


def test_sequential_consistency_is_weaker_than_linearizability(tmp_path):
    # p1 reads the initial value after p0's write completed: stale in real time, but
    # the read can be ordered before the write (program order allows it)
    path = tmp_path / "h.jsonl"
    path.write_text('{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 0}\n'
                    '{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 1}\n'
                    '{"process": 1, "type": "invoke", "f": "read", "time": 2}\n'
                    '{"process": 1, "type": "ok", "f": "read", "value": null, "time": 3}\n')
    assert cli("check", path)[0] == 1
    code, stdout, _ = cli("check", path, "--consistency", "sequential")
    assert code == 0 and "verdict: sequentially consistent" in stdout


def test_html_timeline(expected, tmp_path):
    out = tmp_path / "sub" / "etcd_000.html"
    code, stdout, stderr = cli("check", HISTORIES / "etcd_000.log.gz", "--html", out)
    assert code == (0 if expected["etcd_000"] else 1)
    assert f"wrote {out}" in stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert "p11" in page and ("violation" in page) == (not expected["etcd_000"])
    assert [p.name for p in out.parent.iterdir()] == ["etcd_000.html"]      # no temp file left


@pytest.mark.parametrize("consistency, names", [
    ("sessions", ["monotonic-reads", "convergence"]),
    ("causal", ["WriteCORead"]),
    ("read-your-writes", []),
])
def test_html_of_the_causal_and_session_checks(tmp_path, consistency, names):
    path = tmp_path / "h.jsonl"
    path.write_text(STALE_SECOND_READ)
    out = tmp_path / "page.html"
    code, stdout, stderr = cli("check", path, "--consistency", consistency, "--html", out)
    assert code == (1 if names else 0) and f"wrote {out}" in stderr, (stdout, stderr)
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "p1" in page
    for name in names:
        assert f'<span class="badge violation">{name}</span>' in page
    assert ('class="op k lin bad"' in page) == bool(names)


def test_html_to_a_folder_is_refused(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(STALE_SECOND_READ)
    for target in (str(tmp_path), str(tmp_path / "new") + "/"):
        code, _, stderr = cli("check", path, "--html", target)
        assert code == 2 and ("directory" in stderr or "folder" in stderr), stderr
        assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()
