"""Pure-Python models of the balancing policies, written from their definitions.

Each model keeps plain lists and recomputes everything the obvious way on each
call. The random policies repeat the balancer's generator bit for bit
(xoshiro256** seeded through splitmix64, Lemire's bounded draw), so a model and
a balancer with the same seed pick the same servers, and a state machine can
compare them exactly. ``HealthModel`` and ``DetectorModel`` model the active
health check (rise/fall) and the passive outlier detector.
"""
import math

import xxhash
from pymodels import Rng, mix64

M64 = (1 << 64) - 1


# ---------------------------------------------------------------- hashing, rng


def client_word(client):
    if client is None:
        return 0
    if isinstance(client, str):
        return xxhash.xxh64_intdigest(client.encode(), 0)
    if isinstance(client, bytes):
        return xxhash.xxh64_intdigest(client, 0)
    return client & M64


# ---------------------------------------------------------------- balancers


class PolicyModel:
    """What every policy shares: eligibility, weights, open connections, and
    the usable set (eligible; weight > 0 unless every eligible weight is 0,
    when all eligible servers count with weight 1)."""

    def __init__(self, n, weights=None, seed=0, names=None):
        self.n = n
        self.names = names or [f"s{i}" for i in range(n)]
        self.weight = [float(w) for w in weights] if weights is not None else [1.0] * n
        self.up = [True] * n
        self.ejected = [False] * n
        self.active = [0] * n
        self.rng = Rng(seed)

    def eligible(self, i):
        return self.up[i] and not self.ejected[i]

    @property
    def n_live(self):
        return sum(1 for i in range(self.n) if self.eligible(i) and self.weight[i] > 0)

    def usable(self, i):
        return self.eligible(i) and (self.weight[i] > 0 or self.n_live == 0)

    def usable_list(self):
        return [i for i in range(self.n) if self.usable(i)]

    def w(self, i):
        return self.weight[i] if self.n_live > 0 else 1.0

    def lighter(self, i, j):
        return float(self.active[i]) * self.w(j) < float(self.active[j]) * self.w(i)

    # the operations; pick returns None when no server is eligible
    def pick(self, client=None):
        if not any(self.eligible(i) for i in range(self.n)):
            return None
        s = self.choose(client_word(client))
        assert s is not None
        self.active[s] += 1
        return s

    def done(self, s, duration=None):
        assert self.active[s] > 0
        self.active[s] -= 1
        self.on_done(s, -1.0 if duration is None else float(duration))

    def set_up(self, s, up):
        self.up[s] = up
        self.on_change()

    def set_ejected(self, s, ejected):
        self.ejected[s] = ejected
        self.on_change()

    def set_weight(self, s, w):
        self.weight[s] = float(w)
        self.on_change()

    def on_done(self, s, duration):
        pass

    def on_change(self):
        pass

    def state(self):
        return None


class RoundRobinModel(PolicyModel):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.pos = 0

    def choose(self, word):
        for k in range(self.n):
            i = (self.pos + k) % self.n
            if self.usable(i):
                self.pos = (i + 1) % self.n
                return i

    def state(self):
        return self.pos


