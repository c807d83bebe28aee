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
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from duckstring.pond.export import sql_string

#: The catalog name a line's working database has in its Duck (the file's stem, as before).
CATALOG = "registry"

_prepared: duckdb.DuckDBPyConnection | None = None


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


def prepared() -> bool:
    """True while a prepared instance is waiting for its Duck."""
    return _prepared is not None


def open_registry(path: Path) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the working database at ``path``.

    Uses the instance :func:`prepare` made (each process takes it once), or a new one. New
    cursors of the connection default to the same database; spill files go beside it, as for a
    database opened directly.
    """
    global _prepared
    con, _prepared = _prepared, None
    if con is None:
        con = _bare_instance()
    try:
        con.execute(f"ATTACH {sql_string(str(path))} AS {CATALOG}")
        con.execute(f"USE {CATALOG}")
        # With the in-memory database gone, every new cursor starts in the working database.
        con.execute("DETACH memory")
        con.execute(f"SET temp_directory = {sql_string(str(path) + '.tmp')}")
        con.execute("RESET threads")
        con.execute("RESET async_threads")
        seed = int.from_bytes(os.urandom(4), "big") / 2**32 * 2 - 1
        con.execute("SELECT setseed(?)", [seed])
    except BaseException:
        con.close()
        raise
    return con
