"""The ``tradeoff`` command line: parse, call the harness or an area's entry point,
render, map errors to exit codes.

Exit status: 0 success; 1 ``compare`` found a regression (or a suite's case failed); 2 bad
input (one line on stderr, never a traceback); 130 interrupted. pandas, matplotlib and the
areas are imported only by the commands that need them, so ``tradeoff --help`` stays fast.

The commands live by group: :mod:`._suites` (list, run, report, compare) and
:mod:`._simulate` (simulate ..., mrc), :mod:`._check` (check); :mod:`._app` holds the group and
what they share. ``check`` exits 3 when its budget ran out before a verdict.
"""
from __future__ import annotations

import signal
import sys

import click

from ..harness.errors import UserError
from . import _cdn, _check, _http, _servers, _simulate, _stampede, _strategy, _suites  # noqa: F401  (they register their commands on the group)
from ._app import EXIT_INTERRUPTED, EXIT_REGRESSION, EXIT_USAGE, cli

__all__ = ["cli", "main", "EXIT_REGRESSION", "EXIT_USAGE", "EXIT_INTERRUPTED"]

# click >= 8.2 raises this for a bare `tradeoff`; older versions print the help themselves
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _terminated(signum, frame) -> None:
    """SIGTERM ends the command as Ctrl-C does: the cleanup runs (servers stopped, their
    folders and temporary files removed), then exit 143."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group and turn every user error into one line and exit 2."""
    if argv is None and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)
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
