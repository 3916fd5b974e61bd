"""Redis against Memcached, both real servers on a unix socket: throughput and
latency of GET and SET with and without pipelining, memory per key by each
server's own statistics, and eviction under memory pressure against the exact
policies that the servers approximate.

Redis evicts by sampling: on each write over ``maxmemory`` it draws
``maxmemory-samples`` keys and evicts the best candidate of a pool (Redis's
documentation, "Key eviction"; approximated LRU since 2.8, LFU with a
logarithmic Morris-style counter and decay since 4.0). Memcached keeps a
segmented LRU per slab class (HOT, WARM, COLD and a background crawler, since
1.5; dormando, "Replacing the cache replacement algorithm in memcached", 2017).
:func:`eviction` replays one key sequence through each server, counts hits
the way a look-aside cache does (GET; on a miss, SET), reads how many keys the
server held at the end, and replays the same keys through
:mod:`tradeoff.cache`'s exact LRU, LFU and Belady at that many objects: how
close does the real server come to the policy it approximates, and to the
optimum?

The servers are the package's throwaway ones
(:class:`~tradeoff.harness.servers.RedisServer`,
:class:`~tradeoff.harness.servers.MemcachedServer`): started in a temporary
folder, on a unix socket, stopped on every exit path.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = ["SERVERS", "EVICTION_CONFIGS", "parse_eviction", "start", "throughput", "memory_per_key", "eviction"]

#: server names :func:`start` knows
SERVERS = ("redis", "memcached")
#: the eviction configurations :func:`eviction` replays by default
EVICTION_CONFIGS = ("redis:lru:5", "redis:lru:10", "redis:lfu:5", "memcached")

Progress = Callable[[str], None]


def start(name: str, *, memory_mb: int = 64, threads: int = 4):
    """A started throwaway server (use it in a ``with`` block): ``"redis"`` (no
    persistence, so that it measures the cache, not the disk) or ``"memcached"``
    with ``threads`` worker threads (``-t``)."""
    from ..harness.servers import MemcachedServer, RedisServer

    if name == "redis":
        return RedisServer(appendonly=False, extra_args=["--maxmemory", f"{int(memory_mb)}mb",
                                                         "--maxmemory-policy", "allkeys-lru"]).start()
    if name == "memcached":
        return MemcachedServer(memory_mb=int(memory_mb), threads=int(threads)).start()
    raise ValueError(f"unknown server {name!r} (one of {', '.join(SERVERS)})")


def _kind(server) -> str:
    return "redis" if type(server).__name__ == "RedisServer" else "memcached"


def _connect(kind: str, path: str):
    if kind == "redis":
        import redis
        return redis.Redis(unix_socket_path=path)
    from pymemcache.client.base import Client
    return Client(path, no_delay=True)


def _client(server):
    return _connect(_kind(server), str(server.socket_path))


def _pct(ns: np.ndarray, q: float) -> float:
    return float(np.percentile(ns, q)) / 1e3 if len(ns) else float("nan")


def throughput(server, *, op: str = "get", value_size: int = 100, pipeline: int = 1, requests: int = 10_000,
               keys: int = 1000, clients: int = 1) -> dict:
    """Run ``requests`` GETs or SETs of ``value_size``-byte values over ``keys``
    keys from one client, ``pipeline`` commands per round trip (Redis's pipeline;
    memcached's multi-get and a batch of sets sent together), and return
    ops/s and the latency of a round trip (µs, p50/p99/p999). The keys are loaded
    first, so every GET hits (at most 16 MB of them: fewer keys for large values);
    ``hits`` counts the GETs that returned the stored value.

    ``clients`` > 1 runs that many client processes at once, each with its own
    connection and ``requests`` requests (forked; ops/s is their sum, the
    latencies are the slowest client's percentiles): what a multi-threaded
    memcached (``-t``) gains over single-threaded Redis. The clients are Python's
    (redis-py, pymemcache), so a client's own cost is in every figure.
    """
    if isinstance(clients, bool) or not isinstance(clients, (int, np.integer)) or clients < 1:
        raise ValueError(f"clients must be a whole number >= 1, got {clients!r}")
    kw = dict(op=op, value_size=value_size, pipeline=pipeline, requests=requests, keys=keys)
    if clients == 1:
        return _throughput(_kind(server), str(server.socket_path), **kw)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(clients, mp_context=mp.get_context("fork")) as pool:
        futures = [pool.submit(_throughput, _kind(server), str(server.socket_path), **kw) for _ in range(clients)]
        parts = [f.result() for f in futures]
    out = dict(parts[0], requests=sum(p["requests"] for p in parts), ops_per_s=sum(p["ops_per_s"] for p in parts),
               hits=None if op != "get" else sum(p["hits"] for p in parts))
    for q in ("p50_us", "p99_us", "p999_us"):
        out[q] = max(p[q] for p in parts)
    return out


def _throughput(kind: str, path: str, *, op, value_size, pipeline, requests, keys) -> dict:
    if op not in ("get", "set"):
        raise ValueError(f"op must be 'get' or 'set', got {op!r}")
    for what, v in (("value_size", value_size), ("pipeline", pipeline), ("requests", requests), ("keys", keys)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a whole number >= 1, got {v!r}")
    redis = kind == "redis"
    keys = max(1, min(int(keys), (16 << 20) // value_size))
    c = _connect(kind, path)
    value = b"v" * value_size
    names = [b"k%d" % i for i in range(keys)]
    batches = [[names[(b * pipeline + j) % keys] for j in range(pipeline)]
               for b in range(-(-requests // pipeline))]
    # load the keys (and warm the connection) before timing
    if redis:
        p = c.pipeline(transaction=False)
        for k in names:
            p.set(k, value)
        p.execute()
    else:
        for i in range(0, keys, 100):
            c.set_many({k: value for k in names[i:i + 100]}, noreply=False)
    lat = np.empty(len(batches), dtype=np.int64)
    hits = 0
    clock = time.perf_counter_ns
    t0 = clock()
    if redis and pipeline == 1:
        call = c.get if op == "get" else (lambda k: c.set(k, value))
        for i, b in enumerate(batches):
            s = clock()
            got = call(b[0])
            lat[i] = clock() - s
            hits += got == value
    elif redis:
        for i, b in enumerate(batches):
            s = clock()
            p = c.pipeline(transaction=False)
            for k in b:
                p.get(k) if op == "get" else p.set(k, value)
            got = p.execute()
            lat[i] = clock() - s
            hits += got.count(value)
    elif pipeline == 1:
        for i, b in enumerate(batches):
            s = clock()
            got = c.get(b[0]) if op == "get" else c.set(b[0], value, noreply=False)
            lat[i] = clock() - s
            hits += got == value
    else:
        for i, b in enumerate(batches):
            s = clock()
            if op == "get":
                got = c.get_many(b)
                lat[i] = clock() - s
                hits += sum(got.get(k) == value for k in b)
            else:
                c.set_many(dict.fromkeys(b, value), noreply=False)
                lat[i] = clock() - s
    wall = (clock() - t0) / 1e9
    c.close()
    done = len(batches) * pipeline
    return {"server": kind, "op": op, "value_size": value_size, "pipeline": pipeline, "requests": done,
            "hits": hits if op == "get" else None,
            "ops_per_s": done / wall if wall > 0 else float("nan"),
            "p50_us": _pct(lat, 50), "p99_us": _pct(lat, 99), "p999_us": _pct(lat, 99.9)}


def memory_per_key(server, *, keys: int = 20_000, value_size: int = 100) -> dict:
    """Store ``keys`` keys of ``value_size`` bytes and read what the server says it
    uses: Redis's ``used_memory`` grows by (INFO memory), Memcached's ``bytes``
    (the items' own bytes, headers included) and the slab memory it took
    (``total_malloced``, whole 1 MB pages). Bytes per key, beside the payload."""
    redis = _kind(server) == "redis"
    c = _client(server)
    value = b"v" * value_size
    names = [b"k%d" % i for i in range(keys)]
    if redis:
        c.flushall()
        before = int(c.info("memory")["used_memory"])
        for i in range(0, keys, 1000):
            p = c.pipeline(transaction=False)
            for k in names[i:i + 1000]:
                p.set(k, value)
            p.execute()
        after = int(c.info("memory")["used_memory"])
        held = int(c.dbsize())
        out = {"bytes_per_key": (after - before) / held, "allocated_per_key": float("nan")}
    else:
        c.flush_all()
        for i in range(0, keys, 100):
            c.set_many({k: value for k in names[i:i + 100]}, noreply=False)
        st = c.stats()
        held = int(st[b"curr_items"])
        slabs = c.stats("slabs")
        out = {"bytes_per_key": int(st[b"bytes"]) / held,
               "allocated_per_key": int(slabs.get(b"total_malloced", 0)) / held}
    c.close()
    key_bytes = sum(map(len, names)) / keys
    return {"server": _kind(server), "keys": held, "value_size": value_size, "payload_per_key": value_size + key_bytes, **out}


def parse_eviction(spec: str | Sequence[str]) -> list[tuple[str, str, int]]:
    """``"redis:lru:5,redis:lfu,memcached"`` -> [(server, policy, samples)];
    Redis's policy is ``lru`` or ``lfu`` (``allkeys-``), samples default 5.

    >>> parse_eviction("redis:lru:10,memcached")
    [('redis', 'lru', 10), ('memcached', 'slru', 0)]
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        parts = item.lower().split(":")
        if parts[0] == "memcached" and len(parts) == 1:
            out.append(("memcached", "slru", 0))
            continue
        if parts[0] != "redis" or len(parts) > 3 or (len(parts) > 1 and parts[1] not in ("lru", "lfu")):
            raise ValueError(f"eviction: cannot read {item!r} (redis:lru[:SAMPLES], redis:lfu[:SAMPLES] or memcached)")
        samples = 5
        if len(parts) == 3:
            try:
                samples = int(parts[2])
            except ValueError:
                raise ValueError(f"eviction: samples must be a whole number in {item!r}") from None
            if not 1 <= samples <= 64:
                raise ValueError(f"eviction: samples must be in 1..64 (Redis's limit), got {samples}")
        out.append(("redis", parts[1] if len(parts) > 1 else "lru", samples))
    if not out:
        raise ValueError("eviction: no configuration given")
    return out


def _replay(c, redis: bool, keys: np.ndarray, value: bytes) -> int:
    hits = 0
    if redis:
        get, put = c.get, c.set
        for k in keys.tolist():
            name = b"k%d" % k
            if get(name) is None:
                put(name, value)
            else:
                hits += 1
    else:
        get, put = c.get, c.set
        for k in keys.tolist():
            name = b"k%d" % k
            if get(name) is None:
                put(name, value, noreply=False)
            else:
                hits += 1
    return hits


def eviction(keys, *, configs: Iterable | str = EVICTION_CONFIGS, memory_mb: int = 16, value_size: int = 1000,
             exact: Sequence[str] = ("lru", "lfu", "belady"), progress: Progress | None = None):
    """Replay ``keys`` (a sequence of integer keys, e.g. a trace's) through each
    server configuration as a look-aside cache (GET; on a miss, SET a
    ``value_size``-byte value) with ``memory_mb`` of memory, then through the exact
    ``exact`` policies of :mod:`tradeoff.cache` at the number of keys the server
    held at the end. One row per configuration: the server's hit ratio, its
    capacity in keys, each exact policy's hit ratio at that capacity, and the
    gap to the policy it approximates (LRU for Redis's sampled LRU and for
    Memcached's segmented LRU, LFU for Redis's LFU)."""
    import pandas as pd

    from ..cache.simulate import sweep

    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    if keys.ndim != 1 or len(keys) == 0:
        raise ValueError("eviction: keys must be a non-empty 1-d sequence")
    if not (isinstance(memory_mb, int) and memory_mb >= 2):
        raise ValueError(f"eviction: memory_mb must be a whole number >= 2, got {memory_mb!r}")
    value = b"v" * int(value_size)
    rows = []
    plan = parse_eviction(configs)
    servers: dict = {}
    try:
        for server, policy, samples in plan:
            if server not in servers:
                servers[server] = start(server, memory_mb=memory_mb)
            s = servers[server]
            c = _client(s)
            redis = server == "redis"
            label = f"redis allkeys-{policy} (samples {samples})" if redis else "memcached segmented LRU"
            if progress:
                progress(f"replaying {len(keys):,} requests through {label}")
            if redis:
                c.flushall()
                c.config_set("maxmemory", f"{memory_mb}mb")
                c.config_set("maxmemory-policy", f"allkeys-{policy}")
                c.config_set("maxmemory-samples", samples)
                c.config_resetstat()
            else:
                c.flush_all()
                time.sleep(1.05)  # flush_all marks items older than this second: wait it out
            t = time.perf_counter()
            hits = _replay(c, redis, keys, value)
            wall = time.perf_counter() - t
            held = int(c.dbsize()) if redis else int(c.stats()[b"curr_items"])
            evictions = int(c.info("stats")["evicted_keys"]) if redis else int(c.stats()[b"evictions"])
            c.close()
            rows.append({"server": server, "config": label, "policy": policy, "samples": samples or None,
                         "requests": len(keys), "hits": hits, "hit_ratio": hits / len(keys),
                         "capacity_keys": held, "evictions": evictions, "req_per_s": len(keys) / wall})
    finally:
        for s in servers.values():
            s.stop()
    caps = sorted({r["capacity_keys"] for r in rows if r["capacity_keys"] > 0})
    if caps and exact:
        if progress:
            progress(f"replaying the exact policies ({', '.join(exact)}) at {len(caps)} capacities")
        ref = sweep(keys, list(exact), caps, jobs=1)
        table = {(p, int(sz)): hr for p, sz, hr in zip(ref["policy"], ref["size"], ref["hit_ratio"])}
        for r in rows:
            for p in exact:
                r[f"{p}_hit_ratio"] = table.get((p, r["capacity_keys"]), float("nan"))
            approx = "lfu" if r["policy"] == "lfu" else "lru"
            r["gap_to_" + "exact"] = r["hit_ratio"] - r.get(f"{approx}_hit_ratio", float("nan"))
    return pd.DataFrame(rows)


def _list(spec, what: str, parse=int, low=1) -> list:
    out = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        try:
            v = parse(item)
        except ValueError:
            raise ValueError(f"{what}: cannot read {item!r}") from None
        if v < low:
            raise ValueError(f"{what}: {item} is below {low}")
        out.append(v)
    if not out:
        raise ValueError(f"{what}: nothing given")
    return out


def run_servers(*, servers: str = "redis,memcached", values: str = "100,10k,100k", pipeline: str = "1,16",
                clients: str = "1,2", requests: str = "20000", threads: int = 4, eviction_spec: str = "default",
                workload: str = "zipf:alpha=0.9,objects=40000,requests=60000", trace: str | None = None,
                trace_format: str | None = None, memory_mb: int = 16, eviction_value: int = 1000, seed: int = 0,
                plot: str | None = None, output: str | None = None, fmt: str = "table",
                progress: Progress | None = None):
    """``tradeoff simulate servers``: the options as typed -> an Outcome with two
    tables (throughput and latency per server, value size, pipeline depth and
    client count, with memory per key; eviction against the exact policies)."""
    import pandas as pd

    from ..harness.errors import UserError
    from ..harness.outputs import Outcome, Outputs
    from ..harness.report import format_table
    from ..harness.run import default_output
    from ..harness.servers import missing_notice
    from ..harness.specs import parse_count, parse_size

    try:
        names = [s.strip().lower() for s in servers.split(",") if s.strip()]
        for s in names:
            if s not in SERVERS:
                raise ValueError(f"unknown server {s!r} (redis, memcached)")
        if not names:
            raise ValueError("no server given")
        sizes = _list(values, "--values", parse_size)
        depths = _list(pipeline, "--pipeline")
        counts = _list(clients, "--clients")
        n_req = parse_count(requests, "--requests")
        if not (isinstance(threads, int) and threads >= 1):
            raise ValueError(f"--threads must be >= 1, got {threads}")
        plan = [] if eviction_spec in ("none", "") else parse_eviction(
            ",".join(c for c in EVICTION_CONFIGS if c.split(":")[0] in names)
            if eviction_spec == "default" else eviction_spec)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    for s in {*names, *(p[0] for p in plan)}:
        notice = missing_notice("redis-server" if s == "redis" else "memcached")
        if notice:
            raise UserError(f"--servers {s}: {notice}")
    keys = None
    if plan:
        if trace:
            from ..traces import TraceError, read
            try:
                keys = read(trace, format=trace_format).keys
            except TraceError as exc:
                raise UserError(str(exc)) from None
        else:
            from ..cache.simulate import parse_workload
            keys = parse_workload(workload, seed)
    out = Outputs(output or default_output("simulate-servers"), plot)
    rows, mem = [], []
    for s in names:
        with start(s, memory_mb=64, threads=threads) as server:
            for size in sizes:
                for depth in depths:
                    for cl in counts:
                        for op in ("get", "set"):
                            if progress:
                                progress(f"servers: {s} {op.upper()} {size:,} B, pipeline {depth}, "
                                         f"{cl} client{'s' if cl > 1 else ''}")
                            rows.append(dict(throughput(server, op=op, value_size=size, pipeline=depth,
                                                        requests=n_req, clients=cl), clients=cl))
        with start(s, memory_mb=64, threads=threads) as server:   # a fresh one: no slabs from the rows above
            mem.append(memory_per_key(server, keys=20_000, value_size=100))
    ev = eviction(keys, configs=[f"{a}:{b}:{c}" if a == "redis" else a for a, b, c in plan], memory_mb=memory_mb,
                  value_size=eviction_value, progress=progress) if plan else None
    df = pd.DataFrame(rows)
    head = ["server", "op", "value", "pipeline", "clients", "ops/s", "p50", "p99", "p99.9"]
    t1 = format_table(head, [[r["server"], r["op"].upper(), f"{r['value_size']:,} B", str(r["pipeline"]), str(r["clients"]),
                              f"{r['ops_per_s']:,.0f}", f"{r['p50_us']:.0f} µs", f"{r['p99_us']:.0f} µs",
                              f"{r['p999_us']:.0f} µs"] for r in rows], fmt, align=["l", "l"] + ["r"] * 7)
    t2 = format_table(["server", "keys", "payload/key", "used/key (own stats)", "allocated/key"],
                      [[m["server"], f"{m['keys']:,}", f"{m['payload_per_key']:.0f} B", f"{m['bytes_per_key']:.0f} B",
                        "-" if m["allocated_per_key"] != m["allocated_per_key"] else f"{m['allocated_per_key']:.0f} B"]
                       for m in mem], fmt, align=["l"] + ["r"] * 4)
    lines = [f"{n_req:,} requests per client per row, Python clients (redis-py, pymemcache) on unix sockets; "
             f"memcached with {threads} threads", t1, "memory per key, 100-byte values:", t2]
    if ev is not None:
        lines.append(f"eviction: {len(keys):,} requests as a look-aside cache, {memory_mb} MB, "
                     f"{eviction_value:,}-byte values; exact policies at the keys the server held:")
        lines.append(format_table(
            ["server", "hit ratio", "keys held", "exact LRU", "exact LFU", "Belady", "gap to the policy"],
            [[r["config"], f"{r['hit_ratio']:.4f}", f"{r['capacity_keys']:,}", f"{r['lru_hit_ratio']:.4f}",
              f"{r['lfu_hit_ratio']:.4f}", f"{r['belady_hit_ratio']:.4f}", f"{r['gap_to_exact']:+.4f}"]
             for r in ev.to_dict("records")], fmt, align=["l"] + ["r"] * 6))
    with out.writing() as tmp:
        from ..harness import results

        all_rows = [{**r, "seconds": r["requests"] / r["ops_per_s"]} for r in rows]
        if ev is not None:
            all_rows += [{"server": r["server"], "op": f"evict-{r['policy']}{r['samples'] or ''}",
                          "value_size": eviction_value, "pipeline": 1, "clients": 1,
                          **{k: v for k, v in r.items() if k not in ("server",)},
                          "seconds": r["requests"] / r["req_per_s"]} for r in ev.to_dict("records")]
        results.write_rows(all_rows, tmp.results, suite="simulate-servers", func="servers",
                           params=("server", "op", "value_size", "pipeline", "clients"), compare="server",
                           headline=("ops_per_s", "p99_us"), config={"threads": threads, "memory_mb": memory_mb})
        if tmp.plot:
            _plot(df, tmp.plot)
    return Outcome(lines, out.written, {"throughput": df, "eviction": ev, "memory": pd.DataFrame(mem)})


def _plot(df, path) -> None:
    """GET throughput against value size, one line per server, pipeline depth and client count."""
    from ..harness.plots import figure, save_figure

    fig, ax = figure()
    gets = df[df["op"] == "get"]
    for i, ((server, depth, cl), g) in enumerate(gets.groupby(["server", "pipeline", "clients"])):
        g = g.sort_values("value_size")
        ax.plot(g["value_size"], g["ops_per_s"], marker="o", lw=1.2, color=f"C{i}",
                ls="-" if server == "redis" else "--", label=f"{server}, pipeline {depth}, {cl} client(s)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("value size (bytes)")
    ax.set_ylabel("GET/s")
    ax.legend(fontsize=7)
    save_figure(fig, path)
