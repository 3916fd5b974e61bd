"""The documentation's examples are tests: every ```python block in docs/ runs,
every `tradeoff ...` line in a shell block names a command and options that exist,
and the site builds with warnings as errors when Sphinx is installed."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
_FENCE = re.compile(r"^(`{3,})([\w-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md")
                  if "_build" not in p.parts and "_generated" not in p.parts)


def blocks(lang: str) -> list[tuple[str, str]]:
    """(page:line, code) of every fenced block of ``lang`` in the docs."""
    found = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            if m.group(2) == lang:
                line = text.count("\n", 0, m.start()) + 1
                found.append((f"{page.relative_to(DOCS)}:{line}", m.group(3)))
    return found


def test_the_docs_have_examples():
    assert len(blocks("python")) >= 10
    assert len(blocks("sh")) >= 10
    assert sum(1 for _, argv in _commands() if argv[:1] == ["simulate"]) >= 20


def _pages_with_python() -> list[Path]:
    return [p for p in _pages() if any(w.startswith(f"{p.relative_to(DOCS)}:") for w, _ in blocks("python"))]


_FILE_BLOCK = re.compile(r"\A# ([\w.-]+\.py)\n")


@pytest.mark.parametrize("page", _pages_with_python(), ids=lambda p: str(p.relative_to(DOCS)))
def test_python_examples_run(page, tmp_path, monkeypatch):
    """A page's blocks run in order, each in a fresh namespace, in one empty folder
    that sees the committed results/ (examples read results/*.json). A block that
    starts with ``# NAME.py`` is a file the page's later blocks use: it is written
    to the folder, then run."""
    (tmp_path / "results").symlink_to(REPO / "results")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import matplotlib

    matplotlib.use("Agg")
    prefix = f"{page.relative_to(DOCS)}:"
    for where, code in blocks("python"):
        if where.startswith(prefix):
            m = _FILE_BLOCK.match(code)
            if m:
                (tmp_path / m.group(1)).write_text(code, encoding="utf-8")
            exec(compile(code, where, "exec"), {"__name__": "__docs__"})


_RUN = re.compile(r"^`{3,}\{tradeoff-command\}[ \t]+(.+)$", re.M)


def _commands() -> list[tuple[str, list[str]]]:
    """Every `tradeoff ...` line of a shell block, and every command a
    ``tradeoff-command`` directive runs when the site is built."""
    out = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for m in _RUN.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append((f"{page.relative_to(DOCS)}:{line}", shlex.split(m.group(1))[1:]))
    for where, code in blocks("sh"):
        for raw in code.replace("\\\n", " ").splitlines():
            line = raw.split(" #")[0].strip()
            if not line.startswith("tradeoff ") and " tradeoff " not in line:
                continue
            for part in re.split(r"&&|;", line):          # `pip install . && tradeoff run ...`
                part = part.strip()
                if part.startswith("tradeoff "):
                    out.append((where, shlex.split(part)[1:]))
    return out


def _resolve(argv):
    """The click command an argv names, and the option strings it accepts."""
    import click

    from tradeoff.cli import cli

    cmd, path = cli, ["tradeoff"]
    rest = list(argv)
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = cmd.get_command(click.Context(cmd), name)
        assert sub is not None, f"`{' '.join(path)} {name}` is not a command"
        cmd, path = sub, path + [name]
    opts = {o for p in cmd.get_params(click.Context(cmd)) for o in (*p.opts, *p.secondary_opts)}
    return cmd, path, rest, opts


@pytest.mark.parametrize("where,argv", _commands(), ids=[f"{w}:{' '.join(a[:3])}" for w, a in _commands()])
def test_shell_example_names_real_commands_and_options(where, argv):
    import click

    cmd, path, rest, opts = _resolve(argv)
    if isinstance(cmd, click.Group):        # only `tradeoff --help` and the like
        assert rest and all(t in opts for t in rest), f"{where}: `{' '.join(path)}` needs a subcommand"
    for token in rest:
        if token.startswith("--") and len(token) > 2:
            name = token.split("=", 1)[0]
            assert name in opts, f"{where}: `{' '.join(path)}` has no option {name}"
        elif re.fullmatch(r"-[a-zA-Z]", token):
            assert token in opts, f"{where}: `{' '.join(path)}` has no option {token}"


def test_the_command_check_catches_a_misspelling():
    """The check above must be able to fail."""
    with pytest.raises(AssertionError):
        _resolve(["simulate", "caches"])
    _, _, _, opts = _resolve(["simulate", "cache"])
    assert "--policy" in opts and "--polcy" not in opts


def test_docs_build_without_warnings(tmp_path):
    """sphinx-build -W, offline; runs wherever the docs extra is installed (CI:
    pip install '.[docs]')."""
    if shutil.which("sphinx-build") is None and not _importable("sphinx"):
        pytest.skip("sphinx is not installed (pip install '.[docs]'): the docs build is not checked")
    for module in ("furo", "myst_parser", "sphinx_click", "numpydoc"):
        if not _importable(module):
            pytest.skip(f"{module} is not installed (pip install '.[docs]'): the docs build is not checked")
    env = {k: v for k, v in os.environ.items() if k != "TRADEOFF_DOCS_INTERSPHINX"}
    res = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
                          "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS),
                          str(tmp_path / "html")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-4000:]
    html = (tmp_path / "html" / "results.html").read_text(encoding="utf-8")
    assert "uhashring" in html               # the peers' tables were rendered from results/
    for name in ("mrc", "latency_cdf", "pbs", "stampede", "ring_spread", "spike", "lag", "cdn"):
        assert (tmp_path / "html" / "_images" / f"{name}.png").exists(), name
    # the simulations' tables were run at build time, not typed
    html = (tmp_path / "html" / "guides" / "messaging.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    assert "$ tradeoff simulate delivery --semantics all" in text and "<td><p>idempotent-consumer" in html


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
