"""SQL over one Pond line's published Parquet snapshots, confined to exactly those files.

Every query gets a fresh in-memory DuckDB with one view per published table, by bare name and as
``pond.table``. Before the SQL arrives, the connection is shut in (DuckDB 2.0 behaviour, pinned by
the tests):

- ``allowed_paths`` names the line's snapshot files and nothing else (no directory), then
  ``enable_external_access=false``: every other file, URL, ``COPY``, ``ATTACH`` of a file,
  ``INSTALL`` and persistent secrets fail with a permission error, and Python objects of the
  server are not scannable (replacement scans off);
- extension auto-install and auto-load are off, spilling to disk is off (``temp_directory=''``),
  ``memory_limit`` and ``threads`` are set;
- ``lock_configuration=true``: no ``SET``/``RESET``/``PRAGMA`` can undo any of it.

On top of that only a single ``SELECT`` statement is accepted (``SHOW``, ``DESCRIBE``,
``SUMMARIZE``, ``FROM t`` and ``WITH`` count), checked with DuckDB's own parser, so nothing can
write even into the allowed files or create objects. A timer interrupts a query that runs past
its time limit.

Files for csv/json/parquet are never written by the user's connection: its result is streamed
over the Arrow C interface into a second connection that runs one fixed ``COPY`` into a temporary
file, and may touch no other path.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import decimal
import math
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

import duckdb

from duckstring.layout import LayoutError, RootLayout
from duckstring.pond.export import PARQUET_SUFFIX, sql_string
from duckstring.pond.names import identifier_problem, is_internal_table, quote_identifier
from duckstring.pond.pins import Pins

Format = Literal["csv", "json", "parquet"]

MEDIA_TYPES: Final[dict[str, str]] = {
    "csv": "text/csv",
    "json": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}
_COPY_OPTIONS: Final = {
    "csv": "FORMAT csv, HEADER true",
    "json": "FORMAT json",
    "parquet": "FORMAT parquet",
}
PREVIEW_ROWS: Final = 10


def as_format(text: str) -> Format | None:
    """``text`` as a file format a query result can be written in; None if it is not one."""
    return cast(Format, text) if text in MEDIA_TYPES else None


class QueryError(Exception):
    """The SQL failed, was not a single SELECT, or ran out of time or memory (HTTP 400)."""


class NoSnapshotError(LookupError):
    """The line (or the asked-for Ripple) has published nothing yet (HTTP 404)."""


@dataclass(frozen=True)
class QueryLimits:
    """Bounds on one query: wall-clock seconds, DuckDB memory and threads, JSON rows."""

    timeout: float = 30.0
    memory_limit: str = "1GB"
    threads: int = 2
    max_rows: int = 10_000


@dataclass
class QueryResult:
    """Either JSON-ready ``rows`` (``truncated`` when more existed than ``max_rows``), or a
    temporary file at ``path`` of ``media_type`` that the caller streams and then deletes.

    ``columns`` are the result's names as the SQL gave them, ``keys`` the same names made
    unique (see :func:`unique_names`): the keys of :meth:`records` and the file's header.
    """

    columns: list[str]
    types: list[str]
    rows: list[list[Any]] | None = None
    truncated: bool = False
    path: Path | None = None
    media_type: str | None = None
    tables: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return unique_names(self.columns)

    def records(self) -> list[dict[str, Any]]:
        """The rows as objects, one key per column in column order."""
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in self.rows or []]


def unique_names(columns: list[str]) -> list[str]:
    """``columns`` with every repeated name numbered, as DuckDB names them in a file it writes.

    ``SELECT 1 AS a, 2 AS a`` gives ``a`` and ``a_1``, so as objects (JSON rows) no value
    is lost, and the keys are the header the same query's csv, json or parquet file has.
    Names compare ignoring case, as DuckDB's do (``a``, ``A`` give ``a``, ``A_1``), and a
    number already taken is skipped.
    """
    counts: dict[str, int] = {}
    names: list[str] = []
    for column in columns:
        name = column
        while counts.get(name.lower(), 0):
            counts[column.lower()] += 1  # the next number for this name, taken or not
            name = f"{column}_{counts[column.lower()] - 1}"
        counts[name.lower()] = 1
        names.append(name)
    return names


def published_tables(layout: RootLayout, pond: str, major: int) -> dict[str, Path]:
    """The line's published snapshots: ``{table: parquet path}``, sorted by table name."""
    folder = layout.data(pond, major)
    if not folder.is_dir():
        return {}
    tables: dict[str, Path] = {}
    for path in sorted(folder.glob(f"*{PARQUET_SUFFIX}")):
        name = path.name.removesuffix(PARQUET_SUFFIX)
        # Temporary files of an export in flight start with '.', so they are no identifiers.
        if identifier_problem(name, "table") is None and not is_internal_table(name):
            tables[name] = path
    return tables


