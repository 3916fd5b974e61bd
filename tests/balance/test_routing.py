"""L7 and L4 routing: rule order, sticky sessions, A/B splits, L4 hashing.

Sticky sessions run in a state machine against a model (round robin plus a
cookie jar per client): a request carrying a cookie that names an eligible
server goes there without moving the round robin; otherwise the pool picks and
the response sets the cookie. Splits are checked for stability per client,
proportions, and the direction clients move when weights change.
"""
import math
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from balance_models import RoundRobinModel
from tradeoff.balance._base import NoServerAvailable
from tradeoff.balance._impl import IPHash, LeastConnections, RoundRobin
from tradeoff.balance.routing import (Cookie, Header, L4Router, NoRoute, PathPrefix, Request,
                                      Route, Router, Split, Sticky)

# ---------------------------------------------------------------- rules


def make_router():
    api, admin, canary, beta, web = (RoundRobin([f"{p}{i}" for i in range(2)])
                                     for p in ("api", "admin", "canary", "beta", "web"))
    router = Router([
        Route([PathPrefix("/api"), Header("x-admin")], admin),
        Route(PathPrefix("/api"), api),
        Route(Header("X-Canary", "1"), canary),
        (Cookie("beta", "yes"), beta),
    ], default=web)
    return router, (admin, api, canary, beta, web)


@pytest.mark.parametrize("request_, rule, pool", [
    ({"path": "/api/users", "headers": {"x-admin": ""}}, 0, 0),
    ({"path": "/api/users"}, 1, 1),
    ({"path": "/apix"}, 1, 1),                       # a plain string prefix
    ({"path": "/", "headers": {"x-canary": "1"}}, 2, 2),
    ({"path": "/", "headers": {"x-canary": "0"}}, None, 4),
    ({"path": "/", "cookies": {"beta": "yes"}}, 3, 3),
    ({"path": "/", "headers": {"Cookie": "a=1; beta=yes"}}, 3, 3),
    ({"path": "/", "cookies": {"beta": "no"}}, None, 4),
    ({"path": "/api", "headers": {"x-canary": "1"}}, 1, 1),   # the first match wins
    (Request("/shop"), None, 4),
])
def test_the_first_matching_rule_selects_the_pool(request_, rule, pool):
    router, pools = make_router()
    d = router.route(request_)
    assert d.rule == rule and d.pool is pools[pool]
    assert d.name == pools[pool].names[d.server]
    router.done(d)
    assert pools[pool].active == [0, 0]


def test_requests_as_objects():
    class Req:
        path = "/api/x"
        headers = {}
        client = "10.0.0.9"
    router, pools = make_router()
    assert router.route(Req()).pool is pools[1]


def test_no_default_raises_no_route():
    r = Router([Route(PathPrefix("/api"), RoundRobin(1))])
    with pytest.raises(NoRoute, match="'/x'"):
        r.route({"path": "/x"})


def test_a_pool_with_no_server_up_raises():
    pool = RoundRobin(1)
    r = Router([Route(PathPrefix("/"), pool)], default=RoundRobin(1))
    pool.mark_down(0)
    with pytest.raises(NoServerAvailable):
        r.route({"path": "/"})


# ---------------------------------------------------------------- sticky sessions


class StickyVersusModel(RuleBasedStateMachine):
    """Clients with cookie jars against a sticky round-robin pool."""

    @initialize(n=st.integers(1, 4))
    def setup(self, n):
        self.pool = RoundRobin(n)
        self.router = Router(default=Sticky(self.pool, cookie="srv"))
        self.model = RoundRobinModel(n)
        self.jars = [{} for _ in range(4)]
        self.open = []
        self.n = n

    @rule(c=st.integers(0, 3), forged=st.sampled_from([None, "s0", "s3", "nope"]))
    def request(self, c, forged):
        jar = self.jars[c]
        if forged is not None:
            jar["srv"] = forged
        m = self.model
        want = jar.get("srv")
        names = m.names
        if want in names and m.eligible(names.index(want)):
            s, sticky = names.index(want), True
            m.active[s] += 1
        elif any(m.eligible(i) for i in range(self.n)):
            s, sticky = m.pick(), False
        else:
            with pytest.raises(NoServerAvailable):
                self.router.route({"cookies": jar})
            return
        d = self.router.route({"path": "/", "cookies": dict(jar), "client": f"c{c}"})
        assert (d.server, d.sticky) == (s, sticky)
        assert d.set_cookie == ({} if sticky else {"srv": names[s]})
        jar.update(d.set_cookie)
        self.open.append(d)

    @precondition(lambda self: self.open)
    @rule(k=st.integers(0, 100))
    def finish(self, k):
        d = self.open.pop(k % len(self.open))
        self.router.done(d)
        self.model.done(d.server)

    @rule(k=st.integers(0, 3), up=st.booleans())
    def mark(self, k, up):
        s = k % self.n
        (self.pool.mark_up if up else self.pool.mark_down)(s)
        self.model.set_up(s, up)

    @invariant()
    def same(self):
        self.pool._check()
        assert self.pool.active == self.model.active
        assert self.pool._cursor == self.model.pos


