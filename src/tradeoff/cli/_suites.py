"""``tradeoff list``, ``run``, ``report``, ``compare``, ``history`` and ``ab``: suites, results files, the gate."""
from __future__ import annotations

from pathlib import Path

import click

from ._app import EXIT_INTERRUPTED, EXIT_REGRESSION, cli, write_or_print


@cli.command("list")
@click.argument("suite", required=False)
@click.option("-k", "patterns", multiple=True, metavar="PATTERN",
              help="Only cases whose name contains PATTERN (or matches it as a glob).")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2",
              help="Override a param's values.")
def list_cmd(suite: str | None, patterns: tuple[str, ...], params: tuple[str, ...]) -> None:
    """List the built-in suites, or the cases of SUITE (a name or a .py file)."""
    from ..harness import registry

    if suite is None:
        import shutil
        import textwrap

        width = max(60, shutil.get_terminal_size((100, 24)).columns)
        for name in registry.builtin_suites():
            n, summary = registry.suite_summary(name)
            head = f"{name:<12} {n:>4} cases  "
            click.echo(textwrap.fill(summary, width=width - 1, initial_indent=head,
                                     subsequent_indent=" " * len(head)) if summary else head.rstrip())
        return
    from ..harness.run import RunOptions, select

    for case in select(RunOptions(suite=suite, patterns=list(patterns), params=list(params))):
        click.echo(f"{case.kind:<9} {case.name}")


@cli.command()
@click.argument("suite")
@click.option("-k", "patterns", multiple=True, metavar="PATTERN",
              help="Only cases whose name contains PATTERN (a glob if it has * ? or [). Repeatable.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2",
              help="Override the values of a param, e.g. -p maxsize=1000,10000. Repeatable.")
@click.option("--quick", "mode", flag_value="quick",
              help="A first look: the suite's own selection of cases (every case if it has none, "
                   "or those of -k), 3 processes of 2 values each, one round; minutes, not a gate.")
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
@click.option("--measure", type=click.Choice(["time", "instructions"]), default="time", show_default=True,
              help="instructions: count each timed case's instructions per operation under valgrind's "
                   "callgrind (one run, deterministic: for CI gates on noisy machines; needs valgrind).")
@click.option("--cache-sim", is_flag=True,
              help="With --measure instructions: also simulate the caches (misses per operation).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed passed to seeded benchmarks and scenarios.")
@click.option("--cluster", default=None, metavar="ADDRESS|local:N",
              help="Compute the scenarios on dask: a scheduler (tcp://host:8786) or N local worker processes. "
                   "Scenarios only: timed benchmarks are never spread over hosts.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results file (default: results/SUITE-DATE-TIME.json).")
@click.option("--list", "list_only", is_flag=True, help="Show the cases that would run, and stop.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "none"]), default="table",
              show_default=True, help="The report printed at the end.")
def run(suite, patterns, params, mode, min_time, processes, values, rounds, measure, cache_sim, seed, cluster,
        output, list_only, quiet, fmt) -> int:
    """Run SUITE (a built-in name such as cache, or a path to a .py file).

    Timed benchmarks run in pyperf worker processes; scenarios compute their
    metrics once. Progress goes to stderr, the report to stdout, the results to
    one JSON file that pyperf reads too. Ctrl-C keeps what finished.
    """
    from ..harness.run import RunOptions, run as do_run, select

    opts = RunOptions(suite=suite, patterns=list(patterns), params=list(params), mode=mode or "default",
                      processes=processes, values=values, rounds=rounds, seed=seed, output=output,
                      quiet=quiet, measure=measure, cache_sim=cache_sim, cluster=cluster,
                      extra_pyperf_args=[f"--min-time={min_time}"] if min_time else [])
    if list_only:
        for case in select(opts):
            click.echo(f"{case.kind:<9} {case.name}")
        return 0
    outcome = do_run(opts)
    if outcome.path and fmt != "none":
        from ..harness.report import render_path

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
    from ..harness.outputs import check_writable
    from ..harness.report import format_for_path, render_path

    if fmt is None:
        fmt = format_for_path(output) if output else "table"
    if output:
        check_writable(output, "the report")
    write_or_print(render_path(results_file, fmt), output)


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
    from ..harness.compare import compare as do_compare, parse_threshold

    result = do_compare(base, current, threshold=parse_threshold(threshold), alpha=alpha)
    text = result.render(fmt)
    if output:
        write_or_print(text, output)
    click.echo(text.rstrip("\n"))
    return EXIT_REGRESSION if len(result.regressions) else 0


