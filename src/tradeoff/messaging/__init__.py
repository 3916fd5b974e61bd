"""Messaging: a Kafka-style partitioned log with offsets and consumer groups, and an
SQS-style queue.

>>> from tradeoff.messaging import Log
>>> log = Log(4)
>>> p, off = log.append(b"order-7", b"paid", timestamp=0)
>>> log.fetch(p, off)[0].value
b'paid'
"""
from ._log import Batch, Log, Record, murmur2, partition_for
from .assignors import ASSIGNORS, get_assignor
from .errors import NoOffset, OffsetOutOfRange
from .groups import Group, Polled, Rebalance
from .queue import InvalidReceiptHandle, Message, MessageTooLarge, Queue

__all__ = ["ASSIGNORS", "Batch", "Group", "InvalidReceiptHandle", "Log", "Message", "MessageTooLarge",
           "NoOffset", "OffsetOutOfRange", "Polled", "Queue", "Rebalance", "Record", "get_assignor",
           "murmur2", "partition_for"]
