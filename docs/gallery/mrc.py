"""Miss-ratio curves: every online policy and Belady's bound on a seeded Zipf trace.

The same picture as::

    tradeoff simulate cache --workload zipf:alpha=0.9,objects=2e4,requests=2e5 \\
        --policy lru,fifo,clock,sieve,s3fifo,arc,wtinylfu,belady --grid 8 --plot mrc.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "cache", "--workload", "zipf:alpha=0.9,objects=2e4,requests=2e5",
             "--policy", "lru,fifo,clock,sieve,s3fifo,arc,wtinylfu,belady", "--grid", "8",
             "--jobs", "1", "--seed", "1", "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "mrc.png")
