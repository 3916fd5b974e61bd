"""Request workloads for the CDN simulation: generated (seeded) or read from a CSV.

A workload is a set of numpy columns, one value per request, sorted by time:
``time`` (s), ``client``, ``region``, ``cls`` (content class id), ``obj`` (object
id within its class), ``size`` (bytes) and, for traces that carry them, ``resp``
(the index of the request's response in ``responses``: a status and the response
header fields; -1: the class's default response).
"""
from __future__ import annotations

import csv
import io
import math
import re

import numpy as np

from ._spec import API, ASSET, CLASSES, IMAGE, PAGE, PERSONAL, VIDEO, parse_duration, parse_size

__all__ = ["Workload", "generate", "parse_workload", "read_csv", "read_trace", "load_trace", "parse_header_cell",
           "HEADER_COLUMNS", "TRACE_CLASS"]

_SITE = {"assets": 5000, "images": 20000, "videos": 2000, "pages": 20000, "api": 2000,
         "personal": 2, "clients": 10000, "regions": 5, "zipf": 0.9, "churn": 0.02,
         "diurnal": 0.5, "duration": "24h"}
#: share of requests per class, and the median size (lognormal, sigma 1) of its objects
_MIX = {ASSET: (0.40, 20_000), IMAGE: (0.25, 100_000), VIDEO: (0.05, 2_000_000), PAGE: (0.15, 50_000),
        API: (0.10, 2_000), PERSONAL: (0.05, 10_000)}


class Workload:
    """Columns of requests in time order (see the module docstring)."""

    def __init__(self, time, client, region, cls, obj, size, duration: float, regions: int,
                 info: dict | None = None, resp=None, responses=None) -> None:
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
        #: (status, header dict or None for the class's defaults) per response id
        self.responses = list(responses or [])
        self.resp = (np.full(n, -1, dtype=np.int32) if resp is None
                     else np.ascontiguousarray(resp, dtype=np.int32))
        if n and len(self.resp) == n and self.resp.max() >= len(self.responses):
            raise ValueError(f"workload response ids must be < {len(self.responses)}, got {int(self.resp.max())}")
        for name in ("client", "region", "cls", "obj", "size", "resp"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"workload column {name} has {len(getattr(self, name))} values, "
                                 f"time has {n}")
        if n and (self.size < 0).any():
            raise ValueError(f"sizes must be >= 0, got {int(self.size.min())}")
        if n > 1 and (np.diff(self.time) < 0).any():
            order = np.argsort(self.time, kind="stable")
            for name in ("time", "client", "region", "cls", "obj", "size", "resp"):
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


#: response header fields read from CSV columns of the same name (any case)
HEADER_COLUMNS = ("cache-control", "surrogate-control", "expires", "date", "last-modified", "etag")
#: a ``headers`` cell: ``Name: value`` fields separated by ``;`` (a ``;`` followed by a name and a colon)
_FIELD_SEP = re.compile(r";\s*(?=[A-Za-z0-9!#$%&'*+.^_`|~-]+\s*:)")
_FIELD_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
#: the content class of a trace's objects when the trace names none (see read_trace)
TRACE_CLASS = "image"


def parse_header_cell(text) -> tuple[dict, int]:
    """The fields of a ``headers`` cell and how many of its parts were garbled.

    Fields are ``Name: value``, separated by ``;``: a semicolon followed by a field
    name and a colon starts the next field (Cache-Control values and HTTP dates hold
    commas, never that). Names become lower case; a name given twice is combined
    with a comma, as repeated field lines are (RFC 9110 §5.3). A part without a
    valid ``name:`` is ignored and counted, as a recipient ignores a malformed field.

    >>> parse_header_cell("Cache-Control: max-age=60; Surrogate-Control: max-age=3600, no-store")
    ({'cache-control': 'max-age=60', 'surrogate-control': 'max-age=3600, no-store'}, 0)
    >>> parse_header_cell("oops; cache-control: public; Cache-Control: max-age=5")
    ({'cache-control': 'public, max-age=5'}, 1)
    """
    fields: dict = {}
    bad = 0
    text = (text or "").strip()
    if not text:
        return fields, 0
    for part in _FIELD_SEP.split(text):
        name, colon, value = part.partition(":")
        name = name.strip()
        if not colon or not _FIELD_NAME.fullmatch(name):
            bad += 1
            continue
        name = name.lower()
        value = value.strip().rstrip(";").strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields, bad


