"""Atomic Parquet export: the published output of a Pond line.

Every table of a line's working database goes to ``{data_dir}/{table}.parquet``. Each file is
written by DuckDB's own ``COPY ... (FORMAT parquet)`` to a temporary name in the same folder,
flushed to disk, then renamed over the old file with ``os.replace``, so a reader (a Sink, a query,
a download) sees the previous complete file or the new complete file, never a half-written one.
All tables are read in one transaction, so together they are one consistent snapshot.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckstring.pond.names import is_internal_table, quote_identifier

PARQUET_SUFFIX = ".parquet"
_TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class ExportedTable:
    """One published table: its name, where it landed and how many rows it holds."""

    name: str
    path: Path
    rows: int


def sql_string(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def list_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The published tables of a working database: base tables of ``main``, sorted.

    Filtered and sorted here rather than in SQL: DuckDB takes about as long to plan a WHERE
    and an ORDER BY over ``duckdb_tables()`` as to list the tables (~0.7 ms of ~1.5), and a
    Duck lists them on every export.
    """
    rows = con.execute(
        "SELECT database_name = current_database(), schema_name, table_name, temporary "
        "FROM duckdb_tables()"
    ).fetchall()
    return sorted(
        name
        for current, schema, name, temporary in rows
        if current and schema == "main" and not temporary and not is_internal_table(name)
    )


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection, query: str, destination: Path, *, sync: bool = True
) -> int:
    """Write the result of ``query`` to ``destination`` as Parquet, atomically.

    The file is written under a temporary name in the destination's folder and renamed into
    place only once complete (and, with ``sync``, flushed to disk). Returns the row count.
    """
    destination = Path(destination)
    temporary = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
    try:
        rows = con.execute(
            f"COPY ({query}) TO {sql_string(str(temporary))} (FORMAT parquet)"
        ).fetchall()
        if sync:
            _fsync_file(temporary)
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return int(rows[0][0]) if rows and rows[0] else 0


def export_tables(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path | str,
    *,
    prune: bool = True,
    sync: bool = True,
) -> list[ExportedTable]:
    """Export every table of ``con``'s database to ``{data_dir}/{table}.parquet``, atomically.

    All tables are read from one snapshot. With ``prune``, Parquet files in ``data_dir`` whose
    table no longer exists are removed, so the folder mirrors the database. ``con`` is not
    used directly (a cursor of it is), so the caller's transaction state is left alone.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    cursor = con.cursor()
    exported: list[ExportedTable] = []
    try:
        cursor.execute("BEGIN TRANSACTION")
        try:
            for table in list_tables(cursor):
                path = data_dir / f"{table}{PARQUET_SUFFIX}"
                rows = copy_to_parquet(
                    cursor, f"SELECT * FROM {quote_identifier(table)}", path, sync=sync
                )
                exported.append(ExportedTable(table, path, rows))
        finally:
            cursor.execute("ROLLBACK")  # read-only: nothing to commit
    finally:
        cursor.close()
    if prune:
        keep = {item.path.name for item in exported}
        for stale in data_dir.glob(f"*{PARQUET_SUFFIX}"):
            if stale.name not in keep:
                stale.unlink(missing_ok=True)
    if sync:
        fsync_dir(data_dir)
    return exported


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_dir(path: Path) -> None:
    """Make renames in ``path`` durable (best effort: not every platform opens a folder)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
