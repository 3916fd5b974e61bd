"""Sphinx helpers of the tradeoff docs: figures come from files, never from typing.

``tradeoff-results``
    Renders a committed results file (``results/cache.json``...) with the same
    report code as ``tradeoff report FILE --format markdown``, at build time.
    Options: ``:func:`` keeps only the cases of these benchmark or scenario
    functions (comma separated); ``:header:`` (flag) keeps the run's header lines.

``tradeoff-command``
    Runs a ``tradeoff simulate ...`` command line at build time and shows it,
    then its report as markdown tables (the results file it writes goes to a
    temporary folder), so that the simulations' tables are never typed; or a
    ``tradeoff http explain ...`` line, shown with its output as it is.  Option
    ``:timeout:`` (seconds, default 120).  A command that fails fails the build;
    the link check skips them.

Gallery
    Every ``docs/gallery/*.py`` defines ``main(path)``, a small seeded run that
    draws one plot.  At the start of each build they all run, writing
    ``docs/_generated/gallery/NAME.png``, which the gallery page shows.
"""
from __future__ import annotations

import re
import runpy
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

DOCS = Path(__file__).resolve().parent.parent
REPO = DOCS.parent
GALLERY = DOCS / "gallery"
GENERATED = DOCS / "_generated" / "gallery"


def results_markdown(path, funcs=None, header: bool = False) -> str:
    """The markdown report of a results file, its sections' headings as bold
    lines (they sit inside a page's own headings), optionally only some
    functions' cases."""
    from tradeoff.harness import report, results

    df = results.load(path)
    if funcs:
        wanted = set(funcs)
        missing = wanted - set(df["func"])
        if missing:
            raise ValueError(f"{path}: no cases of {', '.join(sorted(missing))}")
        attrs = dict(df.attrs)
        df = df[df["func"].isin(wanted)].reset_index(drop=True)
        df.attrs.update(attrs)
    text = report.render(df, "markdown")
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            out.append("**" + line.lstrip("#").strip() + "**")
        else:
            out.append(line)
    if not header:
        # the header paragraphs (configuration, notes) come before the first section
        first = next((i for i, line in enumerate(out) if line.startswith("**")), 0)
        out = out[first:]
    return "\n".join(out) + "\n"


class ResultsDirective(SphinxDirective):
    """``tradeoff-results results/ring.json`` with ``:func: lookup_str,build``."""

    required_arguments = 1
    has_content = False
    option_spec = {"func": directives.unchanged, "header": directives.flag}

    def run(self):
        path = REPO / self.arguments[0]
        self.env.note_dependency(str(path))
        funcs = [f.strip() for f in self.options.get("func", "").split(",") if f.strip()]
        try:
            text = results_markdown(path, funcs, header="header" in self.options)
        except Exception as exc:   # a missing or changed file must fail the build with -W
            raise self.error(f"tradeoff-results {self.arguments[0]}: {exc}") from None
        container = nodes.container(classes=["tradeoff-results"])
        self.state.nested_parse(StringList(text.splitlines(), source=str(path)),
                                self.content_offset, container)
        return [container]


_RULE = re.compile(r"^\|[-:| ]+\|\s*$")
_OPTION = re.compile(r"(?<![\w`-])(--[a-z][\w-]*(?:=\S+)?)")


def _run_tradeoff(argv: list[str], extra: list[str], timeout: float) -> str:
    """Run ``tradeoff ARGV EXTRA`` in this Python, in a temporary folder; its stdout.
    ``{out}`` in EXTRA is a path in that folder."""
    with tempfile.TemporaryDirectory(prefix="tradeoff-docs-") as tmp:
        extra = [a.replace("{out}", str(Path(tmp) / "out.json")) for a in extra]
        proc = subprocess.run([sys.executable, "-m", "tradeoff", *argv[1:], *extra],
                              cwd=tmp, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"exit status {proc.returncode}: {tail}")
    return proc.stdout


def command_text(command: str, timeout: float = 120) -> str:
    """What ``tradeoff http explain ...`` prints (plain text, shown as it is)."""
    argv = shlex.split(command)
    if argv[:3] != ["tradeoff", "http", "explain"]:
        raise ValueError(f"not a `tradeoff http explain` command line: {command!r}")
    return _run_tradeoff(argv, [], timeout)


def command_markdown(command: str, timeout: float = 120) -> str:
    """The markdown a ``tradeoff simulate`` command line prints, run in this Python
    with the table in markdown and its results file written to a temporary folder."""
    argv = shlex.split(command)
    if len(argv) < 3 or argv[:2] != ["tradeoff", "simulate"]:
        raise ValueError(f"not a `tradeoff simulate` command line: {command!r}")
    extra = ["-o", "{out}"]
    extra += ["--format", "markdown"] if argv[2] == "strategy" else ["--format-table", "markdown"]
    stdout = _run_tradeoff(argv, extra, timeout)
    # Blank lines where markdown needs them: before each table's header row (the line
    # above a |---| row; else a line of prose above would swallow the table, and two
    # tables in a row would read as one) and around each line of prose (else a line
    # right after a table would read as its last row); each line of prose is then a
    # paragraph, as the terminal shows it. Options named in the prose (--crash) are
    # set as code, so that they are not typeset as dashes.
    out: list[str] = []
    lines = stdout.rstrip().splitlines()
    for i, line in enumerate(lines):
        row = line.startswith("|")
        header = row and i + 1 < len(lines) and _RULE.match(lines[i + 1])
        if out and out[-1].strip() and (header or not row or not out[-1].startswith("|")):
            out.append("")
        out.append(line if row else _OPTION.sub(r"`\1`", line))
    return "\n".join(out) + "\n"