@cli.command()
@click.argument("results_files", metavar="RESULTS...", nargs=-1, required=True)
@click.option("-k", "patterns", multiple=True, metavar="PATTERN", help="Only cases whose name contains PATTERN.")
@click.option("--threshold", default="5%", show_default=True,
              help="Smallest change a step must show to be flagged, as compare takes it.")
@click.option("--alpha", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.01,
              show_default=True, help="Significance level of compare's test.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Draw every case relative to its first point (.png or .svg).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Write a self-contained HTML page: the table and a chart per benchmark.")
def history(results_files, patterns, threshold, alpha, fmt, plot, html_path) -> None:
    """Each case's figure over successive results files (oldest first, by the date
    their runs recorded), with the steps that compare would flag.

    \b
    tradeoff history results/cache-*.json
    tradeoff history a.json b.json c.json -k replay --plot history.png --html history.html
    """
    from ..harness.compare import parse_threshold
    from ..harness.history import load_history, plot as draw, render, render_html
    from ..harness.outputs import check_plot, check_writable

    if plot:
        check_plot(plot)
    if html_path:
        check_writable(html_path, "the HTML page")
    h = load_history(results_files, patterns=patterns, threshold=parse_threshold(threshold), alpha=alpha)
    if plot:
        draw(h, plot)
        click.echo(f"wrote {plot}", err=True)
    if html_path:
        from .._atomic import atomic_path

        with atomic_path(html_path) as tmp:
            Path(tmp).write_text(render_html(h), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=True)
    click.echo(render(h, fmt))


@cli.command()
@click.argument("base")
@click.argument("refs_and_suite", metavar="[HEAD] SUITE", nargs=-1, required=True)
@click.option("-k", "patterns", multiple=True, metavar="PATTERN", help="Only cases whose name contains PATTERN.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2", help="Override a param's values.")
@click.option("--rounds", type=click.IntRange(min=1), default=10, show_default=True,
              help="Alternating rounds: A B, then B A, ...; each adds processes to both sides.")
@click.option("--processes", type=click.IntRange(min=1), default=2, show_default=True,
              help="pyperf worker processes per side per round.")
@click.option("--values", type=click.IntRange(min=1), default=3, show_default=True, help="Values per process.")
@click.option("--threshold", default="5%", show_default=True, help="Smallest slowdown that fails, as compare takes it.")
@click.option("--alpha", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.01,
              show_default=True)
@click.option("--measure", type=click.Choice(["time", "instructions"]), default="time", show_default=True,
              help="instructions: count each side's instructions per operation once under callgrind "
                   "(deterministic; needs valgrind) instead of timing rounds.")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Results stem: writes STEM-base.json and STEM-head.json (default: results/ab-SUITE-DATE).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown"]), default="table", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def ab(base, refs_and_suite, patterns, params, rounds, processes, values, threshold, alpha, measure, seed, output,
       fmt, quiet) -> int:
    """Time two revisions of this git repository against each other, in alternating
    rounds on the same machine; exit 1 on a regression, as compare does.

    \b
    tradeoff ab main cache -k 'replay['           # main against HEAD
    tradeoff ab v0.1 my-branch benchmarks/suite.py --rounds 20
    """
    from ..harness.ab import run_ab
    from ..harness.compare import parse_threshold
    from ._app import progress

    if len(refs_and_suite) > 2:
        from ..harness.errors import UserError

        raise UserError("tradeoff ab takes BASE [HEAD] SUITE")
    head, suite = (refs_and_suite if len(refs_and_suite) == 2 else ("HEAD", refs_and_suite[0]))
    result, paths = run_ab(base=base, head=head, suite=suite, patterns=patterns, params=params, rounds=rounds,
                           processes=processes, values=values, threshold=parse_threshold(threshold), alpha=alpha,
                           seed=seed, output=output, measure=measure, progress=progress(quiet))
    for p in paths:
        click.echo(f"wrote {p}", err=True)
    click.echo(result.render(fmt).rstrip("\n"))
    return EXIT_REGRESSION if len(result.regressions) else 0
