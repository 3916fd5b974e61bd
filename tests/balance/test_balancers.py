"""The balancing policies against the pure-Python models in balance_models.

A hypothesis state machine interleaves pick / done / mark_down / mark_up /
eject / uneject / set_weight on a balancer and its model and requires the same
server from every pick (the random policies too: the model repeats the
generator's draws), the same open connections, eligibility and policy state,
and a passing ``_check()`` after every step. Examples pin the documented
semantics (nginx's a a b a c a a, skipping down servers, tie rules, ring
consistency) and the distributions of the random policies.
"""
import math
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from balance_models import MODELS, IPHashModel, client_word, mix64
from tradeoff.balance._base import Balancer, NoServerAvailable
from tradeoff.balance._impl import (IPHash, LeastConnections, LeastResponseTime,
                                    PowerOfTwoChoices, Random, RoundRobin,
                                    WeightedRoundRobin, _bench_pick_done)

CLASSES = {c.__name__: c for c in (RoundRobin, WeightedRoundRobin, LeastConnections, IPHash,
                                   Random, PowerOfTwoChoices, LeastResponseTime)}
WEIGHTS = st.sampled_from([0.0, 1.0, 1.0, 2.0, 3.0, 0.5, 2.5, 5.0])
CLIENTS = st.one_of(st.none(), st.integers(0, 40), st.integers(-(2**63), 2**64 - 1),
                    st.sampled_from(["10.0.0.1", "10.0.0.2", "alice", "bob", "", "é"]))
DURATIONS = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5, 3.0, 10.0]))


def params_for(name, draw_int, draw_choice):
    if name == "IPHash":
        return {"vnodes": draw_int}
    if name == "PowerOfTwoChoices":
        return {"choices": draw_int}
    if name == "LeastResponseTime":
        return {"alpha": draw_choice}
    return {}


def policy_state(b):
    name = type(b).__name__
    if name in ("RoundRobin", "LeastConnections"):
        return b._cursor
    if name == "WeightedRoundRobin":
        return b.current
    if name == "LeastResponseTime":
        return (b._cursor, b.average)
    return None


# ---------------------------------------------------------------- state machine


class BalancerVersusModel(RuleBasedStateMachine):
    """One policy (``name``, set by each subclass below) against its model."""
    name = None

    @initialize(n=st.integers(1, 6), weights=st.lists(WEIGHTS, min_size=6, max_size=6),
                seed=st.integers(0, 2**64 - 1), k=st.integers(1, 5),
                alpha=st.sampled_from([0.3, 0.5, 1.0]))
    def setup(self, n, weights, seed, k, alpha):
        name = self.name
        params = params_for(name, k, alpha)
        ws = weights[:n]
        self.b = CLASSES[name](n, ws, seed=seed, **params)
        self.m = MODELS[name](n, ws, seed=seed, **params)
        self.open = []

    @rule(client=CLIENTS)
    def pick(self, client):
        want = self.m.pick(client)
        if want is None:
            with pytest.raises(NoServerAvailable):
                self.b.pick(client)
        else:
            assert self.b.pick(client) == want
            self.open.append(want)

    @precondition(lambda self: self.open)
    @rule(k=st.integers(0, 10**6), duration=DURATIONS)
    def done(self, k, duration):
        s = self.open.pop(k % len(self.open))
        self.b.done(s, duration)
        self.m.done(s, duration)

    @rule(k=st.integers(0, 5), up=st.booleans())
    def mark(self, k, up):
        s = k % self.m.n
        (self.b.mark_up if up else self.b.mark_down)(s)
        self.m.set_up(s, up)

    @rule(k=st.integers(0, 5), ejected=st.booleans())
    def eject(self, k, ejected):
        s = k % self.m.n
        (self.b.eject if ejected else self.b.uneject)(s)
        self.m.set_ejected(s, ejected)

    @rule(k=st.integers(0, 5), w=WEIGHTS)
    def set_weight(self, k, w):
        s = k % self.m.n
        self.b.set_weight(s, w)
        self.m.set_weight(s, w)

    @invariant()
    def same_state(self):
        self.b._check()
        assert self.b.active == self.m.active
        assert self.b.up == [self.m.eligible(i) for i in range(self.m.n)]
        assert self.b.weights == self.m.weight
        assert self.b.usable == self.m.usable_list()
        assert policy_state(self.b) == self.m.state()


