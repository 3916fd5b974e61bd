"""HashRing against pure-Python models (tests/ring/ring_models.py).

- the C MD5 against hashlib;
- the ring's points and lookups against RingModel (both hashes, weights), and a
  hypothesis state machine that adds, removes and reweights nodes, checking
  after every step that the incrementally updated ring equals the model and a
  fresh build, and that ``_check()`` holds;
- ketama mode against a libketama model built on hashlib.md5 and against
  uhashring's ketama mode (when the peer extra is installed), including the
  three places where the two differ;
- bounded loads against BoundedRingModel in a state machine (assign, release,
  add, remove, reweight, rebalance), and that no assignment exceeds its bound;
- bad input.
"""
import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ring_models import (BoundedRingModel, KetamaModel, RingModel, ketama_hash, mix64,
                         ring_key_word)
from tradeoff.ring._hashring import HashRing, _md5, _sort_points

try:
    import uhashring
except ImportError:      # a peer extra
    uhashring = None

needs_uhashring = pytest.mark.skipif(uhashring is None, reason="uhashring (peers extra) is not installed")

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["a", "b", "c", "node-1", "10.0.0.1:11211", "é"]
KEYS = ["", "user:1", "user:2", "ключ", "x" * 100] + [f"k{i}" for i in range(200)]
INT_KEYS = [0, 1, 2, -1, 2**63 - 1, -(2**63), 2**64 - 1, 123456789]


def ring_vs_model(ring, model):
    """Points, owners and lookups of a ring equal the model's."""
    pts, own = ring.points()
    assert pts.tolist() == model.pts
    assert [ring.nodes[j] for j in own.tolist()] == model.own
    for k in KEYS[:60] + INT_KEYS:
        assert ring.lookup(k) == model.lookup(k), k


# ---------------------------------------------------------------- md5

@given(st.binary(max_size=300))
@SETTINGS
def test_md5_equals_hashlib(data):
    assert _md5(data) == hashlib.md5(data).digest()


def test_md5_at_the_padding_edges():
    for n in list(range(50, 70)) + list(range(115, 135)) + [0, 1, 1000, 4096]:
        data = bytes(range(256)) * (n // 256 + 1)
        assert _md5(data[:n]) == hashlib.md5(data[:n]).digest(), n
    assert _md5(b"abc").hex() == "900150983cd24fb0d6963f7d28e17f72"       # RFC 1321 A.5


def test_sort_points_equals_lexsort():
    rng = np.random.default_rng(5)
    cases = [rng.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2),
             np.full(500, 7, dtype=np.uint64),                              # one bucket, all equal
             (rng.integers(0, 40, 3000, dtype=np.uint64) << np.uint64(58)),  # few buckets, big runs
             np.zeros(0, dtype=np.uint64), np.array([2**64 - 1, 0], dtype=np.uint64)]
    for p in cases:
        o = rng.integers(0, 50, p.shape[0]).astype(np.int32)
        sp, so = _sort_points(p, o)
        order = np.lexsort((o, p))
        assert sp.tolist() == p[order].tolist()
        assert so.tolist() == o[order].tolist()


# ---------------------------------------------------------------- the ring

@pytest.mark.parametrize("hash", ["xxh64", "md5"])
@pytest.mark.parametrize("weights", [{"a": 1, "b": 1, "c": 1},
                                     {"a": 0.5, "b": 2, "c": 0, "d": 0.001, "é": 3.3}])
def test_ring_equals_model(hash, weights):
    ring = HashRing(weights, vnodes=20, hash=hash)
    ring._check()
    model = RingModel(weights, 20, hash)
    ring_vs_model(ring, model)
    assert ring.npoints == [model.points_of(w) for w in weights.values()]


