"""The partitioned log against its pure-Python model, Kafka's partitioner against
Kafka's published test vectors (and kafka-python where installed), and bad input."""
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from log_model import LogModel
from tradeoff.messaging import Log, OffsetOutOfRange, murmur2, partition_for

# Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils)
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize("key,expected", sorted(KAFKA_VECTORS.items()))
def test_murmur2_matches_kafkas_vectors(key, expected):
    assert murmur2(key) == expected


def test_murmur2_matches_kafka_python_on_random_keys():
    kp = pytest.importorskip("kafka.partitioner.default", reason="kafka-python not installed")
    rng = random.Random(7)
    for n in list(range(0, 40)) + [1000, 4097]:
        for _ in range(20):
            key = rng.randbytes(n)
            assert murmur2(key) & 0xFFFFFFFF == kp.murmur2(key) & 0xFFFFFFFF, key
            # kafka-python's DefaultPartitioner: (murmur2 & 0x7fffffff) % P
            assert partition_for(key, 12) == (kp.murmur2(key) & 0x7FFFFFFF) % 12


def test_keyed_records_go_where_kafkas_default_partitioner_sends_them():
    log = Log(7)
    for i in range(200):
        key = f"user-{i}".encode()
        p, _ = log.append(key, b"v", timestamp=i)
        assert p == (murmur2(key) & 0x7FFFFFFF) % 7
    parts, _ = log.append_many([f"user-{i}".encode() for i in range(200)], [b"v"] * 200,
                               timestamps=np.arange(200))
    assert parts.tolist() == [partition_for(f"user-{i}".encode(), 7) for i in range(200)]


def test_sticky_partitioner_keeps_a_partition_for_a_batch_then_changes():
    log = Log(5, batch_size=1000, seed=3)
    parts = [log.append(None, b"x" * 100, timestamp=0)[0] for _ in range(100)]
    runs = []                           # lengths of the runs of one partition
    for i, p in enumerate(parts):
        if i and p == parts[i - 1] and runs[-1] < 11:
            runs[-1] += 1
        else:
            runs.append(1)
    # a partition takes records until 1000 bytes have gone to it: 10 records, then another
    assert runs[:9] == [10] * 9
    assert all(parts[i] != parts[i - 1] for i in range(10, 100, 10))
    assert len(set(parts)) > 1


def test_records_round_trip_with_none_keys_and_values_and_empty_bytes():
    log = Log(1)
    items = [(b"k", b"v"), (None, b"v2"), (b"k3", None), (b"", b""), (None, None)]
    for i, (k, v) in enumerate(items):
        assert log.append(k, v, partition=0, timestamp=10 + i) == (0, i)
    got = log.read(0)
    assert [(r.offset, r.timestamp, r.key, r.value) for r in got] == \
        [(i, 10 + i, k, v) for i, (k, v) in enumerate(items)]
    batch = log.fetch(0, 1, max_records=3)
    assert batch.keys == [None, b"k3", b""] and batch.values == [b"v2", None, b""]
    assert batch.next_offset == 4 and len(batch) == 3
    log._check()


def test_append_many_takes_numpy_s_and_uint8_arrays():
    log = Log(2)
    vals = np.array([b"ab", b"c", b"def"], dtype="S3")
    parts, offs = log.append_many(None, vals, partition=1, timestamps=[1, 2, 3])
    assert parts.tolist() == [1, 1, 1] and offs.tolist() == [0, 1, 2]
    rows = np.arange(6, dtype=np.uint8).reshape(2, 3)
    log.append_many(np.array([b"k1", b"k2"]), rows, partition=1, timestamps=[4, 5])
    assert [r.value for r in log.read(1)] == [b"ab", b"c", b"def", bytes([0, 1, 2]), bytes([3, 4, 5])]
    assert [r.key for r in log.read(1)][3:] == [b"k1", b"k2"]
    log._check()


def test_fetch_respects_max_bytes_but_returns_a_large_first_record_whole():
    log = Log(1)
    for i in range(10):
        log.append(None, bytes(100), partition=0, timestamp=i)
    assert len(log.fetch(0, 0, max_bytes=250)) == 2
    assert len(log.fetch(0, 0, max_bytes=10)) == 1
    assert len(log.fetch(0, 10)) == 0 and log.fetch(0, 10).next_offset == 10


def test_segments_roll_and_offsets_are_found_through_the_sparse_index():
    log = Log(1, segment_bytes=1000, index_interval_bytes=64)
    rng = random.Random(1)
    sizes = [rng.randrange(0, 60) for _ in range(2000)]
    for i, n in enumerate(sizes):
        log.append(None, bytes([i % 256]) * n, partition=0, timestamp=i)
    assert len(log.segments(0)) > 50
    for off in rng.sample(range(2000), 200):
        rec = log.fetch(0, off, max_records=1)[0]
        assert rec.offset == off and rec.value == bytes([off % 256]) * sizes[off]
    log._check()


