"""One self-contained HTML page of a history and its verdict: linearizability, sequential
consistency, or a causal or session check (the violations found drawn one by one).

:func:`to_html` draws the history as a timeline, one lane per process and one section
per independent part (the keys of a kv store), each operation a bar from its
invocation to its completion; an operation of unknown outcome has a hatched bar and a
dashed tail to the right (it may take effect any time after its invocation), one that
never completed runs to the right edge, a failed one is grey. For a violation the
section shows the counterexample :func:`~tradeoff.consistency.linearizability.check`
found: the operation at which every order fails (red), the longest partial
linearization numbered in its order with a line through one possible linearization
point of each, and the operations that overlap the failing one (orange outline).

Times are drawn in order, not to scale: each distinct invocation or completion time
gets a column (a run of invocations, or of completions, shares one: that keeps which
operation precedes which), so a long pause takes no room and close events stay apart;
the tooltip of an operation gives its real times.

Long histories stay usable: a violation opens on a window around the counterexample,
with a tab for the whole part; keys that passed are folded; past ``max_ops`` drawn
operations, further passing keys are listed but not drawn. The page has no external
resource: inline CSS, inline SVG and a few lines of script (hover details, scrolling
to the counterexample); without the script everything but the hover panel works.
All text is escaped. The file is written atomically.

A causal or session result (:class:`~tradeoff.consistency.causal.CausalResult`,
:class:`~tradeoff.consistency.sessions.SessionResult`) is drawn with the same timeline:
one section per violation found (up to ``_MAX_PATTERNS``), named by its bad pattern
(Bouajjani, Enea, Guerraoui and Hamza, POPL 2017) or its session guarantee (Terry et
al., PDIS 1994), on the keys its operations touch, opening on a window around them.
The operations of the pattern are numbered in the order of its definition, joined by a
line; the last one (the read that breaks it) is red, the others ringed in orange.

>>> import os, tempfile
>>> from tradeoff.consistency import History, Operation, check
>>> h = History([Operation(0, "write", 1, call=0, ret=1),
...              Operation(1, "read", result=0, call=2, ret=3)])
>>> path = os.path.join(tempfile.mkdtemp(), "check.html")
>>> to_html(h, check(h), path)
>>> "p1 read -&gt; 0" in open(path, encoding="utf-8").read()
True
"""
from __future__ import annotations

import bisect
import html
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from .._atomic import atomic_write_text
from ..harness.report import _CSS as _BASE_CSS
from ..harness.report import format_time
from .history import History, Operation

__all__ = ["render_html", "to_html"]

#: drawn operations beyond which passing keys are listed, not drawn
MAX_OPS = 4000
#: the last linearized operations the counterexample window keeps in view
_WINDOW_LINEARIZED = 6
#: the least number of distinct times a counterexample window shows (history allowing)
_WINDOW_MIN_TIMES = 24
#: distinct times shown after the failing operation's completion
_WINDOW_AFTER = 3
#: rows of the key table before it is cut
_MAX_KEY_ROWS = 200
#: characters of an operation's description kept in tooltips and lists
_MAX_TEXT = 300
#: causal or session violations drawn, one section each (the rest are counted)
_MAX_PATTERNS = 12

# geometry (px)
_LANE_H = 30
_BAR_H = 18
_AXIS_H = 30
_LABEL_W = 64
_PAD_L = 10
_CHAR_W = 6.7          # width of one character of the 11px monospace bar labels
_FIT_WIDTH = 1270      # the width a view is stretched to fill (and a window kept within)
_MIN_SLOT, _MAX_SLOT, _FULL_SLOT = 16, 130, 56

_VERDICT_WORD = {"ok": "linearizable", "violation": "not linearizable", "unknown": "unknown (budget ran out)"}


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, n: int = _MAX_TEXT) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _sort_key(v) -> tuple:
    if isinstance(v, bool):
        return (1, str(v))
    if isinstance(v, (int, float)):
        return (0, v)
    return (1, str(v))


def _num(t) -> str:
    """A time or coordinate as short text."""
    if isinstance(t, float):
        if t.is_integer() and abs(t) < 1e15:
            return str(int(t))
        return f"{t:.6g}"
    return str(t)


def _px(x: float) -> str:
    return str(int(round(x)))


# -- what the result says about each operation ----------------------------------------------
@dataclass
class _Marks:
    """A key's counterexample, by operation index."""
    failed: Optional[int] = None
    order: dict = field(default_factory=dict)            # index -> position in the linearization (1-based)
    bounds: dict = field(default_factory=dict)           # index -> (earliest, latest) linearization time
    concurrent: set = field(default_factory=set)
    prefix_end: Optional[float] = None                   # the failing prefix ends here
    lin_ops: list = field(default_factory=list)          # the linearized operations, in order
    pattern: Optional[str] = None                        # a causal pattern or session guarantee drawn


def _pattern_marks(pattern, by_index: dict) -> _Marks:
    """The operations of one causal bad pattern or session violation (``name`` or
    ``guarantee``, ``ops`` in the order of its definition): numbered in that order,
    the last completed one (the read that breaks it) marked as the failing one."""
    m = _Marks(pattern=getattr(pattern, "name", None) or getattr(pattern, "guarantee", "?"))
    ops = [by_index.get(o.index, o) for o in pattern.ops]
    done = [o for o in ops if o.ret is not None]
    if done:
        m.failed = done[-1].index
    m.concurrent = {o.index for o in ops if o.index != m.failed}
    seen = set()
    m.lin_ops = [o for o in ops if not (o.index in seen or seen.add(o.index))]
    m.order = {o.index: i + 1 for i, o in enumerate(m.lin_ops)}
    m.bounds = {o.index: (o.call, o.ret if o.ret is not None else o.call) for o in m.lin_ops}
    return m


