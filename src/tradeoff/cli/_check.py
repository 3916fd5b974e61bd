"""``tradeoff check HISTORY``: is a recorded history linearizable for a model? Usable
as a CI step for a system under test: exit 0 when the history satisfies the model, 1
when it does not, 2 for bad input, 3 when the budget ran out before a verdict."""
from __future__ import annotations

import click

from ._app import cli, show

#: exit status when the search ran out of its budget
EXIT_UNKNOWN = 3


@cli.command("check")
@click.argument("history", metavar="HISTORY", type=click.Path(dir_okay=False))
@click.option("--model", default="register", show_default=True,
              help="register (read, write, cas), kv (get, put, append per key), set, queue or counter.")
@click.option("--consistency", default="linearizable", show_default=True,
              help="The consistency model to check (linearizable; the weaker ones are not built yet).")
@click.option("--timeout", default="60s", show_default=True, help="Time budget; past it the answer is unknown.")
@click.option("--format", "history_format", default=None,
              help="The history's format: edn, jepsen-log, jsonl (default: guessed).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def check_cmd(history, model, consistency, timeout, history_format, fmt) -> int:
    """Check that HISTORY (Jepsen EDN, a Jepsen text log or JSON lines, gzipped or
    not) is linearizable for the model; print the verdict per key and, for a
    violation, the smallest prefix no order explains and the longest partial order.

    \b
    tradeoff check etcd_002.log.gz
    tradeoff check run.jsonl --model kv --timeout 10s
    """
    from ..consistency.experiment import run_check

    outcome = run_check(history, model=model, consistency=consistency, timeout=timeout, fmt=fmt,
                        format=history_format)
    show(outcome)
    return outcome.status
