"""``tradeoff ab BASE [HEAD] SUITE``: two builds of a project, timed in alternation.

Two runs of a suite minutes apart see different neighbours on a shared machine:
whole runs shift by 8-45% (the README's A/A counts), and a gate comparing them
raises false alarms. Here both revisions are built once each into their own
environment, and then every timed case runs in rounds, A then B then B then A
..., a few worker processes per side per round, so that a burst of neighbour load
lands on both sides alike; the two sides' runs are then compared exactly as
``tradeoff compare`` compares two files (same test, same threshold).

A revision is built from ``git archive`` of its commit into
``$TRADEOFF_DATA_DIR/ab/<commit>/`` (once per commit; later calls reuse it): a
virtual environment that sees the current environment's packages (numpy, pyperf,
Cython, ...) through a ``.pth`` file, with the project installed into it by
``pip install --no-deps --no-build-isolation``. So the project may be this one or
any project with the same layout (an installable ``pyproject.toml``) and a suite
file; a suite given as a path is taken from each revision's own tree, a built-in
suite name from each revision's installed ``tradeoff``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import UserError

__all__ = ["Side", "resolve", "build_env", "run_ab"]

Note = Callable[[str], None]


@dataclass
class Side:
    label: str          # "base" or "head"
    ref: str            # as the user wrote it
    commit: str         # full hash
    python: str         # the environment's interpreter
    tree: Path          # the revision's files


def repo_root(start: str | os.PathLike = ".") -> Path:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True,
                             timeout=30)
    except (OSError, subprocess.SubprocessError):
        out = None
    if out is None or out.returncode != 0:
        raise UserError(f"tradeoff ab runs in a git repository; {Path(start).resolve()} is not in one")
    return Path(out.stdout.strip())


def resolve(repo: Path, ref: str) -> str:
    """The full commit hash of ``ref``; a UserError naming it when it does not exist."""
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo,
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not out.stdout.strip():
        raise UserError(f"no such git revision: {ref!r}")
    return out.stdout.strip()


def _envs_dir() -> Path:
    from ..workloads._store import data_dir

    return data_dir() / "ab"


def _site_dirs() -> list[str]:
    """The current environment's package folders, for the built environments' ``.pth``."""
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    import site

    for p in getattr(site, "getsitepackages", lambda: [])():
        paths.add(p)
    return sorted(p for p in paths if os.path.isdir(p))


def build_env(repo: Path, commit: str, progress: Note | None = None) -> tuple[str, Path]:
    """The interpreter of ``commit``'s environment and the revision's tree, built
    on first use (``git archive``, a venv, ``pip install``); a half-built one is
    removed, so the next call starts over."""
    home = _envs_dir() / commit[:16]
    tree, venv, ready = home / "src", home / "venv", home / "ready"
    python = venv / "bin" / "python"
    if ready.exists() and python.exists():
        return str(python), tree
    if home.exists():
        shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    try:
        if progress:
            progress(f"ab: building {commit[:12]} in {home} (once; later runs reuse it)")
        tree.mkdir()
        archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=repo, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout, check=True)
        archive.stdout.close()
        if archive.wait() != 0:
            raise UserError(f"git archive {commit[:12]} failed")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        # the current environment's packages, .pth files included (an editable install's finder)
        lines = [f"import site; site.addsitedir({d!r})" for d in _site_dirs()]
        Path(site, "_tradeoff_ab_parent.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
        log = home / "build.log"
        # build with this environment's tools when they can make a wheel (fast, offline);
        # else in pip's isolated build environment (the project's own build requirements)
        isolation = ["--no-build-isolation"] if _can_build_wheels() else []
        with open(log, "w", encoding="utf-8") as out:
            built = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", *isolation,
                                    "--no-cache-dir", str(tree)], stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
        if built.returncode != 0:
            text = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
            errors = [ln for ln in text if ln.lower().startswith("error")]
            raise UserError(f"building {commit[:12]} failed: {(errors or text or ['pip failed'])[-1]} "
                            f"(log: {home.parent / (commit[:16] + '-build.log')})")
        ready.write_text(commit + "\n")
    except BaseException:
        log = home / "build.log"
        if log.exists():
            failed = home.parent / f"{commit[:16]}-build.log"
            shutil.copyfile(log, failed)
        shutil.rmtree(home, ignore_errors=True)
        raise
    return str(python), tree


def _can_build_wheels() -> bool:
    """Whether this environment's setuptools can build a wheel (setuptools >= 70.1
    has ``bdist_wheel``; older ones need the ``wheel`` package)."""
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("setuptools.command.bdist_wheel", "wheel"))


def _suite_for(side: Side, suite: str, repo: Path) -> str:
    """A suite path is taken from the side's own tree (it may differ between revisions)."""
    if not suite.endswith(".py"):
        return suite
    path = Path(suite).resolve()
    try:
        rel = path.relative_to(repo.resolve())
    except ValueError:
        return str(path)       # a suite outside the repository: the same file for both
    mine = side.tree / rel
    if not mine.exists():
        raise UserError(f"{rel} does not exist at {side.ref} ({side.commit[:12]})")
    return str(mine)