def _marks(kr, by_index: dict) -> _Marks:
    m = _Marks()
    if kr is None or kr.verdict != "violation" or kr.failed_at is None:
        return m
    fa = by_index.get(kr.failed_at.index, kr.failed_at)
    m.failed = fa.index
    m.prefix_end = fa.ret
    m.concurrent = {o.index for o in kr.concurrent if o.index != fa.index}
    # the linearized operations as drawn (the originals: the search holds copies of
    # those pending at the end of the prefix, with their completion removed)
    lin = [by_index.get(o.index, o) for o in kr.linearization]
    m.lin_ops = lin
    m.order = {o.index: i + 1 for i, o in enumerate(lin)}
    # a linearization point for each, in order: the earliest instants (a forward pass)
    # and the latest (a backward pass) bound a non-decreasing choice inside each interval;
    # an operation of unknown outcome may take effect after its completion
    early, late = [], []
    t = -math.inf
    for o in lin:
        t = max(t, o.call)
        early.append(t)
    t = math.inf
    for o in reversed(lin):
        if o.status == "ok" and o.ret is not None:
            t = min(t, o.ret)
        late.append(t)
    late.reverse()
    m.bounds = {o.index: (e, max(e, l)) for o, e, l in zip(lin, early, late)}
    return m


# -- sections ----------------------------------------------------------------------------------
@dataclass
class _Section:
    key: Any
    ops: list
    kr: Any                     # KeyResult, or None when no operation of the key was checked
    anchor: str = ""
    pattern: Any = None         # a BadPattern or SessionViolation drawn in this section
    verdict: Optional[str] = None   # the section's verdict when it has no KeyResult


def _parts(ops: list, result) -> list:
    """The sections: one per key of the result, each with its operations (failed ones
    included), in the result's order; keys the result does not know come last."""
    keys = list(result.keys) if result is not None else []
    if len(keys) <= 1:
        kr = result.keys[keys[0]] if keys else None
        return [_Section(keys[0] if keys else None, list(ops), kr)]
    op_keys = {o.key for o in ops}
    key_of = None
    try:
        if all(k in op_keys for k in keys):
            key_of = (lambda o: o.key)
    except TypeError:
        key_of = None
    groups: dict = {}
    if key_of is None:
        try:
            from .models import get_model
            for k, part in get_model(result.model).partition(ops):
                groups[k] = part
        except Exception:              # a model we cannot rebuild from its name
            groups = {}
        if not groups:
            key_of = (lambda o: o.key)
    if key_of is not None:
        for o in ops:
            groups.setdefault(key_of(o), []).append(o)
    out = [_Section(k, groups.pop(k, []), result.keys[k]) for k in keys]
    out += [_Section(k, part, None) for k, part in groups.items()]
    return out


_RANK = {"violation": 0, "unknown": 1, "ok": 2}


def _rank(s: _Section) -> int:
    return _RANK.get(_verdict(s), 3)


def _verdict(s: _Section) -> str:
    if s.kr is not None:
        return s.kr.verdict
    return s.verdict or "none"


def _patterns(result) -> Optional[list]:
    """The violations of a causal or session result, in order (None for other results)."""
    if hasattr(result, "patterns") and hasattr(result, "level"):
        return list(result.patterns)
    if isinstance(getattr(result, "violations", None), dict):
        return [v for vs in result.violations.values() for v in vs]
    return None


def _pattern_name(p) -> str:
    return getattr(p, "name", None) or getattr(p, "guarantee", "?")


def _pattern_parts(ops: list, result, patterns: list) -> list:
    """One section per violation (the keys its operations touch); a history with none
    gets one section of every operation."""
    if not patterns:
        return [_Section(None, list(ops), None, verdict=result.verdict)]
    out = []
    for p in patterns[:_MAX_PATTERNS]:
        keys = {o.key for o in p.ops}
        part = [o for o in ops if o.key in keys]
        key = next(iter(keys)) if len(keys) == 1 else None
        out.append(_Section(key, part, None, pattern=p, verdict="violation"))
    return out


# -- one timeline view -------------------------------------------------------------------------
class _Scale:
    """Times to x: the distinct times in [t0, t1] in order, a run of times that hold
    only invocations (or only completions) sharing one column of ``slot`` px. Which
    operation precedes which (a completion before an invocation) is all the picture
    must keep, and merging such runs keeps it while halving the columns."""

    def __init__(self, ops, t0, t1):
        kind: dict = {}
        for o in ops:
            for t, k in ((o.call, "c"), (o.ret, "r")):
                if t is not None and t0 <= t <= t1:
                    kind[t] = k if kind.get(t, k) == k else "b"
        for t in (t0, t1):
            kind.setdefault(t, "b")
        self.times = sorted(kind)
        self.cols = []
        self.col_times = []                                      # the first time of each column
        prev = None
        for t in self.times:
            k = kind[t]
            if prev is None or k == "b" or k != prev:
                self.col_times.append(t)
            self.cols.append(len(self.col_times) - 1)
            prev = k
        self.ncols = len(self.col_times)
        self.t0, self.t1 = t0, t1
        self.x0 = _PAD_L
        self.set_slot(_MIN_SLOT)

    def set_slot(self, slot: float) -> None:
        self.slot = slot
        self.x_last = self.x0 + (self.ncols - 1) * slot
        self.x_end = self.x_last + max(30, 1.5 * slot)            # where open intervals stop
        self.width = self.x_end + 12

    def col(self, t) -> float:
        """The column of t (fractional between two columns)."""
        if t is None or t == math.inf:
            return self.ncols - 1 + (self.x_end - self.x_last) / self.slot
        if t >= self.t1:
            return self.ncols - 1
        if t <= self.t0:
            return 0
        ts = self.times
        i = bisect.bisect_left(ts, t)
        if ts[i] == t:
            return self.cols[i]
        a, b = ts[i - 1], ts[i]
        ca, cb = self.cols[i - 1], self.cols[i]
        return ca + (cb - ca) * (t - a) / (b - a)

    def x(self, t) -> float:
        if t is None or t == math.inf:
            return self.x_end
        return self.x0 + self.col(t) * self.slot


