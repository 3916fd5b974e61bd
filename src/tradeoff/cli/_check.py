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
              help="linearizable, sequential, causal (CC), causal-memory (CM), causal-convergence (CCv), "
                   "sessions (all four guarantees and convergence), or one of read-your-writes, "
                   "monotonic-reads, monotonic-writes, writes-follow-reads, convergence. The causal and "
                   "session checks take reads and writes of unique values (model register or kv).")
@click.option("--timeout", default="60s", show_default=True, help="Time budget; past it the answer is unknown.")
@click.option("--format", "history_format", default=None,
              help="The history's format: edn, jepsen-log, jsonl (default: guessed).")
@click.option("--html", "html", default=None, type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML timeline of the history with the counterexample "
                   "(for the causal and session checks: each bad pattern or broken guarantee found).")
@click.option("--format-table", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def check_cmd(history, model, consistency, timeout, history_format, html, fmt) -> int:
    """Check that HISTORY (Jepsen EDN, a Jepsen text log or JSON lines, gzipped or
    not) satisfies a consistency model (default: linearizable) for the data model;
    print the verdict per key and, for a violation, the counterexample: for
    linearizability the smallest prefix no order explains and the longest partial
    order; for the causal and session checks each bad pattern and its operations.

    \b
    tradeoff check etcd_002.log.gz --html etcd_002.html
    tradeoff check run.jsonl --model kv --timeout 10s
    tradeoff check run.jsonl --model kv --consistency causal
    tradeoff check run.jsonl --model kv --consistency sessions
    """
    from ..consistency.experiment import run_check

    outcome = run_check(history, model=model, consistency=consistency, timeout=timeout, fmt=fmt,
                        format=history_format, html=html)
    show(outcome)
    return outcome.status
