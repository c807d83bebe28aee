"""The whole root as a tar stream, for backups and for moving a Catchment.

SQLite files (``duck.db``, every ``pond.db``) go in as consistent snapshots taken with SQLite's
backup API while the server runs; lock files and SQLite's WAL side files stay out. DuckDB
registries are copied as they are, so download while the Catchment is quiescent.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from duckstring.layout import RootLayout

_SKIPPED_NAMES = {"catchment.lock", "duck.lock"}
_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal")
_BLOCK = 512
_CHUNK = 1 << 20


def _is_sqlite(path: Path) -> bool:
    return path.name in ("duck.db", "pond.db")


def archived_files(layout: RootLayout) -> list[Path]:
    """Regular files of the root that an archive holds, sorted."""
    files = []
    for folder, dirs, names in os.walk(layout.root, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if name in _SKIPPED_NAMES or name.endswith(_SKIPPED_SUFFIXES):
                continue
            if path.is_symlink() or not path.is_file():
                continue
            files.append(path)
    return files


@dataclass(frozen=True)
class Usage:
    total_bytes: int
    file_count: int
    archive_bytes: int


def usage(layout: RootLayout) -> Usage:
    """Size of the root, and (an estimate of) the size of its archive."""
    total = count = archive = 0
    for path in archived_files(layout):
        size = path.stat().st_size
        total += size
        count += 1
        archive += _BLOCK + -(-size // _BLOCK) * _BLOCK
    return Usage(total, count, archive + 2 * _BLOCK)


def _snapshot(path: Path, into: Path) -> None:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


class _QueueWriter:
    """A write-only file that hands what is written to a queue, in chunks."""

    def __init__(self, out: queue.Queue[bytes | BaseException | None]) -> None:
        self._out = out
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= _CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer:
            self._out.put(bytes(self._buffer))
            self._buffer.clear()


def _write_tar(layout: RootLayout, out: queue.Queue[bytes | BaseException | None]) -> None:
    writer = _QueueWriter(out)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="duckstring-archive-") as scratch,
            tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar,  # type: ignore[call-overload]
        ):
            for path in archived_files(layout):
                name = path.relative_to(layout.root).as_posix()
                if _is_sqlite(path):
                    copy = Path(scratch) / "snapshot.db"
                    _snapshot(path, copy)
                    tar.add(copy, arcname=name, recursive=False)
                    copy.unlink()
                else:
                    tar.add(path, arcname=name, recursive=False)
        writer.flush()
        out.put(None)
    except BaseException as error:  # handed to the reader, which raises it
        writer.flush()
        out.put(error)


def stream(layout: RootLayout) -> Iterator[bytes]:
    """The root as an uncompressed tar, produced while it is read."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=16)
    threading.Thread(target=_write_tar, args=(layout, chunks), daemon=True).start()
    while True:
        item = chunks.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            raise item
        yield item
