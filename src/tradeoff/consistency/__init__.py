"""Consistency: histories of concurrent operations and checkers for them.

Read a history (Jepsen EDN, Jepsen's text log, JSON lines), check it for
linearizability (:func:`check`) or sequential consistency (:func:`check_sequential`)
against a model (register, kv, set, queue, counter, or your own), for causal
consistency (:func:`check_causal`: CC, CM, CCv) or the session guarantees
(:func:`check_sessions`), and get a verdict per key with a counterexample;
:func:`to_html` draws it as a timeline.

>>> from tradeoff.consistency import History, Operation, check, check_sequential
>>> h = History([Operation(0, "write", 1, call=0, ret=2),
...              Operation(1, "read", result=1, call=1, ret=3)])
>>> check(h, "register").verdict
'ok'
>>> stale = History([Operation(0, "write", 1, call=0, ret=1),
...                  Operation(1, "read", result=None, call=2, ret=3)])
>>> check(stale).verdict, check_sequential(stale).verdict
('violation', 'ok')
"""
from .causal import CausalResult, check_causal
from .history import FORMATS, History, Operation, parse_edn, read_history, write_history
from .linearizability import CheckResult, KeyResult, check
from .models import MODELS, Counter, KV, Model, Queue, Register, Set, get_model
from .report import to_html
from .sequential import SequentialResult, check_sequential
from .sessions import SessionResult, check_sessions

__all__ = ["CausalResult", "CheckResult", "Counter", "FORMATS", "History", "KV", "KeyResult", "MODELS", "Model",
           "Operation", "Queue", "Register", "SequentialResult", "SessionResult", "Set", "check", "check_causal",
           "check_sequential", "check_sessions", "get_model", "parse_edn", "read_history", "to_html",
           "write_history"]
