"""The files a command writes: checked before its work starts, written together after it.

A ``simulate`` command can run for minutes before it has anything to write; an output
that cannot be written must be found before that, not after. And a command that writes a
results file *and* a plot writes both or neither: each goes to a temporary file beside its
destination, and only when every one of them is complete are they renamed into place.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> out = Outputs(results=folder / "r.json", plot=folder / "r.png")   # checked here
>>> with out.writing() as tmp:
...     _ = tmp.results.write_text("{}")
...     _ = tmp.plot.write_bytes(b"png")
>>> sorted(p.name for p in folder.iterdir())
['r.json', 'r.png']
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from .errors import UserError

__all__ = ["PLOT_SUFFIXES", "Outcome", "Outputs", "check_plot", "check_writable", "silent"]

PLOT_SUFFIXES = (".png", ".svg")


def check_writable(path: str | os.PathLike, what: str = "results") -> Path:
    """``path`` as a Path, after making sure a file can be created there; otherwise
    UserError: ``cannot write results to x/y.json: x is not a folder``. Nothing is
    created: a missing folder is made only when the file is written."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write {what} to {path}: it is a folder")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"cannot write {what} to {path}: {folder} is not a folder")
    try:
        if folder == path.parent:          # try it: permissions, read-only or virtual file systems
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(folder))
            os.close(fd)
            os.unlink(probe)
        elif not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise UserError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None
    return path


def check_plot(path: str | os.PathLike) -> Path:
    """A plot path with a suffix matplotlib is asked to write (.png or .svg), writable."""
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise UserError(f"plot file must end in .png or .svg, got {path}")
    return check_writable(path, "the plot")


@dataclass
class _Temporary:
    results: Optional[Path]
    plot: Optional[Path]


class Outputs:
    """A command's results file and optional plot (and any other named files).

    Constructing it checks every path (UserError at once if one cannot be written);
    :meth:`writing` yields temporary paths with the same suffixes, beside their
    destinations, and renames them all into place only if the block succeeds.
    """

    def __init__(self, results: str | os.PathLike | None = None, plot: str | os.PathLike | None = None):
        self.results = check_writable(results) if results is not None else None
        self.plot = check_plot(plot) if plot is not None else None
        if self.results is not None and self.plot is not None and \
                self.results.resolve() == self.plot.resolve():
            raise UserError(f"the results file and the plot are the same file: {self.results}")

    @property
    def written(self) -> list[Path]:
        """The destinations, in the order they are written."""
        return [p for p in (self.results, self.plot) if p is not None]

    @contextmanager
    def writing(self) -> Iterator[_Temporary]:
        """Temporary paths for the block to write; all renamed on success, all removed
        on any failure (Ctrl-C included). An OSError becomes a UserError."""
        made: dict[str, Path] = {}
        try:
            for name in ("results", "plot"):
                dest = getattr(self, name)
                if dest is None:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=dest.suffix or ".tmp",
                                           dir=str(dest.parent))
                os.close(fd)
                made[name] = Path(tmp)
            yield _Temporary(made.get("results"), made.get("plot"))
            umask = os.umask(0)
            os.umask(umask)
            for name, tmp in made.items():
                os.chmod(tmp, 0o666 & ~umask)     # mkstemp's 0600 -> what open() would give
            for name, tmp in made.items():
                os.replace(tmp, getattr(self, name))
        except OSError as exc:
            names = " and ".join(str(p) for p in self.written)
            raise UserError(f"cannot write {names}: {exc.strerror or exc}") from None
        finally:
            for tmp in made.values():
                if tmp.exists():
                    tmp.unlink()


@dataclass
class Outcome:
    """What an area's experiment entry point (``tradeoff.cache.simulate.run``,
    ``tradeoff.ring.experiment.run``, ...) hands back: the lines the command prints on
    stdout (header, table, advice), the files it wrote, and its data (a DataFrame or the
    simulation results) for a caller in Python."""
    lines: list
    written: list
    data: object = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def silent(line: str) -> None:
    """A progress or note callback that shows nothing."""
