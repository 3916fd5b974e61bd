"""What the gallery scripts share: run one ``tradeoff`` command in this process,
its results file in a temporary folder, and fail loudly if it did not succeed."""
from __future__ import annotations

import tempfile
from pathlib import Path


def tradeoff(*args: str) -> None:
    """``tradeoff ARGS -q -o TMP/results.json``; raises if the exit status is not 0."""
    from click.testing import CliRunner

    from tradeoff.cli import cli

    with tempfile.TemporaryDirectory() as tmp:
        argv = [*args, "-q", "-o", str(Path(tmp) / "results.json")]
        res = CliRunner().invoke(cli, argv, catch_exceptions=False)
        if res.exit_code != 0:
            raise RuntimeError(f"tradeoff {' '.join(args)}: exit {res.exit_code}\n{res.output}")
