"""``tradeoff simulate cdn``: layered caches from the browser to the origin
(:func:`tradeoff.cdn.experiment.run`)."""
from __future__ import annotations

import click

from ._app import progress, show
from ._simulate import simulate


@simulate.command("cdn")
@click.option("--layers", default="browser,edge:pops=5:size=10GB:policy=s3fifo,shield,proxy,app,origin",
              show_default=True, metavar="SPEC",
              help="Layers in order: browser, edge[:pops=N:size=10GB:policy=P:rtt=20ms:collapse=on], shield, "
                   "proxy, app[:ttl=30s], db[:ttl=60s], origin[:rtt=2ms]; the origin is required. "
                   "browser:size=50MB bounds each client's cache (LRU by bytes; unbounded by default).")
@click.option("--workload", default="site", show_default=True, metavar="SPEC",
              help="site:assets=5000,pages=20000,images=,videos=,api=,personal=,clients=,regions=,zipf=,"
                   "churn=,diurnal=,duration=24h; with --trace: trace:class=image,regions=5,format=,key=,time=,size=")
@click.option("--trace", type=click.Path(dir_okay=False), default=None,
              help="Requests instead of a generated workload: a CSV log with a url column (time, client or "
                   "region, url, size; optional status and header columns), or any trace tradeoff.traces "
                   "reads with times and sizes (oracleGeneral; format=wikimedia in --workload).")
@click.option("--requests", "n_requests", default="1e6", show_default=True, metavar="N")
@click.option("--deploy", default="every=1h", show_default=True, metavar="SPEC",
              help="every=1h or a list 10m,2h; ',changed=0.2': the share of objects a deploy changes; none.")
@click.option("--assets", default="hashed", show_default=True, metavar="hashed|max-age=N",
              help="Static asset names: content-hashed (immutable) or stable with max-age=N; both: 'hashed,max-age=300'.")
@click.option("--purge", default="tag", show_default=True, metavar="url|tag|none", help="Purge at deploy; a list compares.")
@click.option("--origin", "origin_mode", default="pull", show_default=True, metavar="pull|push",
              help="Origin pull, or push of static content to CDN storage at deploy; a list compares.")
@click.option("--push-above", default="100MB", show_default=True, metavar="SIZE",
              help="Objects above this size are always pushed.")
@click.option("--purge-delay", default="2s", show_default=True, metavar="DURATION",
              help="Propagation of a purge to the farthest edge.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw origin load and staleness over time (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-cdn-DATE-TIME.json).")
@click.option("--format", "--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table",
              show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_cdn(layers, workload, trace, n_requests, deploy, assets, purge, origin_mode, push_above,
                 purge_delay, seed, plot, output, fmt, quiet) -> None:
    """Requests through browser caches, CDN edges, a shield, a reverse proxy, the
    application and database caches to the origin; per layer: hit ratios by requests
    and bytes, what reaches the origin, latency, egress, staleness after deploys.

    \b
    tradeoff simulate cdn --requests 1e6 --assets hashed,max-age=300
    tradeoff simulate cdn --layers edge:pops=3:size=1GB,origin --purge url,tag --plot cdn.png
    """
    from ..cdn.experiment import run

    show(run(layers=layers, workload=workload, trace=trace, requests=n_requests, deploy=deploy,
             assets=assets, purge=purge, origin=origin_mode, push_above=push_above, purge_delay=purge_delay,
             seed=seed, output=output, plot_path=plot, fmt=fmt, progress=progress(quiet)))
