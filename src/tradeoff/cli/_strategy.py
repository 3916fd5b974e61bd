"""``tradeoff simulate strategy``: caching strategies against a real database and cache."""
from __future__ import annotations

import click

from ._app import progress, show, to_stderr
from ._simulate import simulate


@simulate.command("strategy")
@click.option("--strategy", "strategy_spec", default="aside,read-through,write-through,write-behind",
              show_default=True, metavar="S1,S2",
              help="aside (invalidate on write), aside:update, aside:lease, aside:delay, aside:versioned, "
                   "read-through, write-through, write-behind, write-around, refresh-ahead; 'all': every one.")
@click.option("--store", "store_spec", default="sqlite", show_default=True, metavar="sqlite[:PATH]|postgresql[:DSN]",
              help="The database: SQLite (a file in a temporary folder, or PATH), or PostgreSQL at DSN "
                   "(without one: a throwaway cluster on a unix socket, where the server is installed).")
@click.option("--cache", "cache_spec", default="local:lru", show_default=True,
              metavar="local[:POLICY[:SIZE]]|redis[:ADDR]|memcached[:ADDR]",
              help="The cache tier: this package's caches in process, or a Redis or Memcached server "
                   "(started on a unix socket in a temporary folder unless ADDR, a socket path or host:port, is given).")
@click.option("--mix", default="read:90,write:10", show_default=True, metavar="read:P,write:Q",
              help="Percentages of reads and writes (summing to 100).")
@click.option("--keys", "keys_spec", default="zipf:1.0", show_default=True, metavar="zipf[:ALPHA]|uniform",
              help="How keys are drawn.")
@click.option("--key-count", type=int, default=10_000, show_default=True, help="Distinct keys in the table.")
@click.option("--value-size", type=int, default=100, show_default=True, help="Bytes per value.")
@click.option("--clients", type=int, default=8, show_default=True, help="Closed-loop client threads.")
@click.option("--duration", default="30s", show_default=True, metavar="DURATION",
              help="How long each strategy runs (0 with --ops: until the ops are done).")
@click.option("--ops", type=int, default=0, help="Requests per client (stops before --duration if reached).")
@click.option("--ttl", default="60s", show_default=True, metavar="DURATION", help="Cache entries' TTL.")
@click.option("--db-delay", default="0", show_default=True, metavar="DURATION",
              help="Sleep before every database query: a slower database.")
@click.option("--flush-interval", default="500ms", show_default=True, metavar="DURATION",
              help="Write-behind: flush the buffer this often.")
@click.option("--batch-size", type=int, default=1000, show_default=True,
              help="Write-behind: flush as soon as this many keys wait.")
@click.option("--crash-at", default=None, metavar="DURATION",
              help="Run each strategy in a child process killed by SIGKILL at this time; count acknowledged "
                   "writes missing from the database.")
@click.option("--race", is_flag=True, help="Also force the cache-aside race once per fix and show the outcome.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw read and write latency CDFs (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-strategy-DATE-TIME.json).")
@click.option("--format-table", "--format", "fmt", type=click.Choice(["table", "markdown"]), default="table",
              show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_strategy(strategy_spec, store_spec, cache_spec, mix, keys_spec, key_count, value_size, clients,
                      duration, ops, ttl, db_delay, flush_interval, batch_size, crash_at, race, seed, plot, output,
                      fmt, quiet) -> None:
    """Run caching strategies against a real database and cache tier; print latency,
    database queries per request, hit ratio, stale reads and write amplification, or,
    with --crash-at, the acknowledged writes each strategy loses when killed.

    \b
    tradeoff simulate strategy --duration 10s
    tradeoff simulate strategy --strategy aside,aside:lease,aside:delay,aside:versioned --db-delay 1ms --race
    tradeoff simulate strategy --store postgresql --cache redis --mix read:50,write:50
    tradeoff simulate strategy --strategy write-behind,write-through --crash-at 5s --flush-interval 1s
    """
    from ..strategies.experiment import run

    show(run(strategy=strategy_spec, store=store_spec, cache=cache_spec, mix=mix, keys=keys_spec, n_keys=key_count,
             value_size=value_size, clients=clients, duration=duration, ops=ops, ttl=ttl, db_delay=db_delay,
             flush_interval=flush_interval, batch_size=batch_size, crash_at=crash_at, race=race, seed=seed,
             plot=plot, output=output, fmt=fmt, progress=progress(quiet), note=to_stderr))