def _machine_for(name):
    machine = type(f"{name}VersusModel", (BalancerVersusModel,), {"name": name})
    machine.TestCase.settings = settings(
        max_examples=100, stateful_step_count=50, deadline=None,
        suppress_health_check=[HealthCheck.too_slow])
    return machine.TestCase


for _name in CLASSES:
    globals()[f"Test{_name}VersusModel"] = _machine_for(_name)
del _name


# ---------------------------------------------------------------- round robin


def test_round_robin_skips_a_down_server_and_takes_it_back():
    rr = RoundRobin(4)
    assert [rr.pick() for _ in range(2)] == [0, 1]
    rr.mark_down(2)
    assert [rr.pick() for _ in range(3)] == [3, 0, 1]   # after 1 comes 3: 2 is skipped
    rr.mark_up(2)
    assert [rr.pick() for _ in range(4)] == [2, 3, 0, 1]
    rr.eject(0)
    assert [rr.pick() for _ in range(3)] == [2, 3, 1]
    rr._check()


def test_round_robin_ignores_weight_sizes_but_not_zero():
    rr = RoundRobin(3, [5, 1, 0])
    assert [rr.pick() for _ in range(4)] == [0, 1, 0, 1]


# ---------------------------------------------------------------- smooth WRR


def test_smooth_weighted_round_robin_matches_nginx():
    w = WeightedRoundRobin(["a", "b", "c"], [5, 1, 1])
    seq = "".join(w.names[w.pick()] for _ in range(14))
    assert seq == "aabacaa" * 2
    assert w.current == [0.0, 0.0, 0.0]        # back to the start after one cycle


def test_smooth_wrr_spreads_by_weight_and_never_picks_zero():
    w = WeightedRoundRobin(4, [3, 0, 2, 1])
    counts = Counter(w.pick() for _ in range(600))
    assert counts == {0: 300, 2: 200, 3: 100}


def test_smooth_wrr_weight_change_at_run_time():
    w = WeightedRoundRobin(["a", "b"], [1, 1])
    assert [w.pick() for _ in range(4)] == [0, 1, 0, 1]
    w.set_weight("b", 3)
    counts = Counter(w.pick() for _ in range(400))
    assert counts == {0: 100, 1: 300}
    w.set_weight(0, 0)
    assert {w.pick() for _ in range(10)} == {1}
    w._check()


def test_all_zero_weights_fall_back_to_equal_turns():
    for cls in CLASSES.values():
        b = cls(3, [0, 0, 0], seed=3)
        seen = {b.pick(i) for i in range(60)}
        assert seen == {0, 1, 2} or cls is IPHash and seen <= {0, 1, 2}
        b._check()


# ---------------------------------------------------------------- least connections


def test_least_connections_ties_go_round_robin():
    lc = LeastConnections(3)
    assert [lc.pick() for _ in range(6)] == [0, 1, 2, 0, 1, 2]
    lc.done(1)
    lc.done(1)
    assert lc.pick() == 1                      # the only one with fewest
    lc.done(0)
    lc.done(2)
    # 0 and 2 tie with one open connection each; the last pick was 1: 2 comes first
    assert lc.pick() == 2
    assert lc.pick() == 0


def test_least_connections_weighted_is_active_over_weight():
    lc = LeastConnections(["a", "b"], [1, 3])
    for _ in range(8):
        lc.pick()
    assert lc.active == [2, 6]                 # 2/1 == 6/3
    lc._check()


