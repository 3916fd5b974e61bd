"""``tradeoff simulate cache|ring|balance|index|delivery|queue|groups|replication|pbs`` and
``tradeoff mrc``: each command maps
its options to its area's one entry point (``tradeoff.cache.simulate.run``,
``tradeoff.ring.experiment.run``, ...) and shows the outcome. The choices in the help
come from the areas' catalogues, read only when that help is shown."""
from __future__ import annotations

import importlib

import click

from ._app import LazyHelp, cli, progress, show, to_stderr


def _choices_help(module: str, name: str, what: str) -> str:
    catalogue = getattr(importlib.import_module(module), name)
    return f"{what}, with parameters after colons: {catalogue.help()}. 'all': every one."


@cli.group()
def simulate() -> None:
    """Simulate a building block on a trace or a workload and compare its strategies."""


@simulate.command("cache")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
              help="A trace file (oracleGeneral, csv, text, binary or npy; compressed or not).")
@click.option("--format", "trace_format", default=None, help="The trace's format (default: guessed).")
@click.option("-r", "--read-option", "read_options", multiple=True, metavar="NAME=VALUE",
              help="Passed to the trace reader, e.g. -r key=1 -r delimiter=';' or -r dtype='>i8'.")
@click.option("--workload", default=None, metavar="SPEC",
              help="A generated trace instead, e.g. zipf:alpha=0.9,objects=1e6,requests=1e7.")
@click.option("--policy", "policy_spec", default="all", show_default=True, metavar="P1,P2", cls=LazyHelp,
              lazy_help=lambda: _choices_help("tradeoff.cache", "POLICY_SPECS", "Policies"))
@click.option("--size", "size_spec", default="0.1%,1%,10%", show_default=True, metavar="S1,S2",
              help="Cache sizes: objects (bytes with --bytes), or percentages of the distinct keys.")
@click.option("--grid", type=click.IntRange(min=2, max=200), default=None, metavar="N",
              help="Instead of --size: N sizes spaced evenly on a log scale from 0.1% to 100% (a curve).")
@click.option("--bytes", "use_bytes", is_flag=True,
              help="Use the trace's object sizes: sizes count bytes, and byte miss ratios are reported.")
@click.option("--ttl", type=click.IntRange(min=1), default=None,
              help="Expire objects this long after insertion, in the unit of the trace's times.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Processes (default: the cores).")
@click.option("--cluster", default=None, metavar="ADDRESS|local:N",
              help="Run the replays on dask: a scheduler (tcp://host:8786) or N local worker processes.")
@click.option("--cluster-data", default="scatter", show_default=True, metavar="scatter|path[:DIR]",
              help="With --cluster: send the trace to the workers once, or write it to DIR for them to read.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of a generated workload.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw miss ratio against size (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-cache-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_cache(trace_path, trace_format, read_options, workload, policy_spec, size_spec, grid, use_bytes,
                   ttl, jobs, cluster, cluster_data, seed, plot, output, fmt, quiet) -> None:
    """Replay a trace through eviction policies at several sizes; print hit ratios.

    \b
    tradeoff simulate cache --workload zipf:alpha=0.9,objects=1e5,requests=1e6
    tradeoff simulate cache --trace multi1.trace.gz --policy lru,arc,lirs --size 500,1000
    tradeoff simulate cache --trace multi1.trace.gz --grid 20 --plot curves.png
    tradeoff simulate cache --trace t.oracleGeneral.bin --bytes --size 1%,10%
    """
    from ..cache.simulate import run

    show(run(trace=trace_path, trace_format=trace_format, read_options=read_options, workload=workload,
             policy=policy_spec, size=size_spec, grid=grid, use_bytes=use_bytes, ttl=ttl, jobs=jobs, cluster=cluster,
             cluster_data=cluster_data, seed=seed, plot=plot, output=output, fmt=fmt, progress=progress(quiet), note=to_stderr))


