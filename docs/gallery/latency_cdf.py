"""Latency CDFs of four balancing policies: 10 servers at load 0.9, the same requests.

The same picture as::

    tradeoff simulate balance --policy rr,lc,p2c,random --servers 10 --load 0.9 \\
        --requests 2e5 --plot cdf.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "balance", "--policy", "rr,lc,p2c,random", "--servers", "10",
             "--load", "0.9", "--requests", "2e5", "--seed", "1", "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cdf.png")