def test_retention_by_size_deletes_whole_closed_segments_and_moves_the_start():
    log = Log(1, segment_bytes=100, retention_bytes=300)
    for i in range(100):
        log.append(None, bytes(10), partition=0, timestamp=i)
    segs = log.segments(0)
    assert log.log_start_offset(0) == segs[0][0] > 0
    assert sum(b for _, _, b in segs[:-1]) >= 300 - 100
    with pytest.raises(OffsetOutOfRange, match="out of range"):
        log.fetch(0, 0)
    assert log.fetch(0, log.log_start_offset(0))[0].offset == log.log_start_offset(0)
    log._check()


def test_retention_by_time_never_deletes_the_active_segment():
    log = Log(1, segment_bytes=50, retention_ms=1000)
    for i in range(20):
        log.append(None, bytes(10), partition=0, timestamp=i)
    closed = len(log.segments(0)) - 1
    assert closed > 1 and log.enforce_retention(now=10) == 0        # nothing old yet
    assert log.enforce_retention(now=10**9) == closed
    assert len(log.segments(0)) == 1          # only the active segment is left
    assert log.log_start_offset(0) == log.segments(0)[0][0]
    assert log.log_end_offset(0) == 20
    log._check()


def test_compaction_keeps_the_latest_value_of_every_key_and_the_offsets():
    log = Log(1, segment_bytes=200, cleanup_policy="compact", delete_retention_ms=100)
    latest = {}
    rng = random.Random(5)
    for i in range(500):
        k = b"k%d" % rng.randrange(20)
        v = None if rng.random() < 0.1 else b"v%d" % i
        log.append(k, v, partition=0, timestamp=i)
        latest[k] = (i, v)
    log.append(b"last", b"x", partition=0, timestamp=500)   # keep it in the active segment
    removed = log.compact(now=10_000, force=True)
    assert removed > 400
    got = {}
    for r in log.read(0):
        got[r.key] = (r.offset, r.value)
    expected = {k: (o, v) for k, (o, v) in latest.items() if v is not None or o >= log.segments(0)[-1][0]}
    expected[b"last"] = (500, b"x")
    assert got == expected
    offs = [r.offset for r in log.read(0)]
    assert offs == sorted(offs) and log.log_start_offset(0) == 0
    log._check()


