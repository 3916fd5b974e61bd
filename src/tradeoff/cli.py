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
        for name in registry.builtin_suites():
            specs = registry.collect(name)
            n = sum(len(s.cases()) for s in specs)
            doc = (sys.modules[f"tradeoff.suites.{name}"].__doc__ or "").strip().splitlines()
            click.echo(f"{name:<12} {n:>4} cases  {doc[0] if doc else ''}")
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
              help="Output format (default: from -o's extension, else table).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to a file (atomically).")
def report(results_file: str, fmt: str | None, output: str | None) -> None:
    """Render a results file as a table, markdown, csv or a self-contained HTML page."""
    from .harness.report import render_path

    if fmt is None:
        ext = Path(output).suffix.lower() if output else ""
        fmt = {".md": "markdown", ".csv": "csv", ".html": "html", ".htm": "html"}.get(ext, "table")
    _write_or_print(render_path(results_file, fmt), output)


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


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group and turn every user error into one line and exit 2."""
    try:
        rv = cli.main(args=argv, prog_name="tradeoff", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "tradeoff --help")
        sys.exit(0)
    except click.UsageError as exc:
        hint = f" (see 'tradeoff {exc.ctx.command.name} --help')" if exc.ctx and exc.ctx.command and exc.ctx.command.name != "cli" else ""
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