@simulate.command("ring")
@click.option("--partitioner", "spec", default="all", show_default=True, metavar="P1,P2", cls=LazyHelp,
              lazy_help=lambda: _choices_help("tradeoff.ring.experiment", "PARTITIONERS", "Partitioners"))
@click.option("--nodes", type=click.IntRange(min=1), default=100, show_default=True, help="Nodes to start with.")
@click.option("--keys", "n_keys", default="1e6", show_default=True, metavar="N", help="How many distinct keys.")
@click.option("--add", type=click.IntRange(min=1), default=None, metavar="K",
              help="Then add K nodes and measure the keys that move.")
@click.option("--remove", type=click.IntRange(min=1), default=None, metavar="K",
              help="Then remove the last K nodes and measure the keys that move.")
@click.option("--key-type", type=click.Choice(["int", "str"]), default="int", show_default=True,
              help="Random 64-bit integers, or strings key:0, key:1, ...")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random keys.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-ring-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_ring(spec, nodes, n_keys, add, remove, key_type, seed, output, fmt, quiet) -> None:
    """Spread keys over nodes with several partitioners; print balance, movement and speed.

    \b
    tradeoff simulate ring --partitioner jump,ring:vnodes=100,maglev --nodes 100 --keys 1e6 --add 1
    tradeoff simulate ring --partitioner ring:vnodes=1,ring:vnodes=10,ring:vnodes=100,ring:vnodes=1000
    tradeoff simulate ring --partitioner all --nodes 10 --remove 1 --key-type str
    """
    from ..ring.experiment import run

    show(run(partitioner=spec, nodes=nodes, keys=n_keys, add=add, remove=remove, key_type=key_type, seed=seed,
             output=output, fmt=fmt, progress=progress(quiet)))


@simulate.command("balance")
@click.option("--policy", "spec", default="rr,lc,p2c,random", show_default=True, metavar="P1,P2", cls=LazyHelp,
              lazy_help=lambda: _choices_help("tradeoff.balance.experiment", "POLICIES", "Policies"))
@click.option("--servers", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--load", type=float, default=0.9, show_default=True,
              help="Offered load: arrival rate over total service capacity (>= 1 runs, and warns).")
@click.option("--service", default="exp", show_default=True, metavar="SPEC",
              help="Service times: exp, const, bimodal:p=0.1,ratio=10, lognormal:sigma=1.5, "
                   "pareto:alpha=2.5, file:PATH.")
@click.option("--arrivals", default="poisson", show_default=True, metavar="SPEC",
              help="poisson, onoff:on=1s,off=1s, batch:size=10 or trace:PATH (arrival times in seconds).")
@click.option("--requests", "n_requests", default="1e6", show_default=True, metavar="N")
@click.option("--discipline", type=click.Choice(["fcfs", "ps"]), default="fcfs", show_default=True,
              help="First come first served, or processor sharing.")
@click.option("--speeds", default=None, metavar="V1,V2,...",
              help="Server speeds (default all 1); policies get them as weights.")
@click.option("--mean-service", default="10ms", show_default=True, metavar="DURATION",
              help="The mean service time: ties latencies (in its units) to the seconds of failures and checks.")
@click.option("--fail", "fail_spec", default=None, metavar="S@T1-T2,...",
              help="Server S is down from T1 to T2, e.g. 3@10s-40s (units us, ms, s, m, h; default s).")
@click.option("--health", "health_spec", default=None, metavar="interval=2s,rise=2,fall=3,timeout=1s",
              help="Active health checks (HAProxy's rise and fall). 'on' for the defaults.")
