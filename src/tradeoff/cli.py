"""The ``tradeoff`` command line: parse, call the harness, render, map errors to exit codes.

Exit status: 0 success; 1 ``compare`` found a regression; 2 bad input (one line on
stderr, never a traceback); 130 interrupted. pandas and matplotlib are imported
only by the commands that need them, so ``tradeoff --help`` stays fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ._version import __version__
from .harness.errors import UserError

EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# click >= 8.2 raises this for a bare `tradeoff`; older versions print the help themselves
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _fail(message: str) -> None:
    raise UserError(message)


def _write_or_print(text: str, output: str | None) -> None:
    if output:
        from ._atomic import atomic_write_text

        try:
            atomic_write_text(output, text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror or exc}")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text.rstrip("\n"))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="tradeoff")
def cli() -> None:
    """Measure the trade-offs of system design.

    \b
    Run a built-in suite or your own file, read the report, gate CI:
      tradeoff list                          the built-in suites
      tradeoff run cache                     time and score the cache suite
      tradeoff run my_suite.py -k lru --fast your own benchmarks, a subset, quickly
      tradeoff report results/cache.json --format markdown
      tradeoff compare base.json current.json --threshold 5%
      tradeoff simulate cache --trace FILE   which eviction policy, at what size
      tradeoff mrc FILE                      the exact LRU miss-ratio curve
    """


@cli.command("list")
@click.argument("suite", required=False)
@click.option("-k", "patterns", multiple=True, metavar="PATTERN",
              help="Only cases whose name contains PATTERN (or matches it as a glob).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2",
              help="Override a param's values.")
def list_cmd(suite: str | None, patterns: tuple[str, ...], params: tuple[str, ...]) -> None:
    """List the built-in suites, or the cases of SUITE (a name or a .py file)."""
    from .harness import registry

    if suite is None:
        import shutil
        import textwrap

        width = max(60, shutil.get_terminal_size((100, 24)).columns)
        for name in registry.builtin_suites():
            specs = registry.collect(name)
            n = sum(len(s.cases()) for s in specs)
            doc = sys.modules[f"tradeoff.suites.{name}"].__doc__ or ""
            summary = " ".join(doc.strip().split("\n\n")[0].split())     # the first paragraph, whole
            head = f"{name:<12} {n:>4} cases  "
            click.echo(textwrap.fill(summary, width=width - 1, initial_indent=head,
                                     subsequent_indent=" " * len(head)) if summary else head.rstrip())
        return
    from .harness.run import RunOptions, select

    for case in select(RunOptions(suite=suite, patterns=list(patterns), params=list(params))):
        click.echo(f"{case.kind:<9} {case.name}")


@cli.command()
@click.argument("suite")
@click.option("-k", "patterns", multiple=True, metavar="PATTERN",
              help="Only cases whose name contains PATTERN (a glob if it has * ? or [). Repeatable.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2",
              help="Override the values of a param, e.g. -p maxsize=1000,10000. Repeatable.")
@click.option("--fast", "mode", flag_value="fast",
              help="pyperf --fast: max(N/2, 3) processes of 2 values each; rough numbers quickly.")
@click.option("--rigorous", "mode", flag_value="rigorous", help="pyperf --rigorous: 2N processes; more precise.")
@click.option("--min-time", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="pyperf --min-time: the least time one value may take (default 0.1).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="pyperf worker processes per benchmark (before --fast/--rigorous scaling).")
@click.option("--values", type=click.IntRange(min=1), default=None, help="Values per worker process.")
@click.option("--rounds", type=click.IntRange(min=1), default=2, show_default=True,
              help="Spread each timed case's processes over this many passes through the suite, "
                   "so that a burst of load lands in some of them, not all.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed passed to seeded benchmarks and scenarios.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/SUITE-DATE-TIME.json).")
@click.option("--list", "list_only", is_flag=True, help="Show the cases that would run, and stop.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "none"]), default="table",
              show_default=True, help="The report printed at the end.")
def run(suite, patterns, params, mode, min_time, processes, values, rounds, seed, output, list_only,
        quiet, fmt) -> int:
    """Run SUITE (a built-in name such as cache, or a path to a .py file).

    Timed benchmarks run in pyperf worker processes; scenarios compute their
    metrics once. Progress goes to stderr, the report to stdout, the results to
    one JSON file that pyperf reads too. Ctrl-C keeps what finished.
    """
    from .harness.run import RunOptions, run as do_run, select

    opts = RunOptions(suite=suite, patterns=list(patterns), params=list(params), mode=mode or "default",
                      processes=processes, values=values, rounds=rounds, seed=seed, output=output,
                      quiet=quiet,
                      extra_pyperf_args=[f"--min-time={min_time}"] if min_time else [])
    if list_only:
        for case in select(opts):
            click.echo(f"{case.kind:<9} {case.name}")
        return 0
    outcome = do_run(opts)
    if outcome.path and fmt != "none":
        from .harness.report import render_path

        click.echo(render_path(outcome.path, fmt))
    if outcome.interrupted:
        if quiet:  # the progress lines, which say so otherwise, are off
            click.echo(f"tradeoff: interrupted: kept {len(outcome.done)} of {outcome.planned} cases"
                       + (f" in {outcome.path}" if outcome.path else ", nothing written"), err=True)
        return EXIT_INTERRUPTED
    if outcome.failed:
        click.echo(f"tradeoff: {len(outcome.failed)} case(s) failed: "
                   + "; ".join(f"{n}: {m}" for n, m in outcome.failed[:3]), err=True)
        return EXIT_REGRESSION
    return 0


@cli.command()
@click.argument("results_file", metavar="RESULTS")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "html"]), default=None,
              help="Output format (default: from -o's suffix: .txt .md .csv .html; else table).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to a file (atomically).")
def report(results_file: str, fmt: str | None, output: str | None) -> None:
    """Render a results file as a table, markdown, csv or a self-contained HTML page.

    With -o and no --format, the file's suffix picks the format: .txt (table), .md,
    .csv, .html; another suffix is refused.
    """
    from .harness.report import render_path

    if fmt is None:
        fmt = _format_from_suffix(output) if output else "table"
    if output:
        from .harness.outputs import check_writable

        check_writable(output, "the report")
    _write_or_print(render_path(results_file, fmt), output)


_REPORT_SUFFIXES = {".txt": "table", ".text": "table", ".md": "markdown", ".markdown": "markdown",
                    ".csv": "csv", ".html": "html", ".htm": "html"}


def _format_from_suffix(output: str) -> str:
    """The report format an output file's name asks for; an unknown suffix is refused
    rather than filled with a text table (``x.pdf`` would not be a PDF)."""
    ext = Path(output).suffix.lower()
    if ext not in _REPORT_SUFFIXES:
        _fail(f"cannot tell the report format from {output!r}: name it .txt, .md, .csv or .html, "
              f"or give --format")
    return _REPORT_SUFFIXES[ext]


@cli.command()
@click.argument("base")
@click.argument("current")
@click.option("--threshold", default="5%", show_default=True,
              help="Smallest slowdown that fails, as a percentage (5%) or a fraction (0.05).")
@click.option("--alpha", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.01,
              show_default=True, help="Significance level of the test.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also write the report to a file.")
def compare(base: str, current: str, threshold: str, alpha: float, fmt: str, output: str | None) -> int:
    """Compare two results files; exit 1 on a significant slowdown beyond the threshold.

    For each benchmark in both: the ratio of the means with a confidence interval
    (a bootstrap over pyperf runs), a Mann-Whitney U test, and a verdict. Changed
    scenario metrics and benchmarks in only one file are listed.
    """
    from .harness.compare import compare as do_compare, parse_threshold

    result = do_compare(base, current, threshold=parse_threshold(threshold), alpha=alpha)
    text = result.render(fmt)
    if output:
        _write_or_print(text, output)
    click.echo(text.rstrip("\n"))
    return EXIT_REGRESSION if len(result.regressions) else 0


def _read_options(pairs: tuple[str, ...]) -> dict:
    out = {}
    for pair in pairs:
        key, eq, val = pair.partition("=")
        if not eq or not key:
            _fail(f"bad read option {pair!r}: write name=value")
        if val.lstrip("-").isdigit():
            out[key] = int(val)
        elif val.lower() in ("true", "false"):
            out[key] = val.lower() == "true"
        else:
            out[key] = val
    return out


def _load_trace(path: str, fmt: str | None, options: tuple[str, ...]):
    from .traces import read

    return read(path, format=fmt, **_read_options(options))


def _progress(quiet: bool):
    if quiet:
        return None

    def show(done, total, row):
        click.echo(f"[{done}/{total}] {row['policy']} @ {row['size']:,}: hit ratio "
                   f"{100 * row['hit_ratio']:.2f}% ({row['seconds']:.2f} s)", err=True)
    return show


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
@click.option("--policy", "policy_spec", default="all", show_default=True, metavar="P1,P2",
              help="Policies, with parameters after colons: lru,arc,s3fifo:small_ratio=0.2. 'all': every one.")
@click.option("--size", "size_spec", default="0.1%,1%,10%", show_default=True, metavar="S1,S2",
              help="Cache sizes: objects (bytes with --bytes), or percentages of the distinct keys.")
@click.option("--grid", type=click.IntRange(min=2, max=200), default=None, metavar="N",
              help="Instead of --size: N sizes spaced evenly on a log scale from 0.1% to 100% (a curve).")
@click.option("--bytes", "use_bytes", is_flag=True,
              help="Use the trace's object sizes: sizes count bytes, and byte miss ratios are reported.")
@click.option("--ttl", type=click.IntRange(min=1), default=None,
              help="Expire objects this long after insertion, in the unit of the trace's times.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Processes (default: the cores).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of a generated workload.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Draw miss ratio against size (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-cache-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_cache(trace_path, trace_format, read_options, workload, policy_spec, size_spec, grid, use_bytes,
                   ttl, jobs, seed, plot, output, fmt, quiet) -> None:
    """Replay a trace through eviction policies at several sizes; print hit ratios.

    \b
    tradeoff simulate cache --workload zipf:alpha=0.9,objects=1e5,requests=1e6
    tradeoff simulate cache --trace multi1.trace.gz --policy lru,arc,lirs --size 500,1000
    tradeoff simulate cache --trace multi1.trace.gz --grid 20 --plot curves.png
    tradeoff simulate cache --trace t.oracleGeneral.bin --bytes --size 1%,10%
    """
    from .cache import simulate as sim
    from .harness.outputs import Outputs
    from .harness.run import default_output

    if (trace_path is None) == (workload is None):
        _fail("give either --trace FILE or --workload SPEC")
    policies = sim.parse_policies(policy_spec)
    out = Outputs(output or default_output("simulate-cache"), plot)    # before any work
    sizes_arr = times = None
    if trace_path:
        tr = _load_trace(trace_path, trace_format, read_options)
        keys, name = tr.keys, Path(trace_path).name
        if use_bytes:
            if tr.sizes is None:
                _fail(f"{trace_path}: the trace has no object sizes (--bytes needs them)")
            sizes_arr = tr.sizes
        if ttl is not None:
            if tr.times is None:
                _fail(f"{trace_path}: the trace has no timestamps (--ttl needs them)")
            times = tr.times
    else:
        if use_bytes or ttl is not None:
            _fail("--bytes and --ttl need a trace with sizes and times (--trace)")
        keys, name = sim.parse_workload(workload, seed), workload
    if len(keys) == 0:
        _fail(f"{name}: the trace is empty")
    sp = sim.plan_sizes(keys, size_spec, grid=grid, object_sizes=sizes_arr)
    if sp.note:
        click.echo(f"note: {sp.note}", err=True)
    if not quiet:
        click.echo(f"{name}: {len(keys):,} requests, {sp.distinct:,} distinct keys; "
                   f"{len(policies)} policies x {len(sp.sizes)} sizes", err=True)
    df = sim.sweep(keys, policies, sp.sizes, sizes_arr=sizes_arr, times=times, ttl=ttl, jobs=jobs,
                   progress=_progress(quiet))
    config = {"distinct": sp.distinct, **({"ttl": ttl} if ttl is not None else {}),
              **({"workload_seed": seed} if workload else {})}
    with out.writing() as tmp:
        sim.write_results(df, tmp.results, trace=name, extra={"tradeoff_distinct": sp.distinct},
                          config=config, byte_sizes=use_bytes)
        if tmp.plot:
            sim.plot_curves(df, tmp.plot, title=name, y="byte_miss_ratio" if use_bytes else "miss_ratio")
    for path in out.written:
        click.echo(f"wrote {path}", err=True)
    what = "byte hit ratio" if use_bytes else "hit ratio"
    pct_of = "of the bytes of the distinct objects" if use_bytes else f"of the {sp.distinct:,} distinct keys"
    click.echo(f"{what} (%) by cache size in {sp.unit}"
               + (f" (a percentage is {pct_of})" if any(sp.labels.values()) else "")
               + "; * = best online policy at that size")
    click.echo(sim.hit_ratio_table(df.assign(hit_ratio=1 - df.byte_miss_ratio) if use_bytes else df, fmt,
                                   labels=sp.labels, unit=sp.unit))


def _count(text: str, what: str) -> int:
    """``"1e6"``, ``"1_000_000"`` or ``"1000000"`` -> 1000000; a bad count is a UserError."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        _fail(f"{what} must be a count such as 1000000 or 1e6, got {text!r}")
    if value != value or value < 1 or value != int(value):
        _fail(f"{what} must be a whole number >= 1, got {text!r}")
    return int(value)


