"""Pure-Python reference models of the partitioners in tradeoff.ring, written from
the papers and from libketama's source, for the model-based tests.

Each model recomputes everything the obvious way (sorted lists, bisect,
hashlib.md5, the xxhash package), so that it is easy to believe. Exported for the
other ring tests: ``MASK64``, ``mix64``, ``key_word`` (the base class's key ->
64-bit word) and the models.
"""
import hashlib
import math
import struct
from bisect import bisect_left
from fractions import Fraction

import xxhash
from pymodels import mix64

__all__ = ["MASK64", "mix64", "key_word", "ring_key_word", "ModNModel", "RangeModel",
           "RingModel", "KetamaModel", "BoundedRingModel", "ketama_hash"]

MASK64 = (1 << 64) - 1




def key_word(key):
    """The Partitioner base class's word of a key: XXH64 (seed 0) of a str's UTF-8
    or of bytes; an integer's 64-bit two's complement."""
    if isinstance(key, str):
        return xxhash.xxh64_intdigest(key.encode("utf-8"), 0)
    if isinstance(key, bytes):
        return xxhash.xxh64_intdigest(key, 0)
    return int(key) & MASK64


def _md5_u64(data):
    return int.from_bytes(hashlib.md5(data).digest()[:8], "little")


def ring_key_word(key, hash="xxh64"):
    """HashRing's word of a key (compat=None): integers mixed, strings hashed."""
    if isinstance(key, (str, bytes)):
        data = key.encode("utf-8") if isinstance(key, str) else key
        return xxhash.xxh64_intdigest(data, 0) if hash == "xxh64" else _md5_u64(data)
    return mix64(int(key))


def _to_signed(w):
    return w - (1 << 64) if w >> 63 else w


class ModNModel:
    """word % n over the nodes in order (weights ignored)."""

    def __init__(self, nodes):
        self.nodes = list(nodes)

    def lookup(self, key):
        return self.nodes[key_word(key) % len(self.nodes)]


class RangeModel:
    """Ranges in key order: ``ranges`` is a list of [node, lo] with lo increasing;
    a range ends where the next begins (the last at 2**63)."""

    LO, END = -(1 << 63), 1 << 63

    def __init__(self, nodes, boundaries):
        self.ranges = [[nodes[0], self.LO]] + [[n, b] for n, b in zip(nodes[1:], boundaries)]

    def lookup(self, key):
        k = _to_signed(key_word(key))
        los = [lo for _, lo in self.ranges]
        return self.ranges[bisect_left(los, k + 1) - 1][0]

    def add(self, node, boundary=None):
        edges = [lo for _, lo in self.ranges] + [self.END]
        if boundary is None:
            widths = [edges[i + 1] - edges[i] for i in range(len(self.ranges))]
            r = widths.index(max(widths))
            boundary = edges[r] + widths[r] // 2
        else:
            r = max(i for i in range(len(self.ranges)) if edges[i] <= boundary)
        self.ranges.insert(r + 1, [node, boundary])

    def remove(self, node):
        r = [n for n, _ in self.ranges].index(node)
        if r == 0 and len(self.ranges) > 1:
            # the first range's keys go to the next one, which now starts at -2**63
            self.ranges[1][1] = self.LO
        del self.ranges[r]

    def as_tuples(self):
        edges = [lo for _, lo in self.ranges] + [self.END]
        return [(n, edges[i], edges[i + 1]) for i, (n, _) in enumerate(self.ranges)]


class RingModel:
    """Consistent hashing with virtual nodes, HashRing's compat=None rules: a node
    of weight w has max(1, floor(vnodes * w + 1/2)) points (none at w == 0), point i
    is the hash of f"{name}-{i}"; a key goes to the first point >= its word,
    wrapping; equal points are ordered by node order (the earlier node first)."""

    def __init__(self, weights, vnodes=160, hash="xxh64"):
        self.weights = dict(weights)        # name -> weight, in node order
        self.vnodes = vnodes
        self.hash = hash
        self.build()

    def points_of(self, w):
        return 0 if w <= 0 else max(1, math.floor(self.vnodes * w + 0.5))

    def point(self, name, i):
        label = f"{name}-{i}".encode("utf-8")
        return xxhash.xxh64_intdigest(label, 0) if self.hash == "xxh64" else _md5_u64(label)

    def build(self):
        names = list(self.weights)
        pairs = []
        for j, name in enumerate(names):
            pairs += [(self.point(name, i), j) for i in range(self.points_of(self.weights[name]))]
        pairs.sort()
        self.pts = [p for p, _ in pairs]
        self.own = [names[j] for _, j in pairs]

    def pos(self, word):
        i = bisect_left(self.pts, word)
        return 0 if i == len(self.pts) else i

    def lookup(self, key):
        return self.own[self.pos(ring_key_word(key, self.hash))]

    def shares(self):
        out = dict.fromkeys(self.weights, 0.0)
        n = len(self.pts)
        if n == 1:
            out[self.own[0]] = 1.0
        for i in range(n if n > 1 else 0):
            out[self.own[i]] += ((self.pts[i] - self.pts[i - 1]) % (1 << 64)) / 2.0**64
        return out


