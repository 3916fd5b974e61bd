"""t-visibility: the chance a read sees a write t after it commits (N = 3), for
the PBS paper's LinkedIn SSD and disk fits and two quorum sizes.

The same picture as::

    tradeoff simulate pbs --latency lnkd-ssd,lnkd-disk --r 1,2 --w 1 --trials 1e5 --plot pbs.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "pbs", "--latency", "lnkd-ssd,lnkd-disk", "--r", "1,2", "--w", "1",
             "--trials", "1e5", "--seed", "1", "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pbs.png")