def _lane_order(ops) -> list:
    procs = list(dict.fromkeys(o.process for o in ops))
    try:
        return sorted(procs, key=_sort_key)
    except TypeError:
        return procs


def _bar_text(op: Operation) -> str:
    """op.describe() without what the lane and the section already say."""
    d = op.describe()
    head = f"p{op.process} "
    if d.startswith(head):
        d = d[len(head):]
    if op.key is not None:
        tagged = f"{op.f} [{op.key!r}]"
        if d.startswith(tagged):
            d = op.f + d[len(tagged):]
    return d


def _fit(text: str, width: float) -> str:
    n = int((width - 8) / _CHAR_W)
    if n >= len(text):
        return text
    if n < 3:
        return ""
    return text[:n - 1] + "…"


def _tooltip(op: Operation, marks: _Marks, time_word: str) -> str:
    lines = [_clip(op.describe())]
    ret = "never completed" if op.ret is None else f"completed {_num(op.ret)}"
    lines.append(f"{time_word} {_num(op.call)}, {ret}")
    if op.line is not None:
        lines.append(f"line {op.line}" + (f"-{op.ret_line}" if op.ret_line is not None else ""))
    status = {"ok": "ok", "fail": "failed: left out", "unknown": "unknown outcome: may take effect "
              "any time after its invocation, or never"}[op.status]
    lines.append(status)
    if marks.pattern is not None:
        if op.index == marks.failed:
            lines.append(f"BREAKS {marks.pattern} (#{marks.order.get(op.index, '?')} of the pattern)")
        elif op.index in marks.order:
            lines.append(f"#{marks.order[op.index]} of the {marks.pattern} pattern")
        return "\n".join(lines)
    if op.index == marks.failed:
        lines.append("FAILS HERE: no order of the operations up to its completion is a run of the model")
    if op.index in marks.order:
        lines.append(f"linearized #{marks.order[op.index]} of {len(marks.order)}")
    if op.index in marks.concurrent:
        lines.append("overlaps the failing operation")
    if marks.prefix_end is not None and op.call > marks.prefix_end:
        lines.append("invoked after the smallest failing prefix")
    return "\n".join(lines)


def _defs(vid: str) -> str:
    return (f'<defs><pattern id="{vid}-h" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fdf3dc"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="#ecc66f" stroke-width="2.2"/></pattern>'
            f'<linearGradient id="{vid}-f"><stop offset="0" stop-color="#fdf3dc"/>'
            f'<stop offset="1" stop-color="#fdf3dc" stop-opacity="0"/></linearGradient></defs>')


@dataclass
class _View:
    html: str
    focus: Optional[float]      # x to scroll to
    lanes: int
    drawn: int                  # operations drawn


def _slot(sc: _Scale, ops, wide: bool) -> float:
    """The column width: enough to fill the page, and more (up to a cap, then the view
    scrolls) when most operations' labels would not fit their bars."""
    fill = min(_MAX_SLOT, (_FIT_WIDTH - _PAD_L - 12) / (sc.ncols + 0.5))
    if wide and fill >= 40:
        return fill
    needs = []
    for o in ops:
        span = (sc.col(o.ret) if o.ret is not None else sc.ncols) - sc.col(max(o.call, sc.t0))
        needs.append((len(_bar_text(o)) * _CHAR_W + 10) / max(1.0, span))
    needs.sort()
    need = needs[int(0.7 * (len(needs) - 1))] if needs else fill
    cap = _MAX_SLOT if wide else _FULL_SLOT
    return max(_MIN_SLOT, fill, min(need, cap))


