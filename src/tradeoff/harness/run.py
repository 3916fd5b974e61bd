"""``tradeoff run``: run a suite's cases and write one results file.

Timed benchmarks go to pyperf, one master process per case
(``python -m tradeoff.harness.worker``); scenarios run here, in-process, once per
param set. Every finished case is kept: on Ctrl-C the results so far are written
(the file says it was interrupted) and the run stops.

A ``-p`` override that no case accepts is the user's mistake, not the suite's: when
overrides are given and a case fails before any has succeeded, with an error that names
an overridden value (``-p maxsize=-5``: ``... got -5``), the run stops there with a
UserError ``-p maxsize=-5 is invalid: <the error>``; and when no case of the first round
succeeded, it stops after that round with the same kind of error. Nothing is written.
"""
from __future__ import annotations

import contextlib
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import results
from .errors import NOTE_MARK, Skip, UserError
from .outputs import check_writable
from .registry import Case, collect, expand, parse_param_overrides, quick_patterns, suite_name
from .worker import ERROR_MARK, SKIP_MARK

MODES = ("quick", "fast", "default", "rigorous")
#: what a timed case records: pyperf's times, or callgrind's instruction counts
MEASURES = ("time", "instructions")


@dataclass
class RunOptions:
    suite: str
    patterns: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    mode: str = "default"
    processes: int | None = None
    values: int | None = None
    seed: int = 42
    output: str | None = None
    quiet: bool = False
    rounds: int = 2
    extra_pyperf_args: list[str] = field(default_factory=list)
    measure: str = "time"
    cache_sim: bool = False
    cluster: str | None = None      # scenarios on dask: a scheduler address or local:N


@dataclass
class RunOutcome:
    path: Path | None
    done: list[str]
    skipped: list[tuple[str, str]]
    failed: list[tuple[str, str]]
    interrupted: bool = False
    planned: int = 0


def select(opts: RunOptions) -> list[Case]:
    """The cases a run would execute, in order; UserError when nothing matches."""
    overrides = parse_param_overrides(opts.params)
    specs = collect(opts.suite)
    if not specs:
        raise UserError(f"suite {opts.suite!r} declares no benchmark or scenario")
    patterns = opts.patterns
    if opts.mode == "quick" and not patterns:
        # the suite's own first look (its QUICK patterns), unless -k chose the cases
        patterns = quick_patterns(opts.suite)
    cases = expand(specs, overrides, patterns)
    if not cases:
        raise UserError(f"no benchmark in suite {opts.suite!r} matches -k {' '.join(opts.patterns)!r}")
    return cases


