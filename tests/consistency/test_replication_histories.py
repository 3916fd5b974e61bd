"""The replication simulator's histories, checked: what each configuration promises
holds in the history it records, and what it breaks the checkers find, never more
than the simulator itself counted."""
import pytest

from tradeoff.consistency import check, check_causal, check_sessions, read_history
from tradeoff.replication.leader import simulate


def recorded(tmp_path, **kw):
    settings = dict(n=3, clients=4, ops=2000, keys=5, delays="exp:mean=5ms", seed=1, history=True)
    settings.update(kw)
    run = simulate(**settings)
    path = tmp_path / "h.jsonl"
    run.write_history(path)
    return run.counters, read_history(path)


def test_synchronous_replication_read_from_the_leader_satisfies_everything(tmp_path):
    counters, h = recorded(tmp_path, mode="sync", reads="leader")
    assert counters["ryw"] == counters["mr"] == counters["stale"] == 0
    assert check(h, "kv").verdict == "ok"
    assert check_causal(h, "CCv").verdict == "ok"
    assert check_sessions(h).verdict == "ok"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_follower_reads_break_what_the_simulator_counted(tmp_path, seed):
    counters, h = recorded(tmp_path, mode="async", reads="follower", seed=seed)
    assert counters["ryw"] > 0 and counters["stale"] > 0
    assert check(h, "kv").verdict == "violation"
    found = check_sessions(h).counts
    # the checker knows only the causal order of the writes, not the leader's log
    # order, so it proves a subset of the read-your-writes violations the simulator
    # saw (a stale read of a write the session never observed is not provable)
    assert 0 < found.get("read-your-writes", 0) <= counters["ryw"]
    assert found.get("monotonic-reads", 0) <= counters["mr"]
    assert check_causal(h, "CC").verdict == "violation"


def test_sticky_follower_reads_keep_monotonic_reads(tmp_path):
    counters, h = recorded(tmp_path, mode="async", reads="sticky", seed=4)
    assert counters["mr"] == 0
    assert check_sessions(h, ["monotonic-reads"]).verdict == "ok"