def _view(vid: str, ops: list, lanes: list, t0, t1, wide: bool, marks: _Marks,
          time_word: str, clipped_before: bool) -> _View:
    """One timeline of ``ops`` (those to draw) between t0 and t1 on ``lanes``."""
    sc = _Scale(ops, t0, t1)
    sc.set_slot(_slot(sc, ops, wide))
    slot = sc.slot
    lane_of = {p: i for i, p in enumerate(lanes)}
    height = _AXIS_H + len(lanes) * _LANE_H + 8
    width = sc.width

    def lane_y(p) -> float:
        return _AXIS_H + lane_of[p] * _LANE_H

    out = [f'<svg class="tl" width="{_px(width)}" height="{height}" '
           f'viewBox="0 0 {_px(width)} {height}">', _defs(vid)]
    for i in range(len(lanes)):                          # lane stripes
        if i % 2 == 0:
            out.append(f'<rect class="stripe" x="0" y="{_AXIS_H + i * _LANE_H}" width="{_px(width)}" '
                       f'height="{_LANE_H}"/>')
    # time axis: a tick every few columns, at least 64 px apart
    every = max(1, math.ceil(64 / slot))
    out.append(f'<line class="axis" x1="{_PAD_L}" y1="{_AXIS_H - 6}" x2="{_px(sc.x_end)}" '
               f'y2="{_AXIS_H - 6}"/>')
    for i, t in enumerate(sc.col_times):
        if i % every:
            continue
        x = _px(sc.x0 + i * slot)
        out.append(f'<line class="tick" x1="{x}" y1="{_AXIS_H - 10}" x2="{x}" y2="{height}"/>')
        if i == 0:
            text = "◂ earlier" if clipped_before else _clip(_num(t), 14)
            out.append(f'<text class="tt0" x="2" y="{_AXIS_H - 13}">{_esc(text)}</text>')
        else:
            out.append(f'<text class="tt" x="{x}" y="{_AXIS_H - 13}">{_esc(_clip(_num(t), 14))}</text>')
    focus = None
    if marks.prefix_end is not None and t0 <= marks.prefix_end <= t1:     # end of the failing prefix
        focus = sc.x(marks.prefix_end)
        x = _px(focus)
        out.append(f'<line class="pend" x1="{x}" y1="{_AXIS_H - 6}" x2="{x}" y2="{height}"/>')
    by_lane: dict = {}
    for o in sorted(ops, key=lambda o: o.call):
        by_lane.setdefault(o.process, []).append(o)
    bars, tails = [], []
    for p, lane_ops in by_lane.items():
        y = lane_y(p) + (_LANE_H - _BAR_H) / 2
        ty = _px(y + _BAR_H / 2)
        for j, o in enumerate(lane_ops):
            x1 = sc.x(max(o.call, t0))
            x2 = sc.x(o.ret) if o.ret is not None else sc.x_end
            x2 = max(x2, x1 + 6)
            cls = ["op", {"ok": "k", "fail": "fl", "unknown": "u"}[o.status]]
            if o.ret is None:
                cls.append("open")
            if o.index in marks.order:
                cls.append("lin")
            if o.index in marks.concurrent:
                cls.append("conc")
            if marks.prefix_end is not None and o.call > marks.prefix_end:
                cls.append("after")                   # not in the failing prefix
            bad = o.index == marks.failed
            if bad:
                cls.append("bad")
            fill = ""
            if o.status == "unknown":
                fill = f' fill="url(#{vid}-{"f" if o.ret is None else "h"})"'
            # the next invocation in the lane bounds an unknown operation's tail, and its
            # label may run on over the tail
            tail_end = None
            if o.status == "unknown" and o.ret is not None:
                nxt = lane_ops[j + 1].call if j + 1 < len(lane_ops) else None
                tail_end = sc.x(nxt) - 4 if nxt is not None else sc.x_end
                if tail_end <= x2 + 4:
                    tail_end = None
            # a label too long for its bar runs on to the next operation of the lane
            nxt_x = sc.x(lane_ops[j + 1].call) - 6 if j + 1 < len(lane_ops) else sc.x_end
            text = _bar_text(o)
            label = text if bad else _fit(text, max(x2, nxt_x) - x1)
            text_w = len(label) * _CHAR_W + 8 if label else 0
            ov = ' class="ov"' if text_w > x2 - x1 else ""            # spills out of its bar
            if tail_end is not None:
                tx1 = max(x2, x1 + text_w)
                if tail_end > tx1 + 4:
                    tails.append(f'<line class="tail" x1="{_px(tx1)}" y1="{ty}" x2="{_px(tail_end)}" y2="{ty}"/>')
                if nxt is None:
                    tails.append(f'<path class="arrow" d="M{_px(tail_end - 6)} {_px(y + _BAR_H / 2 - 4)}'
                                 f'l6 4l-6 4"/>')
            extra = ""
            if o.index in marks.concurrent:
                extra = (f'<rect class="ring" x="{_px(x1 - 3)}" y="{_px(y - 3)}" width="{_px(x2 - x1 + 6)}" '
                         f'height="{_BAR_H + 6}" rx="5"/>')
            bars.append(
                f'<g class="{" ".join(cls)}"><title>{_esc(_tooltip(o, marks, time_word))}</title>{extra}'
                f'<rect class="b" x="{_px(x1)}" y="{_px(y)}" width="{_px(x2 - x1)}" height="{_BAR_H}" rx="3"{fill}/>'
                + (f'<text{ov} x="{_px(x1 + 4)}" y="{_px(y + 13)}">'
                   f'{_esc(label)}</text>' if label else "")
                + "</g>")
    out += tails
    out += bars
    # the partial linearization: a line through one possible point of each, numbered
    pts = []
    drawn = {o.index for o in ops}
    for o in marks.lin_ops:
        if o.index not in drawn:
            continue
        e, l = marks.bounds[o.index]
        if l < t0 or e > t1:
            continue
        xe = sc.x(max(e, t0))
        xl = sc.x(min(l, t1)) if l != math.inf else sc.x_end - 8
        pts.append((o, (xe + max(xe, xl)) / 2, lane_y(o.process) + (_LANE_H - _BAR_H) / 2 - 2))
    if pts:
        path = " ".join(f"{_px(x)},{_px(y)}" for _, x, y in pts)
        out.append(f'<polyline class="linline" points="{path}"/>')
        for o, x, y in pts:
            n = marks.order[o.index]
            r = 8 if n < 100 else 10
            out.append(f'<g class="pt"><circle cx="{_px(x)}" cy="{_px(y)}" r="{r}"/>'
                       f'<text x="{_px(x)}" y="{_px(y + 3)}">{n}</text></g>')
        if focus is None:
            focus = pts[-1][1]
    out.append("</svg>")
    # the lane labels, outside the scrolling area
    labels = [f'<svg class="lanes" width="{_LABEL_W}" height="{height}">']
    for i, p in enumerate(lanes):
        y = _AXIS_H + i * _LANE_H
        if i % 2 == 0:
            labels.append(f'<rect class="stripe" x="0" y="{y}" width="{_LABEL_W}" height="{_LANE_H}"/>')
        labels.append(f'<text class="lane" x="{_LABEL_W - 8}" y="{y + _LANE_H / 2 + 4:.0f}">'
                      f'{_esc(_clip("p" + str(p), 9))}<title>process {_esc(p)}</title></text>')
    labels.append(f'<text class="tt0" x="8" y="{_AXIS_H - 13}">{_esc(time_word)}</text></svg>')
    focus_attr = f' data-focus="{_px(focus)}"' if focus is not None else ""
    body = (f'<div class="timeline"><div class="lanecol">{"".join(labels)}</div>'
            f'<div class="scroll"{focus_attr}>{"".join(out)}</div></div>')
    return _View(body, focus, len(lanes), len(ops))


