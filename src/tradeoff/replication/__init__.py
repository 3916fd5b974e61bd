"""Replication: how stale a read is after a write, what quorums buy, what a failover
loses; probabilistically bounded staleness (PBS) and a discrete-event simulator of
replicated key-value stores on the package's shared event core."""

from .latency import FITS, LatencyModel, parse_latency
from .leader import LeaderResult, simulate
from .pbs import PBSResult, k_staleness, t_visibility_table, wars
from .pbs import pbs as pbs_visibility
from .quorum import LEVELS, availability, overlaps, required

__all__ = ["FITS", "LEVELS", "LatencyModel", "LeaderResult", "PBSResult", "availability", "k_staleness",
           "overlaps", "parse_latency", "pbs_visibility", "required", "simulate", "t_visibility_table", "wars"]
