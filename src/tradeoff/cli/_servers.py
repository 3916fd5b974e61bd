"""``tradeoff simulate servers``: Redis against Memcached, both real, on unix sockets."""
from __future__ import annotations

import click

from ._app import progress, show
from ._simulate import simulate


@simulate.command("servers")
@click.option("--servers", default="redis,memcached", show_default=True, metavar="S1,S2",
              help="redis, memcached (each started in a temporary folder and stopped afterwards).")
@click.option("--values", default="100,10k,100k", show_default=True, metavar="B1,B2", help="Value sizes in bytes.")
@click.option("--pipeline", default="1,16", show_default=True, metavar="P1,P2",
              help="Commands per round trip (Redis pipelines; memcached multi-get and batched sets).")
@click.option("--clients", default="1,2", show_default=True, metavar="C1,C2",
              help="Client processes at once, each with its own connection.")
@click.option("--requests", default="20000", show_default=True, metavar="N", help="Requests per client per row.")
@click.option("--threads", type=int, default=4, show_default=True, help="memcached's worker threads (-t).")
@click.option("--eviction", "eviction_spec", default="default", show_default=True, metavar="C1,C2",
              help="Eviction runs: redis:lru[:SAMPLES], redis:lfu[:SAMPLES], memcached; 'none' skips them; "
                   "default: redis:lru:5, redis:lru:10, redis:lfu:5, memcached.")
@click.option("--workload", default="zipf:alpha=0.9,objects=40000,requests=60000", show_default=True,
              metavar="SPEC", help="The keys the eviction runs replay (as in 'simulate cache').")
@click.option("--trace", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Replay this trace's keys instead of --workload.")
@click.option("--trace-format", default=None, help="The trace's format (default: guessed).")
@click.option("--memory", "memory_mb", type=click.IntRange(2), default=16, show_default=True,
              help="Each server's memory for the eviction runs, MB.")
@click.option("--eviction-value", type=click.IntRange(1), default=1000, show_default=True,
              help="Value size of the eviction runs, bytes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw GET/s against value size.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-servers-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_servers(servers, values, pipeline, clients, requests, threads, eviction_spec, workload, trace,
                     trace_format, memory_mb, eviction_value, seed, plot, output, fmt, quiet) -> None:
    """Redis or Memcached: GET/SET throughput and latency by value size, pipelining
    and clients, memory per key, and how close each server's eviction comes to
    the exact LRU and LFU it approximates on the same keys.

    \b
    tradeoff simulate servers
    tradeoff simulate servers --values 100 --pipeline 1 --eviction none
    tradeoff simulate servers --servers redis --eviction redis:lru:1,redis:lru:5,redis:lru:10 --trace t.csv
    """
    from ..strategies.kvservers import run_servers

    show(run_servers(servers=servers, values=values, pipeline=pipeline, clients=clients, requests=requests,
                     threads=threads, eviction_spec=eviction_spec, workload=workload, trace=trace,
                     trace_format=trace_format, memory_mb=memory_mb, eviction_value=eviction_value, seed=seed,
                     plot=plot, output=output, fmt=fmt, progress=progress(quiet)))