@click.option("--eject", "eject_spec", default=None, metavar="errors=5,time=30s,max=10",
              help="Passive ejection after consecutive errors (Envoy style). 'on' for the defaults.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cluster", default=None, metavar="ADDRESS|local:N",
              help="Run one dask task per policy: a scheduler (tcp://host:8786) or N local worker processes.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw the latency CDFs (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-balance-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_balance(spec, servers, load, service, arrivals, n_requests, discipline, speeds, mean_service,
                     fail_spec, health_spec, eject_spec, seed, cluster, plot, output, fmt, quiet) -> None:
    """Simulate requests through balancing policies; print tail latencies.

    Latencies are in units of the mean service time. Every policy sees the
    same arrivals and service times.

    \b
    tradeoff simulate balance --policy rr,lc,p2c,random --servers 10 --load 0.9
    tradeoff simulate balance --service lognormal:sigma=1.5 --plot cdf.png
    tradeoff simulate balance --fail 3@10s-40s --health interval=2s,rise=2,fall=3 --eject on
    """
    from ..balance.experiment import run

    show(run(policy=spec, servers=servers, load=load, service=service, arrivals=arrivals, requests=n_requests,
             discipline=discipline, speeds=speeds, mean_service=mean_service, fail=fail_spec, health=health_spec,
             eject=eject_spec, seed=seed, plot=plot, output=output, fmt=fmt, cluster=cluster,
             progress=progress(quiet), note=to_stderr))


@simulate.command("index")
@click.option("--mix", "mix_spec", default="read:80,range:15,write:5", show_default=True, metavar="OP:W,...",
              help="The query mix: weights of read (point lookups), range (scans) and write (insert/delete).")
@click.option("--keys", "n_keys", default="1e6", show_default=True, metavar="N", help="Keys in the index.")
@click.option("--ops", "n_ops", default="1e5", show_default=True, metavar="N",
              help="Operations the mix stands for (O(n) ones are timed on a sample).")
@click.option("--range-size", type=click.IntRange(min=1), default=100, show_default=True,
              help="Keys a range query returns.")
@click.option("--kinds", default="btree,hash,sorted,scan", show_default=True, metavar="K1,K2", cls=LazyHelp,
              lazy_help=lambda: _choices_help("tradeoff.index.experiment", "KINDS", "Index kinds"))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-index-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_index(mix_spec, n_keys, n_ops, range_size, kinds, seed, output, fmt, quiet) -> None:
    """Time index kinds on a query mix; print which to choose and why.

    \b
    tradeoff simulate index --mix read:80,range:15,write:5 --keys 1e6
    tradeoff simulate index --mix read:100 --kinds btree,hash
    tradeoff simulate index --mix range:50,write:50 --range-size 1000
    """
    from ..index.experiment import run

    show(run(mix=mix_spec, keys=n_keys, ops=n_ops, range_size=range_size, kinds=kinds, seed=seed, output=output,
             fmt=fmt, progress=progress(quiet)))


@simulate.command("delivery")
@click.option("--semantics", default="at-most-once,at-least-once,exactly-once", show_default=True,
              metavar="S1,S2", help="at-most-once, at-least-once, exactly-once, idempotent-consumer, or all.")
@click.option("--broker", default="log", show_default=True, metavar="NAME",
              help="log (Kafka's model), queue (SQS's) or redis (the log scenario through a real "
                   "redis-server, started on a unix socket, beside the simulation).")
@click.option("--messages", default="1e6", show_default=True, metavar="N")
@click.option("--partitions", type=int, default=12, show_default=True, help="The log's partitions.")
@click.option("--consumers", type=int, default=3, show_default=True)
@click.option("--batch", type=int, default=10, show_default=True,
              help="Records per fetch (the log's max.poll.records) or receive (the queue: 1..10).")
@click.option("--rate", type=float, default=2000.0, show_default=True,
              help="Messages per second (Poisson); 0: all at once.")
@click.option("--crash", default="0.01%", show_default=True,
              help="Chance that a consumer dies right after processing a message.")
@click.option("--ack-loss", default="0.1%", show_default=True,
              help="Chance that a send is stored but its acknowledgement is lost.")
@click.option("--request-loss", default="0.1%", show_default=True,
              help="Chance that a send never reaches the broker.")
