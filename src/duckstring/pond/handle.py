"""The Pond handle: what a Ripple receives as its one argument.

The handle knows nothing about who runs it. The local runner and the Duck each give it a DuckDB
connection to the line's working database and a resolver that says where a Source's published
Parquet lives; everything else is the same code.

Concurrency: all Ripples of a run share one working database in one process, each thread on its
own cursor (:meth:`Pond.for_thread`). DuckDB is optimistic: two transactions that change the same
catalog entry conflict and one gets a ``TransactionException`` at commit. A write therefore
builds into a uniquely named staging table (no conflicts possible, and this is the slow part),
then swaps it in with a short DROP + RENAME transaction. Swaps into one database are serialised by
a per-database lock, so sibling Ripples queue instead of colliding; any conflict that still
happens (a Ripple's own DDL on another cursor, say) is retried with backoff.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb

from duckstring.pond.names import (
    INTERNAL_PREFIX,
    check_table_name,
    pond_name_problem,
    quote_identifier,
)
from duckstring.pond.pins import Pins
from duckstring.pond.scan import scanned
from duckstring.pond.semver import SemVer

#: Where a Source's published table lives: ``(source, table) -> parquet path``.
SourceResolver = Callable[[str, str], Path]

#: How long a write keeps retrying transaction conflicts before giving up.
DEFAULT_CONFLICT_TIMEOUT = 120.0

_LOCKS_GUARD = threading.Lock()
_SWAP_LOCKS: dict[str | None, threading.Lock] = {}


class MissingTableError(LookupError):
    """The Pond has no such table (yet) in its working database."""


def swap_lock_for(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> threading.Lock:
    """The process-wide lock that serialises table swaps into ``con``'s database file.

    ``path`` is that file when the caller knows it: asking the catalog costs a new Duck ~4 ms
    (DuckDB binds ``duckdb_databases()`` on first use).
    """
    if path is None:
        rows = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
        path = Path(rows[0][0]) if rows and rows[0][0] else None
    key = str(path.resolve()) if path is not None else None
    with _LOCKS_GUARD:
        return _SWAP_LOCKS.setdefault(key, threading.Lock())


class Pond:
    """The handle a Ripple receives: identity, working database, and table reads and writes.

    ``root`` is the Catchment root (locally, the project folder). ``con`` is a connection or
    cursor on the line's private working database; give each thread its own with
    :meth:`for_thread`. ``resolve_source`` maps ``(source, table)`` to the Parquet file a Source
    published. ``sources`` (if given) are the Source names this Pond may read.
    """

    def __init__(
        self,
        name: str,
        version: SemVer | str,
        root: Path | str,
        con: duckdb.DuckDBPyConnection,
        resolve_source: SourceResolver,
        *,
        sources: Iterable[str] | None = None,
        swap_lock: threading.Lock | None = None,
        conflict_timeout: float = DEFAULT_CONFLICT_TIMEOUT,
    ) -> None:
        self.name = name
        self.version = version if isinstance(version, SemVer) else SemVer.parse(version)
        self.root = Path(root)
        self.con = con
        self._resolve_source = resolve_source
        self._sources = frozenset(sources) if sources is not None else None
        self._swap_lock = swap_lock if swap_lock is not None else swap_lock_for(con)
        self._conflict_timeout = conflict_timeout
        #: Tables this handle wrote, in order, so a runner can tell which Ripple made what.
        self.tables_written: list[str] = []
        self._pins = Pins()

    def __repr__(self) -> str:
        return f"Pond({self.name!r}, version='{self.version}')"

    def for_thread(self) -> Pond:
        """A sibling handle on a new cursor of the same database, for use in another thread."""
        return Pond(
            self.name,
            self.version,
            self.root,
            self.con.cursor(),
            self._resolve_source,
            sources=self._sources,
            swap_lock=self._swap_lock,
            conflict_timeout=self._conflict_timeout,
        )

    def close(self) -> None:
        """Close this handle's cursor and let go of the Source snapshots it read."""
        try:
            self.con.close()
        finally:
            self._pins.release()

    def explain(self, text: str) -> str:
        """``text`` with the Source snapshots this handle holds named by their paths: DuckDB
        names a snapshot ``/dev/fd/N`` in its errors. Use it before :meth:`close`."""
        return self._pins.explain(text)

    # -- reading ---------------------------------------------------------------------------

    def has_table(self, name: str) -> bool:
        """Whether this Pond's working database holds table ``name``."""
        rows = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [name],
        ).fetchall()
        return bool(rows[0][0])

    def read_table(self, name: str) -> duckdb.DuckDBPyRelation:
        """A relation over a table.

        ``"t"`` is this Pond's own table, live from the working database
        (:class:`MissingTableError` if it does not exist yet). ``"source.t"`` is the Source's
        published Parquet snapshot, never its working database (``FileNotFoundError`` naming the
        Source and table if it has not published one). The snapshot is the file published when
        this handle first read it: every read of it until :meth:`close` sees the same rows, even
        while the Source publishes again.
        """
        if "." not in name:
            return self._read_own(name)
        source, table = name.split(".", 1)
        if source == self.name:
            return self._read_own(table)
        problem = pond_name_problem(source)
        if problem is not None:
            raise ValueError(f"cannot read {name!r}: {problem}")
        check_table_name(table)
        if self._sources is not None and source not in self._sources:
            raise LookupError(
                f"cannot read {name!r}: {source!r} is not a Source of Pond {self.name!r}; "
                "declare it under [sources] in pond.toml"
            )
        path = Path(self._resolve_source(source, table))
        missing = FileNotFoundError(
            f"Source {source!r} has no published table {table!r} yet (no file {path})"
        )
        if not path.is_file():
            raise missing
        try:
            snapshot = self._pins.path(path)
        except FileNotFoundError:
            raise missing from None
        return self.con.read_parquet(snapshot)

    def _read_own(self, table: str) -> duckdb.DuckDBPyRelation:
        check_table_name(table)
        if not self.has_table(table):
            raise MissingTableError(f"Pond {self.name!r} has no table {table!r} yet")
        return self.con.table(quote_identifier(table))

    # -- writing ---------------------------------------------------------------------------

    def write_table(self, name: str, data: object) -> None:
        """Replace (or create) table ``name`` with ``data``, atomically.

        ``data`` is a DuckDB relation or anything DuckDB can scan (pandas or Polars DataFrame,
        Arrow table or reader). The rows are built into a staging table first and swapped in
        with one short transaction, so readers see the old table or the new one, never a mix.
        Concurrent writers queue, and transaction conflicts are retried with backoff.
        """
        check_table_name(name)
        staging = f"{INTERNAL_PREFIX}staging_{uuid.uuid4().hex}"
        try:
            self._build(staging, data)
            self._swap(staging, name)
        except BaseException:
            self._drop_quietly(staging)
            raise
        self.tables_written.append(name)

    def _build(self, staging: str, data: object) -> None:
        with scanned(self.con, data, "write_table") as view:
            self.con.execute(f"CREATE TABLE {quote_identifier(staging)} AS SELECT * FROM {view}")

    def _swap(self, staging: str, name: str) -> None:
        deadline = time.monotonic() + self._conflict_timeout
        delay = 0.002
        while True:
            with self._swap_lock:
                try:
                    self.con.execute("BEGIN TRANSACTION")
                except duckdb.TransactionException as error:
                    # Not a conflict: the author left a transaction open on this cursor.
                    raise RuntimeError(
                        f"write_table({name!r}) swaps tables in a transaction of its own; "
                        f"commit or roll back the transaction open on pond.con first ({error})"
                    ) from None
                try:
                    self.con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
                    self.con.execute(
                        f"ALTER TABLE {quote_identifier(staging)} "
                        f"RENAME TO {quote_identifier(name)}"
                    )
                    self.con.execute("COMMIT")
                    return
                except duckdb.TransactionException:
                    self._rollback_quietly()
                    if time.monotonic() >= deadline:
                        raise
                except BaseException:
                    self._rollback_quietly()
                    raise
            # Back off outside the lock so the writer we conflicted with can finish.
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.25)

    def _rollback_quietly(self) -> None:
        # After a failed commit there is no transaction left to roll back.
        with contextlib.suppress(duckdb.Error):
            self.con.execute("ROLLBACK")

    def _drop_quietly(self, staging: str) -> None:
        # A leftover staging table is never exported and does no harm.
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"DROP TABLE IF EXISTS {quote_identifier(staging)}")
