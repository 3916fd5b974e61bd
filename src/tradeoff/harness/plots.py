"""Bar charts for the HTML report (PNG bytes), and the figure helpers every
``simulate`` plot is drawn with.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas and never go through
``pyplot``: no GUI backend is selected, the caller's backend is left alone, and no figure
is kept in pyplot's registry, so nothing has to be closed and nothing leaks. matplotlib is
imported inside the functions, so importing this module costs nothing.
"""
from __future__ import annotations

import base64
import io
import math
from typing import Mapping, Sequence

__all__ = ["bar_chart", "data_uri", "figure", "save_figure"]

Series = Mapping[str, tuple]   # label -> (heights, errors or None)


def figure(width: float = 7.0, height: float = 4.5):
    """A new ``(fig, ax)`` on an Agg canvas, outside pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig, path) -> None:
    """Write ``fig`` as PNG or SVG, chosen by the file's extension, atomically
    (another extension is a UserError and nothing is written)."""
    import os

    from .._atomic import atomic_path
    from .errors import UserError

    ext = os.path.splitext(str(path))[1].lower()
    if ext not in (".png", ".svg"):
        raise UserError(f"plot file must end in .png or .svg, got {path}")
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext[1:])
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def _clean(values) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = math.nan
        out.append(f)
    return out


def bar_chart(categories: Sequence[str], series: Series, *, ylabel: str, title: str = "") -> bytes:
    """A grouped bar chart as PNG bytes.

    ``series`` maps a label (one bar per category, e.g. an implementation) to
    ``(heights, errors)``; ``errors`` (e.g. standard deviations) may be None. Missing
    heights are NaN and leave a gap. A log scale is used when the positive heights span
    more than a factor of 100. With more than one series the legend stands to the right
    of the axes, never over a bar; the figure is widened to make room for it.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_cat = max(1, len(categories))
    n_ser = max(1, len(series))
    width_in = min(14.0, max(5.0, 0.45 * n_cat * (1 + 0.5 * n_ser) + 2.0))
    legend = len(series) > 1
    if legend:   # about 0.07 in per character at 8 pt, plus the marker and the margins
        width_in += 0.07 * max(len(str(label)) for label in series) + 0.6
    fig = Figure(figsize=(width_in, 3.6), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(len(categories))
    bar_w = 0.8 / n_ser
    positive = []
    for i, (label, (heights, errors)) in enumerate(series.items()):
        h = _clean(heights)
        err = None
        if errors is not None:
            err = [0.0 if not math.isfinite(e) else e for e in _clean(errors)]
        ax.bar(x + (i - (n_ser - 1) / 2) * bar_w, h, bar_w, yerr=err, capsize=3 if err else 0,
               label=str(label))
        positive += [v for v in h if math.isfinite(v) and v > 0]
    long_labels = any(len(str(c)) > 12 for c in categories) or len(categories) > 8
    if len(categories) == 1:      # one group: its label reads better under the axis, unturned
        ax.set_xticks([])
        ax.set_xlabel(str(categories[0]), fontsize=8)
    else:
        ax.set_xticks(x)
        ax.set_xticklabels([str(c) for c in categories], rotation=30 if long_labels else 0,
                           ha="right" if long_labels else "center", fontsize=8)
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """A ``data:`` URI that embeds PNG bytes in an HTML ``<img src=...>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
