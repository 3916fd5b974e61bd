"""Shared test setup: make the helpers in tests/ importable from every test folder,
and give Ctrl-C its usual meaning in the processes the tests start."""
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# A test run started in the background (``pytest &``, nohup) ignores SIGINT, and
# every process it starts would inherit that and never see the Ctrl-C that the
# interrupt tests send. Handled here (Python's own handler), SIGINT is back to its
# default action in each child after exec, as a terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