@simulate.command("ring")
@click.option("--partitioner", "spec", default="all", show_default=True, metavar="P1,P2",
              help="Partitioners, with parameters after colons: modn,range,ring:vnodes=100,ketama,"
                   "jump,rendezvous,maglev:table_size=65537,multiprobe:probes=21. 'all': every one.")
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
    from .harness.outputs import Outputs
    from .harness.run import default_output
    from .ring import experiment as ex

    keys = _count(n_keys, "--keys")
    choices = ex.parse_partitioners(spec)
    out = Outputs(output or default_output("simulate-ring"))
    show = None if quiet else (lambda line: click.echo(line, err=True))
    df = ex.compare(choices, nodes=nodes, keys=keys, add=add or 0, remove=remove or 0,
                    key_type=key_type, seed=seed, progress=show)
    with out.writing() as tmp:
        ex.write_results(df, tmp.results, key_type=key_type, seed=seed)
    click.echo(f"wrote {out.results}", err=True)
    change = (f", then {'+' + str(add) if add else '-' + str(remove)} node(s); expected = the share of "
              f"keys a perfectly balanced partitioner moves (an average, not a lower bound)"
              if (add or remove) else "")
    click.echo(f"{keys:,} {key_type} keys over {nodes} nodes{change}")
    click.echo(ex.table(df, fmt))


