"""Delivery semantics under crashes: the simulation's promises hold exactly for every
seed; its per-message effect counts equal those of the same scenario run step by
step through the package's Log and Group, its Queue, and a real Redis (Streams);
the producer's duplicates and losses equal what a few lines of Python derive from
the fault decisions; bad settings are one-line errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.harness.errors import UserError
from tradeoff.harness.servers import RedisServer, missing_notice
from tradeoff.messaging.delivery import (MAX_ATTEMPTS, OUTCOMES, SEMANTICS, STREAMS, compare, decide,
                                         invariant_violations, partition_of, simulate)
from tradeoff.messaging.drivers import LogAdapter, RedisAdapter, replay, replay_queue

FAULTY = dict(crash=0.02, ack_loss=0.03, request_loss=0.03, broker_restart=0.005, rebalance=0.05)


def lost(run):
    return int(np.count_nonzero((run.count == 0) & ~run.arrays["dead"]))


def duplicated(run):
    return int(np.count_nonzero(run.count >= 2))


# -- the promises -------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(broker=st.sampled_from(["log", "queue"]), seed=st.integers(0, 2**64 - 1),
       messages=st.integers(1, 400), partitions=st.integers(1, 6), consumers=st.integers(1, 4),
       batch=st.integers(1, 10), crash=st.floats(0, 0.3), ack=st.floats(0, 0.3), req=st.floats(0, 0.3),
       restart=st.floats(0, 0.1), rebalance=st.floats(0, 0.3), max_d=st.integers(0, 4),
       rate=st.sampled_from([0.0, 100.0, 5000.0]), visibility=st.sampled_from([0.5, 30.0]))
def test_every_seed_keeps_its_promises(broker, seed, messages, partitions, consumers, batch, crash, ack,
                                       req, restart, rebalance, max_d, rate, visibility):
    for sem in SEMANTICS:
        run = simulate(sem, broker, messages=messages, partitions=partitions, consumers=consumers,
                       batch=batch, crash=crash, ack_loss=ack, request_loss=req, broker_restart=restart,
                       rebalance=rebalance, max_deliveries=max_d, rate=rate, visibility=visibility,
                       restart_time=0.05, seed=seed)
        assert invariant_violations(run) == [], (sem, run.row())
        run.sim._check()
        # every message is accounted for: taken effect, dead-lettered, or (at most once) lost
        if sem != "at-most-once":
            assert np.all((run.count > 0) | run.arrays["dead"])


def test_the_faults_cost_what_each_semantics_says():
    df = compare(list(SEMANTICS), messages=20_000, seed=5, **FAULTY)
    assert df.loc["at-most-once", "lost"] > 0 and df.loc["at-most-once", "duplicated"] == 0
    assert df.loc["at-least-once", "lost"] == 0 and df.loc["at-least-once", "duplicated"] > 0
    for sem in ("exactly-once", "idempotent-consumer"):
        assert df.loc[sem, ["lost", "duplicated"]].tolist() == [0, 0]
    assert (df["invariant"] == "holds").all()
    # the idempotent producer keeps retried duplicates out of the log; the others store them
    assert df.loc["exactly-once", "broker_records"] == 20_000
    assert df.loc["at-least-once", "broker_records"] > 20_000
    assert df.loc["exactly-once", "dropped_duplicates"] == df.loc["at-least-once", "broker_records"] - 20_000
    assert df.loc["exactly-once", "aborted"] > 0
    assert df.loc["idempotent-consumer", "suppressed"] == df.loc["at-least-once", "extra_processings"]


def test_same_seed_same_run_other_seed_other_run():
    a = simulate("at-least-once", messages=5000, seed=3, **FAULTY)
    b = simulate("at-least-once", messages=5000, seed=3, **FAULTY)
    c = simulate("at-least-once", messages=5000, seed=4, **FAULTY)
    for key in ("count", "arrive", "first_effect"):
        assert np.array_equal(a.arrays[key], b.arrays[key], equal_nan=True)
    assert not np.array_equal(a.count, c.count)


# -- the producer, derived independently from the decisions ---------------------------------
def producer_copies(semantics, messages, seed, request_loss, ack_loss, broker_restart):
    """How many records of each message reach the broker."""
    copies = np.zeros(messages, int)
    for k in range(messages):
        for a in range(MAX_ATTEMPTS):
            u = decide(seed, STREAMS["produce"], k, a)
            ok = a == MAX_ATTEMPTS - 1 or u >= request_loss + ack_loss + broker_restart
            if ok or u >= request_loss:
                copies[k] += 1
            if ok or semantics == "at-most-once":
                break
    return copies


@pytest.mark.parametrize("broker", ["log", "queue"])
def test_without_consumer_faults_the_counts_are_the_producers_copies(broker):
    faults = dict(request_loss=0.05, ack_loss=0.05, broker_restart=0.02)
    for sem in ("at-most-once", "at-least-once"):
        run = simulate(sem, broker, messages=3000, seed=9, crash=0, rebalance=0, **faults)
        assert np.array_equal(run.count, producer_copies(sem, 3000, 9, **faults))
    run = simulate("exactly-once", broker, messages=3000, seed=9, crash=0, rebalance=0, **faults)
    assert np.all(run.count == 1)


def test_no_faults_every_message_once_and_latency_is_sane():
    run = simulate("at-least-once", messages=20_000, partitions=4, consumers=2, batch=1, crash=0,
                   rebalance=0, request_loss=0, ack_loss=0, broker_restart=0, rate=300, seed=2)
    assert np.all(run.count == 1)
    row = run.row()
    # batch of one, each consumer 37.5% busy (150/s x (0.5 ms service + 2 ms commit)):
    # a message waits for its round trip, a little queueing and its service
    assert 0.2 < row["p50_ms"] < 5 and row["p99_ms"] < 20
    assert row["throughput"] == pytest.approx(300, rel=0.05)


def test_a_visibility_timeout_shorter_than_a_batch_never_ends_and_says_why():
    with pytest.raises(UserError, match="did not finish.*--visibility"):
        simulate("at-least-once", "queue", messages=50, visibility=0, crash=0, seed=1)
    run = simulate("at-least-once", "queue", messages=50, visibility=0, crash=0, max_deliveries=3, seed=1)
    assert run.arrays["dead"].all() and run.row()["extra_processings"] > 0


def test_partitions_are_spread_and_fixed():
    parts = [partition_of(7, k, 12) for k in range(12_000)]
    counts = np.bincount(parts, minlength=12)
    assert counts.min() > 850 and counts.max() < 1150
    assert parts[:5] == [partition_of(7, k, 12) for k in range(5)]


def test_decisions_are_uniform_and_positional():
    u = np.array([decide(1, STREAMS["crash"], 0, s) for s in range(20_000)])
    assert 0.49 < u.mean() < 0.51 and u.min() >= 0 and u.max() < 1
    assert decide(1, STREAMS["crash"], 0, 5) == decide(1, STREAMS["crash"], 0, 5)
    assert decide(1, STREAMS["crash"], 0, 5) != decide(1, STREAMS["crash"], 1, 5)
    assert decide(1, STREAMS["crash"], 0, 5) != decide(1, STREAMS["rebalance"], 0, 5)


# -- the same scenario through real brokers -------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), messages=st.integers(1, 300), partitions=st.integers(1, 5),
       consumers=st.integers(1, 3), batch=st.integers(1, 8), crash=st.floats(0, 0.2),
       rebalance=st.floats(0, 0.2), max_d=st.integers(0, 3), sem=st.sampled_from(SEMANTICS),
       rate=st.sampled_from([0.0, 300.0, 5000.0]))
def test_the_log_and_group_count_the_same(seed, messages, partitions, consumers, batch, crash, rebalance,
                                          max_d, sem, rate):
    kw = dict(messages=messages, partitions=partitions, consumers=consumers, batch=batch, crash=crash,
              rebalance=rebalance, ack_loss=0.05, request_loss=0.05, broker_restart=0.01,
              max_deliveries=max_d, seed=seed, rate=rate)
    run = simulate(sem, "log", record=True, **kw)
    counts, dead = replay(LogAdapter(partitions, consumers), sem, run.schedule, **kw)
    assert np.array_equal(run.count, counts)
    assert np.array_equal(run.arrays["dead"], dead)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), messages=st.integers(1, 300), batch=st.integers(1, 10),
       crash=st.floats(0, 0.2), max_d=st.integers(0, 3), sem=st.sampled_from(SEMANTICS),
       visibility=st.sampled_from([1.0, 30.0]), restart=st.sampled_from([0.5, 5.0, 60.0]))
def test_the_queue_counts_the_same(seed, messages, batch, crash, max_d, sem, visibility, restart):
    kw = dict(messages=messages, consumers=1, batch=batch, crash=crash, ack_loss=0.05, request_loss=0.05,
              broker_restart=0, max_deliveries=max_d, seed=seed, rate=0, rtt=0, timeout=0, service=0,
              commit_time=0, restart_time=restart, visibility=visibility)
    run = simulate(sem, "queue", **kw)
    counts, dead = replay_queue(sem, **kw)
    assert np.array_equal(run.count, counts)
    assert np.array_equal(run.arrays["dead"], dead)


@pytest.fixture(scope="module")
def redis_server():
    notice = missing_notice("redis-server")
    if notice:
        pytest.skip(notice)
    pytest.importorskip("redis", reason="the redis client is not installed (pip install redis)")
    with RedisServer() as server:
        yield server


@pytest.mark.parametrize("sem", SEMANTICS)
def test_redis_streams_count_the_same(redis_server, sem):
    kw = dict(messages=1500, partitions=3, consumers=2, batch=6, max_deliveries=3, seed=21, **FAULTY)
    run = simulate(sem, "log", record=True, **kw)
    counts, dead = replay(RedisAdapter(redis_server, 3, 2), sem, run.schedule, **kw)
    assert np.array_equal(run.count, counts), np.nonzero(run.count != counts)[0][:10]
    assert np.array_equal(run.arrays["dead"], dead)
    assert run.counters["restarts"] > 0          # the server really restarted, and lost nothing
    if sem == "at-least-once":
        assert duplicated(run) > 0
    if sem == "at-most-once":
        assert lost(run) > 0


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, message", [
    (dict(semantics="twice"), "unknown semantics 'twice'"),
    (dict(broker="kafka"), "unknown broker 'kafka'"),
    (dict(broker="queue", batch=11), "--batch must be within 1..10"),
    (dict(crash="150%"), "--crash must be within 0..1"),
    (dict(crash="often"), "--crash must be a probability"),
    (dict(messages=0), "--messages must be a whole number >= 1"),
    (dict(consumers=2.5), "--consumers must be a whole number >= 1"),
    (dict(rate=-1), "--rate must be finite and >= 0"),
    (dict(ack_loss=0.6, request_loss=0.6), "add up to more than 1"),
    (dict(max_deliveries=300), "--max-deliveries must be a whole number within 0..254"),
])
def test_bad_settings_are_one_line_errors(kw, message):
    with pytest.raises(UserError, match=message) as info:
        simulate(**kw)
    assert "\n" not in str(info.value)


def test_outcome_names_are_stable():
    assert set(OUTCOMES) == {"ok", "request-lost", "ack-lost", "restart"}