class WeightedRoundRobinModel(PolicyModel):
    """nginx's smooth weighted round robin over the usable servers."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.current = [0.0] * self.n

    def choose(self, word):
        best, total = None, 0.0
        for i in self.usable_list():
            self.current[i] += self.w(i)
            total += self.w(i)
            if best is None or self.current[i] > self.current[best]:
                best = i
        self.current[best] -= total
        return best

    def state(self):
        return list(self.current)


class LeastConnectionsModel(PolicyModel):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.pos = 0

    def choose(self, word):
        # the smallest active / weight; among equals the first after the last pick
        order = [(self.pos + k) % self.n for k in range(self.n)]
        cands = [i for i in order if self.usable(i)]
        best = cands[0]
        for i in cands[1:]:
            if self.lighter(i, best):
                best = i
        self.pos = (best + 1) % self.n
        return best

    def state(self):
        return self.pos


class IPHashModel(PolicyModel):
    """A sorted list of (position, server) points; a client goes to the first
    point at or after mix64(word) whose server is eligible."""

    def __init__(self, *a, vnodes=160, **k):
        super().__init__(*a, **k)
        self.vnodes = vnodes
        self.name_hash = [xxhash.xxh64_intdigest(s.encode(), 0) for s in self.names]

    def want(self, i):
        wmax = max(self.weight)
        w = self.weight[i]
        if w <= 0 or wmax <= 0:
            return 0
        return min(self.vnodes, max(1, int(self.vnodes * w / wmax + 0.5)))

    def ring(self):
        return sorted((xxhash.xxh64_intdigest(j.to_bytes(8, "little"), self.name_hash[i]), i)
                      for i in range(self.n) for j in range(self.want(i)))

    def choose(self, word):
        h = mix64(word)
        ring = self.ring()
        start = next((k for k, (p, _) in enumerate(ring) if p >= h), 0)
        for k in range(len(ring)):
            s = ring[(start + k) % len(ring)][1]
            if self.usable(s):
                return s
        i = h % self.n
        for k in range(self.n):
            if self.usable((i + k) % self.n):
                return (i + k) % self.n


class RandomModel(PolicyModel):
    def choose(self, word):
        us = self.usable_list()
        ws = [self.w(i) for i in us]
        if len(set(ws)) <= 1:
            return us[self.rng.below(len(us))]
        cum, c = [], 0.0
        for w in ws:
            c += w
            cum.append(c)
        u = self.rng.uniform() * cum[-1]
        for k, c in enumerate(cum):
            if c > u:
                return us[k]
        return us[-1]


class PowerOfTwoChoicesModel(PolicyModel):
    def __init__(self, *a, choices=2, **k):
        super().__init__(*a, **k)
        self.choices = choices

    def choose(self, word):
        idx = self.usable_list()
        m = len(idx)
        best = None
        for k in range(min(self.choices, m)):
            j = k + self.rng.below(m - k)
            idx[k], idx[j] = idx[j], idx[k]
            c = idx[k]
            if best is None or self.lighter(c, best):
                best = c
        return best


class LeastResponseTimeModel(PolicyModel):
    def __init__(self, *a, alpha=0.3, **k):
        super().__init__(*a, **k)
        self.alpha = alpha
        self.ewma = [None] * self.n
        self.pos = 0

    def on_done(self, s, duration):
        if duration < 0:
            return
        if self.ewma[s] is None:
            self.ewma[s] = duration
        else:
            self.ewma[s] = self.alpha * duration + (1.0 - self.alpha) * self.ewma[s]

    def choose(self, word):
        known = [e for e in self.ewma if e is not None]
        mean = 0.0
        if 0 < len(known) < self.n:
            for e in known:
                mean += e
            mean /= len(known)
        best = None
        for k in range(self.n):
            i = (self.pos + k) % self.n
            if not self.usable(i):
                continue
            e = self.ewma[i] if self.ewma[i] is not None else mean
            sc, wi = (self.active[i] + 1) * e, self.w(i)
            if best is None:
                best, sb, wb = i, sc, wi
                continue
            if sc * wb < sb * wi or (sc * wb == sb * wi and self.lighter(i, best)):
                best, sb, wb = i, sc, wi
        self.pos = (best + 1) % self.n
        return best

    def state(self):
        return (self.pos, list(self.ewma))


MODELS = {
    "RoundRobin": RoundRobinModel,
    "WeightedRoundRobin": WeightedRoundRobinModel,
    "LeastConnections": LeastConnectionsModel,
    "IPHash": IPHashModel,
    "Random": RandomModel,
    "PowerOfTwoChoices": PowerOfTwoChoicesModel,
    "LeastResponseTime": LeastResponseTimeModel,
}


# ---------------------------------------------------------------- health


class HealthModel:
    """HAProxy's rise/fall as runs of consecutive results: a healthy server
    turns unhealthy after ``fall`` failures in a row, an unhealthy one healthy
    after ``rise`` successes in a row. Returns +1 / -1 / 0 per probe."""

    def __init__(self, n, rise, fall):
        self.rise, self.fall = rise, fall
        self.healthy = [True] * n
        self.history = [[] for _ in range(n)]

    def observe(self, s, ok):
        self.history[s].append(ok)
        need = self.rise if not self.healthy[s] else self.fall
        want = (not self.healthy[s])          # the result that would flip it
        tail = self.history[s][-need:]
        # the run must start after the last flip: cut history at each flip
        if len(tail) == need and all(r == want for r in tail):
            self.healthy[s] = want
            self.history[s] = []
            return 1 if want else -1
        return 0


class DetectorModel:
    """Envoy-style consecutive-error ejection with a cap on the ejected share."""

    def __init__(self, n, k, base, pct):
        self.n, self.k, self.base, self.pct = n, k, base, pct
        self.run = [0] * n
        self.times = [0] * n
        self.until = [None] * n

    @property
    def n_ejected(self):
        return sum(u is not None for u in self.until)

    def allowed(self):
        e = self.n_ejected
        return (e + 1) * 100.0 <= self.pct * self.n or (e == 0 and self.pct > 0)

    def record(self, s, ok, now):
        if self.until[s] is not None:
            return False
        if ok:
            self.run[s] = 0
            return False
        self.run[s] = min(self.run[s] + 1, self.k)
        if self.run[s] < self.k or not self.allowed():
            return False
        self.times[s] += 1
        self.until[s] = now + self.base * self.times[s]
        self.run[s] = 0
        return True

    def next_release(self):
        due = [u for u in self.until if u is not None]
        return min(due) if due else math.inf

    def release_due(self, now):
        out = [i for i in range(self.n) if self.until[i] is not None and self.until[i] <= now]
        for i in out:
            self.until[i] = None
        return out
