"""Histories of concurrent operations, and their readers and writer.

A history is what clients saw: each operation was *invoked* at one time and *completed*
at a later one, with a status:

- ``"ok"``: it took effect, and ``result`` is what it returned;
- ``"fail"``: it certainly did not take effect (Jepsen's ``:fail``); a checker drops it;
- ``"unknown"``: it may have taken effect at any time after its invocation, or never
  (Jepsen's ``:info``, a timeout; or no completion at all before the history ends).

Times are numbers that only need to be ordered; two intervals that share an endpoint
overlap. A reader uses each event's time when every line has one, else its position.

Three formats are read, one event (invocation or completion) per line, and the events
of a process pair up in order (a process has at most one operation open):

- ``edn``: Jepsen's history, one flat map per line,
  ``{:type :invoke, :f :write, :value 3, :process 0, :time 123}`` (keywords, integers,
  floats, nil, true/false, strings, vectors, lists and sets; keywords become strings;
  vectors become tuples). Events of the ``:nemesis`` process are skipped.
- ``jepsen-log``: the text log Jepsen prints, one event a line,
  ``INFO  jepsen.util - PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE``; lines from other loggers are
  skipped; the time of an event is its line number.
- ``jsonl``: JSON lines, ``{"process": 0, "type": "invoke", "f": "write", "key": "k",
  "value": 3, "time": 1}``; JSON arrays become tuples. :func:`write_history` writes it.

An invocation carries the argument (``value``); a completion carries the result
(``value`` of the ``:ok`` event: what a read returned; a write echoes its argument).

>>> h = History.from_events([
...     dict(process=0, type="invoke", f="write", value=1, time=0),
...     dict(process=1, type="invoke", f="read", value=None, time=1),
...     dict(process=0, type="ok", f="write", value=1, time=2),
...     dict(process=1, type="ok", f="read", value=1, time=3)])
>>> [(op.f, op.value, op.result, op.call, op.ret) for op in h]
[('write', 1, 1, 0, 2), ('read', None, 1, 1, 3)]
"""
from __future__ import annotations

import gzip
import io
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

__all__ = ["FORMATS", "History", "Operation", "STATUSES", "parse_edn", "read_history",
           "write_history"]

STATUSES = ("ok", "fail", "unknown")
FORMATS = ("edn", "jepsen-log", "jsonl")
_FORMAT_ALIASES = {"edn": "edn", "jepsen-log": "jepsen-log", "log": "jepsen-log", "etcd": "jepsen-log",
                   "txt": "jepsen-log", "jsonl": "jsonl", "json": "jsonl", "ndjson": "jsonl"}
# completion types -> status
_COMPLETIONS = {"ok": "ok", "fail": "fail", "info": "unknown"}


@dataclass(eq=False)
class Operation:
    """One operation of a history.

    ``call`` and ``ret`` are its invocation and completion times (``ret`` is None when
    it never completed); ``line`` and ``ret_line`` are the lines of the file it came
    from (None when built in code). ``index`` is its position in the history.
    """
    process: Any
    f: str
    value: Any = None
    result: Any = None
    status: str = "ok"
    call: float = 0
    ret: Optional[float] = None
    key: Any = None
    line: Optional[int] = None
    ret_line: Optional[int] = None
    index: int = -1

    def where(self) -> str:
        """``line 12`` when it came from a file, else ``operation #3``."""
        return f"line {self.line}" if self.line is not None else f"operation #{self.index}"

    def fields(self) -> tuple:
        """What two histories compare on (not where the operation came from)."""
        return (self.process, self.f, self.key, self.value, self.result, self.status,
                self.call, self.ret)

    def describe(self) -> str:
        """Short text: ``p3 write 4 -> ok`` / ``p1 read -> 3`` / ``p2 cas (1, 2) -> ?``."""
        key = "" if self.key is None else f" [{self.key!r}]"
        arg = "" if self.value is None else f" {_show(self.value)}"
        if self.status == "unknown":
            out = "?"
        elif self.status == "fail":
            out = "fail"
        elif self.result is None and self.f in ("read", "get"):
            out = "nil"                 # a read of the initial (never written) value
        elif self.result is None or self.result == self.value:
            out = "ok"
        else:
            out = _show(self.result)
        return f"p{self.process} {self.f}{key}{arg} -> {out}"

    def __repr__(self) -> str:
        ret = "-" if self.ret is None else self.ret
        return f"<Operation {self.describe()} [{self.call}, {ret}]>"