def test_offset_for_time_is_the_first_record_at_or_after():
    log = Log(1, segment_bytes=300, index_interval_bytes=20)
    stamps = [5, 3, 9, 9, 2, 20, 15, 30, 30, 31] * 10
    for i, t in enumerate(stamps):
        log.append(None, bytes(10), partition=0, timestamp=t + (i // 10) * 100)
    real = [t + (i // 10) * 100 for i, t in enumerate(stamps)]
    for q in range(0, 1050, 7):
        want = next((i for i, t in enumerate(real) if t >= q), None)
        assert log.offset_for_time(0, q) == want, q


# ------------------------------------------------------------------ the model

keys = st.one_of(st.none(), st.binary(max_size=3))
values = st.one_of(st.none(), st.binary(max_size=40))


class LogMachine(RuleBasedStateMachine):
    @initialize(parts=st.integers(1, 3), seg=st.integers(1, 200), interval=st.integers(0, 64),
                policy=st.sampled_from(["delete", "compact", "compact,delete"]),
                rms=st.one_of(st.none(), st.integers(0, 50)),
                rbytes=st.one_of(st.none(), st.integers(0, 400)))
    def setup(self, parts, seg, interval, policy, rms, rbytes):
        self.log = Log(parts, segment_bytes=seg, index_interval_bytes=interval,
                       cleanup_policy=policy, retention_ms=rms, retention_bytes=rbytes,
                       delete_retention_ms=20, clock=lambda: self.now)
        self.model = LogModel(parts, seg, rms, rbytes, policy, 20)
        self.now = 0
        self.compact = "compact" in policy

    @rule(key=keys, value=values, data=st.data())
    def append(self, key, value, data):
        if self.compact and key is None:
            key = b""
        self.now += data.draw(st.integers(0, 5))
        part = data.draw(st.integers(0, len(self.model.parts) - 1))
        ts = data.draw(st.one_of(st.none(), st.integers(0, self.now + 5)))
        got = self.log.append(key, value, partition=part, timestamp=ts)
        assert got == (part, self.model.append(part, key, value, self.now if ts is None else ts))

    @rule(batch=st.lists(st.tuples(keys, values), max_size=8), data=st.data())
    def append_many(self, batch, data):
        if self.compact:
            batch = [(k or b"", v) for k, v in batch]
        part = data.draw(st.integers(0, len(self.model.parts) - 1))
        stamps = [self.now + i for i in range(len(batch))]
        parts, offs = self.log.append_many([k for k, _ in batch], [v for _, v in batch],
                                           partition=part, timestamps=stamps)
        want = [self.model.append(part, k, v, t) for (k, v), t in zip(batch, stamps)]
        assert offs.tolist() == want and parts.tolist() == [part] * len(batch)

    @rule(data=st.data())
    def fetch(self, data):
        part = data.draw(st.integers(0, len(self.model.parts) - 1))
        p = self.model.parts[part]
        off = data.draw(st.integers(max(0, p.start - 2), p.end + 2))
        n = data.draw(st.integers(1, 6))
        if off < p.start or off > p.end:
            with pytest.raises(OffsetOutOfRange):
                self.log.fetch(part, off, max_records=n)
            return
        got = [(r.offset, r.timestamp, r.key, r.value) for r in self.log.fetch(part, off, max_records=n)]
        want = [(r.offset, r.ts, r.key, r.value) for r in self.model.fetch(part, off, n)]
        assert got == want

    @rule(data=st.data())
    def offset_for_time(self, data):
        part = data.draw(st.integers(0, len(self.model.parts) - 1))
        ts = data.draw(st.integers(0, self.now + 10))
        assert self.log.offset_for_time(part, ts) == self.model.offset_for_time(part, ts)

    @rule(dt=st.integers(0, 100))
    def enforce_retention(self, dt):
        self.now += dt
        self.log.enforce_retention()
        self.model.enforce_retention(self.now)

    @precondition(lambda self: self.compact)
    @rule(dt=st.integers(0, 50))
    def compact_now(self, dt):
        self.now += dt
        self.log.compact(force=True)
        for i in range(len(self.model.parts)):
            if len(self.model.parts[i].segs) > 1:
                self.model.compact(i, self.now)

    @invariant()
    def agrees(self):
        if not hasattr(self, "log"):
            return
        self.log._check()
        for i, p in enumerate(self.model.parts):
            assert self.log.log_start_offset(i) == p.start
            assert self.log.log_end_offset(i) == p.end
            assert self.log.segments(i) == [(s.base, len(s.recs), s.used) for s in p.segs]
            assert self.log.size(i) == sum(s.used for s in p.segs)
        assert len(self.log) == sum(len(p.records()) for p in self.model.parts)


TestLogMachine = LogMachine.TestCase
TestLogMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ bad input

def _state(log):
    return [(log.segments(i), log.log_start_offset(i), log.log_end_offset(i))
            for i in range(log.partitions)]


@pytest.mark.parametrize("call,exc,match", [
    (lambda log: log.append(b"k", b"v", partition=5), ValueError, "unknown partition 5"),
    (lambda log: log.append(b"k", b"v", partition=-1), ValueError, "unknown partition"),
    (lambda log: log.append(b"k", b"v", partition=1.5), TypeError, "partition must be an integer"),
    (lambda log: log.append("k", b"v"), TypeError, "key must be bytes"),
    (lambda log: log.append(b"k", 3), TypeError, "value must be bytes"),
    (lambda log: log.append(b"k", b"v", timestamp=-1), ValueError, "timestamp must be >= 0"),
    (lambda log: log.fetch(0, -1), ValueError, "offset must be >= 0"),
    (lambda log: log.fetch(0, "3"), TypeError, "offset must be an integer"),
    (lambda log: log.fetch(0, 99), OffsetOutOfRange, "out of range"),
    (lambda log: log.fetch(0, 0, max_records=0), ValueError, "max_records must be >= 1"),
    (lambda log: log.append_many([b"a"], [b"x", b"y"]), ValueError, "one item per value"),
    (lambda log: log.append_many(None, [b"x", "y"]), TypeError, r"values\[1\] must be bytes"),
    (lambda log: log.append_many(None, [b"x"], timestamps=[-5]), ValueError, "timestamps must be >= 0"),
    (lambda log: log.append_many(None, np.zeros(3)), TypeError, "got an array of float64"),
    (lambda log: log.compact(), ValueError, "needs cleanup_policy 'compact'"),
    (lambda log: log.offset_for_time(3, 0), ValueError, "unknown partition 3"),
])
def test_bad_input_is_one_clear_error_and_changes_nothing(call, exc, match):
    log = Log(2)
    log.append(b"a", b"b", timestamp=1)
    before = _state(log)
    with pytest.raises(exc, match=match):
        call(log)
    assert _state(log) == before


@pytest.mark.parametrize("kwargs,match", [
    ({"partitions": 0}, "partitions must be >= 1"),
    ({"partitions": 2, "cleanup_policy": "forever"}, "cleanup_policy must be"),
    ({"partitions": 2, "segment_bytes": 0}, "segment_bytes must be >= 1"),
    ({"partitions": 2, "min_cleanable_dirty_ratio": 2}, r"min_cleanable_dirty_ratio must be in \[0, 1\]"),
    ({"partitions": 2, "clock": 5}, "clock must be callable"),
])
def test_bad_configuration_is_refused(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Log(**kwargs)


def test_a_compacted_log_refuses_keyless_records_without_appending():
    log = Log(1, cleanup_policy="compact")
    with pytest.raises(ValueError, match="needs a key"):
        log.append(None, b"v")
    with pytest.raises(ValueError, match=r"keys\[1\] is None"):
        log.append_many([b"a", None], [b"1", b"2"])
    assert len(log) == 0


def test_memory_holds_no_python_object_per_record():
    log = Log(1)
    values = np.array([b"%099d!" % i for i in range(20000)], dtype="S100")
    log.append_many(None, values, partition=0, timestamps=np.zeros(20000, np.int64))
    per_record = log.nbytes / len(log)
    assert 100 + 24 <= per_record < 100 + 24 + 70, per_record