# ---------------------------------------------------------------- IP hash


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 8), vnodes=st.integers(1, 40), down=st.data())
def test_ip_hash_moves_only_the_clients_of_a_down_server(n, vnodes, down):
    h = IPHash(n, vnodes=vnodes)
    clients = [f"10.0.{i // 256}.{i % 256}" for i in range(300)]
    before = [h.pick(c) for c in clients]
    for s in before:
        h.done(s)
    gone = down.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n - 1, unique=True))
    for s in gone:
        h.mark_down(s)
    model = IPHashModel(n, vnodes=vnodes)
    for s in gone:
        model.set_up(s, False)
    ring = model.ring()
    after = [h.pick(c) for c in clients]
    for c, b, a in zip(clients, before, after):
        if b not in gone:
            assert a == b                      # everyone else stays put
        else:
            # the next eligible point clockwise from the client's place
            p = mix64(client_word(c))
            k = next((i for i, (q, _) in enumerate(ring) if q >= p), 0)
            while ring[k % len(ring)][1] in gone:
                k += 1
            assert a == ring[k % len(ring)][1]
    for s in after:
        h.done(s)
    for s in gone:
        h.mark_up(s)
    assert [h.pick(c) for c in clients] == before
    h._check()


def test_ip_hash_spreads_clients_and_weights_scale_points():
    h = IPHash(["a", "b", "c", "d"], [1, 1, 2, 0], vnodes=100)
    counts = Counter(h.pick(i) for i in range(20000))
    assert 3 not in counts
    assert 0.15 < counts[0] / 20000 < 0.35 and 0.35 < counts[2] / 20000 < 0.65
    assert Counter(s for _, s in h.points) == {0: 50, 1: 50, 2: 100}


# ---------------------------------------------------------------- random policies


def test_random_counts_follow_the_weights():
    r = Random(4, [1, 2, 3, 0], seed=42)
    n = 60000
    counts = Counter(r.pick() for _ in range(n))
    assert 3 not in counts
    chi2 = sum((counts[i] - n * w / 6) ** 2 / (n * w / 6) for i, w in enumerate([1, 2, 3]))
    assert chi2 < 20                            # 2 degrees of freedom: p < 5e-5
    u = Random(5, seed=1)
    counts = Counter(u.pick() for _ in range(50000))
    assert all(abs(counts[i] - 10000) < 600 for i in range(5))


def test_random_never_picks_an_ineligible_server():
    r = Random(6, seed=9)
    for s in (1, 4):
        r.mark_down(s)
    r.eject(5)
    assert {r.pick() for _ in range(500)} == {0, 2, 3}


def test_power_of_one_choice_is_random():
    a, b = Random(7, seed=5), PowerOfTwoChoices(7, choices=1, seed=5)
    assert [a.pick() for _ in range(300)] == [b.pick() for _ in range(300)]


def test_power_of_two_choices_lowers_the_maximum_load():
    """Balls into bins without departures: with n = 1000 the maximum load of
    random placement is about ln n / ln ln n (here 6 or so), of two choices
    about ln ln n / ln 2 (3 or so)."""
    n = 1000
    r, p = Random(n, seed=11), PowerOfTwoChoices(n, seed=11)
    for _ in range(n):
        r.pick()
        p.pick()
    assert max(p.active) <= 4 < max(r.active)


def test_power_of_d_choices_with_d_at_least_n_is_least_loaded():
    p = PowerOfTwoChoices(4, choices=9, seed=2)
    for _ in range(200):
        s = p.pick()
        assert p.active[s] - 1 == min(p.active[i] for i in range(4) if i != s) or \
            p.active[s] - 1 <= min(p.active)
    assert max(p.active) - min(p.active) <= 1


# ---------------------------------------------------------------- least response time


