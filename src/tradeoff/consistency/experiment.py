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
#: the consistency models `tradeoff check` knows, strongest first, and what checks each:
#: linearizable and sequential search for an order (any model); the causal levels
#: (Bouajjani et al. 2017: CC, CM, CCv) and the session guarantees look for bad
#: patterns in histories of reads and writes with unique written values
CONSISTENCY = {
    "linearizable": "search", "sequential": "search",
    "causal": "CC", "causal-memory": "CM", "causal-convergence": "CCv",
    "sessions": None, "read-your-writes": "read-your-writes", "monotonic-reads": "monotonic-reads",
    "monotonic-writes": "monotonic-writes", "writes-follow-reads": "writes-follow-reads",
    "convergence": "convergence",
}
#: models whose operations are reads and writes (what the causal and session checks take)
_RW_MODELS = ("register", "kv")
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


def _header(history, path, fmt_name, model, consistency) -> str:
    procs = len({op.process for op in history})
    return (f"history: {os.path.basename(str(path))} ({fmt_name}), {len(history)} operations, "
            f"{procs} processes; model {model}; consistency {consistency}")


def _table(result, history, path, fmt_name, consistency="linearizable") -> list[str]:
    word = "linearizable" if consistency == "linearizable" else "sequentially consistent"
    lines = [_header(history, path, fmt_name, result.model, consistency)]
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
            lines.append(f"key {_key_name(kr.key)}: not {word} (no counterexample within the budget)")
            continue
        if consistency != "linearizable":
            lin = kr.linearization
            shown = lin[-_SHOW_LINEARIZATION:]
            lines.append(f"key {_key_name(kr.key)}: no order respecting each process's program order "
                         f"explains the history; every order fails before")
            lines.append(f"  {_op_text(op)}")
            lines.append(f"  the longest order found has {len(lin)} operations; the last {len(shown)}:")
            lines.extend(f"    {_op_text(o)}" for o in shown)
            if kr.concurrent:
                lines.append(f"  operations that could come next there, each refused by the model "
                             f"({len(kr.concurrent)}):")
                lines.extend(f"    {_op_text(o)}" for o in kr.concurrent)
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
        lines.append(f"verdict: {word} ({len(result.keys)} key(s), {result.seconds * 1e3:.1f} ms)")
    elif result.verdict == "violation":
        lines.append(f"verdict: NOT {word} ({len(result.violations())} of {len(result.keys)} "
                     f"key(s); {result.seconds * 1e3:.1f} ms)")
    elif any(kr.out_of_memory for kr in unknown):
        lines.append(f"verdict: unknown: {len(unknown)} key(s) undecided: the search filled the "
                     f"memory allowed")
    else:
        lines.append(f"verdict: unknown: {len(unknown)} key(s) undecided within the budget "
                     f"(raise --timeout)")
    return lines


def _op_json(op) -> dict:
    return {"process": op.process, "f": op.f, "key": op.key, "value": op.value, "result": op.result,
            "status": op.status, "call": op.call, "ret": op.ret, "line": op.line}


def _json(result, history, path, consistency="linearizable") -> list[str]:
    op_json = _op_json
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
           "consistency": consistency, "verdict": result.verdict, "seconds": result.seconds,
           "keys": keys}
    return [json.dumps(doc, default=repr)]


def _pattern_table(result, history, path, fmt_name, model, consistency) -> list[str]:
    """The causal and session checks: the patterns found, each with its operations."""
    lines = [_header(history, path, fmt_name, model, consistency), ""]
    lines.extend(result.describe())
    lines.append("")
    if result.verdict == "ok":
        lines.append(f"verdict: {consistency} holds ({result.seconds * 1e3:.1f} ms)")
    else:
        lines.append(f"verdict: {consistency} VIOLATED ({result.seconds * 1e3:.1f} ms)")
    return lines