@click.option("--broker-restart", default="0.01%", show_default=True,
              help="Chance that the broker restarts during a send (stored, not acknowledged).")
@click.option("--rebalance", default="0.1%", show_default=True,
              help="Chance that the group rebalances before a batch's commit (the log).")
@click.option("--visibility", type=float, default=30.0, show_default=True,
              help="The queue's visibility timeout, seconds.")
@click.option("--max-deliveries", type=int, default=0, show_default=True,
              help="Dead-letter a message delivered more than this many times (0: never).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-delivery-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_delivery(semantics, broker, messages, partitions, consumers, batch, rate, crash, ack_loss,
                      request_loss, broker_restart, rebalance, visibility, max_deliveries, seed, output, fmt,
                      quiet) -> None:
    """How many messages each delivery guarantee loses or processes twice when
    consumers crash, acknowledgements get lost, the broker restarts and the group
    rebalances; with latency and throughput.

    \b
    tradeoff simulate delivery --crash 1% --messages 1e6
    tradeoff simulate delivery --semantics all --broker queue --visibility 5
    tradeoff simulate delivery --broker redis --messages 1e4 --crash 1% --ack-loss 2%
    """
    from ..messaging.experiment import run_delivery

    show(run_delivery(semantics=semantics, broker=broker, messages=messages, partitions=partitions,
                      consumers=consumers, batch=batch, rate=rate, crash=crash, ack_loss=ack_loss,
                      request_loss=request_loss, broker_restart=broker_restart, rebalance=rebalance,
                      visibility=visibility, max_deliveries=max_deliveries, seed=seed, output=output, fmt=fmt,
                      progress=progress(quiet), note=to_stderr))


@simulate.command("queue")
@click.option("--broker", default="log,queue", show_default=True, metavar="B1,B2",
              help="log (each partition read by one consumer) and/or queue (any consumer takes the next message).")
@click.option("--profile", default="spike", show_default=True, metavar="SPEC",
              help="constant, spike:factor=3,start=60,duration=30 or diurnal:amplitude=0.5,period=3600.")
@click.option("--rate", type=float, default=100.0, show_default=True, help="Base rate, messages per second.")
@click.option("--consumers", type=int, default=4, show_default=True)
@click.option("--partitions", type=int, default=12, show_default=True, help="The log's partitions.")
@click.option("--keys", type=int, default=10_000, show_default=True, help="Distinct message keys.")
@click.option("--skew", type=float, default=0.0, show_default=True, help="Zipf exponent of the keys (0: uniform).")
@click.option("--service", default="exp", show_default=True, metavar="SPEC",
              help="Service-time distribution: exp, const or lognormal:sigma=1.")
@click.option("--service-mean", default="30ms", show_default=True, help="Mean time to process a message.")
@click.option("--duration", default="10m", show_default=True, help="Simulated time.")
@click.option("--sample-every", default="1s", show_default=True, help="Time between points of the series.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw the backlog over time (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-queue-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_queue(broker, profile, rate, consumers, partitions, keys, skew, service, service_mean, duration,
                   sample_every, seed, plot, output, fmt, quiet) -> None:
    """How far consumers fall behind a traffic spike, and how long they take to catch
    up: backlog, lag and latency over time, per broker.

    \b
    tradeoff simulate queue --profile spike:factor=5,start=60,duration=30 --plot spike.png
    tradeoff simulate queue --skew 1.2 --partitions 8 --consumers 8
    tradeoff simulate queue --profile diurnal:amplitude=0.8,period=1h --duration 2h --rate 120
    """
    from ..messaging.experiment import run_queue

    show(run_queue(broker=broker, profile=profile, rate=rate, consumers=consumers, partitions=partitions,
                   keys=keys, skew=skew, service=service, service_mean=service_mean, duration=duration, seed=seed,
                   sample_every=sample_every, plot=plot, output=output, fmt=fmt, progress=progress(quiet),
                   note=to_stderr))


