"""tradeoff: measure the trade-offs of system design.

The public names: :func:`benchmark` and :func:`scenario` declare benchmarks (in
the built-in suites and in your own files), :func:`load` reads a results file
into a pandas DataFrame, :class:`Skip` skips a benchmark whose setup cannot run.
"""
from ._version import __version__
from .harness.errors import Skip, UserError
from .harness.registry import benchmark, scenario

__all__ = ["benchmark", "scenario", "load", "Skip", "UserError", "__version__"]


def load(path):
    """Load a results file as a pandas DataFrame (see :func:`tradeoff.harness.results.load`)."""
    from .harness.results import load as _load

    return _load(path)
