"""Running the CLI in-process, for tests."""
import contextlib
import io

from tradeoff.cli import main

QUICK = ["--processes", "1", "--values", "1"]


def cli(*args) -> tuple[int, str, str]:
    """Run ``tradeoff ARGS`` in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    assert isinstance(code, int), f"main() ended without an exit status: {code!r}"
    return code, out.getvalue(), err.getvalue()
