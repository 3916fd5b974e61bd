"""Request workloads for the CDN simulation: generated (seeded) or read from a CSV.

A workload is a set of numpy columns, one value per request, sorted by time:
``time`` (s), ``client``, ``region``, ``cls`` (content class id), ``obj`` (object
id within its class) and ``size`` (bytes).
"""
from __future__ import annotations

import csv
import math
import re

import numpy as np

from ._spec import API, ASSET, CLASSES, IMAGE, PAGE, PERSONAL, VIDEO, parse_duration, parse_size

__all__ = ["Workload", "generate", "parse_workload", "read_csv"]

_SITE = {"assets": 5000, "images": 20000, "videos": 2000, "pages": 20000, "api": 2000,
         "personal": 2, "clients": 10000, "regions": 5, "zipf": 0.9, "churn": 0.02,
         "diurnal": 0.5, "duration": "24h"}
#: share of requests per class, and the median size (lognormal, sigma 1) of its objects
_MIX = {ASSET: (0.40, 20_000), IMAGE: (0.25, 100_000), VIDEO: (0.05, 2_000_000), PAGE: (0.15, 50_000),
        API: (0.10, 2_000), PERSONAL: (0.05, 10_000)}


class Workload:
    """Columns of requests in time order (see the module docstring)."""

    def __init__(self, time, client, region, cls, obj, size, duration: float, regions: int,
                 info: dict | None = None) -> None:
        self.time = np.ascontiguousarray(time, dtype=np.float64)
        self.client = np.ascontiguousarray(client, dtype=np.int64)
        self.region = np.ascontiguousarray(region, dtype=np.int32)
        self.cls = np.ascontiguousarray(cls, dtype=np.int32)
        self.obj = np.ascontiguousarray(obj, dtype=np.int64)
        self.size = np.ascontiguousarray(size, dtype=np.int64)
        self.duration = float(duration)
        self.regions = int(regions)
        self.info = info or {}
        n = len(self.time)
        for name in ("client", "region", "cls", "obj", "size"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"workload column {name} has {len(getattr(self, name))} values, "
                                 f"time has {n}")
        if n and (self.size < 0).any():
            raise ValueError(f"sizes must be >= 0, got {int(self.size.min())}")
        if n > 1 and (np.diff(self.time) < 0).any():
            order = np.argsort(self.time, kind="stable")
            for name in ("time", "client", "region", "cls", "obj", "size"):
                setattr(self, name, getattr(self, name)[order])

    def __len__(self) -> int:
        return len(self.time)


def parse_workload(spec: str) -> dict:
    """``site:assets=5000,pages=20000`` -> the generator's options (defaults filled)."""
    spec = (spec or "site").strip()
    name, _, rest = spec.partition(":")
    if name != "site":
        raise ValueError(f"unknown workload {name!r}: use site[:key=value,...] or --trace FILE")
    opts = dict(_SITE)
    for part in filter(None, (p.strip() for p in rest.split(","))):
        if "=" not in part:
            raise ValueError(f"workload option must be key=value, got {part!r}")
        k, v = (x.strip() for x in part.split("=", 1))
        if k not in opts:
            raise ValueError(f"unknown workload option {k!r}: it takes {', '.join(_SITE)}")
        if k == "duration":
            opts[k] = v
            continue
        try:
            opts[k] = float(v) if k in ("zipf", "churn", "diurnal") else int(float(v))
        except ValueError:
            raise ValueError(f"workload option {k} must be a number, got {v!r}") from None
        if opts[k] < 0:
            raise ValueError(f"workload option {k} must be >= 0, got {v!r}")
    for k in ("clients", "regions"):
        if opts[k] < 1:
            raise ValueError(f"workload option {k} must be >= 1, got {opts[k]}")
    opts["duration"] = parse_duration(opts["duration"], "workload duration")
    if opts["duration"] <= 0:
        raise ValueError("workload duration must be > 0")
    return opts


def _zipf_ranks(rng, n_objects: int, alpha: float, count: int) -> np.ndarray:
    """``count`` ranks 0..n_objects-1 with P(rank r) proportional to 1/(r+1)^alpha."""
    w = 1.0 / np.arange(1, n_objects + 1, dtype=np.float64) ** alpha
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(count), side="right"), n_objects - 1)


