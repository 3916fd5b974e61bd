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
    (["--consistency", "causal"], "not built yet"),
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