class CommandDirective(SphinxDirective):
    """``tradeoff-command tradeoff simulate groups`` with ``:timeout: 60``."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False
    option_spec = {"timeout": directives.positive_int}

    def run(self):
        command = " ".join(self.arguments[0].split())
        shown = nodes.literal_block(f"$ {command}", f"$ {command}", language="sh")
        if self.env.app.builder.name == "linkcheck":      # links only: the output has none
            return [shown]
        t0 = time.perf_counter()
        plain = command.startswith("tradeoff http explain")
        try:
            text = (command_text if plain else command_markdown)(command, self.options.get("timeout", 120))
        except Exception as exc:
            raise self.error(f"tradeoff-command {command}: {exc}") from None
        logger.info(f"tradeoff-command: {command} ({time.perf_counter() - t0:.1f} s)")
        if plain:
            return [shown, nodes.literal_block(text, text, classes=["tradeoff-command"])]
        container = nodes.container(classes=["tradeoff-results", "tradeoff-command"])
        self.state.nested_parse(StringList(text.splitlines(), source=command),
                                self.content_offset, container)
        return [shown, container]


def gallery_scripts() -> list[Path]:
    return sorted(p for p in GALLERY.glob("*.py") if not p.name.startswith("_"))


def draw_gallery(app) -> None:
    import matplotlib

    matplotlib.use("Agg")
    GENERATED.mkdir(parents=True, exist_ok=True)
    for script in gallery_scripts():
        out = GENERATED / (script.stem + ".png")
        t0 = time.perf_counter()
        runpy.run_path(str(script))["main"](out)
        if not out.exists():
            raise RuntimeError(f"{script.name} wrote no {out.name}")
        logger.info(f"gallery: {script.name} -> {out.name} ({time.perf_counter() - t0:.1f} s)")


def escape_click_help(app, ctx, lines) -> None:
    """Click help is plain text, sphinx-click reads it as reStructuredText: a
    ``*`` (as in "a glob if it has * ? or [", or ``results/cache-*.json``) would
    start emphasis.  Every ``*`` is escaped outside literal blocks."""
    literal = False
    for i, line in enumerate(lines):
        if literal and line.strip() and not line.startswith((" ", "\t")):
            literal = False
        if not literal:
            lines[i] = line.replace("*", "\\*")
        if line.rstrip().endswith("::"):
            literal = True


_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")


_ITEM = re.compile(r"^[\w*][\w*, ]*(\s:\s.*)?$")        # "name : type", "a, b : int", "int"
_PROSE_SECTIONS = {"notes", "examples", "references", "see also", "warnings"}


def _hoist_prose(lines: list[str]) -> None:
    """numpydoc reads a section up to the next section header, so prose written
    after a Parameters list (a paragraph, then examples) would become part of
    the last parameter's description.  Move such paragraphs before the first
    section, where numpydoc shows them as the extended description."""
    heads = [i for i in range(1, len(lines))
             if _UNDERLINE.match(lines[i]) and lines[i - 1].strip()
             and len(lines[i].strip()) >= len(lines[i - 1].strip()) - 1]
    if not heads:
        return
    moved: list[str] = []
    keep = list(lines)
    for n, h in enumerate(reversed(heads)):
        title = lines[h - 1].strip().lower()
        if title in _PROSE_SECTIONS:
            continue
        end = heads[len(heads) - n] - 1 if n else len(lines)   # the next section's title line
        start = None
        for i in range(h + 1, end):
            line = lines[i]
            if (line.strip() and not line[0].isspace() and not lines[i - 1].strip()
                    and not _ITEM.match(line.strip())):
                start = i
                break
        if start is not None:
            moved = lines[start:end] + ([""] if lines[end - 1].strip() else []) + moved
            del keep[start:end]
    if moved:
        first = heads[0] - 1
        while first > 0 and not keep[first - 1].strip() and not keep[first - 2].strip():
            first -= 1
        keep[first:first] = moved + ([""] if moved[-1].strip() else [])
        lines[:] = keep


def tidy_docstring(app, what, name, obj, options, lines) -> None:
    """Make an indented block written for ``help()`` valid reStructuredText.

    Many docstrings here say "Args:" or "Parameters (in seconds):" and list the
    options indented below, with no blank line; read as reStructuredText, a
    paragraph of several lines followed by an indented line is an error
    ("unexpected indentation"), and so is an indented block that ends without
    a blank line.  This inserts the blank line in exactly those two places,
    outside literal blocks and doctests, and leaves docstrings with numpydoc
    sections to numpydoc.  Runs before numpydoc."""
    if any(_UNDERLINE.match(line) for line in lines):
        _hoist_prose(lines)
        return
    out: list[str] = []
    literal_indent = None           # inside a literal block (after "::"): its base indent
    para = 0                        # lines in the current paragraph so far
    prev_indent = 0
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if stripped and indent <= literal_indent:
                literal_indent = None
            else:
                out.append(line)
                continue
        if not stripped:
            para = 0
            out.append(line)
            continue
        doctest = stripped.startswith((">>>", "..."))
        if para and not doctest and not out[-1].lstrip().startswith((">>>", "...")):
            if (indent > prev_indent and para >= 2) or indent < prev_indent:
                out.append("")
                para = 0
        out.append(line)
        para = para + 1 if indent == prev_indent or para == 0 else 1
        prev_indent = indent
        if stripped.endswith("::"):
            literal_indent = indent
    lines[:] = out


def setup(app):
    app.connect("autodoc-process-docstring", tidy_docstring, priority=400)
    app.add_directive("tradeoff-results", ResultsDirective)
    app.add_directive("tradeoff-command", CommandDirective)
    app.connect("sphinx-click-process-options", escape_click_help)
    app.connect("sphinx-click-process-description", escape_click_help)
    app.connect("builder-inited", draw_gallery)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