def _window(sec: _Section, marks: _Marks) -> tuple:
    """(t0, t1) of the counterexample window of a violating section."""
    by_index = {o.index: o for o in sec.ops}
    fa = by_index[marks.failed]
    t1 = fa.ret
    times = sorted({t for o in sec.ops for t in (o.call, o.ret) if t is not None})
    i1 = bisect.bisect_left(times, t1)
    t1 = times[min(len(times) - 1, i1 + _WINDOW_AFTER)]
    t0 = fa.call
    for i in marks.concurrent:
        o = by_index.get(i)
        if o is not None and o.status == "ok":
            t0 = min(t0, o.call)
    for o in marks.lin_ops[-_WINDOW_LINEARIZED:]:
        t0 = min(t0, marks.bounds[o.index][0])
    i0 = bisect.bisect_left(times, t0)
    i1 = bisect.bisect_left(times, t1)
    if i1 - i0 + 1 < _WINDOW_MIN_TIMES:
        i0 = max(0, i1 + 1 - _WINDOW_MIN_TIMES)
    return times[i0], t1


def _in_window(o: Operation, t0, t1, marks: _Marks) -> bool:
    if o.call > t1:
        return False
    if o.ret is None or o.ret >= t0:
        return True
    if o.index in marks.concurrent:
        return True
    if o.index in marks.bounds:
        e, l = marks.bounds[o.index]
        return l >= t0
    return False


# -- the page ---------------------------------------------------------------------------------
_CSS = """
body { max-width: 1420px; }
h1 { margin-bottom: 0.3em; }
.badge { display: inline-block; padding: 0.1em 0.6em; border-radius: 1em; font-weight: 600;
         font-size: 0.85em; color: #fff; vertical-align: middle; }
.badge.ok { background: #2e8b57; } .badge.violation { background: #c62828; }
.badge.unknown { background: #b7791f; } .badge.none { background: #888; }
.summary { display: flex; flex-wrap: wrap; gap: 0.4em 1.6em; margin: 0.6em 0 1em; font-size: 0.92em; }
.summary b { font-variant-numeric: tabular-nums; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3em 1.4em; align-items: center; font-size: 0.85em;
          color: #444; background: #fafafa; border: 1px solid #e4e4e4; border-radius: 6px;
          padding: 0.5em 0.8em; margin: 0.5em 0 1.2em; }
.legend span { display: inline-flex; align-items: center; gap: 0.35em; }
section.key { margin: 1.2em 0 2em; }
section.key > h2, details.key > summary { font-size: 1.1em; margin: 0.4em 0; }
details.key > summary { cursor: pointer; font-weight: 600; }
details.key { margin: 0.4em 0; }
p.cx { margin: 0.3em 0; font-size: 0.92em; }
p.cx code, li code, td code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.95em;
          background: #f3f3f3; padding: 0 0.25em; border-radius: 3px; }
.timeline { display: flex; border: 1px solid #ddd; border-radius: 6px; background: #fff; overflow: hidden; }
.lanecol { flex: none; border-right: 1px solid #e4e4e4; }
.scroll { overflow-x: auto; flex: 1; }
svg { display: block; }
svg text { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 11px; }
.stripe { fill: #f6f8fb; }
.axis { stroke: #999; } .tick { stroke: #e6e6e6; }
.tt { fill: #777; font-size: 10px; text-anchor: middle; }
.tt0 { fill: #777; font-size: 10px; }
.op text.ov { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.lane { fill: #333; text-anchor: end; font-weight: 600; }
.op .b { stroke-width: 1.2; }
.op text { fill: #1d2a3a; pointer-events: none; }
.op.k .b { fill: #dce8f8; stroke: #5b87c5; }
.op.u .b { stroke: #c8922a; stroke-dasharray: 4 2; }
.op.fl .b { fill: #eeeeee; stroke: #bbbbbb; }
.op.fl text { fill: #999; }
.op.lin.k .b { fill: #d3efdb; stroke: #2e8b57; }
.op.lin.u .b { stroke: #2e8b57; }
.op.bad .b { fill: #fbd5d5; stroke: #c62828; stroke-width: 2.6; stroke-dasharray: none; }
.op.bad text { fill: #8e1b1b; font-weight: 700; }
.op.bad.lin.k .b, .op.bad.lin.u .b { fill: #fbd5d5; stroke: #c62828; stroke-width: 2.6; stroke-dasharray: none; }
.op .ring { fill: none; stroke: #e67e22; stroke-width: 1.6; stroke-dasharray: 3 2; }
.op:hover .b { stroke-width: 2.4; }
.op.after { opacity: 0.5; }
.tail { stroke: #d5a64a; stroke-width: 1.4; stroke-dasharray: 2 3; }
.arrow { fill: none; stroke: #d5a64a; stroke-width: 1.4; }
.pend { stroke: #c62828; stroke-width: 1.4; stroke-dasharray: 5 3; }
.linline { fill: none; stroke: #2e8b57; stroke-width: 1.6; stroke-opacity: 0.75; }
.pt circle { fill: #2e8b57; stroke: #fff; stroke-width: 1.5; }
.pt text { fill: #fff; font-size: 9px; font-weight: 700; text-anchor: middle; font-family: system-ui, sans-serif; }
ol.pat { font-size: 0.88em; margin: 0.3em 0 0.6em; }
.views > input { position: absolute; opacity: 0; pointer-events: none; }
.views > label { display: inline-block; padding: 0.3em 0.9em; margin-right: 0.3em; border: 1px solid #ccc;
                 border-bottom: none; border-radius: 6px 6px 0 0; background: #f2f2f2; cursor: pointer;
                 font-size: 0.88em; color: #444; }
.views > input:checked + label { background: #fff; color: #111; font-weight: 600; border-color: #aaa; }
.views > .view { display: none; }
.views > input.v0:checked ~ .view.v0, .views > input.v1:checked ~ .view.v1 { display: block; }
.info { min-height: 1.4em; font-size: 0.85em; color: #333; margin: 0.4em 0; white-space: pre-wrap;
        font-family: ui-monospace, Menlo, Consolas, monospace; }
.muted { color: #555; font-size: 0.88em; margin: 0.3em 0; }
ol.lin { font-size: 0.85em; columns: 3; column-gap: 2em; margin: 0.4em 0; }
"""

