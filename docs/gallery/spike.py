"""A traffic spike through a partitioned log and a queue: the backlog over time.

100 messages/s, five times that for 30 s, 4 consumers of 30 ms each, keys Zipf 1.1.
The same picture as::

    tradeoff simulate queue --profile spike:factor=5,start=60,duration=30 --skew 1.1 --plot spike.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "queue", "--profile", "spike:factor=5,start=60,duration=30",
             "--skew", "1.1", "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "spike.png")
