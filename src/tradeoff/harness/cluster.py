"""Where the tasks of a sweep run: the local process pool (the default), a running
``dask.distributed`` scheduler (``--cluster tcp://host:8786``) or a ``LocalCluster``
started and closed here (``--cluster local:N``). One module for every command that
runs a grid; dask is an optional extra, imported only when a cluster is asked for.

>>> def double(task, shared):
...     return task * shared["k"]
>>> with executor(None, jobs=1) as ex:
...     sorted(ex.map(double, [1, 2, 3], {"k": 2}))
[(0, 2, 'local'), (1, 4, 'local'), (2, 6, 'local')]

A task is ``fn(task, shared)``: ``fn`` a module-level function (the workers import it),
``task`` small, ``shared`` a dict of the large inputs (a trace's keys), sent to the
cluster once (``data="scatter"``) or written once to ``.npy`` files that the workers
read by path (``data="path"`` or ``"path:DIR"``, DIR on a filesystem they share).
``map`` yields ``(index, result, ran_on)`` as tasks finish; ``ran_on`` is the worker's
address, or ``"local"``. Leaving the ``with`` block, by an exception or Ctrl-C included,
cancels what has not run and stops whatever was started here.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from .errors import UserError

__all__ = ["LOCAL", "EXTRA", "parse_spec", "parse_data", "executor", "Executor"]

#: ``ran_on`` of a row computed on this machine without a cluster
LOCAL = "local"
#: what to install for ``--cluster``
EXTRA = "pip install 'tradeoff[cluster]' (dask[distributed])"
#: seconds to wait for a scheduler before giving up
CONNECT_TIMEOUT = 5.0

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$")


def parse_spec(spec: str | None) -> tuple[str, Any]:
    """``None`` -> ``("pool", None)``; ``"local:4"`` -> ``("local", 4)``;
    ``"tcp://10.0.0.5:8786"`` -> ``("address", "tcp://10.0.0.5:8786")``. Bad: UserError."""
    if spec is None:
        return "pool", None
    spec = spec.strip()
    if spec.startswith("local:") or spec == "local":
        n = spec.partition(":")[2]
        if not n.isdigit() or int(n) < 1:
            raise UserError(f"bad --cluster {spec!r}: write local:N with N >= 1 worker processes")
        return "local", int(n)
    if _ADDRESS.match(spec):
        return "address", spec
    raise UserError(f"bad --cluster {spec!r}: a scheduler address such as tcp://10.0.0.5:8786, or local:N")


def parse_data(data: str) -> tuple[str, str | None]:
    """``--cluster-data``: ``scatter``, ``path`` or ``path:DIR`` -> (mode, DIR or None)."""
    mode, _, folder = data.partition(":")
    if mode == "scatter" and not folder:
        return "scatter", None
    if mode == "path":
        if folder and not os.path.isdir(folder):
            raise UserError(f"--cluster-data {data}: {folder} is not a folder")
        return "path", folder or None
    raise UserError(f"bad --cluster-data {data!r}: scatter, path or path:DIR")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UserError(f"--cluster needs dask, an optional extra: {EXTRA}") from None
    return distributed


# the large inputs of the local pool's workers (set before the pool forks, so never pickled)
_SHARED: dict = {}
# arrays read by path on a dask worker, kept for the tasks that follow on the same worker
_LOADED: dict = {}


class _ByPath:
    """A large input written to a file that the workers read (``data="path"``)."""
    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path


def _resolve(value):
    if isinstance(value, _ByPath):
        if value.path not in _LOADED:
            import numpy as np

            folder = os.path.dirname(value.path)
            if any(os.path.dirname(p) != folder for p in _LOADED):
                _LOADED.clear()                 # one sweep's inputs at a time
            _LOADED[value.path] = np.load(value.path, allow_pickle=False)
        return _LOADED[value.path]
    return value


def _on_pool(fn, task):
    return fn(task, _SHARED), LOCAL


def _on_dask(fn, task, shared):
    from distributed import get_worker

    return fn(task, {k: _resolve(v) for k, v in shared.items()}), get_worker().address


class Executor:
    """Runs ``fn(task, shared)`` for each task (see the module's docstring). Made by
    :func:`executor`, which closes it."""

    def __init__(self, kind: str, *, jobs: int | None = None, client=None, data: str = "scatter",
                 folder: str | None = None):
        self.kind = kind                # "pool" or "dask"
        self.jobs = jobs
        self.client = client
        self.data = data
        self.folder = folder
        self._temp: list[str] = []
        self._open: list = []           # the generators of map(), closed on leaving

    def map(self, fn: Callable, tasks: Sequence, shared: dict | None = None) -> Iterator[tuple[int, Any, str]]:
        """Run every task; yield ``(index in tasks, result, ran_on)`` as each finishes.
        Tasks are started in the order given (put the longest first). A task's
        exception is raised here, after the tasks not yet run are cancelled."""
        shared = dict(shared or {})
        if self.client is not None:
            gen = self._map_dask(fn, list(tasks), shared)
        else:
            gen = self._map_pool(fn, list(tasks), shared)
        self._open.append(gen)
        return gen

    def _map_pool(self, fn, tasks, shared):
        jobs = self.jobs or os.cpu_count() or 1
        _SHARED.clear()
        _SHARED.update(shared)
        try:
            if jobs == 1 or len(tasks) <= 1 or sys.platform == "win32":
                for i, task in enumerate(tasks):
                    result, ran_on = _on_pool(fn, task)
                    yield i, result, ran_on
                return
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=mp.get_context("fork"))
            try:
                futures = {pool.submit(_on_pool, fn, task): i for i, task in enumerate(tasks)}
                for fut in as_completed(futures):
                    result, ran_on = fut.result()
                    yield futures[fut], result, ran_on
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            _SHARED.clear()

    def _send(self, shared: dict) -> dict:
        import numpy as np

        if self.data == "scatter":     # the arrays once to the cluster; small values go with each task
            return {k: (self.client.scatter(v, hash=False) if isinstance(v, np.ndarray) else v)
                    for k, v in shared.items()}

        folder = tempfile.mkdtemp(prefix="tradeoff-cluster-", dir=self.folder)
        self._temp.append(folder)
        out = {}
        for k, v in shared.items():
            if isinstance(v, np.ndarray):
                path = os.path.join(folder, f"{k}.npy")
                np.save(path, v, allow_pickle=False)
                out[k] = _ByPath(os.path.abspath(path))
            else:
                out[k] = v
        return out

    def _map_dask(self, fn, tasks, shared):
        from distributed import as_completed

        sent = self._send(shared)
        futures = {}
        try:
            for i, task in enumerate(tasks):
                fut = self.client.submit(_on_dask, fn, task, sent, pure=False, priority=len(tasks) - i)
                futures[fut] = i
            for fut in as_completed(list(futures)):
                result, ran_on = fut.result()
                yield futures[fut], result, ran_on
        finally:
            pending = [f for f in futures if not f.done()]
            if pending:
                self.client.cancel(pending)

    def close(self) -> None:
        for gen in self._open:          # cancels the tasks not yet run
            gen.close()
        self._open.clear()
        for folder in self._temp:
            shutil.rmtree(folder, ignore_errors=True)
        self._temp.clear()


@contextmanager
def executor(spec: str | None = None, *, jobs: int | None = None, data: str = "scatter",
             timeout: float = CONNECT_TIMEOUT) -> Iterator[Executor]:
    """The executor for ``--cluster spec`` (``None``: ``jobs`` local processes, default
    the cores). A scheduler that does not answer within ``timeout`` seconds is a
    UserError and nothing is started. ``local:N`` starts N worker processes on the
    loopback, closed on leaving, whatever the way out. ``data``: see :func:`parse_data`."""
    kind, arg = parse_spec(spec)
    mode, folder = parse_data(data)
    if kind == "pool":
        ex = Executor("pool", jobs=jobs)
        try:
            yield ex
        finally:
            ex.close()
        return
    if jobs is not None:
        raise UserError("--jobs is for the local pool: with --cluster the workers set how many tasks run at once")
    distributed = _distributed()
    import logging

    cluster = client = ex = None
    try:
        if kind == "local":
            cluster = distributed.LocalCluster(n_workers=arg, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None,
                                               silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(arg, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise UserError(f"no dask scheduler answers at {arg} within {timeout:g} s "
                                f"({type(exc).__name__})") from None
        ex = Executor("dask", client=client, data=mode, folder=folder)
        yield ex
    finally:
        if ex is not None:
            ex.close()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