def test_least_response_time_prefers_the_fast_server():
    lt = LeastResponseTime(["fast", "slow"], alpha=0.5)
    speed = {0: 0.1, 1: 1.0}
    for s in (lt.pick(), lt.pick()):
        lt.done(s, speed[s])
    counts = Counter()
    for _ in range(200):
        s = lt.pick()
        counts[s] += 1
        lt.done(s, speed[s])
    assert counts[0] > 190
    assert lt.average == [pytest.approx(0.1), pytest.approx(1.0)]


def test_least_response_time_scores_active_connections():
    lt = LeastResponseTime(2)
    for s in (lt.pick(), lt.pick()):
        lt.done(s, 1.0 if s == 0 else 3.0)
    # scores (active + 1) * ewma: 0 scores 1, 2, 3 with 0, 1, 2 open, 1 scores 3;
    # at 3 against 3 the fewer open connections win: server 1
    assert [lt.pick() for _ in range(3)] == [0, 0, 1]


def test_a_new_server_is_scored_with_the_mean():
    lt = LeastResponseTime(3)
    for s, d in ((0, 2.0), (1, 4.0)):
        lt.acquire(s)
        lt.done(s, d)
    # server 2 has no sample: scored at the mean 3.0, between 0 (2.0) and 1 (4.0)
    assert lt.pick() == 0
    assert lt.pick() == 2                       # 0 now scores 2 * 2.0 = 4.0 > 3.0


# ---------------------------------------------------------------- shared behaviour


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_policy_raises_when_all_are_down(name):
    b = CLASSES[name](3, seed=1)
    for s in range(3):
        b.mark_down(s)
    with pytest.raises(NoServerAvailable):
        b.pick("x")
    b.mark_up(1)
    assert b.pick("x") == 1
    b.eject(1)
    with pytest.raises(NoServerAvailable):
        b.pick()
    b._check()


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_the_c_loop_runs_every_policy(name):
    b = CLASSES[name](10, seed=1)
    assert _bench_pick_done(b, 2000, inflight=4) > 0
    assert b.active == [0] * 10
    b._check()
    for s in range(10):
        b.mark_down(s)
    with pytest.raises(NoServerAvailable):
        _bench_pick_done(b, 10)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="vnodes"):
        IPHash(3, vnodes=0)
    with pytest.raises(ValueError, match="choices"):
        PowerOfTwoChoices(3, choices=0)
    with pytest.raises(ValueError, match="alpha"):
        LeastResponseTime(3, alpha=0)
    with pytest.raises(ValueError, match="alpha"):
        LeastResponseTime(3, alpha=float("nan"))
    with pytest.raises(ValueError, match=">= 0"):
        RoundRobin(2, [1, -1])
    with pytest.raises(ValueError, match="finite"):
        RoundRobin(2, [1, math.inf])
    with pytest.raises(ValueError, match="2 servers but 3 weights"):
        RoundRobin(2, [1, 1, 1])
    with pytest.raises(ValueError, match="at least one server"):
        Random(0)
    with pytest.raises(ValueError, match="distinct"):
        Random(["a", "a"])
    b = RoundRobin(["a", "b"])
    with pytest.raises(IndexError):
        b.mark_down(2)
    with pytest.raises(KeyError, match="'z'"):
        b.set_weight("z", 1)
    with pytest.raises(ValueError, match="no open connection"):
        b.done("a")
    with pytest.raises(ValueError, match="duration"):
        b.done(b.pick(), -1)
    with pytest.raises(TypeError, match="client"):
        b.pick(1.5)
    with pytest.raises(RuntimeError, match="already initialized"):
        b.__init__(2)
    b._check()


def test_acquire_counts_without_moving_the_policy():
    rr = RoundRobin(3)
    assert rr.acquire("s2") == 2 and rr.active == [0, 0, 1]
    assert rr.pick() == 0                       # the cursor did not move
    rr.mark_down(1)
    with pytest.raises(NoServerAvailable):
        rr.acquire(1)


def test_the_simulator_contract_is_a_balancer():
    for cls in CLASSES.values():
        assert issubclass(cls, Balancer)
