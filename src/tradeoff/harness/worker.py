"""The pyperf entry point: ``python -m tradeoff.harness.worker --suite S --case NAME``.

pyperf's ``Runner`` parses the command line and re-executes its program once
per worker process, so it cannot live inside the click process (pyperf issue 65).
The harness starts this module as a pyperf *master* for one case; pyperf then
starts it again for every worker with the same ``--suite/--case/--seed/--param``
arguments (passed on by ``add_cmdline_args``). Each worker imports the suite,
finds the one case by name, does its setup, and pyperf times the callable.

One case per master keeps ``--worker-task`` trivially stable (always task 0),
lets the harness report progress and keep finished results on Ctrl-C, and lets a
slow benchmark ask for fewer processes.

``--instructions`` (``tradeoff run --measure instructions``) skips pyperf: the
harness starts this module under ``valgrind --tool=callgrind --instr-atstart=no``,
and it sets the case up, calls it once uncounted, then switches callgrind's
counting on around ``loops`` calls (:mod:`tradeoff._core.callgrind`) and prints
``tradeoff-count: LOOPS``; the harness reads the total from callgrind's file.

A worker whose setup raises :class:`~tradeoff.harness.errors.Skip` prints a
``tradeoff-skip: <reason>`` line on stderr and exits with status 3; the harness
turns that into a one-line notice.
"""
from __future__ import annotations

import argparse
import sys
import time

SKIP_MARK = "tradeoff-skip:"
SKIP_EXIT = 3
ERROR_MARK = "tradeoff-error:"
COUNT_MARK = "tradeoff-count:"
#: a counted run's loops: the smallest power of 2 whose calls add up to this many instructions
#: (by the count of one call, so the same on every run), at most COUNT_MAX_LOOPS
COUNT_TARGET_INSTRUCTIONS = 20_000_000
COUNT_MAX_LOOPS = 1 << 14


def _own_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    _add_own_args(p)
    return p


def _add_own_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[])
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--count-file", default=None)


def _pass_own_args(cmd: list[str], args) -> None:
    cmd.extend(["--suite", args.suite, "--case", args.case, "--seed", str(args.seed)])
    for item in args.param:
        cmd.extend(["--param", item])


# Set before numpy loads: OpenBLAS's idle worker threads spin for a while, and on a
# 2-core machine they steal the second core from the benchmark (seen in callgrind
# as blas_thread_server running during a pure-Python loop). No suite times BLAS.
_SINGLE_THREADED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main(argv: list[str] | None = None) -> None:
    import os

    for var in _SINGLE_THREADED:
        os.environ.setdefault(var, "1")
    import pyperf

    from .errors import UserError
    from .registry import find_case, parse_param_overrides

    argv = list(sys.argv[1:] if argv is None else argv)
    own, _ = _own_parser().parse_known_args(argv)
    try:
        case = find_case(own.suite, own.case, parse_param_overrides(own.param))
    except UserError as exc:
        print(f"{ERROR_MARK} {exc}", file=sys.stderr)
        sys.exit(2)
    if own.instructions:
        _count(case, own.seed, own.count_file)
        return
    spec = case.spec
    # the harness passes --processes/--values (see run.plan); these are the defaults
    # when the worker entry is run by hand
    runner = pyperf.Runner(
        processes=spec.processes,
        values=spec.values,
        program_args=("-m", "tradeoff.harness.worker"),
        add_cmdline_args=_pass_own_args,
    )
    _add_own_args(runner.argparser)
    args = runner.parse_args(argv)

    if args.worker:
        fn = _setup(case, own.seed)
    else:
        def fn():  # the master never times anything
            raise AssertionError("pyperf master called the benchmark")

    perf_counter = time.perf_counter

    def timefunc(loops: int) -> float:
        f = fn
        it = range(loops)
        t0 = perf_counter()
        for _ in it:
            f()
        return perf_counter() - t0

    if not args.worker:
        runner.bench_time_func(case.name, timefunc, inner_loops=spec.inner_loops)
        return
    try:
        runner.bench_time_func(case.name, timefunc, inner_loops=spec.inner_loops)
    except Exception as exc:
        print(f"{ERROR_MARK} {case.name} raised {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)


def _setup(case, seed: int):
    """The benchmark's setup: the callable to time; a skip or an error ends the
    worker with its mark on stderr (exit 3 or 2)."""
    from .errors import Skip

    try:
        fn = case.call(seed)
    except Skip as exc:
        print(f"{SKIP_MARK} {exc}", file=sys.stderr)
        sys.exit(SKIP_EXIT)
    except Exception as exc:  # the setup of a user's benchmark may raise anything
        print(f"{ERROR_MARK} setup of {case.name} raised {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    if not callable(fn):
        print(f"{ERROR_MARK} benchmark {case.name} must return the callable to time, "
              f"got {type(fn).__name__}", file=sys.stderr)
        sys.exit(2)
    return fn


def _count(case, seed: int, count_file: str | None) -> None:
    """The ``--instructions`` worker: set up; one uncounted call; one counted call,
    dumped to ``COUNT_FILE.1``, whose count sets the loops (a power of 2, see
    COUNT_TARGET_INSTRUCTIONS); then the loops, counted, which callgrind writes to
    ``count_file`` at exit."""
    from .._core import callgrind

    fn = _setup(case, seed)
    try:
        fn()                                    # warm-up: caches, lazy imports; not counted
        callgrind.zero()
        callgrind.start()
        fn()
        callgrind.stop()
        callgrind.dump()
        once = _total(f"{count_file}.1") if count_file else 0
        loops = 1
        while loops < COUNT_MAX_LOOPS and loops * once < COUNT_TARGET_INSTRUCTIONS:
            loops *= 2
        f = fn
        it = range(loops)
        callgrind.zero()
        callgrind.start()
        for _ in it:
            f()
        callgrind.stop()
    except Exception as exc:
        print(f"{ERROR_MARK} {case.name} raised {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"{COUNT_MARK} {loops}", flush=True)


def _total(path: str) -> int:
    """The instruction total of a callgrind dump (0 when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("totals:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


if __name__ == "__main__":
    main()