def _status(cell, path, line) -> int:
    text = (cell or "").strip()
    if not text:
        return 200
    try:
        st = int(text)
    except ValueError:
        st = 0
    if not 100 <= st <= 999:
        raise ValueError(f"{path}: line {line}: status must be an HTTP status code (100-999), got {text!r}")
    # a 304 in a log answers a client's conditional request for a stored 200: the object is the 200
    return 200 if st == 304 else st


def read_csv(path, regions: int = 5) -> Workload:
    """A CSV with a header: ``time`` (s), ``client`` or ``region``, ``url``, ``size``
    (bytes), and optionally the response: ``status`` and header fields, either as
    columns named after them (:data:`HEADER_COLUMNS`: ``cache-control``,
    ``surrogate-control``, ``expires``, ``date``, ``last-modified``, ``etag``) or
    in one ``headers`` column (see :func:`parse_header_cell`); other columns are
    ignored. Missing columns: one ValueError naming them. Regions come from the
    ``region`` column (any labels) or client mod ``regions``.

    Responses: without status and header columns every object gets its class's
    default response (classes by URL, :func:`classify`). With a status column
    only, the class's default headers with that status. With header columns, the
    row's fields exactly (an empty cell: the field is absent, and RFC 9111 decides
    what that means: no explicit lifetime). A blank status is 200; 304 counts as
    200 (it answers a conditional request for a stored 200). ``Expires`` and the
    heuristic lifetime of ``Last-Modified`` count from ``Date``; a row without
    ``Date`` gets its own time as Date (times taken as POSIX seconds).
    """
    from email.utils import formatdate

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
        hcols = [c for c in HEADER_COLUMNS if c in cols]
        has_headers = bool(hcols) or "headers" in cols
        has_resp = has_headers or "status" in cols
        times, clients, regs, urls, sizes, resp = [], [], [], [], [], []
        resp_ids: dict = {}
        garbled = 0
        for i, row in enumerate(reader, start=2):
            try:
                t = float(row["time"])
                sizes.append(parse_size(row["size"]))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{path}: line {i}: {exc}") from None
            times.append(t)
            urls.append(row["url"] or "/")
            clients.append(row.get("client") or row.get("region"))
            regs.append(row.get("region"))
            if not has_resp:
                continue
            st = _status(row.get("status"), path, i) if "status" in cols else 200
            if has_headers:
                h = {c: row[c].strip() for c in hcols if row.get(c) and row[c].strip()}
                if "headers" in cols:
                    fields, bad = parse_header_cell(row.get("headers"))
                    garbled += bad
                    for k, v in fields.items():
                        h[k] = f"{h[k]}, {v}" if k in h else v
                if ("expires" in h or "last-modified" in h) and "date" not in h and math.isfinite(t):
                    h["date"] = formatdate(max(t, 0.0), usegmt=True)
                key = (st, tuple(sorted(h.items())))
            else:
                key = (st, None)
            resp.append(resp_ids.setdefault(key, len(resp_ids)))
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
    responses = [(st, None if h is None else dict(h)) for st, h in resp_ids]
    info = {"kind": "csv", "path": str(path),
            "classes": {CLASSES[c]: int((cls == c).sum()) for c in range(len(CLASSES))}}
    if has_resp:
        info["responses"] = len(responses)
        if garbled:
            info["garbled_header_fields"] = garbled
    return Workload(t - t0, client, region, cls, obj, np.array(sizes, dtype=np.int64),
                    float(t.max() - t0) if len(t) else 0.0, regions, info,
                    resp=np.array(resp, dtype=np.int32) if has_resp else None, responses=responses)