def connect_confined(
    pond: str,
    tables: Mapping[str, Path | str],
    limits: QueryLimits | None = None,
    *,
    pinned: Iterable[Path] = (),
) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB whose views read ``tables`` and which can reach nothing else.

    ``pinned`` are the published files behind ``tables`` that are read through their pins
    (``/dev/fd/N``, see :func:`_pin`): each stays readable after a publish replaces it.
    """
    limits = limits or QueryLimits()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET temp_directory = ''")  # no spilling: the memory limit is the bound
        con.execute(f"SET memory_limit = {sql_string(limits.memory_limit)}")
        con.execute(f"SET threads = {int(limits.threads)}")
        con.execute("SET TimeZone = 'UTC'")
        schema = quote_identifier(pond)
        if pond != "main":
            con.execute(f"CREATE SCHEMA {schema}")
        for table, path in tables.items():
            name = quote_identifier(table)
            con.execute(
                f"CREATE VIEW main.{name} AS SELECT * FROM read_parquet({sql_string(str(path))})"
            )
            if pond != "main":
                con.execute(f"CREATE VIEW {schema}.{name} AS SELECT * FROM main.{name}")
        files = [str(path) for path in tables.values()]
        files += [name for path in pinned for name in _names_of_pinned(path)]
        allowed = ", ".join(sql_string(file) for file in files)
        for setting in (
            f"allowed_paths = [{allowed}]",
            "allowed_directories = []",  # no folder: only the files above
            "enable_external_access = false",
            "python_enable_replacements = false",
            "autoinstall_known_extensions = false",
            "autoload_known_extensions = false",
            "allow_community_extensions = false",
            "allow_persistent_secrets = false",
            "lock_configuration = true",
        ):
            con.execute(f"SET {setting}")
    except BaseException:
        con.close()
        raise
    return con


def _names_of_pinned(path: Path) -> list[str]:
    """Every name DuckDB may check for a snapshot read through its pin.

    DuckDB resolves each path with ``realpath`` before it compares it with ``allowed_paths``
    (the allowed entries when they are set, the path of every open when it is read). A pin
    resolves to the published file's own path until a publish renames a new file over it;
    from then on Linux names the pinned file ``{path} (deleted)``. Both names are this
    snapshot's, so both are allowed, and nothing else is.
    """
    real = os.path.realpath(path)
    return [real, f"{real}{_UNLINKED}"]


_UNLINKED: Final = " (deleted)"


def run_query(
    layout: RootLayout,
    pond: str,
    major: int,
    sql: str | None,
    ripple: str | None = None,
    fmt: Format | None = None,
    limits: QueryLimits | None = None,
) -> QueryResult:
    """Run ``sql`` (or, without it, a preview of the ``ripple`` table) over the line's snapshots.

    Without ``fmt`` the result is JSON-ready rows: dates and times as ISO 8601 text
    (``TIMESTAMP WITH TIME ZONE`` in UTC, ``+00:00``), decimals as exact strings, bytes as
    base64, NaN and infinities as null, lists and structs as JSON arrays and objects. With
    ``fmt`` the whole result goes to a temporary file (csv with a header, newline-delimited
    json, or parquet) that the caller must delete.

    Raises :class:`NoSnapshotError` when the line (or the Ripple's table) has published
    nothing, :class:`QueryError` for everything wrong with the SQL or its run.
    """
    limits = limits or QueryLimits()
    if fmt is not None and fmt not in MEDIA_TYPES:
        raise QueryError(f"unknown format {fmt!r}; use csv, json or parquet")
    try:
        published = published_tables(layout, pond, major)
    except LayoutError as error:
        raise NoSnapshotError(str(error)) from None
    # The line may publish while the query runs: each table reads the file that was current
    # when it was pinned here, however often DuckDB opens it (see duckstring.pond.pins).
    pins = Pins()
    try:
        tables = _pin(pins, published)
        pinned = [published[table] for table in tables]
        return _run_pinned(pond, major, tables, pinned, sql, ripple, fmt, limits, pins.explain)
    finally:
        pins.release()


def _pin(pins: Pins, published: Mapping[str, Path]) -> dict[str, str]:
    """Each published table that still exists, as the path of its pin (``/dev/fd/N``)."""
    tables: dict[str, str] = {}
    for table, path in published.items():
        try:
            tables[table] = pins.path(path)
        except FileNotFoundError:  # gone since the listing: not published
            continue
    return tables


def _run_pinned(
    pond: str,
    major: int,
    tables: dict[str, str],
    pinned: list[Path],
    sql: str | None,
    ripple: str | None,
    fmt: Format | None,
    limits: QueryLimits,
    explain: Callable[[str], str],
) -> QueryResult:
    if not tables:
        raise NoSnapshotError(f"{pond} (major {major}) has published no tables yet")
    if sql is None or not sql.strip():
        if ripple is None:
            raise QueryError("send sql, or a ripple to preview")
        if ripple not in tables:
            raise NoSnapshotError(
                f"{pond} (major {major}) has published nothing for Ripple {ripple!r}"
            )
        sql = f"SELECT * FROM {quote_identifier(ripple)} LIMIT {PREVIEW_ROWS}"
    try:
        con = connect_confined(pond, tables, limits, pinned=pinned)
    except duckdb.Error as error:  # a view cannot read its file
        raise QueryError(explain(str(error))) from None
    run = _Run(con, limits.timeout, explain)
    try:
        with run:
            _check_single_select(con, sql)
            relation = con.sql(sql)
            if relation is None:
                raise QueryError("the statement returns no rows")
            columns, types = list(relation.columns), [str(kind) for kind in relation.types]
            if fmt is None:
                rows, truncated = _json_rows(relation, types, limits.max_rows)
                return QueryResult(columns, types, rows, truncated, tables=list(tables))
            path = _export(relation, fmt, limits, run)
            return QueryResult(
                columns, types, path=path, media_type=MEDIA_TYPES[fmt], tables=list(tables)
            )
    finally:
        con.close()


def ripple_archive(layout: RootLayout, pond: str, major: int, ripple: str) -> Path | None:
    """A temporary zip of the Ripple's published output (its table ``{ripple}.parquet``).

    ``None`` before the first export, or for a name that cannot be a published table. The
    caller streams the file and deletes it.
    """
    try:
        path = layout.table(pond, major, ripple)
    except LayoutError:
        return None
    try:
        # Exports replace the file by rename: the handle keeps one complete snapshot.
        source = open(path, "rb")  # noqa: SIM115 - closed below, and only if it opened
    except FileNotFoundError:
        return None
    with source:
        stat = os.fstat(source.fileno())
        descriptor, name = tempfile.mkstemp(prefix="duckstring-ripple-", suffix=".zip")
        try:
            with os.fdopen(descriptor, "wb") as target, zipfile.ZipFile(target, "w") as archive:
                info = zipfile.ZipInfo(
                    f"{ripple}{PARQUET_SUFFIX}",
                    date_time=datetime.datetime.fromtimestamp(stat.st_mtime).timetuple()[:6],
                )
                info.compress_type = zipfile.ZIP_STORED  # Parquet is compressed already
                info.file_size = stat.st_size
                with archive.open(info, "w", force_zip64=stat.st_size >= 2**31) as entry:
                    shutil.copyfileobj(source, entry, 1024 * 1024)
        except BaseException:
            os.unlink(name)
            raise
    return Path(name)


# -- running ----------------------------------------------------------------------------------


class _Run:
    """Wall-clock bound of one query: a timer interrupts every connection it uses."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        timeout: float,
        explain: Callable[[str], str] = str,
    ) -> None:
        self.connections = [con]
        self.timeout = timeout
        self.explain = explain  # names the published files behind DuckDB's paths
        self.expired = threading.Event()
        self.timer = threading.Timer(timeout, self._expire)
        self.timer.daemon = True

    def _expire(self) -> None:
        self.expired.set()
        for con in list(self.connections):
            with contextlib.suppress(Exception):
                con.interrupt()

    def __enter__(self) -> _Run:
        self.timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        self.timer.cancel()
        if error is None or isinstance(error, QueryError | NoSnapshotError):
            return
        if self.expired.is_set():
            raise QueryError(f"query exceeded {self.timeout:g} s") from None
        if isinstance(error, duckdb.Error):
            raise QueryError(self.explain(str(error))) from None


