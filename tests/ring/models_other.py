"""Pure-Python models of jump hash, rendezvous, Maglev and multi-probe hashing.

Each model is written from the paper and from the documented choices of the
Cython class (hash seeds, tie-breaks, weights), the obvious way: lists,
``bisect``, Python integers masked to 64 bits, ``xxhash`` for XXH64. The tests
drive a model and the real class side by side. ``multiprobe_shares`` computes
the exact share of every node of a multi-probe ring (no sampling noise).
"""
import bisect
import math

import xxhash
from pymodels import mix64

MASK = (1 << 64) - 1




def xxh64(data, seed=0):
    return xxhash.xxh64_intdigest(data, seed)


def key_word(key):
    """A key's 64-bit word: XXH64 (seed 0) of a str's UTF-8 or of bytes; an
    int's two's complement bits."""
    if isinstance(key, str):
        return xxh64(key.encode("utf-8"))
    if isinstance(key, bytes):
        return xxh64(key)
    key = int(key)
    if not -(1 << 63) <= key < (1 << 64):
        raise OverflowError(key)
    return key & MASK


def jump_reference(key, n):
    """Lamping and Veach (2014), Figure 1, transcribed: a 64-bit LCG step per
    jump, the next jump computed in double precision and truncated."""
    key &= MASK
    b, j = -1, 0
    while j < n:
        b = j
        key = (key * 2862933555777941757 + 1) & MASK
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


class _Nodes:
    """Names and weights in index order; removal shifts later indexes down."""

    def __init__(self, nodes):
        if hasattr(nodes, "items"):
            pairs = [(n, float(w)) for n, w in nodes.items()]
        else:
            pairs = [(n, 1.0) for n in nodes]
        self.names = [n for n, _ in pairs]
        self.weights = [w for _, w in pairs]

    def add(self, name, weight=1.0):
        assert name not in self.names
        self.names.append(name)
        self.weights.append(float(weight))

    def remove(self, name):
        i = self.names.index(name)
        del self.names[i], self.weights[i]
        return i

    def lookup(self, key):
        """The node name of a key, or None when there is no node."""
        if not self.names:
            return None
        return self.names[self.index(key_word_for(self, key))]


def key_word_for(model, key):
    w = key_word(key)
    if isinstance(key, (str, bytes)):
        return w
    return model.int_word(w)


class JumpModel(_Nodes):
    """Jump hash over buckets; ``order[b]`` is the node index of bucket b.
    A new node gets a new last bucket. Removing the node of bucket b: the node
    of the last bucket takes bucket b, the last bucket goes."""

    def __init__(self, nodes):
        super().__init__(nodes)
        self.order = list(range(len(self.names)))

    def int_word(self, w):
        return w

    def add(self, name, weight=1.0):
        super().add(name, weight)
        self.order.append(len(self.names) - 1)

    def remove(self, name):
        i = self.names.index(name)
        b = self.order.index(i)
        last = self.order.pop()
        if b < len(self.order):
            self.order[b] = last
        self.order = [x - 1 if x > i else x for x in self.order]
        super().remove(name)

    def index(self, word):
        return self.order[jump_reference(word, len(self.names))]

    def buckets(self):
        return [self.names[i] for i in self.order]


RENDEZVOUS_SEED = 0x72656E64657A766F


class RendezvousModel(_Nodes):
    """Highest random weight: score mix64(word ^ xxh64(name, seed)); equal
    weights compare the integers, else -w / ln(u) with u = (top 52 bits + 0.5)
    / 2**52, weight-0 nodes out. Ties: the lower index (first maximum)."""

    def int_word(self, w):
        return w

    def index(self, word):
        seeds = [xxh64(n.encode("utf-8"), RENDEZVOUS_SEED) for n in self.names]
        raw = [mix64(word ^ s) for s in seeds]
        if len(set(self.weights)) <= 1:
            return raw.index(max(raw))
        best, best_sc = -1, -1.0
        for i, (s, w) in enumerate(zip(raw, self.weights)):
            if w > 0:
                sc = -w / math.log(((s >> 12) + 0.5) / 2.0**52)
                if sc > best_sc:
                    best, best_sc = i, sc
        return best


