"""Followers' replication lag over time, asynchronous against semi-synchronous, with
the leader crashing at 5 s (one-way delays exponential, mean 20 ms) and a follower taking over.

The same picture as::

    tradeoff simulate replication --scheme leader:async,leader:semisync --crash 5s \\
        --latency exp:mean=20ms --clients 100 --ops 3e5 --plot lag.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "replication", "--scheme", "leader:async,leader:semisync",
             "--crash", "5s", "--latency", "exp:mean=20ms", "--clients", "100", "--ops", "3e5",
             "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "lag.png")
