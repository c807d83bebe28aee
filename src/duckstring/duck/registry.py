"""Opening a line's working database (``m{major}/registry.duckdb``) in a Duck.

A DuckDB instance costs ~25 ms of CPU and ~8 MiB of private memory to create: it registers every
built-in function in its catalog. The Catchment's forkserver therefore makes one instance before
it forks any Duck (:func:`prepare`, run by importing :mod:`duckstring.duck.preload`), and each
forked Duck attaches its own database file to that already-built instance
(:func:`open_registry`). The catalog pages stay shared copy-on-write between all Ducks.

Forking a DuckDB instance is only safe while it has no threads (a thread that existed in the
parent is missing from the child, and joining it on close crashes), so the prepared instance is
made with no worker or async threads; the Duck restores the usual thread counts after the fork.
It also reseeds the connection, or every Duck would draw the same ``random()`` and ``uuid()``.
A spare Duck restores the thread counts before it knows its line (:func:`start_threads`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from duckstring.pond.export import sql_string

#: The catalog name a line's working database has in its Duck (the file's stem, as before).
CATALOG = "registry"

_prepared: duckdb.DuckDBPyConnection | None = None
#: Whether the prepared instance has its usual thread counts back (in a forked Duck).
_threads_started = False
#: Connections :func:`release` left for the process exit to drop.
_left_for_exit: list[duckdb.DuckDBPyConnection] = []


def _bare_instance() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={"threads": 1, "async_threads": 0})


def prepare() -> None:
    """Build a thread-less DuckDB instance for the Ducks this process will fork."""
    global _prepared
    if _prepared is None:
        instance = _bare_instance()
        # Bind the catalog functions the Duck's first queries use, once, in the parent.
        instance.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
        _prepared = instance


def start_threads() -> None:
    """Give the prepared instance its usual worker threads back, in a forked Duck that does
    not know its line yet (a spare): one thing less to do once it does."""
    global _threads_started
    if _prepared is not None and not _threads_started:
        _prepared.execute("RESET threads")
        _prepared.execute("RESET async_threads")
        _threads_started = True


def rehearse_attach(path: Path) -> None:
    """Attach a scratch database at ``path`` to the prepared instance, write to it and detach
    it again (a spare Duck's rehearsal of :func:`open_registry`): the instance is left as it
    was."""
    if _prepared is None:
        return
    _prepared.execute(f"ATTACH {sql_string(str(path))} AS rehearsal")
    try:
        _prepared.execute("CREATE TABLE rehearsal.t AS SELECT 1 AS n")
        _prepared.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'rehearsal'")
    finally:
        _prepared.execute("DETACH rehearsal")


def prepared() -> bool:
    """True while a prepared instance is waiting for its Duck."""
    return _prepared is not None


def open_registry(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the working database at ``path``.

    Uses the instance :func:`prepare` made (each process takes it once), or a new one. New
    cursors of the connection default to the same database; spill files go beside it, as for a
    database opened directly.
    """
    global _prepared, _threads_started
    con, _prepared = _prepared, None
    threads_started, _threads_started = _threads_started, False
    if con is None:
        con = _bare_instance()
    try:
        con.execute(f"ATTACH {sql_string(str(path))} AS {CATALOG}")
        con.execute(f"USE {CATALOG}")
        # With the in-memory database gone, every new cursor starts in the working database.
        con.execute("DETACH memory")
        con.execute(f"SET temp_directory = {sql_string(str(spill_folder(path)))}")
        if not threads_started:
            con.execute("RESET threads")
            con.execute("RESET async_threads")
        seed = int.from_bytes(os.urandom(4), "big") / 2**32 * 2 - 1
        con.execute("SELECT setseed(?)", [seed])
    except BaseException:
        con.close()
        raise
    return con


def spill_folder(path: Path) -> Path:
    """Where DuckDB spills what does not fit in memory, for the working database at ``path``."""
    return Path(f"{path}.tmp")


def release(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Leave the working database at ``path`` as closing ``con`` would, for a process that
    exits right after without running its destructors (a forked Duck ends with ``os._exit``).

    Closing tears the DuckDB instance down object by object. Its catalog was built before the
    fork and is shared copy-on-write, so in a forked Duck every page it frees is first copied:
    ~7 ms of CPU and ~1,000 page faults, on every Duck that stops, for memory the exit returns
    anyway. What closing leaves behind is done here instead: the write-ahead log is folded into
    the file (``CHECKPOINT``) and the spill folder is removed. ``con`` is kept referenced, so it
    is not closed when its last user lets go of it. If the checkpoint fails, ``con`` is closed
    the usual way.
    """
    try:
        con.execute("CHECKPOINT")
    except duckdb.Error:
        con.close()
        return
    _left_for_exit.append(con)
    shutil.rmtree(spill_folder(path), ignore_errors=True)