def test_lookup_many_equals_lookup():
    ring = HashRing([f"n{i}" for i in range(30)], vnodes=50)
    model = RingModel({f"n{i}": 1 for i in range(30)}, 50)
    ints = np.array(INT_KEYS[:6] + list(range(-500, 500)), dtype=np.int64)
    got = ring.lookup_many(ints)
    assert [ring.nodes[j] for j in got] == [model.lookup(int(k)) for k in ints]
    big = np.array([2**64 - 1, 2**63, 5], dtype=np.uint64)
    assert [ring.nodes[j] for j in ring.lookup_many(big)] == [model.lookup(int(k)) for k in big]
    assert ring.lookup_many(np.arange(50, dtype=np.int32)).tolist() == ring.lookup_many(np.arange(50)).tolist()
    strs = KEYS[:50]
    assert [ring.nodes[j] for j in ring.lookup_many(strs)] == [model.lookup(k) for k in strs]
    assert ring.lookup_many(np.zeros(0, dtype=np.int64)).tolist() == []


def test_integer_keys_are_mixed():
    ring = HashRing(["a", "b", "c", "d"], vnodes=100)
    counts = np.bincount(ring.lookup_many(np.arange(40_000)), minlength=4)
    assert counts.min() > 6_000        # sequential ints do not pile onto one arc
    model = RingModel(dict.fromkeys("abcd", 1), 100)
    assert ring.lookup(7) == model.own[model.pos(mix64(7))]


def test_shares_equal_arc_lengths():
    ring = HashRing({"a": 1, "b": 2, "c": 0.5}, vnodes=30)
    model = RingModel({"a": 1, "b": 2, "c": 0.5}, 30)
    got = ring.shares()
    want = model.shares()
    assert np.allclose(got, [want[n] for n in ring.nodes], rtol=0, atol=1e-12)
    assert abs(got.sum() - 1) < 1e-12
    assert HashRing(["solo"], vnodes=1).shares().tolist() == [1.0]


class RingMachine(RuleBasedStateMachine):
    """Add, remove and reweight nodes; the ring must always equal the model and a
    ring built from scratch with the same nodes."""

    @initialize(vnodes=st.integers(1, 6), hash=st.sampled_from(["xxh64", "md5"]),
                first=st.sampled_from(NAMES))
    def start(self, vnodes, hash, first):
        self.vnodes, self.hash = vnodes, hash
        self.ring = HashRing([first], vnodes=vnodes, hash=hash)
        self.model = RingModel({first: 1.0}, vnodes, hash)

    @rule(name=st.sampled_from(NAMES), w=st.sampled_from([0, 0.25, 1, 2, 3.7]))
    def add(self, name, w):
        if name in self.model.weights:
            with pytest.raises(ValueError, match="already"):
                self.ring.add(name, w)
            return
        self.ring.add(name, w)
        self.model.weights[name] = float(w)
        self.model.build()

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name):
        if name not in self.model.weights:
            with pytest.raises(KeyError):
                self.ring.remove(name)
            return
        self.ring.remove(name)
        del self.model.weights[name]
        self.model.build()

    @precondition(lambda self: self.model.weights)
    @rule(data=st.data(), w=st.sampled_from([0, 0.5, 1, 4]))
    def set_weight(self, data, w):
        name = data.draw(st.sampled_from(sorted(self.model.weights)))
        self.ring.set_weight(name, w)
        self.model.weights[name] = float(w)
        self.model.build()

    @rule(keys=st.lists(st.one_of(st.text(max_size=8), st.integers(-(2**63), 2**64 - 1)), max_size=20))
    def lookup(self, keys):
        if not self.model.pts:
            for k in keys:
                with pytest.raises(LookupError):
                    self.ring.lookup(k)
            return
        for k in keys:
            assert self.ring.lookup(k) == self.model.lookup(k)

    @invariant()
    def consistent(self):
        self.ring._check()
        assert self.ring.nodes == list(self.model.weights)
        pts, own = self.ring.points()
        assert pts.tolist() == self.model.pts
        assert [self.ring.nodes[j] for j in own.tolist()] == self.model.own
        if self.model.weights:
            fresh = HashRing(dict(self.model.weights), vnodes=self.vnodes, hash=self.hash)
            fp, fo = fresh.points()
            assert fp.tolist() == pts.tolist() and fo.tolist() == own.tolist()


