"""Load spread of a consistent-hash ring against its virtual nodes (100 nodes,
200k keys), beside the 1/sqrt(vnodes) rule of thumb and jump hash.

``tradeoff simulate ring`` prints these figures as a table (it draws no plot);
this script runs the same partitioners through the public API and plots them::

    tradeoff simulate ring --partitioner ring:vnodes=1,ring:vnodes=10,ring:vnodes=100,ring:vnodes=1000,jump
"""
import sys

import numpy as np


def main(path):
    from tradeoff.harness.plots import figure, save_figure
    from tradeoff.ring import HashRing, JumpHash, spread

    nodes = [f"node{i:04d}" for i in range(100)]
    keys = np.random.default_rng(1).integers(0, 2**63, 200_000)
    vnodes = [1, 3, 10, 30, 100, 300, 1000]
    cv = [spread(HashRing(nodes, vnodes=v), keys).cv for v in vnodes]
    jump = spread(JumpHash(nodes), keys).cv

    fig, ax = figure()
    ax.plot(vnodes, [100 * c for c in cv], marker="o", label="ring (XXH64 points)")
    ax.plot(vnodes, [100 / np.sqrt(v) for v in vnodes], linestyle="--", color="gray",
            label="1/sqrt(vnodes)")
    ax.axhline(100 * jump, color="black", linestyle=":", label="jump hash")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("virtual nodes per node")
    ax.set_ylabel("stdev / mean of keys per node (%)")
    ax.set_title("100 nodes, 200k keys")
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ring_spread.png")