def read_trace(path, regions: int = 5, cls: str = TRACE_CLASS, **options) -> Workload:
    """A trace any :func:`tradeoff.traces.read` format holds, with request times
    and object sizes: libCacheSim's oracleGeneral (the format of the published CDN
    traces), a CSV (``time=`` and ``size=`` name its columns, ``key=`` the
    object's), Wikimedia's CDN request trace (``format="wikimedia"``: the 2019
    upload-cache release, read by :func:`tradeoff.traces._readers.read_wikimedia`);
    other ``options`` go to :func:`tradeoff.traces.read`.

    Each key is an object of content class ``cls`` (the trace names none; default
    :data:`TRACE_CLASS`: published CDN traces are mostly images and other media,
    which deploys do not change), with its class's default response. Regions:
    the object's key hashed to one of ``regions`` (each object is requested through
    one edge, as when the CDN's load balancer hashes URLs). Clients: the traces
    carry none, so each request comes from a client of its own (a browser layer
    then never hits; these traces are what reaches the CDN, so leave it out).
    Times start at 0. A trace without times or sizes: TraceError.
    """
    from ..traces import TraceError, read
    from ..traces._readers import read_wikimedia

    if cls not in CLASSES:
        raise ValueError(f"trace class must be one of {', '.join(CLASSES)}, got {cls!r}")
    regions = int(regions)
    if regions < 1:
        raise ValueError(f"regions must be >= 1, got {regions}")
    fmt = options.get("format")
    if isinstance(fmt, str) and fmt.lower() == "wikimedia":
        if len(options) > 1:
            raise TraceError(f"{path}: format 'wikimedia' takes no read options, got "
                             f"{', '.join(sorted(set(options) - {'format'}))}")
        tr = read_wikimedia(path)
    else:
        tr = read(path, **_csv_columns(path, options))
    lacks = [name for name in ("times", "sizes") if getattr(tr, name) is None]
    if lacks:
        raise TraceError(f"{tr.path}: the {tr.format} trace has no {' and no '.join(lacks)}: the CDN simulation "
                         f"needs request times and object sizes (a CSV: name the columns with time= and size=)")
    keys = np.asarray(tr.keys, dtype=np.int64)
    uniq, obj = np.unique(keys, return_inverse=True)
    obj = obj.astype(np.int64).ravel()
    times = np.asarray(tr.times, dtype=np.float64)
    if not np.isfinite(times).all():
        raise TraceError(f"{tr.path}: request times must be finite numbers")
    sizes = np.asarray(tr.sizes).astype(np.int64)
    n = len(keys)
    h = (uniq.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(33)
    region = (h % np.uint64(regions)).astype(np.int32)[obj]
    t0 = float(times.min()) if n else 0.0
    c = CLASSES.index(cls)
    return Workload(times - t0, np.arange(n, dtype=np.int64), region, np.full(n, c, dtype=np.int32), obj,
                    sizes, float(times.max() - t0) if n else 0.0, regions,
                    {"kind": tr.format, "path": str(tr.path), "class": cls, "objects": int(len(uniq))})


def _csv_columns(path, options: dict) -> dict:
    """For a CSV (by name or ``format=csv``) given without ``time=`` and ``size=``:
    the columns named ``time``, ``size`` and ``key`` of its header, those it has."""
    from pathlib import Path

    from ..traces import TraceError
    from ..traces._source import Source, base_name

    if "time" in options or "size" in options:
        return options
    fmt = options.get("format")
    name = base_name(Path(path))
    if not (fmt == "csv" or fmt is None and name.endswith((".csv", ".tsv"))):
        return options
    try:
        head = Source(path).head(1 << 14).decode("utf-8", "replace")
    except (OSError, TraceError):
        return options                      # read() reports it
    delim = options.get("delimiter") or ("\t" if name.endswith(".tsv") else ",")
    first = next(csv.reader(io.StringIO(head), delimiter=delim), [])
    cells = [c.strip().lower() for c in first]
    out = dict(options)
    for col in ("time", "size", "key"):
        if col not in options and col in cells:
            out[col] = first[cells.index(col)]
    return out


def _cdn_csv(path) -> bool:
    """A plain ``.csv`` whose header names a ``url`` column (the CDN CSV of read_csv)."""
    if not str(path).lower().endswith(".csv"):
        return False
    try:
        with open(path, newline="", errors="replace") as f:
            first = next(csv.reader(f), [])
    except (OSError, csv.Error):
        return False
    return "url" in (c.strip().lower() for c in first)


def load_trace(path, regions: int = 5, cls: str | None = None, **options) -> Workload:
    """``--trace FILE``: a ``.csv`` with a ``url`` column through :func:`read_csv`
    (which classifies URLs and reads status and header columns), anything else
    through :func:`read_trace` (``cls`` and the read ``options`` apply there)."""
    if "format" not in options and _cdn_csv(path):
        if cls is not None or options:
            given = ", ".join(["class"] * (cls is not None) + sorted(options))
            raise ValueError(f"{path}: a CDN CSV (with a url column) takes regions= only, got {given}")
        return read_csv(path, regions)
    return read_trace(path, regions, TRACE_CLASS if cls is None else cls, **options)