def _check_single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise QueryError(f"send exactly one SQL statement (got {len(statements)})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryError(
            f"only SELECT queries run here; {kind.name} statements are not allowed "
            "(the Pond's published tables are read-only)"
        )


def _json_rows(
    relation: duckdb.DuckDBPyRelation, types: list[str], max_rows: int
) -> tuple[list[list[Any]], bool]:
    # Python cannot take TIMESTAMP WITH TIME ZONE values without pytz: convert them in SQL.
    expressions: list[str] = []
    utc: set[int] = set()
    for index, kind in enumerate(types):
        column = f"#{index + 1}"  # by position: a result may repeat a column name
        if kind == "TIMESTAMP WITH TIME ZONE":
            expressions.append(f"timezone('UTC', {column})")
            utc.add(index)
        elif "WITH TIME ZONE" in kind and kind != "TIME WITH TIME ZONE":
            expressions.append(f"CAST({column} AS VARCHAR)")  # nested: text, in UTC
        else:
            expressions.append(column)
    if any(not expression.startswith("#") for expression in expressions):
        relation = relation.project(", ".join(expressions))
    fetched = relation.limit(max_rows + 1).fetchall()
    rows = [
        [_utc_text(value) if index in utc else json_value(value) for index, value in enumerate(row)]
        for row in fetched[:max_rows]
    ]
    return rows, len(fetched) > max_rows


