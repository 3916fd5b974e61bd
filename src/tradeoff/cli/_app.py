"""The click group every command hangs from, and what the commands share: how a user
error is raised, how a report is written or printed, and how an area's outcome is shown.

The commands hold no area logic: each maps its options to one entry point (a harness
function, or an area's ``run``) and prints what comes back.
"""
from __future__ import annotations


import click

from .. import __version__
from ..harness.errors import UserError

EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def fail(message: str) -> None:
    """Stop the command with one line on stderr and exit status 2."""
    raise UserError(message)


def write_or_print(text: str, output: str | None) -> None:
    """``text`` to the file ``output`` (atomically), or to stdout."""
    if output:
        from ..harness.outputs import Outputs

        out = Outputs(output)
        with out.writing() as tmp:
            tmp.results.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text.rstrip("\n"))


def to_stderr(line: str) -> None:
    click.echo(line, err=True)


def progress(quiet: bool):
    """The progress callback an entry point gets: stderr lines, or None with -q."""
    return None if quiet else to_stderr


def show(outcome) -> None:
    """An entry point's outcome: the files it wrote (stderr), then its lines (stdout)."""
    for path in outcome.written:
        click.echo(f"wrote {path}", err=True)
    for line in outcome.lines:
        click.echo(line)


class LazyHelp(click.Option):
    """An option whose help text is made when help is shown (``lazy_help``: a callable),
    so that ``tradeoff --help`` does not import an area to list its choices."""

    def __init__(self, *args, lazy_help=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_help = lazy_help

    def get_help_record(self, ctx):
        if self.lazy_help is not None and self.help is None:
            self.help = self.lazy_help()
        return super().get_help_record(ctx)


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