def _show(v) -> str:
    if isinstance(v, tuple):
        return "[" + " ".join(_show(x) for x in v) + "]"
    if v is None:
        return "nil"
    return str(v)


class History:
    """A list of :class:`Operation`, ordered by invocation.

    Building one checks every operation (a known status, a completion not before its
    invocation, an ok or failed operation completed): ValueError naming the operation.
    Building and indexing are O(n).

    >>> h = History([Operation(0, "write", 3, status="ok", call=0, ret=1)])
    >>> len(h), h[0].describe()
    (1, 'p0 write 3 -> ok')
    """

    def __init__(self, ops: Iterable[Operation] = ()):
        ops = list(ops)
        for i, op in enumerate(ops):
            if not isinstance(op, Operation):
                raise TypeError(f"a History holds Operation objects, got {type(op).__name__} at {i}")
            op.index = i
            if op.status not in STATUSES:
                raise ValueError(f"{op.where()}: status must be one of ok, fail, unknown, got {op.status!r}")
            if not isinstance(op.f, str) or not op.f:
                raise ValueError(f"{op.where()}: operation name must be a non-empty string, got {op.f!r}")
            if op.ret is None:
                if op.status != "unknown":
                    raise ValueError(f"{op.where()}: an operation with status {op.status} needs a completion time")
            elif op.ret < op.call:
                raise ValueError(f"{op.where()}: {op.f} completes at {op.ret}, before its invocation at {op.call}")
        self.ops = ops
        self.format: Optional[str] = None       # the format it was read from, if any

    # -- building -----------------------------------------------------------------------
    @classmethod
    def from_events(cls, events: Iterable[dict]) -> "History":
        """Pair invocation and completion events (dicts with ``process``, ``type``
        (invoke, ok, fail, info), ``f``, ``value``, and optionally ``key``, ``time`` and
        ``line``) into a history. Times default to positions."""
        b = _Builder()
        for pos, ev in enumerate(events):
            line = ev.get("line", pos + 1)
            for field in ("process", "type", "f"):
                if field not in ev:
                    raise ValueError(f"line {line}: event has no {field!r}")
            b.add(ev["process"], ev["type"], ev["f"], ev.get("value"), ev.get("key"),
                  ev.get("time", pos), line)
        return b.history()

    # -- access -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.ops)

    def __getitem__(self, i):
        return self.ops[i]

    def __repr__(self) -> str:
        return f"<History of {len(self.ops)} operations>"

    def keys(self) -> list:
        """The distinct keys, in order of first use."""
        return list(dict.fromkeys(op.key for op in self.ops))

    def same_as(self, other: "History") -> bool:
        """Whether two histories hold the same operations (ignoring source lines)."""
        return len(self) == len(other) and all(a.fields() == b.fields() for a, b in zip(self, other))

    def _check(self) -> None:
        """Assert the invariants: indexes match positions, completions follow
        invocations, statuses are known, operations are in invocation order."""
        last = None
        for i, op in enumerate(self.ops):
            assert op.index == i, f"operation {i} has index {op.index}"
            assert op.status in STATUSES, f"operation {i}: bad status {op.status!r}"
            assert op.ret is None or op.ret >= op.call, f"operation {i}: completes before invoked"
            assert op.ret is not None or op.status == "unknown", f"operation {i}: open but {op.status}"
            if last is not None:
                assert op.call >= last, f"operation {i} is invoked before operation {i - 1}"
            last = op.call

    # -- writing ------------------------------------------------------------------------
    def events(self) -> list[dict]:
        """The history as invocation and completion events, ordered by time (a
        completion before an invocation at the same time, so that one process's
        operations stay in order)."""
        rows = []
        for op in self.ops:
            base = {"process": op.process}
            inv = dict(base, type="invoke", f=op.f)
            if op.key is not None:
                inv["key"] = op.key
            inv["value"] = op.value
            inv["time"] = op.call
            rows.append(((op.call, 1, op.index, 0), inv))
            if op.ret is not None:
                typ = {"ok": "ok", "fail": "fail", "unknown": "info"}[op.status]
                done = dict(base, type=typ, f=op.f)
                if op.key is not None:
                    done["key"] = op.key
                done["value"] = op.result
                done["time"] = op.ret
                rows.append(((op.ret, 0 if op.ret > op.call else 1, op.index, 1), done))
        rows.sort(key=lambda r: r[0])
        return [r[1] for r in rows]

    def to_jsonl(self) -> str:
        """The JSON-lines text (what :func:`write_history` writes)."""
        out = []
        for ev in self.events():
            try:
                out.append(json.dumps(ev, separators=(", ", ": ")))
            except TypeError as exc:
                raise ValueError(f"cannot write {ev['f']} of process {ev['process']} as JSON: {exc}") from None
        return "\n".join(out) + ("\n" if out else "")