TestRingMachine = RingMachine.TestCase
TestRingMachine.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_adding_a_node_moves_only_keys_to_it():
    nodes = [f"n{i}" for i in range(10)]
    ring = HashRing(nodes)
    keys = np.arange(50_000)
    before = ring.lookup_many(keys)
    ring.add("n10")
    after = ring.lookup_many(keys)
    moved = before != after
    assert (after[moved] == 10).all()
    assert 0.06 < moved.mean() < 0.12            # about 1/11
    ring.remove("n10")
    assert (ring.lookup_many(keys) == before).all()


# ---------------------------------------------------------------- ketama

def ketama_names(n):
    return [f"10.0.{i // 256}.{i % 256}:11211" for i in range(n)]


STR_KEYS = [f"key:{i}" for i in range(3000)]


@pytest.mark.parametrize("flavor", ["ketama", "uhashring"])
@pytest.mark.parametrize("weights", [
    dict.fromkeys(ketama_names(1), 1), dict.fromkeys(ketama_names(3), 1),
    dict.fromkeys(ketama_names(10), 1), dict.fromkeys(ketama_names(61), 1),
    dict(zip(ketama_names(7), [1, 2, 3, 5, 8, 13, 21])),
    dict(zip(ketama_names(5), [1024, 2048, 1024, 512, 4096])),
])
def test_ketama_equals_the_model(flavor, weights):
    ring = HashRing(weights, compat=flavor)
    ring._check()
    model = KetamaModel(weights, flavor="libketama" if flavor == "ketama" else "uhashring")
    pts, own = ring.points()
    assert (pts >> np.uint64(32)).tolist() == model.pts
    if flavor == "ketama":
        assert [ring.nodes[j] for j in own.tolist()] == model.own
    got = [ring.nodes[j] for j in ring.lookup_many(STR_KEYS)]
    assert got == [model.lookup(k) for k in STR_KEYS]
    ints = np.arange(-300, 300, dtype=np.int64)
    assert [ring.nodes[j] for j in ring.lookup_many(ints)] == [model.lookup(int(k)) for k in ints]
    assert [ring.lookup(int(k)) for k in ints[:50]] == [model.lookup(int(k)) for k in ints[:50]]
    big = np.array([2**64 - 1, 2**63], dtype=np.uint64)
    assert [ring.nodes[j] for j in ring.lookup_many(big)] == [model.lookup(int(k)) for k in big]


def test_libketama_label_counts():
    """libketama's single-precision floorf gives 39 hashes per server for some
    node counts where the exact count is 40."""
    for n, want in [(60, 40), (61, 39), (62, 40), (122, 39), (237, 39), (100, 40)]:
        assert KetamaModel(dict.fromkeys(ketama_names(n), 1)).counts()[0] == want
        assert HashRing(dict.fromkeys(ketama_names(n), 1), compat="ketama").npoints[0] == 4 * want
        assert HashRing(dict.fromkeys(ketama_names(n), 1), compat="uhashring").npoints[0] == 160