@simulate.command("groups")
@click.option("--assignor", default="range,roundrobin,sticky,cooperative-sticky", show_default=True,
              metavar="A1,A2", help="Kafka's assignors to compare (or all).")
@click.option("--partitions", type=int, default=12, show_default=True)
@click.option("--members", default="1..8", show_default=True, metavar="RANGE",
              help="Group sizes to report, e.g. 1..8 or 1,2,4,8.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-groups-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_groups(assignor, partitions, members, output, fmt, quiet) -> None:
    """Partitions moved and paused per join and leave, per assignor.

    \b
    tradeoff simulate groups --partitions 12 --members 1..8
    tradeoff simulate groups --assignor sticky,cooperative-sticky --partitions 100 --members 1,10,50
    """
    from ..messaging.experiment import run_groups

    show(run_groups(assignor=assignor, partitions=partitions, members=members, output=output, fmt=fmt,
                    progress=progress(quiet)))


@simulate.command("replication")
@click.option("--scheme", default="leader:async,leader:semisync,leader:sync", show_default=True, metavar="S1,S2",
              help="leader:async, leader:semisync[=K] (K followers acknowledge), leader:sync; "
                   "leaderless:N=3,R=2,W=2[,repair=off|async|blocking][,sloppy][,nodes=M][,ae=T][,clock=T][,down=T] "
                   "(Dynamo-style quorums); multileader:lww|vv|crdt[,clock=T] (one leader per replica; "
                   "last-writer-wins, version vectors or a PN-counter CRDT).")
@click.option("--n", "n", type=int, default=3, show_default=True, help="Replicas.")
@click.option("--reads", type=click.Choice(["leader", "follower", "sticky", "any"]), default="follower",
              show_default=True, help="Where reads go: the leader, a random follower, one follower per session, any replica.")
@click.option("--clients", type=int, default=10, show_default=True, help="Clients, one session each.")
@click.option("--ops", default="1e6", show_default=True, metavar="N")
@click.option("--read-fraction", type=float, default=0.9, show_default=True)
@click.option("--keys", type=int, default=1000, show_default=True)
@click.option("--skew", type=float, default=0.0, show_default=True, help="Zipf exponent of the keys (0: uniform).")
@click.option("--latency", default="exp:mean=1ms", show_default=True, metavar="SPEC",
              help="One-way network delays: exp:mean=1ms, const:1ms, or a named fit such as lnkd-ssd.")
@click.option("--crash", default=None, metavar="T1,T2",
              help="Crash the leader at these times (e.g. 5s); leaderless and multileader: "
                   "node 0 at T1, node 1 at T2, ...")
@click.option("--detect", type=float, default=0.5, show_default=True,
              help="Seconds before followers notice a crash; with --partition also the leader's lease.")
@click.option("--partition", default=None, metavar="SCHEDULE",
              help="Network partitions for every scheme, e.g. '2s-5s:{0,1}|{2}' (several joined by ';'): "
                   "which groups of nodes can talk, and when; messages across a cut are held until it heals.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cluster", default=None, metavar="ADDRESS|local:N",
              help="Run one dask task per scheme: a scheduler (tcp://host:8786) or N local worker processes.")
@click.option("--history", type=click.Path(dir_okay=False), default=None,
              help="Record every operation as Jepsen-style JSON lines (one scheme).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw replication lag over time.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-replication-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_replication(scheme, n, reads, clients, ops, read_fraction, keys, skew, latency, crash, detect,
                         partition, seed, cluster, history, plot, output, fmt, quiet) -> None:
    """How stale follower reads are, what each acknowledgement mode costs in write
    latency, what a leader crash loses, what multi-leader conflicts lose, and what a
    network partition does to availability (CP) or consistency (AP).

    \b
    tradeoff simulate replication --ops 1e6
    tradeoff simulate replication --crash 5s --reads sticky --plot lag.png
    tradeoff simulate replication --scheme leader:async --ops 1e4 --history run.jsonl
    tradeoff simulate replication --scheme leaderless:N=3,R=2,W=2,repair=blocking --latency lnkd-ssd
    tradeoff simulate replication --scheme multileader:lww,clock=5ms,multileader:vv,multileader:crdt
    tradeoff simulate replication --scheme leaderless:N=3,R=2,W=2,leaderless:N=3,R=1,W=1 --partition '2s-5s:{0,1}|{2}'
    """
    from ..replication.experiment import run_replication

    show(run_replication(scheme=scheme, n=n, reads=reads, clients=clients, ops=ops, read_fraction=read_fraction,
                         keys=keys, skew=skew, latency=latency, crash=crash, detect=detect, partition=partition,
                         seed=seed, history=history, plot=plot, output=output, fmt=fmt, cluster=cluster,
                         progress=progress(quiet)))


@simulate.command("pbs")
@click.option("--n", "n", type=int, default=3, show_default=True, help="Replicas.")
@click.option("--r", "r", default="1,2", show_default=True, metavar="R1,R2", help="Read quorum sizes.")
@click.option("--w", "w", default="1,2", show_default=True, metavar="W1,W2", help="Write quorum sizes.")
@click.option("--latency", default="lnkd-ssd,lnkd-disk,ymmr,wan", show_default=True, metavar="F1,F2",
              help="The PBS paper's fits (lnkd-ssd, lnkd-disk, ymmr, wan, all) or distributions such as "
                   "exp:mean=2ms, lognormal:median=1ms,sigma=1, pareto:xm=1ms,alpha=2, file:PATH.")
@click.option("--trials", default="1e6", show_default=True, metavar="N", help="Monte Carlo trials per row.")
@click.option("--t-max", default=None, help="The plot's right edge (e.g. 200ms).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw the t-visibility curves (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-pbs-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_pbs(n, r, w, latency, trials, t_max, seed, plot, output, fmt, quiet) -> None:
    """Probabilistically bounded staleness (Bailis et al., VLDB 2012): how likely a
    read is to see a write t ms after it commits, for N, R, W and a latency fit, beside
    the paper's figures.

    \b
    tradeoff simulate pbs
    tradeoff simulate pbs --n 3 --r 1 --w 1 --latency lnkd-ssd --plot pbs.png
    tradeoff simulate pbs --n 5 --r 1,2,3 --w 1,2,3 --latency exp:mean=2ms
    """
    from ..replication.pbs import run_pbs

    show(run_pbs(n=n, r=r, w=w, latency=latency, trials=trials, t_max=t_max, seed=seed, plot=plot, output=output,
                 fmt=fmt, progress=progress(quiet)))


@cli.command("mrc")
@click.argument("trace_path", metavar="TRACE", type=click.Path(dir_okay=False))
@click.option("--format", "trace_format", default=None, help="The trace's format (default: guessed).")
@click.option("-r", "--read-option", "read_options", multiple=True, metavar="NAME=VALUE",
              help="Passed to the trace reader, e.g. -r dtype='>i8'.")
@click.option("--sample", type=click.FloatRange(min=0, max=1, min_open=True), default=None, metavar="RATE",
              help="SHARDS spatial sampling at this rate (e.g. 0.01) instead of the exact curve.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw the curve (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the whole curve (size, miss_ratio, ...) as CSV.")
def mrc_cmd(trace_path, trace_format, read_options, sample, plot, output) -> None:
    """The LRU miss-ratio curve of TRACE at every cache size, in one pass.

    Exact by default (stack distances, O(N log M)); with --sample, SHARDS
    sampling estimates it and reports the rate and an error estimate.
    """
    from ..cache.simulate import run_mrc

    show(run_mrc(trace=trace_path, trace_format=trace_format, read_options=read_options, sample=sample,
                 plot=plot, output=output, note=to_stderr))