class _Builder:
    """Pairs events per process into operations, with one-line errors naming lines."""

    def __init__(self):
        self.ops: list[Operation] = []
        self.open: dict = {}          # process -> its open Operation

    def add(self, process, typ, f, value, key, time, line) -> None:
        if not isinstance(f, str) or not f:
            raise ValueError(f"line {line}: operation name must be a non-empty string, got {f!r}")
        if isinstance(time, bool) or not isinstance(time, (int, float)) or time != time:
            raise ValueError(f"line {line}: time must be a number, got {time!r}")
        try:
            hash(process)
        except TypeError:
            raise ValueError(f"line {line}: process must be a number or a name, got {process!r}") from None
        if typ == "invoke":
            prev = self.open.get(process)
            if prev is not None:
                raise ValueError(f"line {line}: process {process} invokes {f} while its {prev.f} "
                                 f"from line {prev.line} is still open")
            op = Operation(process, f, value=value, status="unknown", call=time, key=key, line=line)
            self.open[process] = op
            self.ops.append(op)
            return
        status = _COMPLETIONS.get(typ)
        if status is None:
            raise ValueError(f"line {line}: event type must be invoke, ok, fail or info, got {typ!r}")
        op = self.open.pop(process, None)
        if op is None:
            raise ValueError(f"line {line}: process {process} completes {f} with no invocation open")
        if op.f != f:
            raise ValueError(f"line {line}: process {process} completes {f} but invoked {op.f} "
                             f"at line {op.line}")
        if key is not None and op.key is not None and key != op.key:
            raise ValueError(f"line {line}: process {process} completes {f} on key {key!r} "
                             f"but invoked it on {op.key!r} at line {op.line}")
        if time < op.call:
            raise ValueError(f"line {line}: process {process} completes {f} at time {time}, "
                             f"before its invocation at time {op.call} (line {op.line})")
        op.status = status
        op.ret = time
        op.ret_line = line
        op.result = value if status != "unknown" else None

    def history(self) -> History:
        # still open at the end: unknown outcome, never completed
        ops = sorted(self.ops, key=lambda o: o.call)      # stable: file order at equal times
        return History(ops)


# -- EDN (the flat subset Jepsen histories use) ------------------------------------------
_EDN_TOKEN = re.compile(r"""
    (?P<ws>[\s,]+|;[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<tag>\#[A-Za-z][\w.\-/]*)
  | (?P<atom>[^\s,\[\](){}"#;]+)
""", re.VERBOSE)
_INT = re.compile(r"[+-]?\d+N?$")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\d*\.\d+|\d+)([eE][+-]?\d+)?M?$")
_STR_ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}


class _EdnError(ValueError):
    pass