def test_ketama_hit_on_a_point_and_shared_points():
    # "key722" hashes exactly onto a point of node0..node99 (found by search)
    names = [f"node{i}" for i in range(100)]
    ketama, uh = HashRing(names, compat="ketama"), HashRing(names, compat="uhashring")
    pts, own = ketama.points()
    h = ketama_hash(b"key722")
    i = int(np.searchsorted(pts, np.uint64(h << 32)))
    assert int(pts[i]) >> 32 == h
    assert ketama.lookup("key722") == ketama.nodes[own[i]]                 # first point >= hash
    assert uh.lookup("key722") == uh.nodes[own[(i + 1) % len(own)]]        # first point > hash
    # these two servers share point 3152960057
    pair = ["10.0.2.53:11211", "10.0.2.161:11211"]
    shared = 3152960057
    for name in pair:
        assert any(shared in [int.from_bytes(hashlib.md5(f"{name}-{k}".encode()).digest()[4 * j:4 * j + 4], "little")
                              for j in range(4)] for k in range(40))
    model = KetamaModel(dict.fromkeys(pair, 1))
    i = model.pts.index(shared)
    key = next(f"probe{j}" for j in range(100_000)
               if model.pts[i - 1] < ketama_hash(f"probe{j}".encode()) <= shared)
    assert HashRing(pair, compat="ketama").lookup(key) == pair[0]          # listed first wins
    assert HashRing(pair, compat="uhashring").lookup(key) == pair[1]       # written last wins
    if uhashring is not None:
        assert uhashring.HashRing(pair, hash_fn="ketama").get_node(key) == pair[1]
        assert uhashring.HashRing(names, hash_fn="ketama").get_node("key722") == uh.lookup("key722")


@needs_uhashring
@pytest.mark.parametrize("weights", [
    dict.fromkeys(ketama_names(3), 1), dict.fromkeys(ketama_names(10), 1),
    dict.fromkeys(ketama_names(61), 1), dict.fromkeys(ketama_names(100), 1),
    dict(zip(ketama_names(7), [1, 2, 3, 5, 8, 13, 21])),
    dict(zip(ketama_names(5), [1024, 2048, 1024, 512, 4096])),
])
def test_ketama_against_uhashring(weights):
    peer = uhashring.HashRing(dict(weights), hash_fn="ketama")
    want = [peer.get_node(k) for k in STR_KEYS]
    uh = HashRing(weights, compat="uhashring")
    assert [uh.nodes[j] for j in uh.lookup_many(STR_KEYS)] == want
    assert [uh.lookup(k) for k in range(-200, 200)] == [peer.get_node(k) for k in range(-200, 200)]
    ketama = HashRing(weights, compat="ketama")
    got = [ketama.nodes[j] for j in ketama.lookup_many(STR_KEYS)]
    if ketama.npoints == uh.npoints:
        # same points: only a key hashing exactly onto a point may differ (libketama
        # takes that point, uhashring the next); "key:42" does so on 100 nodes
        points = set((ketama.points()[0] >> np.uint64(32)).tolist())
        on_point = [ketama_hash(k.encode()) in points for k in STR_KEYS]
        assert [g for g, hit in zip(got, on_point) if not hit] == [w for w, hit in zip(want, on_point) if not hit]
        assert sum(on_point) == (1 if len(weights) == 100 else 0)
    else:
        # 61 equal nodes: libketama has 39 hashes a node, uhashring 40
        assert len(weights) == 61 and got != want


@needs_uhashring
def test_ketama_follows_uhashring_through_changes():
    names = ketama_names(12)
    peer = uhashring.HashRing(names, hash_fn="ketama")
    ring = HashRing(names, compat="uhashring")
    steps = [("remove", names[3]), ("add", "10.9.9.9:11211", 2), ("set", names[0], 3),
             ("remove", names[0]), ("add", names[3], 1)]
    for step in steps:
        if step[0] == "remove":
            peer.remove_node(step[1])
            ring.remove(step[1])
        elif step[0] == "add":
            peer.add_node(step[1], {"weight": step[2]})
            ring.add(step[1], step[2])
        else:
            peer.add_node(step[1], {"weight": step[2]})
            ring.set_weight(step[1], step[2])
        ring._check()
        assert list(peer.get_nodes()) == ring.nodes
        assert [ring.lookup(k) for k in STR_KEYS[:1000]] == [peer.get_node(k) for k in STR_KEYS[:1000]]


# ---------------------------------------------------------------- bounded loads

