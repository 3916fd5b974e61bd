"""Consistency: histories of concurrent operations and checkers for them.

Read a history (Jepsen EDN, Jepsen's text log, JSON lines), check it for
linearizability against a model (register, kv, set, queue, counter, or your own), and
get a verdict per key with a counterexample.

>>> from tradeoff.consistency import History, Operation, check
>>> h = History([Operation(0, "write", 1, call=0, ret=2),
...              Operation(1, "read", result=1, call=1, ret=3)])
>>> check(h, "register").verdict
'ok'
"""
from .history import FORMATS, History, Operation, parse_edn, read_history, write_history
from .linearizability import CheckResult, KeyResult, check
from .models import MODELS, Counter, KV, Model, Queue, Register, Set, get_model

__all__ = ["CheckResult", "Counter", "FORMATS", "History", "KV", "KeyResult", "MODELS", "Model",
           "Operation", "Queue", "Register", "Set", "check", "get_model", "parse_edn",
           "read_history", "write_history"]