@simulate.command("balance")
@click.option("--policy", "spec", default="rr,lc,p2c,random", show_default=True, metavar="P1,P2",
              help="Policies, with parameters after colons: rr,wrr,lc,iphash:vnodes=160,random,"
                   "p2c:choices=2,lrt:alpha=0.3. 'all': every one.")
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
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw the latency CDFs (.png or .svg).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/simulate-balance-DATE-TIME.json).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def simulate_balance(spec, servers, load, service, arrivals, n_requests, discipline, speeds, mean_service,
                     fail_spec, health_spec, eject_spec, seed, plot, output, fmt, quiet) -> None:
    """Simulate requests through balancing policies; print tail latencies.

    Latencies are in units of the mean service time. Every policy sees the
    same arrivals and service times.

    \b
    tradeoff simulate balance --policy rr,lc,p2c,random --servers 10 --load 0.9
    tradeoff simulate balance --service lognormal:sigma=1.5 --plot cdf.png
    tradeoff simulate balance --fail 3@10s-40s --health interval=2s,rise=2,fall=3 --eject on
    """
    import warnings

    from .balance import experiment as ex
    from .balance.simulator import _speeds, parse_arrivals, parse_duration, parse_failures, parse_service
    from .harness.outputs import Outputs
    from .harness.run import default_output

    requests = _count(n_requests, "--requests")
    choices = ex.parse_policies(spec)
    out = Outputs(output or default_output("simulate-balance"), plot)
    if not load == load or load <= 0 or load == float("inf"):
        _fail(f"--load must be a number > 0, got {load}")
    try:
        parse_service(service)
        parse_arrivals(arrivals)
        fail = parse_failures(fail_spec) if fail_spec else None
        unit = parse_duration(mean_service, "--mean-service")
        health = _health(health_spec)
        outlier = _eject(eject_spec)
        speed_list = _speeds(speeds, servers).tolist() if speeds else None
    except ValueError as exc:
        _fail(str(exc))
    for f in fail or ():
        if f.server >= servers:
            _fail(f"--fail names server {f.server}, but servers are numbered 0..{servers - 1}")
    if load >= 1:
        click.echo(f"warning: load {load:g} >= 1: the servers cannot keep up, queues grow without bound "
                   f"and latencies depend on the run length", err=True)
    show = None if quiet else (lambda line: click.echo(line, err=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # the overload warning was shown once above
        runs = ex.compare(choices, servers=servers, load=load, service=service, requests=requests, seed=seed,
                          discipline=discipline, speeds=speed_list, arrivals=arrivals, fail=fail,
                          health=health, outlier=outlier, progress=show, mean_service=unit)
    title = f"{servers} servers, load {load:g}, service {service}"
    if fail:
        title += "; " + ex.failure_text(fail)
    with out.writing() as tmp:
        ex.write_results(runs, tmp.results)
        if tmp.plot:
            ex.plot_cdf(runs, tmp.plot, title=title)
    for path in out.written:
        click.echo(f"wrote {path}", err=True)
    click.echo(f"latency in units of the mean service time ({unit * 1e3:g} ms); {requests:,} requests, "
               f"{servers} servers, load {load:g}, service {service}, {discipline}; * = lowest p99")
    click.echo(ex.table(runs, fmt))


@simulate.command("index")
@click.option("--mix", "mix_spec", default="read:80,range:15,write:5", show_default=True, metavar="OP:W,...",
              help="The query mix: weights of read (point lookups), range (scans) and write (insert/delete).")
@click.option("--keys", "n_keys", default="1e6", show_default=True, metavar="N", help="Keys in the index.")
@click.option("--ops", "n_ops", default="1e5", show_default=True, metavar="N",
              help="Operations the mix stands for (O(n) ones are timed on a sample).")
@click.option("--range-size", type=click.IntRange(min=1), default=100, show_default=True,
              help="Keys a range query returns.")
@click.option("--kinds", default="btree,hash,sorted,scan", show_default=True, metavar="K1,K2",
              help="Index kinds: btree, hash, sorted (a sorted array), scan (no index).")
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
    from .harness.outputs import Outputs
    from .harness.run import default_output
    from .index import experiment as ex

    mix = ex.parse_mix(mix_spec)
    keys = _count(n_keys, "--keys")
    ops = _count(n_ops, "--ops")
    kind_list = [k.strip().lower() for k in kinds.split(",") if k.strip()]
    if not kind_list:
        _fail("--kinds is empty")
    for k in kind_list:
        if k not in ex.KINDS:
            _fail(f"unknown index kind {k!r}: choose from {', '.join(ex.KINDS)}")
    out = Outputs(output or default_output("simulate-index"))
    show = None if quiet else (lambda line: click.echo(line, err=True))
    df = ex.compare(mix, keys=keys, ops=ops, range_size=range_size, kinds=kind_list, seed=seed, progress=show)
    with out.writing() as tmp:
        ex.write_results(df, tmp.results, mix=mix, range_size=range_size, ops=ops, seed=seed)
    click.echo(f"wrote {out.results}", err=True)
    click.echo(f"{keys:,} int64 keys; mix {ex.mix_label(mix)}; a range returns {range_size:,} keys; "
               f"writes insert a random new key, then delete it; time per operation, * = lowest for the mix")
    click.echo(ex.table(df, fmt))
    click.echo()
    click.echo(ex.advice(df, mix, range_size))


def _spec_pairs(spec: str, allowed: dict[str, str], what: str) -> dict:
    out = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        key, eq, val = pair.partition("=")
        key = key.strip()
        if not eq or key not in allowed:
            _fail(f"bad {what} setting {pair!r}: write name=value with name one of {', '.join(allowed)}")
        out[allowed[key]] = val.strip()
    return out


def _health(spec: str | None):
    from .balance._base import HealthCheck
    from .balance.simulator import parse_duration

    if not spec:
        return None
    if spec.strip().lower() in ("on", "yes", "default"):
        return HealthCheck()
    p = _spec_pairs(spec, {"interval": "interval", "inter": "interval", "rise": "rise", "fall": "fall",
                           "timeout": "timeout"}, "--health")
    kw = {}
    if "interval" in p:
        kw["interval"] = parse_duration(p["interval"], "health check interval")
    if "timeout" in p:
        kw["timeout"] = parse_duration(p["timeout"], "health check timeout")
    for k in ("rise", "fall"):
        if k in p:
            try:
                kw[k] = int(p[k])
            except ValueError:
                _fail(f"--health {k} must be a whole number, got {p[k]!r}")
    return HealthCheck(**kw)


def _eject(spec: str | None):
    from .balance._base import OutlierDetector
    from .balance.simulator import parse_duration

    if not spec:
        return None
    if spec.strip().lower() in ("on", "yes", "default"):
        return OutlierDetector()
    p = _spec_pairs(spec, {"errors": "consecutive_errors", "time": "base_ejection_time",
                           "max": "max_ejection_percent"}, "--eject")
    kw = {}
    if "consecutive_errors" in p:
        try:
            kw["consecutive_errors"] = int(p["consecutive_errors"])
        except ValueError:
            _fail(f"--eject errors must be a whole number, got {p['consecutive_errors']!r}")
    if "base_ejection_time" in p:
        kw["base_ejection_time"] = parse_duration(p["base_ejection_time"], "ejection time")
    if "max_ejection_percent" in p:
        try:
            kw["max_ejection_percent"] = float(p["max_ejection_percent"].rstrip("%"))
        except ValueError:
            _fail(f"--eject max must be a percentage, got {p['max_ejection_percent']!r}")
    return OutlierDetector(**kw)


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
    import numpy as np

    from .cache import simulate as sim
    from .cache.curves import MIN_SAMPLED_KEYS, mrc
    from .harness.outputs import Outputs

    out = Outputs(output, plot)            # before the work: a bad path fails at once
    tr = _load_trace(trace_path, trace_format, read_options)
    try:
        curve = mrc(tr.keys, sample=sample)
    except ValueError as exc:
        _fail(f"{Path(trace_path).name}: {exc}")
    a = curve.attrs
    name = Path(trace_path).name
    approx = "" if sample is None else "about "
    line = f"{name}: {a.get('requests', len(tr.keys)):,} requests, {approx}{a.get('distinct', 0):,} distinct keys"
    if sample is not None:
        err = a.get("error_estimate")
        line += (f"; SHARDS sample at rate {sim.format_rate(sample)}: {a.get('sampled_distinct', 0):,} keys, "
                 f"{a.get('sampled_requests', 0):,} requests"
                 + (f", estimated error {100 * err:.2f} points" if err is not None and err == err else ""))
    click.echo(line)
    if sample is not None and a.get("sampled_distinct", 0) < 10 * MIN_SAMPLED_KEYS:
        click.echo(f"note: only {a.get('sampled_distinct', 0):,} keys were sampled: expect an error of "
                   f"several points; a rate that samples {10 * MIN_SAMPLED_KEYS:,} or more is steadier", err=True)
    with out.writing() as tmp:
        if tmp.results:
            tmp.results.write_text(curve.to_csv(index=False), encoding="utf-8")
        if tmp.plot:
            sim.plot_curves(curve.assign(policy="lru"), tmp.plot, title=f"{name}: LRU miss-ratio curve",
                            sampled=sample)
    for path in out.written:
        click.echo(f"wrote {path}", err=True)
    sizes = curve["size"].to_numpy()
    picks = np.unique(np.geomspace(sizes[0], sizes[-1], num=min(12, len(sizes))).round().astype(np.int64))
    rows = curve.set_index("size").reindex(picks, method="nearest")
    from .harness.report import format_table

    click.echo(format_table(["size (objects)", "miss ratio"],
                            [[f"{s:,}", f"{100 * m:.2f}%"] for s, m in zip(rows.index, rows["miss_ratio"])],
                            "table", ["r", "r"]))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group and turn every user error into one line and exit 2."""
    try:
        rv = cli.main(args=argv, prog_name="tradeoff", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "tradeoff --help")
        sys.exit(0)
    except click.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx else ""
        hint = f" (see '{path} --help')" if path and path != "tradeoff" else ""
        click.echo(f"tradeoff: error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE)
    except UserError as exc:
        click.echo(f"tradeoff: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"tradeoff: error: {exc.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except ModuleNotFoundError as exc:  # a broken install: say what is missing, no traceback
        click.echo(f"tradeoff: error: a required package is not installed: {exc.name} "
                   f"(reinstall tradeoff with pip to get its dependencies)", err=True)
        sys.exit(EXIT_USAGE)
    except (KeyboardInterrupt, click.Abort):
        click.echo("tradeoff: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(rv if isinstance(rv, int) else 0)