class BoundedMachine(RuleBasedStateMachine):
    """Assign, release, lookup, add, remove, reweight and rebalance on a bounded
    ring and on the model; every assignment must stay within its capacity."""

    @initialize(c=st.sampled_from([1.0, 1.1, 1.25, 2.0]), vnodes=st.integers(1, 4),
                n=st.integers(1, 4))
    def start(self, c, vnodes, n):
        weights = {NAMES[i]: 1.0 for i in range(n)}
        self.ring = HashRing(weights, vnodes=vnodes, load_factor=c)
        self.model = BoundedRingModel(weights, vnodes, c)

    keys = st.one_of(st.integers(0, 40), st.sampled_from(["s1", "s2", "s3", "s4", "s5"]))

    @rule(key=keys)
    def assign(self, key):
        if not self.model.ring.pts:
            with pytest.raises(LookupError):
                self.ring.assign(key)
            return
        caps = self.ring.capacities
        known = ring_key_word(key) in self.model.assigned
        node = self.ring.assign(key)
        assert node == self.model.assign(key)
        if not known:
            j = self.ring.nodes.index(node)
            assert self.ring.loads[j] <= caps[j]

    @rule(keys=st.lists(st.integers(0, 60), max_size=15))
    def assign_many(self, keys):
        if not self.model.ring.pts:
            return
        got = self.ring.assign_many(np.array(keys, dtype=np.int64))
        assert [self.ring.nodes[j] for j in got] == [self.model.assign(k) for k in keys]

    @rule(key=keys)
    def release(self, key):
        if ring_key_word(key) not in self.model.assigned:
            with pytest.raises(KeyError):
                self.ring.release(key)
            return
        self.ring.release(key)
        self.model.release(key)

    @rule(key=keys)
    def lookup(self, key):
        if self.model.ring.pts:
            assert self.ring.lookup(key) == self.model.lookup(key)

    @rule(name=st.sampled_from(NAMES), w=st.sampled_from([0, 0.5, 1, 2]))
    def add(self, name, w):
        if name in self.model.weights:
            return
        self.ring.add(name, w)
        self.model.add(name, float(w))

    @rule(name=st.sampled_from(NAMES))
    def remove(self, name):
        if name not in self.model.weights:
            return
        self.ring.remove(name)
        self.model.remove(name)

    @precondition(lambda self: self.model.weights)
    @rule(data=st.data(), w=st.sampled_from([0, 1, 3]))
    def set_weight(self, data, w):
        name = data.draw(st.sampled_from(sorted(self.model.weights)))
        self.ring.set_weight(name, w)
        self.model.set_weight(name, float(w))

    @precondition(lambda self: self.model.ring.pts)
    @rule()
    def rebalance(self):
        self.ring.rebalance()
        self.model.rebalance()
        m = len(self.model.assigned)
        ws = self.model.weights
        W = sum(ws.values())
        for j, name in enumerate(self.ring.nodes):
            assert self.ring.loads[j] <= np.ceil(self.model.c * m * ws[name] / W)

    @invariant()
    def consistent(self):
        self.ring._check()
        assert self.ring.nodes == list(self.model.weights)
        loads = self.model.loads()
        assert self.ring.loads == [loads[n] for n in self.ring.nodes]
        assert self.ring.assigned == len(self.model.assigned)


TestBoundedMachine = BoundedMachine.TestCase
TestBoundedMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


@pytest.mark.parametrize("c", [1.0, 1.05, 1.25, 2.0])
def test_bounded_loads_never_exceed_the_bound(c):
    nodes = {f"n{i}": 1 + (i % 3) for i in range(20)}
    ring = HashRing(nodes, vnodes=5, load_factor=c)
    keys = np.random.default_rng(3).integers(0, 2**62, 20_000)
    W = sum(nodes.values())
    w = np.array(list(nodes.values()), dtype=float)
    for chunk in np.array_split(keys, 10):
        ring.assign_many(chunk)
        m = ring.assigned
        assert (np.array(ring.loads) <= np.ceil(c * m * w / W)).all()
    ring._check()
    assert ring.assigned == 20_000
    plain = HashRing(nodes, vnodes=5)
    share = np.bincount(plain.lookup_many(keys), minlength=20) / (20_000 * w / W)
    assert share.max() > c or c == 2.0          # the plain ring would have broken the bound