MAGLEV_OFFSET_SEED = 0x6D61676C65763031
MAGLEV_SKIP_SEED = 0x6D61676C65763032


def maglev_populate(offsets, skips, m, shares=None):
    """Section 3.4's populate loop with explicit preference lists: each round,
    node i (in index order) adds its share to its credit and, when the credit
    reaches 1, pays 1 and claims its next free preferred slot."""
    n = len(offsets)
    table = [-1] * m
    if n == 0:
        return table
    shares = [1.0] * n if shares is None else shares
    nxt = [0] * n
    credit = [0.0] * n
    filled = 0
    while True:
        for i in range(n):
            credit[i] += shares[i]
            if credit[i] < 1.0:
                continue
            credit[i] -= 1.0
            c = (offsets[i] + nxt[i] * skips[i]) % m
            while table[c] >= 0:
                nxt[i] += 1
                c = (offsets[i] + nxt[i] * skips[i]) % m
            table[c] = i
            nxt[i] += 1
            filled += 1
            if filled == m:
                return table


class MaglevModel(_Nodes):
    def __init__(self, nodes, table_size):
        super().__init__(nodes)
        self.m = table_size

    def int_word(self, w):
        return mix64(w)

    def table(self):
        names = [n.encode("utf-8") for n in self.names]
        offsets = [xxh64(b, MAGLEV_OFFSET_SEED) % self.m for b in names]
        skips = [xxh64(b, MAGLEV_SKIP_SEED) % (self.m - 1) + 1 for b in names]
        top = max(self.weights) if self.weights else 0.0
        shares = [w / top for w in self.weights] if top > 0 else None
        return maglev_populate(offsets, skips, self.m, shares)

    def index(self, word):
        state = (tuple(self.names), tuple(self.weights))
        if getattr(self, "_cached", (None,))[0] != state:
            self._cached = (state, self.table())
        return self._cached[1][word % self.m]


MULTIPROBE_NODE_SEED = 0x6D756C7469707262
MULTIPROBE_PROBE_BASE = 0x6D756C7469707273


class MultiProbeModel(_Nodes):
    """One point per node (XXH64 of its name); probe j of a key is
    mix64(word ^ mix64(base + j)); each probe's clockwise distance to the first
    point at or after it; the smallest distance wins, the earlier probe on a
    tie; coinciding points go to the lower node index."""

    def __init__(self, nodes, probes=21):
        super().__init__(nodes)
        self.k = probes

    def int_word(self, w):
        return w

    def ring(self):
        return sorted((xxh64(n.encode("utf-8"), MULTIPROBE_NODE_SEED), i) for i, n in enumerate(self.names))

    def index(self, word):
        ring = self.ring()
        points = [p for p, _ in ring]
        best = None
        for j in range(self.k):
            p = mix64(word ^ mix64(MULTIPROBE_PROBE_BASE + j))
            at = bisect.bisect_left(points, p)
            if at == len(points):
                at = 0
            d = (points[at] - p) & MASK
            if best is None or d < best[0]:
                best = (d, ring[at][1])
        return best[1]


def multiprobe_shares(arcs, k):
    """The exact fraction of uniformly random keys each node gets, given the
    arc before each node's point (fractions of the ring summing to 1) and k
    probes: node i wins when the nearest probe-to-successor distance falls in
    its arc, so share_i = k * integral over d in [0, arc_i] of S(d)**(k - 1),
    with S(d) = sum_j max(arc_j - d, 0) (the chance one probe's distance
    exceeds d). S is piecewise linear, so the integral is exact piecewise."""
    n = len(arcs)
    order = sorted(range(n), key=lambda i: arcs[i])
    srt = [arcs[i] for i in order]
    total = sum(srt)
    out = [0.0] * n
    acc, below, x0 = 0.0, 0.0, 0.0
    for t, x1 in enumerate(srt):
        m = n - t                       # arcs still longer than x0
        s0 = total - below - m * x0
        s1 = s0 - m * (x1 - x0)
        acc += (s0**k - s1**k) / m
        out[order[t]] = acc
        below += x1
        x0 = x1
    return out