def run_ab(*, base: str, head: str = "HEAD", suite: str, patterns=(), params=(), rounds: int = 10,
           processes: int = 2, values: int = 3, threshold: float = 0.05, alpha: float = 0.01, seed: int = 42,
           output: str | None = None, measure: str = "time", progress: Note | None = None):
    """Build both revisions, time every selected case in alternating rounds (or,
    with ``measure="instructions"``, count each side's instructions once under
    callgrind: see :func:`.run.count_case`), write the two sides' results
    (``OUTPUT-base.json``, ``OUTPUT-head.json``) and return (the Comparison, the
    two paths)."""
    import pyperf

    from . import results
    from .compare import compare
    from .run import (CaseFailed, CaseSkipped, Plan, RunOptions, _pyperf_args, _run_worker, case_metadata,
                      default_output, run_metadata, select)

    for what, v in (("--rounds", rounds), ("--processes", processes), ("--values", values)):
        if not isinstance(v, int) or v < 1:
            raise UserError(f"{what} must be a whole number >= 1, got {v!r}")
    if measure not in ("time", "instructions"):
        raise UserError(f"unknown measure {measure!r} (time or instructions)")
    valgrind = None
    if measure == "instructions":
        from .servers import find_binary

        valgrind = find_binary("valgrind")
        if valgrind is None:
            raise UserError("--measure instructions needs valgrind (apt-get install valgrind)")
        rounds = 1
    repo = repo_root()
    sides = []
    for label, ref in (("base", base), ("head", head)):
        sides.append(Side(label, ref, resolve(repo, ref), "", Path()))
    stem = Path(output) if output else default_output(f"ab-{Path(suite).stem}")
    paths = [stem.with_name(f"{stem.stem}-{s.label}.json") for s in sides]
    from .outputs import check_writable

    for p in paths:
        check_writable(p)
    if suite.endswith(".py"):          # a suite file must exist at both revisions: check before building
        try:
            rel = Path(suite).resolve().relative_to(repo.resolve())
        except ValueError:
            rel = None
        if rel is None and not Path(suite).exists():
            raise UserError(f"suite file not found: {suite}")
        for s in sides:
            if rel is not None and subprocess.run(["git", "cat-file", "-e", f"{s.commit}:{rel.as_posix()}"],
                                                  cwd=repo, capture_output=True).returncode != 0:
                raise UserError(f"{rel} does not exist at {s.ref} ({s.commit[:12]})")
    for s in sides:
        s.python, s.tree = build_env(repo, s.commit, progress)
    opts = RunOptions(suite=_suite_for(sides[0], suite, repo), patterns=list(patterns), params=list(params),
                      seed=seed, values=values)
    cases = [c for c in select(opts) if c.kind != results.KIND_SCENARIO]
    if not cases:
        raise UserError(f"no timed case in suite {suite!r} matches" + (f" -k {' '.join(patterns)}" if patterns else ""))
    meta = run_metadata(opts)
    benches: dict = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tradeoff-ab-") as work:
        for rnd in range(1, rounds + 1):
            order = sides if rnd % 2 else sides[::-1]
            for case in cases:
                for side in order:
                    out = os.path.join(work, f"{side.label}-{time.monotonic_ns()}.json")
                    o = RunOptions(suite=_suite_for(side, suite, repo), params=list(params), seed=seed)
                    if valgrind is not None:
                        from .run import count_case

                        try:
                            b = count_case(o, case, work, valgrind, python=side.python, cwd=str(side.tree))
                        except (CaseFailed, CaseSkipped) as exc:
                            raise UserError(f"{case.name} at {side.ref}: {exc}") from None
                        b.update_metadata({**case_metadata(case, seed), **meta,
                                           "tradeoff_git_commit": side.commit[:12], "tradeoff_ab_side": side.label})
                        benches[(case.name, side.label)] = b
                        continue
                    first = benches.get((case.name, "base"))
                    # every process of both sides runs the loops the first one calibrated
                    loops = first.get_metadata().get("loops") if first is not None else None
                    cmd = _pyperf_args(o, case, out, Plan(rounds=1, processes=processes, values=values), loops)
                    cmd[0] = side.python
                    try:
                        returncode, stdout, stderr = _run_worker(cmd, cwd=str(side.tree))
                    except (CaseFailed, CaseSkipped) as exc:
                        raise UserError(f"{case.name} at {side.ref}: {exc}") from None
                    if returncode != 0 or not os.path.exists(out):
                        tail = [ln for ln in (stderr + stdout).splitlines() if ln.strip()][-1:]
                        raise UserError(f"{case.name} at {side.ref}: {tail[0] if tail else 'the worker failed'}")
                    b = pyperf.BenchmarkSuite.load(out).get_benchmarks()[0]
                    b.update_metadata({**case_metadata(case, seed), **meta, "tradeoff_git_commit": side.commit[:12],
                                       "tradeoff_ab_side": side.label})
                    key = (case.name, side.label)
                    if key in benches:
                        benches[key].add_runs(b)
                    else:
                        benches[key] = b
            if progress:
                progress(f"ab: round {rnd} of {rounds} done ({len(cases)} case{'s' if len(cases) != 1 else ''}, "
                         f"{time.monotonic() - t0:.0f} s)")
    for side, path in zip(sides, paths):
        suite_obj = pyperf.BenchmarkSuite([benches[(c.name, side.label)] for c in cases])
        results.dump_suite(suite_obj, path)
    return compare(paths[0], paths[1], threshold=threshold, alpha=alpha), paths