def generate(n: int, seed: int = 0, **options) -> Workload:
    """``n`` requests over ``duration`` seconds (default a day), seeded.

    - arrivals: a Poisson process whose rate follows a day (1 + diurnal * sin),
      by inverting the cumulative rate on a grid;
    - each request: a client (uniform; region = client mod regions), a class by
      the mix of ``_MIX``, an object by Zipf(``zipf``) popularity within its
      class; popularity churns: every hour the ranks shift by ``churn`` times the
      class's objects (new content becomes popular, old content fades);
    - sizes: lognormal per object (sigma 1) around the class's median, fixed per
      object; personalised objects are ``personal`` per client.
    """
    o = dict(_SITE)
    o.update(options)
    if isinstance(o["duration"], str):
        o["duration"] = parse_duration(o["duration"])
    n = int(n)
    if n < 0:
        raise ValueError(f"requests must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    dur = float(o["duration"])
    # arrivals: sorted uniform "operational times" mapped through the inverse cumulative rate
    gaps = rng.exponential(1.0, n + 1)
    u = np.cumsum(gaps)[:n] / gaps.sum()
    a = min(max(float(o["diurnal"]), 0.0), 0.99)
    grid = np.linspace(0.0, dur, 4097)
    lam = grid + a * 86400 / (2 * math.pi) * (1 - np.cos(2 * math.pi * grid / 86400))
    times = np.interp(u * lam[-1], lam, grid)
    clients = rng.integers(0, int(o["clients"]), n)
    region = (clients % int(o["regions"])).astype(np.int32)
    counts = {ASSET: int(o["assets"]), IMAGE: int(o["images"]), VIDEO: int(o["videos"]),
              PAGE: int(o["pages"]), API: int(o["api"]), PERSONAL: int(o["personal"])}
    present = [c for c in _MIX if counts[c] > 0]
    if not present:
        raise ValueError("the workload has no objects: give at least one class a count > 0")
    shares = np.array([_MIX[c][0] for c in present])
    cls = np.array(present, dtype=np.int32)[
        np.searchsorted(np.cumsum(shares / shares.sum()), rng.random(n), side="right").clip(0, len(present) - 1)]
    obj = np.zeros(n, dtype=np.int64)
    size = np.zeros(n, dtype=np.int64)
    hour = (times // 3600).astype(np.int64)
    for c in present:
        sel = np.flatnonzero(cls == c)
        if c == PERSONAL:
            per = counts[c]
            obj[sel] = clients[sel] * per + rng.integers(0, per, len(sel))
            nobj = int(o["clients"]) * per
        else:
            nobj = counts[c]
            ranks = _zipf_ranks(rng, nobj, float(o["zipf"]), len(sel))
            shift = (hour[sel] * max(0, int(round(float(o["churn"]) * nobj)))) % nobj
            obj[sel] = (ranks + shift) % nobj
        median = _MIX[c][1]
        sizes_c = np.maximum(1, rng.lognormal(math.log(median), 1.0 if c != VIDEO else 0.2, nobj)).astype(np.int64)
        size[sel] = sizes_c[obj[sel]]
    return Workload(times, clients, region, cls, obj, size, dur, int(o["regions"]),
                    {"kind": "site", "seed": seed, **{k: o[k] for k in _SITE}})


_STATIC = re.compile(r"\.(js|css|woff2?|ttf|svg|map)(\?|$)")
_IMAGE = re.compile(r"\.(png|jpe?g|gif|webp|avif|ico)(\?|$)")
_VIDEO = re.compile(r"\.(ts|m4s|mp4|webm|m4a|aac)(\?|$)")


def classify(url: str) -> int:
    """The content class of a URL by its path: ``/api/`` API, ``/me``, ``/account``
    or ``/user/`` personalised, static and media extensions, else a page."""
    if url.startswith("/api/") or "/api/" in url:
        return API
    if url.startswith(("/me", "/account", "/user/")):
        return PERSONAL
    if _STATIC.search(url):
        return ASSET
    if _IMAGE.search(url):
        return IMAGE
    if _VIDEO.search(url):
        return VIDEO
    return PAGE


def read_csv(path, regions: int = 5) -> Workload:
    """A CSV with a header: ``time`` (s), ``client`` or ``region``, ``url``, ``size``
    (bytes); other columns are ignored. Missing columns: one ValueError naming them.
    Regions come from the ``region`` column (any labels) or client mod ``regions``."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        cols = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in ("time", "url", "size") if c not in cols]
        if "client" not in cols and "region" not in cols:
            missing.append("client or region")
        if missing:
            raise ValueError(f"{path}: missing column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} (need time, client or region, url, size)")
        reader.fieldnames = cols
        times, clients, regs, urls, sizes = [], [], [], [], []
        for i, row in enumerate(reader, start=2):
            try:
                times.append(float(row["time"]))
                sizes.append(parse_size(row["size"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: line {i}: {exc}") from None
            urls.append(row["url"] or "/")
            clients.append(row.get("client") or row.get("region"))
            regs.append(row.get("region"))
    cl_ids = {c: i for i, c in enumerate(dict.fromkeys(clients))}
    client = np.array([cl_ids[c] for c in clients], dtype=np.int64)
    if "region" in cols:
        rg = {r: i for i, r in enumerate(dict.fromkeys(regs))}
        region = np.array([rg[r] for r in regs], dtype=np.int32)
        regions = max(1, len(rg))
    else:
        region = (client % regions).astype(np.int32)
    url_ids: dict = {}
    cls = np.array([classify(u) for u in urls], dtype=np.int32)
    obj = np.array([url_ids.setdefault(u, len(url_ids)) for u in urls], dtype=np.int64)
    t = np.array(times)
    t0 = t.min() if len(t) else 0.0
    return Workload(t - t0, client, region, cls, obj, np.array(sizes, dtype=np.int64),
                    float(t.max() - t0) if len(t) else 0.0, regions,
                    {"kind": "csv", "path": str(path), "classes": {CLASSES[c]: int((cls == c).sum())
                                                                   for c in range(len(CLASSES))}})
