"""A pure-Python model of tradeoff.messaging.Log: partitions of segments of records,
rolled, retained and compacted by the same rules, scanned linearly."""
from dataclasses import dataclass, field


@dataclass
class Rec:
    offset: int
    ts: int
    key: bytes | None
    value: bytes | None

    @property
    def size(self):
        return len(self.key or b"") + len(self.value or b"")


@dataclass
class Seg:
    base: int
    recs: list = field(default_factory=list)

    @property
    def used(self):
        return sum(r.size for r in self.recs)


class Part:
    def __init__(self):
        self.segs = [Seg(0)]
        self.start = 0
        self.end = 0

    def records(self):
        return [r for s in self.segs for r in s.recs]


class LogModel:
    def __init__(self, partitions, segment_bytes, retention_ms=None, retention_bytes=None,
                 cleanup_policy="delete", delete_retention_ms=86_400_000):
        self.parts = [Part() for _ in range(partitions)]
        self.segment_bytes = segment_bytes
        self.retention_ms = retention_ms
        self.retention_bytes = retention_bytes
        self.delete = "delete" in cleanup_policy
        self.compact_policy = "compact" in cleanup_policy
        self.delete_retention_ms = delete_retention_ms

    def append(self, part, key, value, ts):
        p = self.parts[part]
        rec = Rec(p.end, ts, key, value)
        active = p.segs[-1]
        if active.recs and active.used + rec.size > self.segment_bytes:
            p.segs.append(Seg(p.end))
            if self.delete and (self.retention_ms is not None or self.retention_bytes is not None):
                self.retain(p, ts)
        p.segs[-1].recs.append(rec)
        p.end += 1
        return rec.offset

    def retain(self, p, now):
        size = sum(s.used for s in p.segs)
        while len(p.segs) > 1:
            s = p.segs[0]
            old = (self.retention_ms is not None and s.recs
                   and max(r.ts for r in s.recs) < now - self.retention_ms)
            big = self.retention_bytes is not None and size - s.used >= self.retention_bytes
            if not (old or big):
                break
            size -= s.used
            p.segs.pop(0)
            p.start = max(p.start, p.segs[0].base)      # only a deletion moves the start

    def enforce_retention(self, now):
        if self.delete:
            for p in self.parts:
                self.retain(p, now)

    def compact(self, part, now):
        p = self.parts[part]
        closed = p.segs[:-1]
        last = {}
        for s in closed:
            for r in s.recs:
                last[r.key] = r.offset
        cut = now - self.delete_retention_ms
        for s in closed:
            s.recs = [r for r in s.recs
                      if last[r.key] == r.offset and not (r.value is None and r.ts < cut)]
        p.segs = [s for s in closed if s.recs] + [p.segs[-1]]

    def fetch(self, part, offset, max_records):
        recs = [r for r in self.parts[part].records() if r.offset >= offset]
        if not recs:
            return []
        seg = next(s for s in self.parts[part].segs if recs[0] in s.recs)
        return [r for r in recs if r in seg.recs][:max_records]

    def offset_for_time(self, part, ts):
        for r in self.parts[part].records():
            if r.ts >= ts:
                return r.offset
        return None