_JS = """
(function () {
  function focus(el) {
    if (el.dataset.done || !el.clientWidth) return;
    el.dataset.done = "1";
    el.scrollLeft = Math.max(0, Number(el.dataset.focus) - el.clientWidth * 0.7);
  }
  function focusAll() { document.querySelectorAll(".scroll[data-focus]").forEach(focus); }
  document.addEventListener("change", focusAll);
  document.addEventListener("toggle", focusAll, true);
  window.addEventListener("load", focusAll);
  document.addEventListener("mouseover", function (ev) {
    var g = ev.target.closest && ev.target.closest("g.op");
    if (!g) return;
    var box = g.closest(".keybody");
    var info = box && box.querySelector(".info");
    var t = g.querySelector("title");
    if (info && t) info.textContent = t.textContent.replace(/\\n/g, "  \\u00b7  ");
  });
})();
"""


def _swatch(kind: str) -> str:
    w, h = 34, 16
    body = {
        "ok": '<rect x="1" y="2" width="32" height="12" rx="3" fill="#dce8f8" stroke="#5b87c5"/>',
        "unknown": '<rect x="1" y="2" width="20" height="12" rx="3" fill="#fdf3dc" stroke="#c8922a" '
                   'stroke-dasharray="4 2"/><line x1="22" y1="8" x2="32" y2="8" stroke="#d5a64a" '
                   'stroke-dasharray="2 3"/>',
        "fail": '<rect x="1" y="2" width="32" height="12" rx="3" fill="#eee" stroke="#bbb"/>',
        "bad": '<rect x="2" y="2" width="30" height="12" rx="3" fill="#fbd5d5" stroke="#c62828" '
               'stroke-width="2.4"/>',
        "lin": '<rect x="1" y="3" width="32" height="12" rx="3" fill="#d3efdb" stroke="#2e8b57"/>'
               '<circle cx="17" cy="4" r="4" fill="#2e8b57"/>',
        "conc": '<rect x="4" y="4" width="26" height="8" rx="2" fill="#dce8f8" stroke="#5b87c5"/>'
                '<rect x="1" y="1" width="32" height="14" rx="4" fill="none" stroke="#e67e22" '
                'stroke-dasharray="3 2" stroke-width="1.5"/>',
        "pend": '<line x1="17" y1="0" x2="17" y2="16" stroke="#c62828" stroke-dasharray="4 2" stroke-width="1.4"/>',
    }[kind]
    return f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}">{body}</svg>'


def _legend(violation: bool, patterns: bool = False) -> str:
    items = [("ok", "completed ok (invocation to completion)"),
             ("unknown", "unknown outcome (may take effect later, or never)"),
             ("fail", "failed (left out)")]
    if violation and patterns:
        items += [("bad", "the operation that breaks it (the last of the pattern)"),
                  ("lin", "the pattern's operations, numbered in the order of its definition"),
                  ("conc", "the other operations of the pattern")]
    elif violation:
        items += [("bad", "the operation at which every order fails"),
                  ("lin", "longest partial linearization, numbered in order"),
                  ("conc", "overlaps the failing operation"),
                  ("pend", "end of the smallest failing prefix")]
    return ('<div class="legend">' + "".join(f"<span>{_swatch(k)}{_esc(t)}</span>" for k, t in items)
            + "<span>columns keep the order of events, not their spacing; hover an operation for details</span></div>")


def _key_name(key) -> str:
    return "(single object)" if key is None else _clip(repr(key), 80)


def _counts(ops) -> str:
    n = {"ok": 0, "fail": 0, "unknown": 0}
    for o in ops:
        n[o.status] = n.get(o.status, 0) + 1
    return (f"{len(ops):,} operations ({n['ok']:,} ok, {n['unknown']:,} unknown, {n['fail']:,} failed)")


def _code_list(ops, limit: int = 12) -> str:
    shown = ", ".join(f"<code>{_esc(_clip(o.describe(), 120))}</code>" for o in ops[:limit])
    if len(ops) > limit:
        shown += f" and {len(ops) - limit:,} more"
    return shown or "none"