def test_bounded_assign_many_equals_the_model():
    weights = {f"n{i}": 1.0 for i in range(8)}
    ring = HashRing(weights, vnodes=10, load_factor=1.1)
    model = BoundedRingModel(weights, 10, 1.1)
    keys = list(range(400)) + ["a", "b", "c"] + list(range(100))
    got = ring.assign_many(np.array(keys[:400]))
    got2 = ring.assign_many(keys[400:])
    want = [model.assign(k) for k in keys]
    assert [ring.nodes[j] for j in list(got) + list(got2)] == want
    ring.remove("n3")
    model.remove("n3")
    assert ring.loads == [model.loads()[n] for n in ring.nodes]
    assert [ring.lookup(k) for k in keys] == [model.lookup(k) for k in keys]
    ring._check()
    assert ring.copy().assigned == 0 and ring.copy().load_factor == 1.1


# ---------------------------------------------------------------- bad input

def test_bad_input():
    with pytest.raises(ValueError, match="at least one node"):
        HashRing([])
    with pytest.raises(ValueError, match="already"):
        HashRing(["a", "a"])
    with pytest.raises(ValueError, match="already"):
        HashRing(["a"]).add("a")
    with pytest.raises(KeyError, match="'z'"):
        HashRing(["a"]).remove("z")
    with pytest.raises(KeyError):
        HashRing(["a"]).set_weight("z", 1)
    with pytest.raises(ValueError, match=">= 0"):
        HashRing({"a": -1})
    with pytest.raises(ValueError, match=">= 0"):
        HashRing(["a"]).add("b", -0.5)
    with pytest.raises(ValueError, match="'xxh64', 'md5'"):
        HashRing(["a"], hash="sha1")
    with pytest.raises(ValueError, match="compat"):
        HashRing(["a"], compat="libmemcached")
    with pytest.raises(ValueError, match="md5"):
        HashRing(["a"], compat="ketama", hash="xxh64")
    with pytest.raises(ValueError, match="multiple of 4"):
        HashRing(["a"], compat="ketama", vnodes=10)
    with pytest.raises(ValueError, match="vnodes"):
        HashRing(["a"], vnodes=0)
    with pytest.raises(TypeError, match="vnodes"):
        HashRing(["a"], vnodes=1.5)
    for bad in (0.99, 0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="load_factor"):
            HashRing(["a"], load_factor=bad)
    with pytest.raises(TypeError, match="load_factor"):
        HashRing(["a"], load_factor="big")
    with pytest.raises(ValueError, match="compat"):
        HashRing(["a"], load_factor=1.25, compat="ketama")
    with pytest.raises(TypeError, match="bounded"):
        HashRing(["a"]).assign("k")
    with pytest.raises(KeyError, match="not assigned"):
        HashRing(["a"], load_factor=1.5).release("k")
    with pytest.raises(TypeError, match="keys are"):
        HashRing(["a"]).lookup(1.5)
    with pytest.raises(TypeError, match="dtype"):
        HashRing(["a"]).lookup_many(np.zeros(3))
    with pytest.raises(ValueError, match="too many"):
        HashRing({"a": 1e12})
    zero = HashRing({"a": 0})
    with pytest.raises(LookupError):
        zero.lookup("k")
    with pytest.raises(LookupError):
        zero.lookup_many(np.arange(3))
    one = HashRing(["a"])
    one.remove("a")
    with pytest.raises(LookupError):
        one.lookup("k")
    one.add("b")
    assert one.lookup("k") == "b"
    one._check()