def default_output(suite: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{suite_name(suite)}-{stamp}.json"


def git_commit(cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                           capture_output=True, text=True, timeout=10)
    if dirty.returncode == 0 and dirty.stdout.strip():
        commit += "-dirty"
    return commit


def _build() -> str:
    """``release``, or ``debug`` for an extension built with TRADEOFF_DEBUG=1."""
    from ..cache._impl import BUILD

    return BUILD


def base_metadata(mode: str) -> dict:
    """What every results file records of the tool that wrote it."""
    from .. import __version__

    return {"tradeoff_version": __version__, "tradeoff_build": _build(), "tradeoff_mode": mode,
            "tradeoff_python": platform.python_version()}


def run_metadata(opts: RunOptions) -> dict:
    md = base_metadata(opts.mode)
    md.update(tradeoff_run_seed=opts.seed, tradeoff_rounds=1 if opts.measure == "instructions" else opts.rounds,
              tradeoff_measure=opts.measure)
    suite_dir = str(Path(opts.suite).resolve().parent) if opts.suite.endswith(".py") else None
    commit = git_commit(suite_dir)
    if commit:
        md["tradeoff_git_commit"] = commit
    return md


def case_metadata(case: Case, seed: int) -> dict:
    spec = case.spec
    md = {
        "tradeoff_kind": spec.kind,
        "tradeoff_func": spec.name,
        "tradeoff_suite": spec.suite,
        "tradeoff_params": results.dumps_json(case.params),
    }
    if spec.compare:
        md["tradeoff_compare"] = spec.compare
    if spec.wants_seed:
        md["tradeoff_seed"] = seed
    return md


@dataclass
class Plan:
    """How one timed case is measured: pyperf processes per round, values per process."""

    rounds: int
    processes: int
    values: int


def plan(opts: RunOptions, case: Case) -> Plan:
    """pyperf's process and value counts for the mode, split into rounds.

    The counts follow pyperf's own rules (defaults 20 processes x 3 values, or what the
    benchmark or the command line asks for; ``--fast``: max(P/2, 3) x max(2V/3, 2);
    ``--rigorous``: 2P x V; ``--quick``: 3 x 2 in one round, on the suite's ``QUICK``
    selection). They are spread over up to ``opts.rounds`` rounds, each
    round going once through every timed case, so that a case's processes sample the
    machine at several moments of the run: a burst of load on a shared machine then
    lands in some of its processes, not all, and compare's bootstrap over processes sees
    it as noise instead of calling it a change.
    """
    p = opts.processes or case.spec.processes or 20
    v = opts.values or case.spec.values or 3
    if opts.mode == "quick":
        return Plan(rounds=1, processes=opts.processes or 3, values=opts.values or 2)
    if opts.mode == "fast":
        p, v = max(p // 2, 3), max(v * 2 // 3, 2)
    elif opts.mode == "rigorous":
        p = 2 * p
    rounds = max(1, min(opts.rounds, p))
    return Plan(rounds=rounds, processes=-(-p // rounds), values=v)


def _pyperf_args(opts: RunOptions, case: Case, out: str, how: Plan, loops: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "tradeoff.harness.worker",
           "--suite", opts.suite, "--case", case.name, "--seed", str(opts.seed)]
    for item in opts.params:
        cmd += ["--param", item]
    cmd += [f"--processes={how.processes}", f"--values={how.values}"]
    if loops:
        cmd.append(f"--loops={loops}")   # later rounds keep the first round's calibration
    # pyperf gives workers a minimal environment; pass on what changes results
    inherit = [v for v in ("TRADEOFF_DATA_DIR", "TRADEOFF_TRACES", "TRADEOFF_HISTORIES", "OPENBLAS_CORETYPE",
                           "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
               if v in os.environ]
    if inherit:
        cmd.append("--inherit-environ=" + ",".join(inherit))
    cmd += ["--quiet", "--output", out, *opts.extra_pyperf_args]
    return cmd


class CaseSkipped(Exception):
    pass


class CaseFailed(Exception):
    pass


def _stop(proc: subprocess.Popen) -> None:
    """Stop a pyperf master *and* its worker.

    Killing the master alone leaves its worker running, orphaned, when the Ctrl-C
    reached only this process (``kill -INT``, a notebook's interrupt). On SIGINT the
    master kills its worker itself (pyperf's ``popen_killer``) and exits; it is killed
    if it has not exited after a few seconds.
    """
    if os.name == "posix" and proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, KeyboardInterrupt):
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _run_worker(cmd: list, **popen) -> tuple[int, str, str]:
    """Run a worker (a pyperf master, or valgrind around one) to its end: (exit
    status, stdout, stderr), its marks acted on (:func:`_worker_marks`). Ctrl-C
    stops it and its children (:func:`_stop`) before going on up."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        _stop(proc)
        raise
    _worker_marks(stderr)
    return proc.returncode, stdout, stderr


def _worker_marks(stderr: str) -> None:
    """Act on a worker's marked lines: pass its notes on (data it wrote), raise
    CaseSkipped or CaseFailed for its skip or error."""
    for line in stderr.splitlines():
        if line.startswith(NOTE_MARK):
            print(line, file=sys.stderr, flush=True)
        if line.startswith(SKIP_MARK):
            raise CaseSkipped(line[len(SKIP_MARK):].strip())
        if line.startswith(ERROR_MARK):
            raise CaseFailed(line[len(ERROR_MARK):].strip())


def time_case(opts: RunOptions, case: Case, workdir: str, how: Plan | None = None,
              loops: int | None = None):
    """Run one round of a timed case under pyperf; return its pyperf Benchmark."""
    import pyperf

    out = os.path.join(workdir, f"case-{abs(hash(case.name))}-{time.monotonic_ns()}.json")
    cmd = _pyperf_args(opts, case, out, how or plan(opts, case), loops)
    returncode, stdout, stderr = _run_worker(cmd)
    if returncode != 0 or not os.path.exists(out):
        tail = [ln for ln in (stderr + stdout).strip().splitlines() if ln.strip()]
        raise CaseFailed(tail[-1] if tail else f"pyperf exited with status {returncode}")
    suite = pyperf.BenchmarkSuite.load(out)
    os.unlink(out)
    return suite.get_benchmarks()[0]


def count_case(opts: RunOptions, case: Case, workdir: str, valgrind: str, python: str | None = None,
               cwd: str | None = None):
    """Count the instructions of a timed case under callgrind; return a one-value
    pyperf Benchmark (unit ``integer``) holding the instructions per operation.

    The worker runs under ``valgrind --tool=callgrind --instr-atstart=no`` with
    PYTHONHASHSEED=0, so only its counted loop (see :mod:`.worker`) is counted, the
    same way on every run; instructions per operation are the total over ``loops``
    calls times the case's ``inner_loops``. With ``cache_sim`` callgrind also
    simulates the caches (``--cache-sim=yes``) and the misses per operation are
    kept as the benchmark's ``tradeoff_events`` metadata. The approach is
    CodSpeed's instrumented mode (and Cachegrind-based gates before it): a count
    has no noise from the machine's neighbours.
    """
    import pyperf

    from .worker import COUNT_MARK

    out = os.path.join(workdir, f"callgrind-{abs(hash(case.name))}-{time.monotonic_ns()}.out")
    cmd = [valgrind, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    if opts.cache_sim:
        cmd.append("--cache-sim=yes")
    cmd += [python or sys.executable, "-m", "tradeoff.harness.worker", "--suite", opts.suite, "--case", case.name,
            "--seed", str(opts.seed)]
    for item in opts.params:
        cmd += ["--param", item]
    cmd += ["--instructions", "--count-file", out]
    env = dict(os.environ, PYTHONHASHSEED="0")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    returncode, stdout, stderr = _run_worker(cmd, env=env, cwd=cwd)
    loops = next((int(ln.split()[-1]) for ln in stdout.splitlines() if ln.startswith(COUNT_MARK)), None)
    if returncode != 0 or loops is None or not os.path.exists(out):
        tail = [ln for ln in (stderr + stdout).strip().splitlines() if ln.strip() and not ln.startswith("==")]
        raise CaseFailed(tail[-1] if tail else f"valgrind exited with status {returncode}")
    events, totals = parse_callgrind_totals(out)
    if totals[0] <= 0:
        raise CaseFailed("callgrind counted no instruction (were the client requests compiled in?)")
    for path in (out, f"{out}.1"):
        if os.path.exists(path):
            os.unlink(path)
    ops = loops * (case.spec.inner_loops or 1)
    per_op = {e: t / ops for e, t in zip(events, totals)}
    md = {"name": case.name, "unit": "integer", "loops": loops, "inner_loops": case.spec.inner_loops or 1,
          "tradeoff_events": results.dumps_json(per_op), "tradeoff_instructions_total": int(totals[0])}
    run = pyperf.Run([per_op[events[0]]], warmups=None, metadata=md, collect_metadata=False)
    return pyperf.Benchmark([run])


def parse_callgrind_totals(path) -> tuple[list[str], list[int]]:
    r"""The event names (``Ir``, and the cache events with ``--cache-sim=yes``) and
    their totals, from a callgrind output file's ``events:`` and ``totals:`` lines.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "cg.out")
    >>> _ = open(p, "w").write("events: Ir Dr\nfn=x\n1 5 2\nsummary: 0 0\ntotals: 123 45\n")
    >>> parse_callgrind_totals(p)
    (['Ir', 'Dr'], [123, 45])
    """
    events, totals = None, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:"):
                totals = [int(x) for x in line.split()[1:]]
    if not events or totals is None:
        raise CaseFailed(f"callgrind wrote no totals to {path}")
    totals += [0] * (len(events) - len(totals))
    return events, totals


def scenario_case(case: Case, seed: int):
    """Compute a scenario's metrics in-process; return a one-value pyperf Benchmark."""
    t0 = time.perf_counter()
    metrics = case.call(seed)
    elapsed = time.perf_counter() - t0
    if not isinstance(metrics, dict) or not metrics:
        raise CaseFailed(f"scenario {case.name} must return a non-empty dict of metrics, "
                         f"got {type(metrics).__name__}")
    clean = {}
    for k, v in metrics.items():
        if hasattr(v, "item"):  # numpy scalars
            v = v.item()
        if not isinstance(k, str) or not isinstance(v, (int, float, str, bool)) or v is None:
            raise CaseFailed(f"scenario {case.name}: metric {k!r} must be a number or string, got {v!r}")
        clean[k] = v
    return results.scenario_benchmark(case.name, clean, elapsed), clean


def _scenario_task(task, shared):
    """One scenario on a dask worker (``--cluster``): the worker selects the same cases
    and computes case ``index``; failures come back as values, with the local wording."""
    opts, index = task
    try:
        return "done", scenario_case(select(opts)[index], opts.seed)
    except (Skip, CaseSkipped) as exc:
        return "skipped", str(exc)
    except CaseFailed as exc:
        return "failed", str(exc)
    except Exception as exc:   # a user's scenario may raise anything
        return "failed", f"{type(exc).__name__}: {exc}"


class _OnCluster:
    """The scenarios of a run, all submitted at once to a dask executor, taken in
    the run's order (so the progress lines and the file keep it)."""

    def __init__(self, ex, opts: RunOptions, cases: list[Case]):
        self._names = [c.name for c in cases]
        self._results = ex.map(_scenario_task, [(opts, i) for i in range(len(cases))])
        self._got: dict = {}

    def take(self, case: Case):
        i = self._names.index(case.name)
        while i not in self._got:
            try:
                k, res, ran_on = next(self._results)
            except StopIteration:   # an earlier error ended the cluster's results
                raise CaseFailed("not computed: the cluster stopped after an earlier error") from None
            self._got[k] = (res, ran_on)
        (status, value), ran_on = self._got.pop(i)
        if status == "skipped":
            raise CaseSkipped(value)
        if status == "failed":
            raise CaseFailed(value)
        bench, metrics = value
        bench.update_metadata({"tradeoff_ran_on": ran_on})
        return bench, metrics

    def close(self) -> None:
        self._results.close()       # cancels the scenarios not yet run


def _fmt_timing(bench) -> str:
    from .report import format_time

    if bench.get_metadata().get("unit") == "integer":
        return f"{bench.get_values()[0]:,.1f} instructions per operation"
    vals = bench.get_values()
    mean = sum(vals) / len(vals)
    std = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else None
    return format_time(mean, "second", std)


def _fmt_metrics(metrics: dict) -> str:
    parts = []
    for k, v in list(metrics.items())[:4]:
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        else:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def _value_texts(value, raws: list[str]) -> list[str]:
    """How an error message may spell a param value: as Python prints it, or as the
    user typed it on the command line (``1_000`` for 1000)."""
    texts = [str(value)]
    for raw in raws:
        if raw == str(value):
            continue
        if isinstance(value, bool):
            same = raw.lower() in (("true", "1", "yes") if value else ("false", "0", "no"))
        elif isinstance(value, (int, float)):
            try:
                same = float(raw.replace("_", "")) == value
            except ValueError:
                same = False
        else:
            same = False
        if same:
            texts.append(raw)
    return texts


def _named_override(case: Case, message: str, overrides: dict[str, list[str]]) -> str | None:
    """``name=value`` for the overridden param value of ``case`` that ``message`` names
    (as a whole token, not inside a longer number or word), or None. The case's own name,
    which holds every param value (``fill[maxsize=-5]``), does not count."""
    text = message.replace(case.name, " ")
    for name, raws in overrides.items():
        if name not in case.params:
            continue
        for spelled in _value_texts(case.params[name], raws):
            token = r"(?<![\w.-])" + re.escape(spelled) + r"(?!\w)(?!\.\d)"
            if spelled and re.search(token, text):
                return f"{name}={spelled}"
    return None


def _first_line(message: str) -> str:
    lines = [ln for ln in message.splitlines() if ln.strip()]
    return lines[0].strip() if lines else message


def _bad_override(overrides: dict[str, list[str]], case: Case, message: str, done: list[str]) -> None:
    """Raise UserError when a case failed, before any succeeded, naming an overridden value."""
    if not overrides or done:
        return
    item = _named_override(case, message, overrides)
    if item:
        raise UserError(f"-p {item} is invalid: {_first_line(message)}")


def _no_case_worked(opts: RunOptions, failed: list[tuple[str, str]]) -> None:
    """Raise UserError when overrides were given and every case that ran failed (none of
    the errors named an overridden value, or :func:`_bad_override` would have stopped)."""
    if not opts.params or not failed:
        return
    shown = " ".join(f"-p {item}" for item in opts.params)
    raise UserError(f"{shown} is invalid: every case failed with it, the first with: "
                    f"{_first_line(failed[0][1])}")


def _terminate_as_interrupt():
    """SIGTERM (a CI timeout, a container stop) ends the run like Ctrl-C: what
    finished is written. Only the main thread can set handlers; elsewhere, no-op."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


def _restore_terminate(previous) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def run(opts: RunOptions, log: TextIO | None = None) -> RunOutcome:
    """Run the selected cases and write the results file; see module docstring."""
    import pyperf

    if opts.mode not in MODES:
        raise UserError(f"unknown mode {opts.mode!r}")
    if opts.measure not in MEASURES:
        raise UserError(f"unknown measure {opts.measure!r} (time or instructions)")
    valgrind = None
    if opts.measure == "instructions":
        from .servers import find_binary

        valgrind = find_binary("valgrind")
        if valgrind is None:
            raise UserError("--measure instructions needs valgrind (apt-get install valgrind)")
        from .._core import callgrind

        if not callgrind.built_with_requests():
            raise UserError("--measure instructions: this build of tradeoff has no callgrind client requests "
                            "(valgrind's headers were missing when it was built): reinstall it with valgrind "
                            "installed")
    log = log or sys.stderr
    cases = select(opts)
    if opts.cluster is not None:
        timed = [c.name for c in cases if c.kind != results.KIND_SCENARIO]
        if timed:
            raise UserError(f"--cluster runs scenarios only: timings from different hosts are not comparable "
                            f"({len(timed)} timed case(s) selected, e.g. {timed[0]}; choose scenarios with -k)")
    overrides = parse_param_overrides(opts.params)
    path = Path(opts.output) if opts.output else default_output(opts.suite)
    check_writable(path)  # before the run, not after it
    meta = run_metadata(opts)
    say = (lambda *a, **k: None) if opts.quiet else (lambda *a, **k: print(*a, file=log, flush=True, **k))
    benches = []
    done, skipped, failed = [], [], []
    interrupted = False
    n = len(cases)
    width = len(str(n))
    say(f"tradeoff: running {n} case{'s' if n != 1 else ''} of {suite_name(opts.suite)} "
        f"({'instruction counts under callgrind' if valgrind else f'{opts.mode} mode'}) -> {path}")
    if meta["tradeoff_build"] == "debug":
        print("tradeoff: warning: this is a debug build (TRADEOFF_DEBUG=1: checks on, no optimization); "
              "its timings are not representative", file=log, flush=True)
    t_start = time.monotonic()
    plans = {c.name: plan(opts, c) if valgrind is None else Plan(rounds=1, processes=1, values=1)
             for c in cases if c.kind != results.KIND_SCENARIO}
    n_rounds = max((p.rounds for p in plans.values()), default=1)
    by_name: dict = {}
    previous = _terminate_as_interrupt()
    remote = None
    try:
        with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="tradeoff-") as workdir:
            if opts.cluster is not None:
                from .cluster import executor

                remote = _OnCluster(stack.enter_context(executor(opts.cluster)), opts, cases)
                stack.callback(remote.close)
            for rnd in range(1, n_rounds + 1):
                if rnd > 1:
                    if not any(c.name in by_name and c.name in plans and rnd <= plans[c.name].rounds
                               for c in cases):
                        break   # every timed case failed or was skipped: no round to announce
                    say(f"tradeoff: round {rnd} of {n_rounds}: more processes of each timed case")
                for i, case in enumerate(cases, 1):
                    how = plans.get(case.name)
                    if rnd > 1 and (how is None or rnd > how.rounds or case.name not in by_name):
                        continue   # scenarios run once; skipped and failed cases are not retried
                    prefix = f"[{i:>{width}}/{n}] {case.name}" + (f" (round {rnd})" if rnd > 1 else "")
                    say(f"{prefix} ...", end="\r" if log.isatty() else "\n")
                    try:
                        if case.kind == results.KIND_SCENARIO:
                            bench, metrics = (scenario_case(case, opts.seed) if remote is None
                                              else remote.take(case))
                            shown = _fmt_metrics(metrics)
                        elif valgrind is not None:
                            bench = count_case(opts, case, workdir, valgrind)
                            shown = _fmt_timing(bench)
                        elif rnd == 1:
                            bench = time_case(opts, case, workdir, how)
                            shown = _fmt_timing(bench)
                        else:
                            first = by_name[case.name]
                            more = time_case(opts, case, workdir, how, first.get_metadata().get("loops"))
                            more.update_metadata({**case_metadata(case, opts.seed), **meta})
                            first.add_runs(more)
                            say(f"{prefix}: {_fmt_timing(first)} (all rounds)")
                            continue
                    except KeyboardInterrupt:
                        interrupted = True
                        say(f"{prefix}: interrupted")
                        break
                    except (Skip, CaseSkipped) as exc:
                        skipped.append((case.name, str(exc)))
                        say(f"{prefix}: skipped: {exc}")
                        continue
                    except CaseFailed as exc:
                        if rnd > 1:   # the earlier rounds' runs are kept
                            say(f"{prefix}: FAILED in this round, earlier rounds kept: {exc}")
                            continue
                        failed.append((case.name, str(exc)))
                        say(f"{prefix}: FAILED: {exc}")
                        _bad_override(overrides, case, str(exc), done)
                        continue
                    except (Exception, SystemExit) as exc:  # a user's scenario may raise anything, even sys.exit()
                        failed.append((case.name, f"{type(exc).__name__}: {exc}"))
                        say(f"{prefix}: FAILED: {type(exc).__name__}: {exc}")
                        _bad_override(overrides, case, failed[-1][1], done)
                        continue
                    bench.update_metadata({**case_metadata(case, opts.seed), **meta})
                    by_name[case.name] = bench
                    benches.append(bench)
                    done.append(case.name)
                    say(f"{prefix}: {shown}")
                if interrupted:
                    break
                if rnd == 1 and not done:
                    _no_case_worked(opts, failed)
    except KeyboardInterrupt:  # between two cases
        interrupted = True
    finally:
        _restore_terminate(previous)
    outcome = RunOutcome(path=None, done=done, skipped=skipped, failed=failed,
                         interrupted=interrupted, planned=n)
    if benches:
        if interrupted:
            for b in benches:
                b.update_metadata({"tradeoff_interrupted": 1})
        suite = pyperf.BenchmarkSuite(benches)
        try:
            results.dump_suite(suite, path)
        except OSError as exc:
            raise UserError(f"cannot write results to {path}: {exc.strerror or exc}") from None
        outcome.path = path
    elapsed = time.monotonic() - t_start
    summary = f"tradeoff: {len(done)} done"
    if skipped:
        summary += f", {len(skipped)} skipped"
    if failed:
        summary += f", {len(failed)} failed"
    summary += f" in {elapsed:.0f} s"
    if outcome.path:
        summary += f"; results in {outcome.path}"
    else:
        summary += "; nothing to write"
    if interrupted:
        summary = (f"tradeoff: interrupted: kept {len(done)} of {n} cases"
                   + (f" in {outcome.path}" if outcome.path else " (none finished, nothing written)"))
    say(summary)
    return outcome