StickyVersusModel.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestStickyVersusModel = StickyVersusModel.TestCase


def test_sticky_moves_off_a_down_server_and_resets_the_cookie():
    pool = LeastConnections(["a", "b", "c"])
    r = Router(default=Sticky(pool, cookie="srv"))
    d = r.route({"path": "/"})
    assert d.set_cookie == {"srv": "a"}
    assert r.route({"cookies": {"srv": "a"}}).sticky
    pool.mark_down("a")
    d2 = r.route({"cookies": {"srv": "a"}})
    assert not d2.sticky and d2.name != "a" and d2.set_cookie == {"srv": d2.name}


# ---------------------------------------------------------------- A/B splits


def split_of(weights, **kw):
    return Split({k: RoundRobin([f"{k}{i}" for i in range(2)]) for k in weights}, weights, **kw)


@settings(max_examples=100, deadline=None)
@given(client=st.text(max_size=20), w=st.integers(1, 99))
def test_a_client_keeps_its_variant(client, w):
    sp = split_of({"a": w, "b": 100 - w})
    r = Router(default=sp)
    first = r.route({"client": client})
    for _ in range(3):
        d = r.route({"client": client, "path": "/other"})
        assert d.variant == first.variant
        assert d.pool is sp.variants[first.variant]


def test_split_proportions_follow_the_weights():
    sp = split_of({"a": 70, "b": 20, "c": 10})
    n = 20000
    counts = Counter(sp.variant(Request(client=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"))
                     for i in range(n))
    for k, w in (("a", 0.7), ("b", 0.2), ("c", 0.1)):
        assert abs(counts[k] / n - w) < 0.015, counts


def test_zero_weight_variant_gets_nobody():
    sp = split_of({"a": 1, "b": 0})
    assert {sp.variant(Request(client=str(i))) for i in range(500)} == {"a"}


def test_raising_a_weight_moves_clients_only_toward_it():
    clients = [Request(client=f"user-{i}") for i in range(5000)]
    sp = split_of({"a": 50, "b": 50})
    before = [sp.variant(c) for c in clients]
    sp.set_weights({"a": 40, "b": 60})
    after = [sp.variant(c) for c in clients]
    moved = [(x, y) for x, y in zip(before, after) if x != y]
    assert moved and set(moved) == {("a", "b")}
    assert abs(len(moved) / len(clients) - 0.10) < 0.02
    order = {"a": 0, "b": 1, "c": 2}
    sp3 = split_of({"a": 30, "b": 30, "c": 40})
    before = [sp3.variant(c) for c in clients]
    sp3.set_weights({"a": 30, "b": 60, "c": 40})
    after = [sp3.variant(c) for c in clients]
    for x, y in zip(before, after):
        if x != y:      # toward b: a moves right, c moves left, b stays
            assert x != "b" and (order[y] - order[x]) * (order["b"] - order[x]) > 0


def test_split_by_cookie_or_header_falls_back_to_the_address():
    sp = split_of({"a": 1, "b": 1}, by="cookie:uid")
    assert sp.key(Request(client="1.2.3.4", cookies={"uid": "u9"})) == "u9"
    assert sp.key(Request(client="1.2.3.4")) == "1.2.3.4"
    sh = split_of({"a": 1, "b": 1}, by="header:X-User")
    assert sh.key(Request(client="1.2.3.4", headers={"x-user": "bob"})) == "bob"
    same = {sp.variant(Request(client=f"10.0.0.{i}", cookies={"uid": "u9"})) for i in range(50)}
    assert len(same) == 1                      # the cookie decides, not the address


def test_salts_split_independently():
    a = split_of({"x": 1, "y": 1}, salt=1)
    b = split_of({"x": 1, "y": 1}, salt=2)
    reqs = [Request(client=str(i)) for i in range(4000)]
    agree = sum(a.variant(r) == b.variant(r) for r in reqs) / len(reqs)
    assert 0.45 < agree < 0.55


def test_split_with_sticky_variants():
    new = RoundRobin(["n0", "n1"])
    sp = Split({"old": RoundRobin(["o0"]), "new": Sticky(new, cookie="s")}, {"old": 0, "new": 1})
    d = Router(default=sp).route({"client": "x"})
    assert (d.variant, d.set_cookie) == ("new", {"s": d.name})


# ---------------------------------------------------------------- L4


def test_l4_keeps_a_connection_on_its_server():
    pool = IPHash(8, vnodes=40)
    l4 = L4Router(pool)
    conns = [(f"198.51.100.{i % 50}", 30000 + i) for i in range(400)]
    first = []
    for c in conns:
        d = l4.route(c)
        first.append(d.server)
        l4.done(d)
    assert len(set(first)) == 8                 # ports spread one address's connections
    assert [l4.route(c).server for c in conns] == first
    for c, s in zip(conns, first):
        pool.done(s)
    pool.mark_down(3)
    after = [l4.route(c).server for c in conns]
    assert all(b == a for a, b in zip(first, after) if a != 3)
    assert 3 not in after
    # the same request as a dict or a Request goes to the same place
    assert l4.route({"client": conns[0][0], "port": conns[0][1], "path": "/ignored"}).server \
        == after[0]


def test_l4_without_port_groups_by_address():
    l4 = L4Router(IPHash(8, vnodes=40), port=False)
    assert len({l4.route(("203.0.113.5", p)).server for p in range(100)}) == 1


# ---------------------------------------------------------------- errors


def test_clear_errors():
    rr = RoundRobin(2)
    with pytest.raises(ValueError, match=r"route 1 \(PathPrefix\('/b'\)\) has no pool"):
        Router([Route(PathPrefix("/a"), rr), Route(PathPrefix("/b"), None)])
    with pytest.raises(TypeError, match="route 0.*not str"):
        Router([Route(PathPrefix("/a"), "pool")])
    with pytest.raises(TypeError, match="the default"):
        Router(default=[rr])
    with pytest.raises(ValueError, match="at least one route"):
        Router([])
    with pytest.raises(TypeError, match="route 0 is a Route"):
        Router([PathPrefix("/a")])
    with pytest.raises(ValueError, match="starting with '/'"):
        PathPrefix("api")
    with pytest.raises(ValueError, match="header name"):
        Header("")
    with pytest.raises(TypeError, match="cookie value"):
        Cookie("a", 1)
    with pytest.raises(TypeError, match="PathPrefix, Header or Cookie"):
        Route("/api", rr)
    with pytest.raises(ValueError, match="variant 'b' has no pool"):
        Split({"a": rr, "b": None})
    with pytest.raises(ValueError, match="finite and >= 0"):
        Split({"a": rr, "b": rr}, {"a": 1, "b": -1})
    with pytest.raises(ValueError, match="finite and >= 0"):
        Split({"a": rr, "b": rr}, {"a": 1, "b": math.nan})
    with pytest.raises(ValueError, match="not all be 0"):
        Split({"a": rr, "b": rr}, {"a": 0, "b": 0})
    with pytest.raises(ValueError, match="variants are"):
        Split({"a": rr, "b": rr}, {"a": 1, "c": 1})
    with pytest.raises(TypeError, match="must be a number"):
        Split({"a": rr}, {"a": "x"})
    with pytest.raises(ValueError, match="by is"):
        Split({"a": rr}, by="cookie:")
    with pytest.raises(TypeError, match="Split"):
        Split({"a": Split({"b": rr})})
    with pytest.raises(ValueError, match="sticky cookie"):
        Sticky(rr, cookie="a b")
    with pytest.raises(TypeError, match="IPHash"):
        L4Router(rr)
    with pytest.raises(ValueError, match="client address"):
        L4Router(IPHash(2)).route({"port": 80})
    with pytest.raises(ValueError, match="unknown request fields"):
        Router(default=rr).route({"pth": "/"})
    with pytest.raises(ValueError, match="port"):
        Request(port=70000)
