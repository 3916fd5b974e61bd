"""``tradeoff simulate stampede``: cache stampedes and their fixes
(:func:`tradeoff.strategies.stampede.run`)."""
from __future__ import annotations

import click

from ._app import progress, show, to_stderr
from ._simulate import simulate


@simulate.command("stampede")
@click.option("--fix", "fix_spec", default="none,lock,jitter,xfetch:beta=1,swr", show_default=True,
              metavar="F1,F2",
              help="Fixes: none, lock[:stale=1], jitter[:spread=0.1], xfetch[:beta=1], swr[:window=1s]; 'all'.")
@click.option("--rate", default="1000", show_default=True, metavar="R1,R2",
              help="Request rates (per second, over all keys); one row per fix and rate.")
@click.option("--recompute", default="200ms", show_default=True, metavar="DURATION",
              help="Time of a recompute (the slow query): 200ms (constant) or exp:200ms.")
@click.option("--ttl", default="60s", show_default=True, metavar="DURATION", help="Time to live of a value.")
@click.option("--keys", type=int, default=1, show_default=True, help="Hot keys (requests spread evenly).")
@click.option("--requests", "n_requests", default="1e6", show_default=True, metavar="N", help="Requests per run.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cluster", default=None, metavar="ADDRESS|local:N",
              help="Simulate on dask, one task per fix and rate: a scheduler (tcp://host:8786) or N local "
                   "worker processes (--real runs stay here).")
@click.option("--real", is_flag=True,
              help="Also serve the same requests for real: threads, an in-process cache, SQLite (WAL) behind it.")
@click.option("--lock", "lock_backend", type=click.Choice(["local", "redis"]), default="local", show_default=True,
              help="--real: the lock fix's lock: in-process single flight, or Redis SET NX PX (redis-server).")
@click.option("--peers", is_flag=True, help="Also run dogpile.cache and diskcache's memoize_stampede for real.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw recomputes per expiry against rate, one line per fix (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-stampede-DATE-TIME.json).")
@click.option("--format", "--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table",
              show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_stampede(fix_spec, rate, recompute, ttl, keys, n_requests, seed, cluster, real, lock_backend, peers,
                      plot, output, fmt, quiet) -> None:
    """A hot key expires while clients read it: recomputes per expiry, peak database
    queries, p99 latency and stale reads, per fix and rate.

    \b
    tradeoff simulate stampede --fix none,lock,jitter,xfetch:beta=1,swr --rate 1000,2000,4000
    tradeoff simulate stampede --fix all --rate 200 --recompute 50ms --ttl 1s --requests 2000 --real --peers
    tradeoff simulate stampede --fix none,xfetch:beta=1 --rate 100,1000,10000 --plot stampede.png
    """
    from ..strategies.stampede import run

    show(run(fix=fix_spec, rate=rate, recompute=recompute, ttl=ttl, keys=keys, requests=n_requests, seed=seed,
             real=real, lock=lock_backend, peers=peers, plot_path=plot, output=output, fmt=fmt, cluster=cluster,
             progress=progress(quiet), note=to_stderr))