def _utc_text(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat() + "+00:00"
    return json_value(value)


def json_value(value: Any) -> Any:
    """A value DuckDB handed to Python, as something ``json.dumps`` takes (strict JSON)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID | datetime.timedelta):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(json_value(key)): json_value(item) for key, item in value.items()}
    return str(value)


class _ArrowStream:
    """Only the Arrow C stream of a relation, so another connection can scan it."""

    def __init__(self, relation: duckdb.DuckDBPyRelation) -> None:
        self._relation = relation

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        return self._relation.__arrow_c_stream__(requested_schema)


def _export(relation: duckdb.DuckDBPyRelation, fmt: Format, limits: QueryLimits, run: _Run) -> Path:
    descriptor, name = tempfile.mkstemp(prefix="duckstring-query-", suffix=f".{fmt}")
    os.close(descriptor)
    writer = duckdb.connect(":memory:")
    run.connections.append(writer)
    try:
        writer.execute("SET temp_directory = ''")
        writer.execute(f"SET memory_limit = {sql_string(limits.memory_limit)}")
        writer.execute(f"SET threads = {int(limits.threads)}")
        writer.register("query_result", _ArrowStream(relation))
        # The writer only ever runs the COPY below, and even so may touch no other path.
        writer.execute(f"SET allowed_paths = [{sql_string(name)}]")
        writer.execute("SET enable_external_access = false")
        writer.execute("SET lock_configuration = true")
        writer.execute(
            f"COPY (SELECT * FROM query_result) TO {sql_string(name)} "
            f"({_COPY_OPTIONS[fmt]}, USE_TMP_FILE false)"
        )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    finally:
        writer.close()
    return Path(name)
