"""The HTML page of a check (tradeoff.consistency.report): it parses, draws one lane per
process, marks the counterexample, escapes every text, loads nothing from outside,
stays small on long histories, and is written atomically."""
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tradeoff import _atomic
from tradeoff.consistency import History, Operation, check, read_history
from tradeoff.consistency import report

HISTORIES = Path(os.environ.get("TRADEOFF_HISTORIES",
                                Path(__file__).resolve().parents[2].parent / "shared" / "histories"))
NASTY = '<img src=x onerror="alert(1)">&amp;'


def op(process, f, value=None, result=None, status="ok", call=0, ret=None, key=None):
    return Operation(process, f, value, result=result, status=status, call=call, ret=ret, key=key)


class Page(HTMLParser):
    """The parts of the page the tests look at."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags = []                 # (tag, attrs dict)
        self.views = []                # per timeline: the lane labels
        self.ops = []                  # (classes of the g.op, its tooltip)
        self.text = []
        self._stack = []
        self._in_lane = False
        self._title = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        cls = (a.get("class") or "").split()
        if tag == "svg" and "lanes" in cls:
            self.views.append([])
        if tag == "text" and "lane" in cls:
            self._in_lane = True
            self.views[-1].append("")
        if tag == "g" and "op" in cls:
            self.ops.append([set(cls), ""])
            self._title = self.ops[-1]
        if tag == "title" and self._title is None:
            self._title = False

    def handle_endtag(self, tag):
        if tag == "text":
            self._in_lane = False
        if tag == "g":
            self._title = None

    def handle_data(self, data):
        self.text.append(data)
        if self._in_lane and self.views and self.views[-1][-1] == "":
            self.views[-1][-1] = data
        if self._title and self._title[1] == "":
            self._title[1] = data.splitlines()[0]          # the operation's describe()

    def starts(self, tag):
        return [a for t, a in self.tags if t == tag]


def write(tmp_path, history, result=None, name="page.html", **kw):
    result = check(history, kw.pop("model", "register")) if result is None else result
    path = tmp_path / name
    report.to_html(history, result, path, **kw)
    text = path.read_text(encoding="utf-8")
    return text, Page(text), result


def assert_self_contained(text, page):
    low = text.lower()
    assert "http://" not in low and "https://" not in low
    for tag, a in page.tags:
        assert "src" not in a, (tag, a)
        assert not (tag == "link" and "href" in a)
        href = a.get("href")
        assert href is None or href.startswith("#"), href
    assert "@import" not in low and "url(http" not in low


def small_violation():
    return History([
        op(0, "write", 1, call=0, ret=2),
        op(1, "read", result=1, call=1, ret=4),
        op(2, "write", NASTY, status="unknown", call=3, ret=5),
        op(0, "read", result=0, call=6, ret=8),                  # stale: fails here
        op(1, "cas", (1, 2), result=False, status="fail", call=5, ret=7),
        op(3, "read", status="unknown", call=7),                 # never completed
    ])


# -- a small violation ---------------------------------------------------------------------------
def test_small_violation_page(tmp_path):
    h = small_violation()
    text, page, r = write(tmp_path, h)
    assert r.verdict == "violation"
    assert text.startswith("<!DOCTYPE html>")
    assert_self_contained(text, page)
    # one view (a small history has no window), one lane per process
    assert len(page.views) == 1
    assert page.views[0] == ["p0", "p1", "p2", "p3"]
    # the failing operation is marked, and only it
    bad = [t for cls, t in page.ops if "bad" in cls]
    assert bad == [r.keys[None].failed_at.describe()] == ["p0 read -> 0"]
    # the linearized operations are numbered, the failed one greyed, the open one open
    classes = {t.splitlines()[0]: cls for cls, t in page.ops}
    assert "lin" in classes["p0 write 1 -> ok"] and "lin" in classes["p1 read -> 1"]
    assert "fl" in classes["p1 cas [1 2] -> fail"]
    assert {"u", "open"} <= classes["p3 read -> ?"]
    n_lin = len(r.keys[None].linearization)
    assert len(page.starts("polyline")) == 1
    assert len([a for a in page.starts("g") if a.get("class") == "pt"]) == n_lin


def test_text_is_escaped(tmp_path):
    text, page, _ = write(tmp_path, small_violation(), title="a <title> & more")
    # no tag made of the data: the only img would be the one in the value
    assert not page.starts("img")
    assert len(page.starts("script")) == 1                     # the page's own
    assert NASTY not in text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;" in text
    joined = "".join(page.text)
    assert f"p2 write {NASTY} -> ?" in joined                  # the tooltip, unescaped by the parser
    assert "a <title> & more" in joined


# -- an ok history -----------------------------------------------------------------------------
def test_ok_history(tmp_path):
    h = History([op(0, "write", 1, call=0, ret=2), op(1, "read", result=1, call=1, ret=3),
                 op(2, "write", 2, status="unknown", call=2, ret=4), op(0, "read", result=2, call=5, ret=6)])
    text, page, r = write(tmp_path, h)
    assert r.verdict == "ok"
    assert_self_contained(text, page)
    assert page.views == [["p0", "p1", "p2"]]
    assert len(page.ops) == 4
    assert not any(cls & {"bad", "lin", "conc"} for cls, _ in page.ops)
    assert not page.starts("polyline")
    assert "linearizable" in "".join(page.text)


def test_empty_history(tmp_path):
    h = History([])
    text, page, r = write(tmp_path, h)
    assert "empty" in text and not page.views


# -- kv: a section per key ---------------------------------------------------------------------
def test_kv_sections(tmp_path):
    h = History([op(0, "put", 1, key="a", call=0, ret=1), op(1, "get", result=1, key="a", call=2, ret=3),
                 op(2, "put", "<x>", key="b", call=0, ret=1), op(3, "get", result=None, key="b", call=2, ret=3),
                 op(1, "get", result="<x>", key="b", call=4, ret=5)])
    text, page, r = write(tmp_path, h, model="kv")
    assert r.verdict == "violation" and r.keys["b"].verdict == "violation"
    assert_self_contained(text, page)
    # the violating key first, then the one that passed; each with its own processes
    assert page.views == [["p1", "p2", "p3"], ["p0", "p1"]]
    bad = [t for cls, t in page.ops if "bad" in cls]
    assert bad == [r.keys["b"].failed_at.describe()] == ["p3 get ['b'] -> nil"]
    # a table of keys linking to the sections
    anchors = {a["id"] for t, a in page.tags if "id" in a and a["id"].startswith("key-")}
    links = {a["href"][1:] for a in page.starts("a")}
    assert links == anchors and len(anchors) == 2


def test_max_ops_lists_passing_keys_without_drawing_them(tmp_path):
    ops = []
    for k in range(6):
        ops += [op(0, "put", k, key=k, call=10 * k, ret=10 * k + 1),
                op(1, "get", result=k, key=k, call=10 * k + 2, ret=10 * k + 3)]
    h = History(ops)
    text, page, r = write(tmp_path, h, model="kv", max_ops=5)
    assert r.verdict == "ok"
    assert len(page.views) == 2                                # 2 + 2 <= 5 < 2 + 2 + 2
    assert text.count("Not drawn") == 4


# -- long histories ------------------------------------------------------------------------------
def long_history(n=1000, processes=5):
    """n sequential writes by turns, then a read of the first value: stale at the very end."""
    ops = [op(i % processes, "write", i, call=2 * i, ret=2 * i + 1) for i in range(n)]
    ops.append(op(processes, "read", result=0, call=2 * n, ret=2 * n + 1))
    return History(ops)


def test_long_history_opens_on_a_window(tmp_path):
    h = long_history()
    text, page, r = write(tmp_path, h)
    assert r.verdict == "violation"
    assert len(text) < 1_500_000
    # two views: the window around the counterexample (checked), and the whole history
    radios = page.starts("input")
    assert len(radios) == 2 and "checked" in radios[0] and "checked" not in radios[1]
    window, whole = page.views
    assert len(whole) == 6 and len(window) < len(whole) or len(window) == len(whole)
    assert window[-1] == "p5"
    assert sum(1 for cls, _ in page.ops if "bad" in cls) == 2           # once per view
    drawn_in_window = len(page.ops) - len(h)
    assert 0 < drawn_in_window < 80


# -- the Jepsen etcd histories --------------------------------------------------------------------
def etcd(i):
    path = HISTORIES / f"etcd_{i:03d}.log.gz"
    if not path.exists():
        pytest.skip(f"no reference histories at {HISTORIES} (set TRADEOFF_HISTORIES)")
    return read_history(path)


@pytest.mark.parametrize("i", [0, 2])
def test_etcd_history(tmp_path, i):
    h = etcd(i)
    text, page, r = write(tmp_path, h)
    assert_self_contained(text, page)
    assert len(text) < 300_000
    procs = sorted({o.process for o in h})
    whole = page.views[-1]
    assert whole == [f"p{p}" for p in procs]
    assert sum(1 for cls, _ in page.ops if "fl" in cls) >= sum(o.status == "fail" for o in h)
    kr = r.keys[None]
    bad = [t.splitlines()[0] for cls, t in page.ops if "bad" in cls]
    if r.verdict == "violation":
        assert bad and set(bad) == {kr.failed_at.describe()}
        assert f"line {kr.failed_at.line}" in text
    else:
        assert not bad
    assert "time" not in whole and "line" in "".join(page.text)


# -- writing -------------------------------------------------------------------------------------
def test_written_atomically(tmp_path, monkeypatch):
    h = small_violation()
    r = check(h)
    dest = tmp_path / "out.html"
    dest.write_text("old", encoding="utf-8")

    def broken(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(_atomic.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        report.to_html(h, r, dest)
    assert dest.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.html"]


def test_a_failing_render_leaves_no_file(tmp_path):
    dest = tmp_path / "sub" / "out.html"
    with pytest.raises(TypeError):
        report.to_html(["not an operation"], check(small_violation()), dest)
    assert not dest.exists()
    assert not (tmp_path / "sub").exists() or not any((tmp_path / "sub").iterdir())


def test_history_from_the_result(tmp_path):
    h = small_violation()
    r = check(h)
    with pytest.raises(ValueError, match="history"):
        report.to_html(None, r, tmp_path / "x.html")
    r.history = h
    report.to_html(None, r, tmp_path / "x.html")
    assert "p0 read -&gt; 0" in (tmp_path / "x.html").read_text(encoding="utf-8")


# -- causal and session violations ------------------------------------------------------------
def test_a_causal_pattern_is_drawn(tmp_path):
    from tradeoff.consistency import check_causal
    # p0 writes 1 then 2; p1 reads 2 then 1 (WriteCORead); p2 only writes another key
    h = History([op(0, "write", 1, call=0, ret=1, key="x"), op(0, "write", NASTY, call=2, ret=3, key="x"),
                 op(1, "read", result=NASTY, call=4, ret=5, key="x"), op(1, "read", result=1, call=6, ret=7, key="x"),
                 op(2, "write", 9, call=0, ret=9, key="y")])
    r = check_causal(h)
    assert r.found() == ["WriteCORead"]
    text, page, _ = write(tmp_path, h, r)
    assert_self_contained(text, page)
    assert NASTY not in text
    pat = r.patterns[0]
    # one timeline, of key x only: p2 has no lane; the pattern's ops numbered, the read last in red
    assert page.views == [["p0", "p1"]]
    bad = [t for cls, t in page.ops if "bad" in cls]
    assert bad == [pat.ops[-1].describe()] == ["p1 read ['x'] -> 1"]
    numbered = {t for cls, t in page.ops if "lin" in cls}
    assert numbered == {o.describe() for o in pat.ops}
    assert len([a for a in page.starts("g") if a.get("class") == "pt"]) == len({o.index for o in pat.ops})
    joined = "".join(page.text)
    assert "WriteCORead" in joined and pat.text in joined and "BREAKS WriteCORead" in joined


def test_session_violations_one_section_each(tmp_path):
    from tradeoff.consistency import check_sessions
    from tradeoff.consistency.report import _MAX_PATTERNS
    # on each of 15 keys p1 reads the new value, then the old one: 15 monotonic-reads violations
    ops, t = [], 0
    for k in range(15):
        ops += [op(0, "write", 1, call=t, ret=t + 1, key=k), op(0, "write", 2, call=t + 2, ret=t + 3, key=k),
                op(1, "read", result=2, call=t + 4, ret=t + 5, key=k), op(1, "read", result=1, call=t + 6, ret=t + 7, key=k)]
        t += 8
    h = History(ops)
    r = check_sessions(h, ["monotonic-reads"], limit=100)
    assert r.counts["monotonic-reads"] == 15
    text, page, _ = write(tmp_path, h, r)
    assert len(page.starts("section")) == _MAX_PATTERNS < 15
    assert f"and {15 - _MAX_PATTERNS} more not drawn" in text
    assert len([cls for cls, _ in page.ops if "bad" in cls]) == _MAX_PATTERNS
    assert "monotonic-reads" in "".join(page.text)


def test_sessions_ok_page(tmp_path):
    from tradeoff.consistency import check_sessions
    h = History([op(0, "write", 1, call=0, ret=1), op(1, "read", result=1, call=2, ret=3)])
    r = check_sessions(h)
    assert r.verdict == "ok"
    text, page, _ = write(tmp_path, h, r)
    assert page.views == [["p0", "p1"]] and not any("bad" in cls for cls, _ in page.ops)
    assert "satisfied" in text
