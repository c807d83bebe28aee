"""Reading a published Parquet file as one snapshot, however often its Pond republishes it.

A line publishes a table by renaming a complete new file over the old one. DuckDB, though, opens
a file by its path more than once for one query (to plan it, then to scan it), and again each time
a relation is used, so a reader racing a publish can take the footer from one file and the bytes
from the next and fail with "invalid TType" or "Prefetch registered for bytes outside file".

Holding the file open pins the file that was current when it was opened; DuckDB reads that very
file through ``/dev/fd/N`` until the pin is released, whatever is renamed over the path meanwhile.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

_FD_PATH = re.compile(r"/dev/fd/(\d+)(?!\d)")


class Pins:
    """Open published files, one per path: every read of a path sees the same snapshot."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}
        self._lock = threading.Lock()

    def path(self, path: Path | str) -> str:
        """A path that reads the file now at ``path`` until :meth:`release` (the same file on
        every call). ``FileNotFoundError`` if there is none."""
        path = Path(path)
        with self._lock:
            fd = self._fds.get(path)
            if fd is None:
                fd = os.open(path, os.O_RDONLY)
                self._fds[path] = fd
        return f"/dev/fd/{fd}"

    def explain(self, text: str) -> str:
        """``text`` (a DuckDB error, say) with every pinned ``/dev/fd/N`` named by its path."""
        with self._lock:
            paths = {str(fd): str(path) for path, fd in self._fds.items()}
        if not paths:
            return text
        return _FD_PATH.sub(lambda match: paths.get(match[1], match[0]), text)

    def release(self) -> None:
        """Close every pinned file; paths handed out before no longer read anything."""
        with self._lock:
            fds = list(self._fds.values())
            self._fds.clear()
        for fd in fds:
            os.close(fd)
