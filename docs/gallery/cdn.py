"""Requests reaching the origin, and stale responses, over time through browser
caches, CDN edges and a shield, with hourly deploys: content-hashed asset names against
stable names with a five-minute max-age, each with purges by URL and by surrogate tag.

The same picture as::

    tradeoff simulate cdn --requests 1e6 --assets hashed,max-age=300 --purge url,tag --plot cdn.png
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _run import tradeoff  # noqa: E402


def main(path):
    tradeoff("simulate", "cdn", "--requests", "1e6", "--assets", "hashed,max-age=300",
             "--purge", "url,tag", "--plot", str(path))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cdn.png")
