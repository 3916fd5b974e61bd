"""Workloads: synthetic request generators (numpy int64 arrays out).

Every generator is deterministic for its arguments: the same seed gives the
same trace, on every machine (numpy's PCG64 ``default_rng``).
"""
from ._synthetic import hotspot, scan, uniform, zipf

__all__ = ["zipf", "uniform", "scan", "hotspot"]