def _edn_atom(s: str):
    if s == "nil":
        return None
    if s == "true":
        return True
    if s == "false":
        return False
    if s[0] == ":":
        if len(s) == 1:
            raise _EdnError("a ':' with no keyword name")
        return s[1:]
    if _INT.match(s):
        return int(s.rstrip("N"))
    if _FLOAT.match(s):
        return float(s.rstrip("M"))
    if s[0] == "\\":
        return s[1:]                     # a character literal
    return s                             # a symbol


def _edn_string(s: str) -> str:
    body = s[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_STR_ESC.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_edn(text: str):
    """One EDN value (the subset above): maps become dicts, vectors and lists tuples,
    sets frozensets, keywords strings without the colon; a tagged value (``#inst
    "..."``, ``#jepsen.history.Op{...}``) is its untagged value. ValueError when the
    text is not exactly one such value.

    >>> parse_edn('{:type :invoke, :f :cas, :value [1 2], :process 0}')
    {'type': 'invoke', 'f': 'cas', 'value': (1, 2), 'process': 0}
    """
    stack: list = []                     # (kind, items)
    done = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _EDN_TOKEN.match(text, pos)
        if m is None:
            raise _EdnError(f"unexpected {text[pos]!r} at column {pos + 1}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws" or kind == "tag":
            continue
        if kind == "open":
            stack.append((m.group(), []))
            continue
        if kind == "close":
            if not stack:
                raise _EdnError(f"unbalanced {m.group()!r} at column {m.start() + 1}")
            opener, items = stack.pop()
            want = {"[": "]", "(": ")", "{": "}", "#{": "}"}[opener]
            if m.group() != want:
                raise _EdnError(f"{opener!r} closed by {m.group()!r} at column {m.start() + 1}")
            if opener == "{":
                if len(items) % 2:
                    raise _EdnError("a map with an odd number of forms")
                value = {}
                for k, v in zip(items[0::2], items[1::2]):
                    try:
                        value[k] = v
                    except TypeError:
                        raise _EdnError(f"unhashable map key {k!r}") from None
            elif opener == "#{":
                try:
                    value = frozenset(items)
                except TypeError:
                    raise _EdnError("a set with an unhashable element") from None
            else:
                value = tuple(items)
        elif kind == "str":
            value = _edn_string(m.group())
        else:
            value = _edn_atom(m.group())
        if stack:
            stack[-1][1].append(value)
        else:
            done.append(value)
    if stack:
        raise _EdnError(f"unclosed {stack[-1][0]!r}")
    if len(done) != 1:
        raise _EdnError("empty" if not done else f"{len(done)} values where one was expected")
    return done[0]


def _hashable(v):
    """Maps nested inside values become tuples of pairs, so every value is hashable."""
    if isinstance(v, dict):
        return tuple((k, _hashable(x)) for k, x in v.items())
    if isinstance(v, (tuple, list)):
        return tuple(_hashable(x) for x in v)
    return v


def _read_edn(lines, b: _Builder) -> None:
    timed = None
    for no, text in lines:
        s = text.strip()
        if not s or s.startswith(";"):
            continue
        try:
            ev = parse_edn(s)
        except (_EdnError, ValueError, IndexError) as exc:
            raise ValueError(f"line {no}: not an EDN map: {exc}") from None
        if not isinstance(ev, dict):
            raise ValueError(f"line {no}: expected an EDN map, got {type(ev).__name__}")
        timed = _add_event(b, ev, no, timed)


def _add_event(b: _Builder, ev: dict, no: int, timed) -> Optional[bool]:
    """Add one decoded event (EDN or JSON map); returns whether events carry times."""
    for field in ("process", "type", "f"):
        if field not in ev:
            raise ValueError(f"line {no}: event has no {field!r}")
    process = ev["process"]
    if process == "nemesis":
        return timed
    has_time = "time" in ev and ev["time"] is not None
    if timed is None:
        timed = has_time
    elif timed != has_time:
        raise ValueError(f"line {no}: {'a time' if has_time else 'no time'}, unlike the lines before")
    time = ev["time"] if timed else no
    b.add(process, ev["type"], ev["f"], _hashable(ev.get("value")), _hashable(ev.get("key")), time, no)
    return timed


def _read_jsonl(lines, b: _Builder) -> None:
    timed = None
    for no, text in lines:
        s = text.strip()
        if not s:
            continue
        try:
            ev = json.loads(s)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {no}: not JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(ev, dict):
            raise ValueError(f"line {no}: expected a JSON object, got {type(ev).__name__}")
        timed = _add_event(b, ev, no, timed)


_LOG_LINE = re.compile(r"^\S+\s+jepsen\.util\s+-\s+(\S+)\t:?([\w-]+)\t:?([^\t]+)\t?(.*)$")


def _read_jepsen_log(lines, b: _Builder) -> None:
    for no, text in lines:
        s = text.rstrip("\r\n")
        if "jepsen.util" not in s:
            continue
        m = _LOG_LINE.match(s)
        if m is None:
            raise ValueError(f"line {no}: not a Jepsen log event (PROCESS<TAB>:TYPE<TAB>:F<TAB>VALUE)")
        proc, typ, f, raw = m.groups()
        try:
            process = _edn_atom(proc)
            value = parse_edn(raw) if raw.strip() else None
        except (_EdnError, ValueError, IndexError) as exc:
            raise ValueError(f"line {no}: bad value {raw!r}: {exc}") from None
        if process == "nemesis":
            continue
        b.add(process, typ, f, _hashable(value), None, no, no)


# -- files ---------------------------------------------------------------------------------
def _open_text(path) -> str:
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: a damaged gzip file: {exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _guess(path, text: str) -> str:
    name = os.path.basename(str(path)).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    if ext in ("edn", "jsonl", "ndjson", "json", "log"):
        return _FORMAT_ALIASES[ext]
    seen = 0
    for line in io.StringIO(text):
        s = line.strip()
        if not s or s.startswith(";"):
            continue
        if "jepsen.util" in s or "\t:invoke\t" in s:
            return "jepsen-log"
        if seen == 0 and (s.startswith("{\"") or s.startswith("{ \"")):
            return "jsonl"
        if seen == 0 and (s.startswith("{") or s.startswith("#")):
            return "edn"
        seen += 1
        if seen >= 100:                  # a log's first lines may come from other loggers
            break
    raise ValueError(f"{path}: cannot tell the history format (give format= edn, jepsen-log or jsonl)")


def read_history(path, format: Optional[str] = None) -> History:
    """Read a history file (plain or gzip, told by its first bytes).

    ``format`` is ``"edn"``, ``"jepsen-log"`` (alias ``"etcd"``, ``"log"``) or ``"jsonl"``;
    None guesses it from the extension, then from the first line. Malformed input
    raises a one-line ValueError naming the line.
    """
    text = _open_text(path)
    if format is None:
        fmt = _guess(path, text)
    else:
        fmt = _FORMAT_ALIASES.get(str(format).lower())
        if fmt is None:
            raise ValueError(f"unknown history format {format!r} (one of {', '.join(FORMATS)})")
    return parse_history(text, fmt)


def parse_history(text: str, format: str) -> History:
    """A history from the text of a file in ``format`` (see :func:`read_history`)."""
    fmt = _FORMAT_ALIASES.get(format, format)
    lines = enumerate(text.splitlines(), start=1)
    b = _Builder()
    if fmt == "edn":
        _read_edn(lines, b)
    elif fmt == "jsonl":
        _read_jsonl(lines, b)
    elif fmt == "jepsen-log":
        _read_jepsen_log(lines, b)
    else:
        raise ValueError(f"unknown history format {format!r} (one of {', '.join(FORMATS)})")
    h = b.history()
    h.format = fmt
    return h


def write_history(history: History, path) -> None:
    """Write ``history`` as JSON lines (gzip-compressed when ``path`` ends in .gz)."""
    text = history.to_jsonl()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
