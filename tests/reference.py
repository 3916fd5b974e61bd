"""Where the reference data lives, found by one rule for every test.

``$TRADEOFF_TRACES`` if set (a folder that then must hold the traces: a wrong
setting fails rather than skips), else ``shared/traces`` beside the repository
(``/work/shared/traces`` for ``/work/main``; ``<clone>/../shared/traces`` in CI).
Without either, the tests that need the traces skip with a one-line reason.
"""
import os
from pathlib import Path

import pytest

TRACES_ENV = "TRADEOFF_TRACES"
# tests/reference.py: parents[1] is the repository root; shared/ sits beside it
DEFAULT_TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"


def traces_dir() -> tuple[Path | None, str | None, bool]:
    """``(folder, None, False)`` when the traces are there, else ``(None, why, is_error)``:
    an explicit ``$TRADEOFF_TRACES`` that lacks them is an error, absence a skip."""
    env = os.environ.get(TRACES_ENV)
    folder = Path(env) if env else DEFAULT_TRACES
    if (folder / "expected.json").is_file():
        return folder, None, False
    if env:
        return None, f"${TRACES_ENV}={env} has no expected.json", True
    return None, f"reference traces not found at {DEFAULT_TRACES} (set ${TRACES_ENV})", False


def require_traces() -> Path:
    """The traces folder, or skip (absent) / fail (a wrong ``$TRADEOFF_TRACES``)."""
    folder, why, is_error = traces_dir()
    if folder is None:
        if is_error:
            pytest.fail(why)
        pytest.skip(why)
    return folder


def trace_file(name: str) -> Path:
    """``multi1`` -> the path of ``multi1.trace.gz`` (or ``.xz``) in the traces folder,
    skipping or failing as :func:`require_traces` does."""
    folder = require_traces()
    for candidate in (name, f"{name}.trace.gz", f"{name}.trace.xz"):
        if (folder / candidate).is_file():
            return folder / candidate
    pytest.fail(f"no trace file for {name!r} in {folder}")
