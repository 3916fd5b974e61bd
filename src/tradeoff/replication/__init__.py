"""Replication: how stale a read is after a write, what quorums buy, what a failover
loses; probabilistically bounded staleness (PBS) and a discrete-event simulator of
replicated key-value stores on the package's shared event core."""
