"""A small on-disk cache for generated traces, so that pyperf's worker processes
(each a fresh interpreter) load a large trace instead of generating it again.

Files live in ``$TRADEOFF_DATA_DIR``, else ``$XDG_CACHE_HOME/tradeoff``, else
``~/.cache/tradeoff``; each is named by what made it and its arguments, and is
written to a temporary file and renamed, so a reader never sees half a file.
Deleting the folder is always safe. Each file made is announced once, on stderr,
with its size and how to remove it (a line that ``tradeoff run`` passes on from its
worker processes).
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from .._atomic import atomic_path
from ..harness.errors import NOTE_MARK


def data_dir() -> Path:
    env = os.environ.get("TRADEOFF_DATA_DIR")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "tradeoff"
    base.mkdir(parents=True, exist_ok=True)
    return base


def _key(name: str, kwargs: dict) -> str:
    args = ",".join(f"{k}={kwargs[k]!r}" for k in sorted(kwargs))
    digest = hashlib.sha1(f"{name}({args})".encode()).hexdigest()[:12]
    readable = "-".join(str(kwargs[k]) for k in sorted(kwargs))[:60]
    return f"{name}-{readable}-{digest}"


def cached_file(name: str, kwargs: dict, suffix: str, write: Callable[[Path], None]) -> Path:
    """Path of the file made by ``write(tmp_path)`` for these arguments, made once."""
    path = data_dir() / (_key(name, kwargs) + suffix)
    if path.exists():
        return path
    with atomic_path(path, fsync=False) as tmp:
        write(tmp)
    announce(path)
    return path


def announce(path: Path) -> None:
    """Say once, when a file is made, where it went, how big it is and how to remove it."""
    size = path.stat().st_size
    shown = f"{size / 2 ** 20:,.0f} MiB" if size >= 2 ** 20 else f"{size / 1024:,.0f} KiB"
    print(f"{NOTE_MARK} wrote {shown} of generated data to {path}; it is kept for later runs "
          f"(delete {path.parent} to free the space, or set TRADEOFF_DATA_DIR to keep it elsewhere)",
          file=sys.stderr, flush=True)


def cached_trace(generator: Callable[..., np.ndarray], **kwargs) -> np.ndarray:
    """``generator(**kwargs)``, stored as .npy on first use and loaded after that."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, generator(**kwargs))

    path = cached_file(generator.__name__, kwargs, ".npy", write)
    return np.load(path)