def _section_html(no: int, sec: _Section, time_word: str, draw: bool, single: bool,
                  full_max: Optional[int] = None) -> str:
    kr = sec.kr
    verdict = _verdict(sec)
    by_index = {o.index: o for o in sec.ops}
    marks = _pattern_marks(sec.pattern, by_index) if sec.pattern is not None else _marks(kr, by_index)
    if marks.failed is not None and marks.failed not in by_index:
        marks = _Marks()                          # the result does not belong to this history
    head_word = _VERDICT_WORD.get(verdict, "not checked (no operation to check)")
    title = (f'<span class="badge {_esc(verdict)}">{_esc(verdict)}</span> '
             f'key {_esc(_key_name(sec.key))}' if not single else
             f'<span class="badge {_esc(verdict)}">{_esc(verdict)}</span> {_esc(head_word)}')
    if sec.pattern is not None:
        keys = sorted({o.key for o in sec.pattern.ops}, key=_sort_key)
        where = "" if keys == [None] else " on key" + ("s " if len(keys) > 1 else " ") + ", ".join(
            _key_name(k) for k in keys[:6])
        title = (f'<span class="badge violation">{_esc(_pattern_name(sec.pattern))}</span> '
                 f'violation {no + 1}{_esc(where)}')
    parts = []
    stats = [_counts(sec.ops), f"{len({o.process for o in sec.ops}):,} processes"]
    if kr is not None:
        stats += [f"{kr.steps:,} search steps", format_time(kr.seconds)]
    if single:                                    # the page's header says it already
        stats = []
    if kr is not None and kr.out_of_memory:
        stats.append("unknown: the search reached its memory cap")
    if stats:
        parts.append(f'<p class="muted">{_esc(" · ".join(stats))}</p>')
    if sec.pattern is not None:
        items = "".join(f"<li><code>{_esc(_clip(o.describe(), 120))}</code> ({_esc(o.where())})</li>"
                        for o in marks.lin_ops)
        parts.append(f'<p class="cx"><b>{_esc(_pattern_name(sec.pattern))}</b>: '
                     f'{_esc(_clip(sec.pattern.text, 600))}</p><ol class="pat">{items}</ol>')
    elif marks.failed is not None:
        fa = by_index[marks.failed]
        conc = [by_index.get(i) for i in sorted(marks.concurrent)]
        conc = [o for o in conc if o is not None]
        parts.append(
            f'<p class="cx">No order of the operations up to the completion of '
            f'<code>{_esc(_clip(fa.describe(), 160))}</code> ({_esc(fa.where())}) is a run of the model. '
            f'The longest partial linearization orders {len(marks.lin_ops):,} of the '
            f'{kr.prefix_ops:,} operations of that prefix ({kr.prefix_done:,} of them completed).</p>'
            f'<p class="cx">Overlapping the failing operation: {_code_list(conc)}.</p>')
    if not draw:
        parts.append('<p class="muted">Not drawn: the page already holds its limit of operations '
                     '(raise <code>max_ops</code> to draw it).</p>')
        return _wrap(no, sec, title, "".join(parts), verdict, single)
    if not sec.ops:
        parts.append('<p class="muted">No operations.</p>')
        return _wrap(no, sec, title, "".join(parts), verdict, single)
    lanes = _lane_order(sec.ops)
    times = [t for o in sec.ops for t in (o.call, o.ret) if t is not None]
    t_all0, t_all1 = min(times), max(times)
    vid = f"k{no}"
    full = None
    views = []
    if marks.failed is not None:
        t0, t1 = _window(sec, marks)
        shown = [o for o in sec.ops if _in_window(o, t0, t1, marks)]
        if len(shown) < len(sec.ops):
            w_lanes = [p for p in lanes if any(o.process == p for o in shown)]
            win = _view(vid + "w", shown, w_lanes, t0, t1, True, marks, time_word,
                        clipped_before=t0 > t_all0)
            hidden = len(lanes) - len(w_lanes)
            cap = (f"Window around the counterexample: {len(shown):,} of {len(sec.ops):,} operations, "
                   f"{time_word} {_num(t0)} to {_num(t1)}")
            if hidden:
                cap += f"; {hidden} process{'es' if hidden != 1 else ''} with no operation here not shown"
            views.append(("Counterexample window", cap, win))
    if not views or full_max is None or len(sec.ops) <= full_max:
        full = _view(vid + "a", sec.ops, lanes, t_all0, t_all1, len(sec.ops) <= 60, marks, time_word, False)
        views.append(("Whole history", f"All {len(sec.ops):,} operations on {len(lanes)} processes", full))
    if len(views) == 1:
        label, cap, v = views[0]
        parts.append(f'<p class="muted">{_esc(cap)}</p>{v.html}')
    else:
        name = f"views-{no}"
        radios, bodies = [], []
        for i, (label, cap, v) in enumerate(views):
            checked = " checked" if i == 0 else ""
            radios.append(f'<input type="radio" class="v{i}" name="{name}" id="{name}-{i}"{checked}>'
                          f'<label for="{name}-{i}">{_esc(label)}</label>')
            bodies.append(f'<div class="view v{i}"><p class="muted">{_esc(cap)}</p>{v.html}</div>')
        parts.append(f'<div class="views">{"".join(radios)}{"".join(bodies)}</div>')
    parts.append('<div class="info"></div>')
    if marks.lin_ops and sec.pattern is None:
        items = "".join(f"<li><code>{_esc(_clip(o.describe(), 120))}</code></li>" for o in marks.lin_ops)
        parts.append(f'<details><summary class="muted">The partial linearization, in order '
                     f'({len(marks.lin_ops):,} operations)</summary><ol class="lin">{items}</ol></details>')
    return _wrap(no, sec, title, "".join(parts), verdict, single)


def _wrap(no, sec, title, body, verdict, single) -> str:
    if single:
        return (f'<section class="key" id="{sec.anchor}"><div class="keybody">{body}</div></section>')
    if verdict in ("violation", "unknown"):
        return (f'<section class="key" id="{sec.anchor}"><h2>{title}</h2>'
                f'<div class="keybody">{body}</div></section>')
    return (f'<details class="key" id="{sec.anchor}"><summary>{title}</summary>'
            f'<div class="keybody">{body}</div></details>')


