"""The consistency area's command-line entry point, ``tradeoff check``: read a history,
check it, and hand back the lines to print and an exit status (0: the history
satisfies the consistency model; 1: it violates it; 3: undecided within the time
budget). Bad input (a missing or malformed file, an unknown model) raises
:class:`~tradeoff.harness.errors.UserError` with one line.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

from ..harness.errors import UserError
from ..harness.outputs import Outcome

__all__ = ["CONSISTENCY", "CheckOutcome", "EXIT_OK", "EXIT_UNKNOWN", "EXIT_VIOLATION", "run_check"]

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_UNKNOWN = 3
#: consistency models `tradeoff check` knows; only the first is built so far
CONSISTENCY = ("linearizable", "sequential", "causal", "read-your-writes", "monotonic-reads",
               "monotonic-writes", "writes-follow-reads")
FORMATS = ("table", "json")
_STATUS = {"ok": EXIT_OK, "violation": EXIT_VIOLATION, "unknown": EXIT_UNKNOWN}
_SHOW_LINEARIZATION = 8       # the last operations of the longest linearization shown


@dataclass
class CheckOutcome(Outcome):
    """An :class:`~tradeoff.harness.outputs.Outcome` with the exit status; ``data`` is
    the :class:`~tradeoff.consistency.linearizability.CheckResult`."""
    status: int = EXIT_OK


def _key_name(key) -> str:
    return "-" if key is None else str(key)


def _lines_of(op) -> str:
    if op.line is None:
        return f"operation #{op.index}"
    if op.ret_line is None:
        return f"line {op.line}, never completed"
    return f"lines {op.line}-{op.ret_line}"


def _op_text(op) -> str:
    return f"{op.describe()}  ({_lines_of(op)})"


def _table(result, history, path, fmt_name) -> list[str]:
    procs = len({op.process for op in history})
    lines = [f"history: {os.path.basename(str(path))} ({fmt_name}), {len(history)} operations, "
             f"{procs} processes; model {result.model}; consistency linearizable"]
    rows = [("key", "verdict", "ops", "steps", "ms")]
    for kr in result.keys.values():
        rows.append((_key_name(kr.key), kr.verdict, str(kr.ops), f"{kr.steps:,}", f"{kr.seconds * 1e3:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    for kr in result.violations():
        lines.append("")
        op = kr.failed_at
        if op is None:
            lines.append(f"key {_key_name(kr.key)}: not linearizable (no counterexample within the budget)")
            continue
        lines.append(f"key {_key_name(kr.key)}: no order of the operations explains the history up to "
                     f"the completion of")
        lines.append(f"  {_op_text(op)}")
        if kr.prefix_ops:
            lin = kr.linearization
            shown = lin[-_SHOW_LINEARIZATION:]
            lines.append(f"  the longest linearization of that prefix has {len(lin)} operations (the "
                         f"prefix has {kr.prefix_ops}, {kr.prefix_done} of them completed); the last "
                         f"{len(shown)}:")
            lines.extend(f"    {_op_text(o)}" for o in shown)
            if kr.concurrent:
                lines.append(f"  operations overlapping it ({len(kr.concurrent)}):")
                lines.extend(f"    {_op_text(o)}" for o in kr.concurrent)
    lines.append("")
    unknown = [kr for kr in result.keys.values() if kr.verdict == "unknown"]
    if result.verdict == "ok":
        lines.append(f"verdict: linearizable ({len(result.keys)} key(s), {result.seconds * 1e3:.1f} ms)")
    elif result.verdict == "violation":
        lines.append(f"verdict: NOT linearizable ({len(result.violations())} of {len(result.keys)} "
                     f"key(s); {result.seconds * 1e3:.1f} ms)")
    elif any(kr.out_of_memory for kr in unknown):
        lines.append(f"verdict: unknown: {len(unknown)} key(s) undecided: the search filled the "
                     f"memory allowed")
    else:
        lines.append(f"verdict: unknown: {len(unknown)} key(s) undecided within the budget "
                     f"(raise --timeout)")
    return lines


def _json(result, history, path) -> list[str]:
    def op_json(op):
        return {"process": op.process, "f": op.f, "key": op.key, "value": op.value, "result": op.result,
                "status": op.status, "call": op.call, "ret": op.ret, "line": op.line}
    keys = []
    for kr in result.keys.values():
        d = {"key": kr.key, "verdict": kr.verdict, "ops": kr.ops, "steps": kr.steps,
             "seconds": kr.seconds}
        if kr.verdict == "violation" and kr.failed_at is not None:
            d["failed_at"] = op_json(kr.failed_at)
            d["linearization"] = [op_json(o) for o in kr.linearization]
            d["concurrent"] = [op_json(o) for o in kr.concurrent]
        keys.append(d)
    doc = {"history": str(path), "operations": len(history), "model": result.model,
           "consistency": "linearizable", "verdict": result.verdict, "seconds": result.seconds,
           "keys": keys}
    return [json.dumps(doc, default=repr)]


def run_check(path, model: str = "register", consistency: str = "linearizable", timeout="60s",
              html: Optional[str] = None, fmt: str = "table", format: Optional[str] = None) -> CheckOutcome:
    """``tradeoff check PATH``: the verdict per key and a counterexample.

    ``model``: register, kv, set, queue or counter; ``timeout``: the time budget
    (``"60s"``, ``"500ms"``; ``"0"`` or None: no limit); ``fmt``: ``table`` or ``json``;
    ``format``: the history's format (None: guessed). ``html`` is not built yet.
    """
    from .history import read_history
    from .linearizability import check, parse_seconds
    from .models import MODELS

    if consistency not in CONSISTENCY:
        raise UserError(f"unknown consistency {consistency!r} (one of {', '.join(CONSISTENCY)})")
    if consistency != "linearizable":
        raise UserError(f"consistency {consistency!r} is not built yet (only linearizable)")
    if model not in MODELS:
        raise UserError(f"unknown model {model!r} (one of {', '.join(MODELS)})")
    if fmt not in FORMATS:
        raise UserError(f"unknown output format {fmt!r} (one of {', '.join(FORMATS)})")
    if html is not None:
        raise UserError("--html is not built yet")
    seconds = None
    if timeout is not None:
        try:
            seconds = parse_seconds(timeout, "--timeout")
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if seconds == 0:
            seconds = None
    if not os.path.exists(path):
        raise UserError(f"cannot read {path}: no such file")
    if os.path.isdir(path):
        raise UserError(f"cannot read {path}: it is a folder")
    try:
        history = read_history(path, format=format)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    try:
        result = check(history, model, timeout=seconds)
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    fmt_name = history.format or format
    if fmt == "json":
        lines = _json(result, history, path)
    else:
        lines = _table(result, history, path, fmt_name)
    return CheckOutcome(lines=lines, written=[], data=result, status=_STATUS[result.verdict])
