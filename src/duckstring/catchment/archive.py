"""The whole root as a tar stream, for backups and for moving a Catchment, and its length ahead.

SQLite files (``duck.db``, every ``pond.db``) go in as consistent snapshots taken with SQLite's
backup API while the server runs; lock files and SQLite's WAL side files stay out. DuckDB
registries are copied as they are, so download while the Catchment is quiescent.

:func:`usage` predicts the stream's length from the same member list and the same tar headers
(:func:`_header`, encoded by tarfile's own ``tobuf``) that :func:`stream` writes, counting a
SQLite file as the snapshot it becomes (page count × page size, WAL included). The two differ
only by what changes on disk between the two requests.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import grp
import os
import pwd
import queue
import sqlite3
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import quote

from duckstring.layout import RootLayout

_SKIPPED_NAMES = {"catchment.lock", "duck.lock"}
_SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal")
_SQLITE_NAMES = {"duck.db", "pond.db"}
_CHUNK = 1 << 20

#: How the stream encodes its headers; :func:`usage` encodes the same way to measure them.
_FORMAT: Final = tarfile.PAX_FORMAT
_ENCODING: Final = tarfile.ENCODING
_ERRORS: Final = "surrogateescape"


@dataclass(frozen=True)
class Member:
    """One file of the root as it goes into the archive."""

    path: Path
    #: Its name in the archive: the path relative to the root, with ``/``.
    name: str
    is_sqlite: bool


def members(layout: RootLayout) -> list[Member]:
    """The regular files of the root that an archive holds, in archive order. Folders get no
    entries of their own: extracting a file makes its folders."""
    found = []
    for folder, dirs, names in os.walk(layout.root, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if name in _SKIPPED_NAMES or name.endswith(_SKIPPED_SUFFIXES):
                continue
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(layout.root).as_posix()
            found.append(Member(path, relative, name in _SQLITE_NAMES))
    return found


@functools.lru_cache(maxsize=64)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@functools.lru_cache(maxsize=64)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _header(member: Member, status: os.stat_result, size: int) -> tarfile.TarInfo:
    """The tar header of ``member``, as ``tarfile.gettarinfo`` makes one for a regular file,
    with ``size`` (a snapshot's) and the mode, owner and time of the file on disk."""
    info = tarfile.TarInfo(member.name)
    info.type = tarfile.REGTYPE
    info.size = size
    info.mode = stat.S_IMODE(status.st_mode)
    info.uid, info.gid = status.st_uid, status.st_gid
    info.uname, info.gname = _user_name(status.st_uid), _group_name(status.st_gid)
    # A float mtime, as gettarinfo gives: PAX keeps its fraction in an extended header.
    info.mtime = status.st_mtime
    return info


def _member_length(info: tarfile.TarInfo) -> int:
    """Bytes ``TarFile.addfile`` writes for ``info``: its headers (PAX ones included), then the
    content padded to whole blocks."""
    headers = len(info.tobuf(_FORMAT, _ENCODING, _ERRORS))
    return headers + -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _closed_length(offset: int) -> int:
    """The stream's length once ``TarFile.close`` has written the two end-of-archive blocks
    and filled the last record with zeros."""
    end = offset + 2 * tarfile.BLOCKSIZE
    return -(-end // tarfile.RECORDSIZE) * tarfile.RECORDSIZE


def _read_only(path: Path) -> sqlite3.Connection:
    # A URI, so the file is opened read-only; quoted, so '?', '#' or '%' in the root's path
    # stay part of the path.
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)


def _snapshot_size(path: Path) -> int | None:
    """Bytes of a snapshot of the SQLite database at ``path`` (its pages, the WAL's included);
    None when it cannot be read as one."""
    try:
        connection = _read_only(path)
    except sqlite3.Error:
        return None
    try:
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return int(pages) * int(page_size)


@dataclass(frozen=True)
class Usage:
    total_bytes: int
    file_count: int
    archive_bytes: int


def usage(layout: RootLayout) -> Usage:
    """Bytes and files of the root that an archive holds (as they lie on disk), and the length
    of the archive :func:`stream` would write now."""
    total = count = offset = 0
    for member in members(layout):
        try:
            status = member.path.stat(follow_symlinks=False)
        except FileNotFoundError:  # gone since the listing (a renamed export's temporary)
            continue
        size = status.st_size
        if member.is_sqlite:
            snapshot = _snapshot_size(member.path)
            size = size if snapshot is None else snapshot
        total += status.st_size
        count += 1
        offset += _member_length(_header(member, status, size))
    return Usage(total, count, _closed_length(offset))


def _snapshot(path: Path, into: Path) -> None:
    source = _read_only(path)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


@contextlib.contextmanager
def _content(member: Member, scratch: Path) -> Iterator[tuple[tarfile.TarInfo, BinaryIO] | None]:
    """The header and an open file of what goes in for ``member``; None if it is gone."""
    if member.is_sqlite:
        try:
            status = member.path.stat(follow_symlinks=False)
        except FileNotFoundError:
            yield None
            return
        copy = scratch / "snapshot.db"
        _snapshot(member.path, copy)
        try:
            with open(copy, "rb") as handle:
                yield _header(member, status, os.fstat(handle.fileno()).st_size), handle
        finally:
            copy.unlink(missing_ok=True)
        return
    try:
        # Not through a link that replaced the file since the listing.
        handle = os.fdopen(os.open(member.path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ELOOP):
            raise
        yield None  # gone since the listing (a renamed export's temporary), or now a link
        return
    with handle:
        # The size and time of the file that is open, so a rename meanwhile changes nothing.
        status = os.fstat(handle.fileno())
        if stat.S_ISREG(status.st_mode):
            yield _header(member, status, status.st_size), handle
        else:
            yield None


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
            tarfile.open(  # type: ignore[call-overload]
                fileobj=writer, mode="w|", format=_FORMAT, encoding=_ENCODING, errors=_ERRORS
            ) as tar,
        ):
            for member in members(layout):
                with _content(member, Path(scratch)) as content:
                    if content is not None:
                        tar.addfile(*content)
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