def render_html(history, result, title: Optional[str] = None, *, max_ops: int = MAX_OPS) -> str:
    """The page :func:`to_html` writes, as a string."""
    if history is None:
        history = getattr(result, "history", None)
        if history is None:
            raise ValueError("to_html needs the history that was checked")
    ops = list(history.ops if isinstance(history, History) else history)
    for i, o in enumerate(ops):
        if not isinstance(o, Operation):
            raise TypeError(f"a history holds Operation objects, got {type(o).__name__} at {i}")
    if ops and all(o.index == -1 for o in ops):
        for i, o in enumerate(ops):
            o.index = i
    fmt = getattr(history, "format", None)
    time_word = "line" if fmt == "jepsen-log" else "time"
    verdict = getattr(result, "verdict", "none")
    model = getattr(result, "model", "?")
    patterns = _patterns(result)
    if patterns is not None:
        return _render_patterns(ops, result, patterns, title, time_word, max_ops)
    if title is None:
        title = f"Linearizability: {_VERDICT_WORD.get(verdict, verdict)} ({model} model)"
    sections = _parts(ops, result)
    single = len(sections) == 1
    sections.sort(key=_rank)
    for i, s in enumerate(sections):
        s.anchor = f"key-{i}"
    n_keys = {}
    for s in sections:
        v = s.kr.verdict if s.kr is not None else "none"
        n_keys[v] = n_keys.get(v, 0) + 1
    procs = {o.process for o in ops}
    summary = [("verdict", _VERDICT_WORD.get(verdict, verdict)), ("model", model),
               ("operations", _counts(ops)), ("processes", f"{len(procs):,}")]
    if not single:
        summary.append(("keys", ", ".join(f"{n:,} {v}" for v, n in n_keys.items())))
    if result is not None:
        summary += [("search steps", f"{result.steps:,}"), ("time", format_time(result.seconds))]
    body = [f'<h1><span class="badge {_esc(verdict)}">{_esc(verdict)}</span> {_esc(title)}</h1>',
            '<div class="summary">' + "".join(f"<span>{_esc(k)}: <b>{_esc(v)}</b></span>"
                                               for k, v in summary) + "</div>"]
    body.append(_legend(any(s.kr is not None and s.kr.verdict == "violation" for s in sections)))
    if not single:
        rows = []
        for s in sections[:_MAX_KEY_ROWS]:
            kr = s.kr
            v = kr.verdict if kr is not None else "none"
            fail = (f"<code>{_esc(_clip(kr.failed_at.describe(), 100))}</code>"
                    if kr is not None and kr.failed_at is not None else "")
            rows.append(f'<tr><td><a href="#{s.anchor}">{_esc(_key_name(s.key))}</a></td>'
                        f'<td><span class="badge {_esc(v)}">{_esc(v)}</span></td>'
                        f'<td class="num">{len(s.ops):,}</td>'
                        f'<td class="num">{(f"{kr.steps:,}" if kr is not None else "-")}</td>'
                        f'<td class="num">{_esc(format_time(kr.seconds)) if kr is not None else "-"}</td>'
                        f"<td>{fail}</td></tr>")
        more = (f'<p class="muted">and {len(sections) - _MAX_KEY_ROWS:,} more keys below</p>'
                if len(sections) > _MAX_KEY_ROWS else "")
        body.append('<table><thead><tr><th>key</th><th>verdict</th><th class="num">operations</th>'
                    '<th class="num">steps</th><th class="num">time</th><th>fails at</th></tr></thead>'
                    f'<tbody>{"".join(rows)}</tbody></table>{more}')
    if not ops:
        body.append('<p class="muted">The history is empty.</p>')
    drawn = 0
    for i, s in enumerate(sections):
        bad = s.kr is not None and s.kr.verdict != "ok"
        draw = bad or drawn + len(s.ops) <= max_ops
        if draw:
            drawn += len(s.ops)
        if ops:
            body.append(_section_html(i, s, time_word, draw, single))
    return _page(title, body)


def _page(title: str, body: list) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_esc(title)}</title>\n<style>{_BASE_CSS}{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{_JS}</script>\n</body>\n</html>\n")


def _render_patterns(ops, result, patterns, title, time_word, max_ops) -> str:
    """The page of a causal or session result: a table of the violations, then one
    timeline section for each (up to _MAX_PATTERNS)."""
    verdict = result.verdict
    level = getattr(result, "level", None)
    what = f"causal consistency ({level})" if level is not None else "session guarantees"
    if title is None:
        title = f"{what[0].upper()}{what[1:]}: {'violated' if verdict == 'violation' else 'satisfied'}"
    counts = dict(getattr(result, "counts", {}) or {})
    found: dict = {}
    for p in patterns:
        found[_pattern_name(p)] = found.get(_pattern_name(p), 0) + 1
    for k in found:
        found[k] = max(found[k], counts.get(k) or 0)
    summary = [("verdict", verdict), ("checked", ", ".join(result.checked)), ("operations", _counts(ops)),
               ("processes", f"{len({o.process for o in ops}):,}")]
    if found:
        summary.append(("found", ", ".join(f"{n:,} {k}" for k, n in found.items())))
    summary.append(("time", format_time(result.seconds)))
    body = [f'<h1><span class="badge {_esc(verdict)}">{_esc(verdict)}</span> {_esc(title)}</h1>',
            '<div class="summary">' + "".join(f"<span>{_esc(k)}: <b>{_esc(v)}</b></span>"
                                               for k, v in summary) + "</div>",
            _legend(bool(patterns), patterns=True)]
    sections = _pattern_parts(ops, result, patterns)
    for i, s in enumerate(sections):
        s.anchor = f"key-{i}"
    if patterns:
        rows = []
        for i, s in enumerate(sections):
            p = s.pattern
            rows.append(f'<tr><td class="num"><a href="#{s.anchor}">{i + 1}</a></td>'
                        f'<td><span class="badge violation">{_esc(_pattern_name(p))}</span></td>'
                        f'<td class="num">{len(p.ops)}</td><td>{_esc(_clip(p.text, 200))}</td></tr>')
        more = (f'<p class="muted">and {len(patterns) - len(sections):,} more not drawn</p>'
                if len(patterns) > len(sections) else "")
        body.append('<table><thead><tr><th class="num">#</th><th>violation</th><th class="num">operations</th>'
                    f'<th>what</th></tr></thead><tbody>{"".join(rows)}</tbody></table>{more}')
    if not ops:
        body.append('<p class="muted">The history is empty.</p>')
    single = not patterns
    drawn = 0
    for i, s in enumerate(sections):
        draw = s.pattern is not None or drawn + len(s.ops) <= max_ops
        if draw:
            drawn += len(s.ops)
        if ops:
            body.append(_section_html(i, s, time_word, draw, single, full_max=max_ops // 4))
    return _page(title, body)


def to_html(history, result, path, title: Optional[str] = None, *, max_ops: int = MAX_OPS) -> None:
    """Write the page of ``history`` and its check ``result`` (a :class:`CheckResult`,
    a :class:`SequentialResult`, a :class:`CausalResult` or a :class:`SessionResult`)
    to ``path``, atomically: a failure leaves no partial file. ``history`` may be None
    when ``result`` carries it (``result.history``). ``title`` defaults to the verdict
    and the model; passing keys beyond ``max_ops`` drawn operations are listed, not
    drawn."""
    text = render_html(history, result, title, max_ops=max_ops)
    atomic_write_text(path, text)
