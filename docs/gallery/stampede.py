"""Recomputations per expiry of one hot key against the request rate, per fix
(TTL 1 s, a 20 ms recompute).

The same picture as::

    tradeoff simulate stampede --fix none,lock,xfetch:beta=1,xfetch:beta=2,swr \\
        --rate 100,1000,10000 --recompute 20ms --ttl 1s --requests 1e5 --plot stampede.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "stampede", "--fix", "none,lock,xfetch:beta=1,xfetch:beta=2,swr",
             "--rate", "100,1000,10000", "--recompute", "20ms", "--ttl", "1s",
             "--requests", "1e5", "--seed", "1", "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "stampede.png")
