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


# -- leaderless quorums (Dynamo style), read repair off ------------------------------------------
def leaderless(tmp_path, r, w, seed):
    from tradeoff.replication.leaderless import simulate
    run = simulate(n=3, r=r, w=w, read_repair="off", history=True, ops=2000, clients=4, keys=5, seed=seed)
    path = tmp_path / "leaderless.jsonl"
    run.write_history(path)
    return read_history(path)


def monotonic_reads(h):
    """Each monotonic-reads violation as (r1, r2, w): the earlier read, the later one
    that returned an older value, and the write of the value r1 read (values are unique
    per key)."""
    writes = {(o.key, o.value): o for o in h if o.f == "write"}
    found = check_sessions(h, ["monotonic-reads"], limit=10_000)
    out = []
    for v in found.violations.get("monotonic-reads", []):
        r1, r2 = v.ops[0], v.ops[-1]
        out.append((r1, r2, writes[(r1.key, r1.result)]))
    assert len(out) == found.counts.get("monotonic-reads", 0)
    return out


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_leaderless_r1_w1_breaks_monotonic_reads(tmp_path, seed):
    # one replica read, one written: a session reads a value on one replica, then an
    # older one on another that the write has not reached, long after it completed
    h = leaderless(tmp_path, 1, 1, seed)
    found = monotonic_reads(h)
    assert found
    assert any(w.ret is not None and w.ret < r2.call for _, r2, w in found)
    assert check(h, "kv").verdict == "violation"


@pytest.mark.parametrize("r, w", [(2, 2), (1, 3), (3, 1)])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_leaderless_quorums_keep_monotonic_reads_once_a_write_completes(tmp_path, r, w, seed):
    # R + W > N: a read invoked after a write completed meets a replica that has it,
    # so a session can read an older value after a newer one only while the newer
    # write is still in flight (read repair off: nothing makes the first read's value
    # stick; DeCandia et al., SOSP 2007; Kleppmann, DDIA ch. 9 "Linearizability and
    # quorums"). With R = N every read sees every replica: never.
    h = leaderless(tmp_path, r, w, seed)
    found = monotonic_reads(h)
    for r1, r2, wr in found:
        assert wr.ret is None or wr.ret >= r2.call, (r1, r2, wr)
    if r == 3:
        assert found == []