def _pattern_json(result, history, path, model, consistency) -> list[str]:
    found = []
    if hasattr(result, "patterns"):
        found = [{"pattern": p.name, "text": p.text, "ops": [_op_json(o) for o in p.ops]}
                 for p in result.patterns]
    else:
        for name, vs in result.violations.items():
            found += [{"guarantee": name, "text": v.text, "ops": [_op_json(o) for o in v.ops]} for v in vs]
    doc = {"history": str(path), "operations": len(history), "model": model, "consistency": consistency,
           "verdict": result.verdict, "seconds": result.seconds, "violations": found}
    return [json.dumps(doc, default=repr)]


def run_check(path, model: str = "register", consistency: str = "linearizable", timeout="60s",
              html: Optional[str] = None, fmt: str = "table", format: Optional[str] = None) -> CheckOutcome:
    """``tradeoff check PATH``: the verdict per key and a counterexample.

    ``model``: register, kv, set, queue or counter; ``consistency``: one of
    :data:`CONSISTENCY` (the causal and session checks take register and kv histories
    of reads and writes with unique written values); ``timeout``: the time budget of
    the searches (``"60s"``, ``"500ms"``; ``"0"`` or None: no limit; the causal and
    session checks are polynomial and take none); ``html``: a path for a timeline of
    the history (every check: a causal or session check draws each violation found); ``fmt``: ``table`` or ``json``;
    ``format``: the history's format (None: guessed).
    """
    from .history import read_history
    from ..harness.specs import parse_duration
    from .linearizability import check
    from .models import MODELS

    if consistency not in CONSISTENCY:
        raise UserError(f"unknown consistency {consistency!r} (one of {', '.join(CONSISTENCY)})")
    if model not in MODELS:
        raise UserError(f"unknown model {model!r} (one of {', '.join(MODELS)})")
    kind = CONSISTENCY[consistency]
    if kind != "search" and model not in _RW_MODELS:
        raise UserError(f"--consistency {consistency} checks histories of reads and writes (model register "
                        f"or kv), not model {model!r}")
    if fmt not in FORMATS:
        raise UserError(f"unknown output format {fmt!r} (one of {', '.join(FORMATS)})")
    seconds = None
    if timeout is not None:
        try:
            seconds = parse_duration(timeout, "--timeout")
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if seconds == 0:
            seconds = None
    if not os.path.exists(path):
        raise UserError(f"cannot read {path}: no such file")
    if os.path.isdir(path):
        raise UserError(f"cannot read {path}: it is a folder")
    if html is not None and (os.path.isdir(html) or str(html).endswith(("/", os.sep))):
        raise UserError(f"--html {html}: it is a folder; give a file name")
    try:
        history = read_history(path, format=format)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    fmt_name = history.format or format
    try:
        if consistency == "linearizable":
            result = check(history, model, timeout=seconds)
        elif consistency == "sequential":
            from .sequential import check_sequential
            result = check_sequential(history, model, timeout=seconds)
        elif kind in ("CC", "CM", "CCv"):
            from .causal import check_causal
            result = check_causal(history, kind)
        else:
            from .sessions import check_sessions
            result = check_sessions(history, None if kind is None else [kind])
    except ValueError as exc:
        raise UserError(f"{path}: {exc}") from None
    written = []
    if kind == "search":
        if fmt == "json":
            lines = _json(result, history, path, consistency)
        else:
            lines = _table(result, history, path, fmt_name, consistency)
    elif fmt == "json":
        lines = _pattern_json(result, history, path, model, consistency)
    else:
        lines = _pattern_table(result, history, path, fmt_name, model, consistency)
    if html is not None:
        from .report import to_html
        try:
            to_html(history, result, html, title=f"{os.path.basename(str(path))}: {consistency} check")
        except OSError as exc:
            raise UserError(f"cannot write {html}: {exc.strerror or exc}") from None
        written.append(str(html))
    return CheckOutcome(lines=lines, written=written, data=result, status=_STATUS[result.verdict])