def ketama_hash(data):
    """libketama's ketama_hashi: the first 4 MD5 bytes, little-endian."""
    return struct.unpack_from("<I", hashlib.md5(data).digest())[0]


def _f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class KetamaModel:
    """libketama's continuum (ketama.c, ketama_create_continuum / ketama_get_server),
    or uhashring's ketama mode (ring_ketama.py + ring.py) with flavor="uhashring".

    libketama: per server floorf(pct * 40.0 * (float)n) hashes, pct =
    (float)w / (float)total in single precision; 4 points per MD5 digest of
    "name-k"; points sorted stably (glibc qsort is a merge sort); a key goes to
    the first point >= its hash (the first point of a run of equal points),
    wrapping to the first point.

    uhashring: (40 * n * w) // total hashes, exactly; on equal points the last
    server written wins; a key goes to the first point > its hash (bisect)."""

    def __init__(self, weights, hashes=40, flavor="libketama"):
        self.weights = dict(weights)
        self.hashes = hashes
        self.flavor = flavor
        self.build()

    def counts(self):
        ws = list(self.weights.values())
        n = len(ws)
        total = sum(ws)
        if total <= 0:
            return [0] * n
        if self.flavor == "libketama":
            t32 = _f32(total)
            out = []
            for w in ws:
                pct = _f32(_f32(w) / t32)                       # float division, rounded to float
                out.append(math.floor(_f32(pct * float(self.hashes) * _f32(n))))
            return out
        return [math.floor(Fraction(self.hashes * n) * Fraction(w) / Fraction(total)) for w in ws]

    def build(self):
        pairs = []
        for j, (name, ks) in enumerate(zip(self.weights, self.counts())):
            for k in range(ks):
                d = hashlib.md5(f"{name}-{k}".encode("utf-8")).digest()
                for h in range(4):
                    pairs.append((struct.unpack_from("<I", d, 4 * h)[0], j, name))
        pairs.sort(key=lambda t: (t[0], t[1]))     # stable, by point then server order
        self.pts = [p for p, _, _ in pairs]
        if self.flavor == "libketama":
            self.own = [name for _, _, name in pairs]
        else:
            last = {}
            for p, _, name in pairs:
                last[p] = name                        # the last writer of a point value
            self.own = [last[p] for p in self.pts]

    def word_hash(self, key):
        if isinstance(key, bytes):
            data = key
        else:
            data = str(int(key) if not isinstance(key, str) else key).encode("utf-8")
        return ketama_hash(data)

    def lookup(self, key):
        h = self.word_hash(key)
        if self.flavor == "libketama":
            i = bisect_left(self.pts, h)
        else:
            i = bisect_left(self.pts, h + 1)        # bisect_right
        return self.own[0 if i == len(self.pts) else i]


class BoundedRingModel:
    """Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam) on a
    RingModel, with HashRing's API semantics: placing a key while m keys are
    assigned, node j's capacity is ceil(c * (m + 1) * w_j / W); the key goes to
    the node of the first point at or after its word whose load is below its
    capacity. Assignments are sticky; removing a node places its keys again in
    the order of their first assignment."""

    def __init__(self, weights, vnodes=160, load_factor=1.25):
        self.ring = RingModel(weights, vnodes)
        self.c = float(load_factor)
        self.assigned = {}          # word -> [seq, node]
        self.seq = 0

    @property
    def weights(self):
        return self.ring.weights

    def loads(self):
        out = dict.fromkeys(self.weights, 0)
        for _, node in self.assigned.values():
            out[node] += 1
        return out

    def capacity(self, node, m):
        W = sum(self.weights.values())
        return math.ceil(self.c * float(m + 1) * self.weights[node] / W)

    def choose(self, word):
        loads = self.loads()
        m = len(self.assigned)
        n = len(self.ring.pts)
        i = self.ring.pos(word)
        for _ in range(n):
            node = self.ring.own[i]
            if loads[node] < self.capacity(node, m):
                return node
            i = (i + 1) % n
        raise AssertionError("no node has room")

    def assign(self, key):
        w = ring_key_word(key)
        if w not in self.assigned:
            self.assigned[w] = [self.seq, self.choose(w)]
            self.seq += 1
        return self.assigned[w][1]

    def lookup(self, key):
        w = ring_key_word(key)
        if w in self.assigned:
            return self.assigned[w][1]
        return self.choose(w)

    def release(self, key):
        del self.assigned[ring_key_word(key)]

    def _place_again(self, items):
        for seq, w in sorted(items):
            self.assigned[w] = [seq, self.choose(w)]

    def add(self, node, weight):
        self.ring.weights[node] = weight
        self.ring.build()

    def set_weight(self, node, weight):
        self.ring.weights[node] = weight
        self.ring.build()

    def remove(self, node):
        del self.ring.weights[node]
        self.ring.build()
        taken = [(s, w) for w, (s, n) in self.assigned.items() if n == node]
        for _, w in taken:
            del self.assigned[w]
        if self.ring.pts:
            self._place_again(taken)

    def rebalance(self):
        taken = [(s, w) for w, (s, _) in self.assigned.items()]
        self.assigned = {}
        self._place_again(taken)
