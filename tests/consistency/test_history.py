"""Histories: the three readers, the JSON-lines writer (round trips), format guessing,
and one-line errors naming the line for malformed input."""
import gzip
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeoff.consistency import History, Operation, check, parse_edn, read_history, write_history
from tradeoff.consistency.history import parse_history

HISTORIES = Path(os.environ.get("TRADEOFF_HISTORIES",
                                Path(__file__).resolve().parents[2].parent / "shared" / "histories"))


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


# -- EDN ----------------------------------------------------------------------------------
def test_parse_edn_values():
    assert parse_edn("nil") is None
    assert parse_edn("[1 -2 :a \"s\\\"q\" 3.5 true false]") == (1, -2, "a", 's"q', 3.5, True, False)
    assert parse_edn("{:a [1 [2 3]], :b #{1 2}}") == {"a": (1, (2, 3)), "b": frozenset({1, 2})}
    assert parse_edn("(1 2)") == (1, 2)
    assert parse_edn("12N") == 12
    assert parse_edn('#jepsen.history.Op{:f :read}') == {"f": "read"}
    assert parse_edn(":timed-out") == "timed-out"
    for bad in ("{:a 1", "[1 2)", "{:a}", "1 2", "", "}"):
        with pytest.raises(ValueError):
            parse_edn(bad)


EDN = """\
{:type :invoke, :f :write, :value 3, :process 0, :time 10, :index 0}
{:type :invoke, :f :read, :value nil, :process 1, :time 20, :index 1}
{:type :info, :f :start, :value nil, :process :nemesis, :time 25}
{:type :ok, :f :write, :value 3, :process 0, :time 30, :index 2}
{:type :ok, :f :read, :value 3, :process 1, :time 40, :index 3}
{:type :invoke, :f :cas, :value [3 4], :process 0, :time 50}
{:type :invoke, :f :cas, :value [1 2], :process 1, :time 55}
{:type :info, :f :cas, :value :timed-out, :process 0, :time 60}
{:type :fail, :f :cas, :value [1 2], :process 1, :time 65}
{:type :invoke, :f :write, :value 9, :process 2, :time 70}
"""


def test_read_edn(tmp_path):
    h = read_history(write(tmp_path, "history.edn", EDN))
    h._check()
    assert h.format == "edn"
    got = [(op.process, op.f, op.value, op.result, op.status, op.call, op.ret, op.line) for op in h]
    assert got == [
        (0, "write", 3, 3, "ok", 10, 30, 1),
        (1, "read", None, 3, "ok", 20, 40, 2),
        (0, "cas", (3, 4), None, "unknown", 50, 60, 6),
        (1, "cas", (1, 2), (1, 2), "fail", 55, 65, 7),
        (2, "write", 9, None, "unknown", 70, None, 10),
    ]
    assert check(h).verdict == "ok"


def test_read_edn_without_times_uses_positions(tmp_path):
    text = ('{:type :invoke, :f :write, :value 1, :process 0}\n'
            '{:type :ok, :f :write, :value 1, :process 0}\n')
    h = read_history(write(tmp_path, "h.edn", text))
    assert [(op.call, op.ret) for op in h] == [(1, 2)]


# -- the Jepsen text log -------------------------------------------------------------------------
LOG = ("INFO  jepsen.core - starting\n"
       "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
       "INFO  jepsen.util - 1\t:invoke\t:write\t4\n"
       "INFO  jepsen.util - 0\t:ok\t:read\tnil\n"
       "INFO  jepsen.util - 2\t:invoke\t:cas\t[4 0]\n"
       "INFO  jepsen.util - 1\t:info\t:write\t:timed-out\n"
       "INFO  jepsen.util - 2\t:fail\t:cas\t[4 0]\n")


def test_read_jepsen_log(tmp_path):
    p = tmp_path / "run.log.gz"
    p.write_bytes(gzip.compress(LOG.encode()))
    h = read_history(p)
    assert h.format == "jepsen-log"
    got = [(op.process, op.f, op.value, op.result, op.status, op.call, op.ret) for op in h]
    assert got == [(0, "read", None, None, "ok", 2, 4),
                   (1, "write", 4, None, "unknown", 3, 6),
                   (2, "cas", (4, 0), (4, 0), "fail", 5, 7)]


def test_reference_etcd_history_reads():
    path = HISTORIES / "etcd_000.log.gz"
    if not path.exists():
        pytest.skip(f"no reference histories at {HISTORIES} (set TRADEOFF_HISTORIES)")
    h = read_history(path)
    h._check()
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(h) == sum(":invoke" in line for line in lines)
    assert sum(op.status == "fail" for op in h) == sum("\t:fail\t" in line for line in lines)
    assert sum(op.status == "ok" for op in h) == sum("\t:ok\t" in line for line in lines)


