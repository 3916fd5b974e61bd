"""Opening a trace file: existence checks, compression by magic bytes, streaming decompression.

A compressed file is recognised by its first bytes, never by its name:

========  ===========================  =========================
gzip      ``1f 8b``                    stdlib :mod:`gzip`
xz        ``fd 37 7a 58 5a 00``        stdlib :mod:`lzma`
zstd      ``28 b5 2f fd``              the ``zstandard`` package
========  ===========================  =========================

Compressed data is decompressed as a stream (a chunk at a time), either into
one growing in-memory buffer (:meth:`Source.read_all`) or straight into a
parser (:meth:`Source.open`). Uncompressed files are memory-mapped instead.
"""
from __future__ import annotations

import gzip
import io
import lzma
import mmap
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from ._common import TraceError

__all__ = ["Source", "COMPRESSION_SUFFIXES", "base_name"]

MAGIC = (
    ("gzip", b"\x1f\x8b"),
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
)
COMPRESSION_SUFFIXES = (".gz", ".xz", ".zst", ".zstd")
CHUNK = 1 << 22  # bytes per decompression step


def base_name(path: Path) -> str:
    """The file name, lower-cased, without one compression suffix (``a.trace.gz`` -> ``a.trace``)."""
    name = path.name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _decompression_errors() -> tuple:
    errors = [EOFError, OSError, lzma.LZMAError, gzip.BadGzipFile]
    try:
        import zstandard
    except ImportError:
        pass
    else:
        errors.append(zstandard.ZstdError)
    return tuple(errors)


class Source:
    """One trace file, checked to exist and be readable, with its compression detected."""

    def __init__(self, path) -> None:
        try:
            self.path = Path(os.fspath(path))
        except TypeError:
            raise TraceError(f"a trace path must be a str or os.PathLike, got {type(path).__name__}") from None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise TraceError(f"{self.path}: no such file") from None
        except OSError as exc:
            raise TraceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        if not os.path.isfile(self.path):
            kind = "a directory" if os.path.isdir(self.path) else "not a regular file"
            raise TraceError(f"{self.path}: {kind}, not a trace file")
        self.size = st.st_size
        if self.size == 0:
            raise TraceError(f"{self.path}: empty file, no requests")
        try:
            with open(self.path, "rb") as fh:
                magic = fh.read(8)
        except OSError as exc:
            raise TraceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        self.compression: str | None = None
        for name, prefix in MAGIC:
            if magic.startswith(prefix):
                self.compression = name
                break

    @property
    def where(self) -> str:
        """How to name a byte offset: in the file, or in its decompressed data."""
        return f"(decompressed, {self.compression}) " if self.compression else ""

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn I/O and decompression failures into one-line TraceErrors."""
        try:
            yield
        except TraceError:
            raise
        except _decompression_errors() as exc:
            if self.compression:
                raise TraceError(
                    f"{self.path}: corrupt or truncated {self.compression} data ({exc})"
                ) from None
            raise TraceError(f"{self.path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None

    def _open_stream(self) -> BinaryIO:
        if self.compression is None:
            return open(self.path, "rb")
        if self.compression == "gzip":
            return gzip.open(self.path, "rb")
        if self.compression == "xz":
            return lzma.open(self.path, "rb")
        try:
            import zstandard
        except ImportError:
            raise TraceError(
                f"{self.path}: zstd-compressed, and the zstandard package is not installed (pip install zstandard)"
            ) from None
        raw = open(self.path, "rb")
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return io.BufferedReader(reader, CHUNK)

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        """The decompressed bytes as a binary stream; failures while reading become TraceErrors."""
        with self._errors():
            stream = self._open_stream()
            try:
                yield stream
            finally:
                stream.close()

    def head(self, n: int) -> bytes:
        """Up to ``n`` first bytes of the (decompressed) data."""
        with self.open() as fh:
            parts = []
            while n > 0:
                part = fh.read(n)
                if not part:
                    break
                parts.append(part)
                n -= len(part)
            return b"".join(parts)

    def read_all(self) -> bytearray:
        """All the decompressed data, read a chunk at a time into one buffer."""
        buf = bytearray()
        with self.open() as fh:
            while True:
                part = fh.read(CHUNK)
                if not part:
                    break
                buf += part
        return buf

    @contextmanager
    def buffer(self) -> Iterator:
        """The whole (decompressed) data as a read-only buffer: a memory map when uncompressed."""
        if self.compression is not None:
            yield self.read_all()
            return
        with self._errors():
            with open(self.path, "rb") as fh:
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            yield mm
        finally:
            mm.close()
