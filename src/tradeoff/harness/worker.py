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


def _own_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    _add_own_args(p)
    return p


def _add_own_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", required=True)
    parser.add_argument("--case", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--param", action="append", default=[])


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

    from .errors import Skip, UserError
    from .registry import find_case, parse_param_overrides

    argv = list(sys.argv[1:] if argv is None else argv)
    own, _ = _own_parser().parse_known_args(argv)
    try:
        case = find_case(own.suite, own.case, parse_param_overrides(own.param))
    except UserError as exc:
        print(f"{ERROR_MARK} {exc}", file=sys.stderr)
        sys.exit(2)
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
        try:
            fn = case.call(own.seed)
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


if __name__ == "__main__":
    main()