# -- JSON lines, and the round trip ----------------------------------------------------------------
def test_read_jsonl(tmp_path):
    rows = [{"process": 0, "type": "invoke", "f": "put", "key": "k", "value": [1, 2], "time": 1},
            {"process": 0, "type": "ok", "f": "put", "key": "k", "value": [1, 2], "time": 2.5}]
    h = read_history(write(tmp_path, "h.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert [(op.key, op.value, op.call, op.ret) for op in h] == [("k", (1, 2), 1, 2.5)]


values = st.one_of(st.none(), st.integers(-5, 5), st.text("ab", max_size=3),
                   st.lists(st.integers(0, 3), max_size=3).map(tuple))


@st.composite
def histories(draw):
    """Any well-formed history: per process, operations one after another."""
    ops = []
    for p in range(draw(st.integers(1, 4))):
        t = draw(st.integers(0, 5))
        for _ in range(draw(st.integers(0, 4))):
            status = draw(st.sampled_from(["ok", "fail", "unknown"]))
            call = t
            ret = call + draw(st.integers(0, 6))
            if status == "unknown" and draw(st.booleans()):
                ret = None
            key = draw(st.sampled_from([None, "a", 7]))
            ops.append(Operation(p, draw(st.sampled_from(["read", "write", "cas"])), draw(values),
                                 result=None if status == "unknown" else draw(values), status=status,
                                 call=call, ret=ret, key=key))
            if ret is None:
                break
            t = ret + draw(st.integers(1, 3))
    ops.sort(key=lambda o: o.call)
    return History(ops)


@settings(max_examples=150, deadline=None)
@given(histories(), st.booleans())
def test_jsonl_round_trip(tmp_path_factory, h, gz):
    path = tmp_path_factory.mktemp("rt") / ("h.jsonl.gz" if gz else "h.jsonl")
    write_history(h, path)
    back = read_history(path)
    back._check()
    assert back.format == "jsonl"
    assert sorted(map(repr, (op.fields() for op in back))) == sorted(map(repr, (op.fields() for op in h)))


def test_round_trip_keeps_order_of_ties(tmp_path):
    # one process: an instant operation, then the next starting at the same time
    h = History([Operation(0, "write", 1, result=1, call=5, ret=5),
                 Operation(0, "read", None, result=1, call=5, ret=6)])
    write_history(h, tmp_path / "h.jsonl")
    assert read_history(tmp_path / "h.jsonl").same_as(h)


# -- guessing -------------------------------------------------------------------------------------
def test_guess_by_content(tmp_path):
    assert read_history(write(tmp_path, "a", EDN)).format == "edn"
    assert read_history(write(tmp_path, "b", LOG)).format == "jepsen-log"
    assert read_history(write(tmp_path, "c", '{"process": 0, "type": "invoke", "f": "read"}\n')).format == "jsonl"
    with pytest.raises(ValueError, match="cannot tell the history format"):
        read_history(write(tmp_path, "d", "hello\n"))
    with pytest.raises(ValueError, match="unknown history format"):
        read_history(write(tmp_path, "e", EDN), format="xml")


# -- malformed input: one line, naming the line ----------------------------------------------------
@pytest.mark.parametrize("fmt, text, message", [
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0, "type": "ok", "f": "read"\n',
     "line 2: not JSON"),
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read"}\n[1]\n', "line 2: expected a JSON object"),
    ("jsonl", '{"process": 0, "type": "invoke"}\n', "line 1: event has no 'f'"),
    ("jsonl", '{"process": 0, "type": "ok", "f": "read", "value": 1}\n',
     "line 1: process 0 completes read with no invocation open"),
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read", "time": 5}\n'
              '{"process": 0, "type": "ok", "f": "read", "time": 4}\n',
     "line 2: process 0 completes read at time 4, before its invocation at time 5"),
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0, "type": "ok", "f": "write"}\n',
     "line 2: process 0 completes write but invoked read at line 1"),
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0, "type": "invoke", "f": "read"}\n',
     "line 2: process 0 invokes read while its read from line 1 is still open"),
    ("jsonl", '{"process": 0, "type": "begin", "f": "read"}\n', "line 1: event type must be"),
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read", "time": 1}\n'
              '{"process": 0, "type": "ok", "f": "read"}\n', "line 2: no time, unlike the lines before"),
    ("jsonl", '{"process": 0, "type": "invoke", "f": "read", "time": "x"}\n', "line 1: time must be a number"),
    ("edn", '{:type :invoke, :f :read, :process 0}\n{:type :ok :f :read :process 0\n', "line 2: not an EDN map"),
    ("edn", '[1 2]\n', "line 1: expected an EDN map"),
    ("jepsen-log", "INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - garbage\n",
     "line 2: not a Jepsen log event"),
    ("jepsen-log", "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2\n", "line 1: bad value"),
])
def test_malformed(fmt, text, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_history(text, fmt)
    assert "\n" not in str(info.value)


def test_unknown_operation_names_its_line(tmp_path):
    text = ('{"process": 0, "type": "invoke", "f": "write", "value": 1}\n'
            '{"process": 0, "type": "ok", "f": "write", "value": 1}\n'
            '{"process": 1, "type": "invoke", "f": "frob", "value": 1}\n')
    h = read_history(write(tmp_path, "h.jsonl", text))
    with pytest.raises(ValueError, match=r"line 3: unknown operation 'frob' for the register model"):
        check(h)


def test_history_checks_operations():
    with pytest.raises(ValueError, match="operation #0: write completes at 1, before its invocation at 2"):
        History([Operation(0, "write", 1, call=2, ret=1)])
    with pytest.raises(ValueError, match="status must be one of"):
        History([Operation(0, "write", 1, status="maybe", call=0, ret=1)])
    with pytest.raises(ValueError, match="needs a completion time"):
        History([Operation(0, "write", 1, status="ok", call=0)])
    with pytest.raises(TypeError):
        History([("write", 1)])


def test_describe():
    assert Operation(3, "cas", (1, 2), status="unknown", call=0).describe() == "p3 cas [1 2] -> ?"
    assert Operation(1, "read", result=None, call=0, ret=1).describe() == "p1 read -> nil"
    assert Operation(1, "read", result=4, call=0, ret=1, key="x").describe() == "p1 read ['x'] -> 4"
