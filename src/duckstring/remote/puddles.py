"""``p.catchment()`` in a puddle: read a Source's published tables from a registered Catchment.

- ``get()`` is the puddle's own published table as a DuckDB relation on ``p.con``, so
  ``p.write_table(p.catchment().get())`` (or ``return p.catchment().get()``) is a complete
  puddle; ``get("t")`` is another table of the Source, and a whole-Source puddle must name one.
- ``query(sql)`` runs SQL over the Source's tables on the Catchment; the result is a relation on
  ``p.con`` too.
- ``tables()`` lists the Source's published tables.

Tables and results travel as Parquet, streamed to a scratch folder that the relations read
lazily (a large table never sits in memory) and that goes when the puddle's handle closes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from duckstring.pond import puddle as puddles
from duckstring.pond.names import check_table_name, quote_identifier
from duckstring.remote.client import CatchmentClient, ClientError
from duckstring.remote.config import ConfigError, load


class PuddleCatchment:
    """Read access to one Source on a Catchment, for one puddle: what ``p.catchment()``
    returns (a :class:`~duckstring.pond.puddle.PublishedSource`), over HTTP."""

    def __init__(self, client: CatchmentClient, puddle: puddles.Puddle) -> None:
        self.client = client
        self.puddle = puddle
        self.source = puddle.source
        self._scratch: Path | None = None
        self._downloads = 0
        puddle.on_close(self.close)

    def tables(self) -> list[str]:
        """The Source's published tables, sorted."""
        try:
            answer = self.client.query({"pond": self.source, "sql": "SHOW TABLES"})
        except ClientError as error:
            raise self._unavailable(error) from None
        return sorted(str(row["name"]) for row in answer.rows)

    def get(self, table: str | None = None) -> duckdb.DuckDBPyRelation:
        """A published table of the Source (default: the puddle's own) as a relation on
        ``p.con``."""
        name = self._table(table)
        try:
            path = self._download(f"SELECT * FROM {quote_identifier(name)}")
        except ClientError as error:
            # Only now ask what is published, to say so when the table is not.
            published = self.tables()
            if name not in published:
                raise puddles.PuddleError(
                    f"puddle {self.puddle.target!r}: {self.source!r} publishes no table "
                    f"{name!r} on the Catchment (it publishes: {', '.join(published) or 'none'})"
                ) from None
            raise self._unavailable(error) from None
        return self.puddle.con.read_parquet(str(path))

    def query(self, sql: str) -> duckdb.DuckDBPyRelation:
        """Run SQL over the Source's tables on the Catchment; the result as a relation on
        ``p.con``."""
        if not isinstance(sql, str):
            raise TypeError("p.catchment().query(sql): the SQL is text")
        try:
            path = self._download(sql)
        except ClientError as error:
            raise self._unavailable(error) from None
        return self.puddle.con.read_parquet(str(path))

    def close(self) -> None:
        """Close the connection and delete the downloads (after ``p.con`` has closed)."""
        self.client.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _table(self, table: object) -> str:
        if table is None:
            if self.puddle.table is None:
                raise puddles.PuddleError(
                    f"puddle {self.puddle.target!r} is for a whole Source: name the table, "
                    'p.catchment().get("table") (p.catchment().tables() lists them)'
                )
            return self.puddle.table
        if not isinstance(table, str):
            raise TypeError('p.catchment().get("table"): one table name, as text')
        try:
            return check_table_name(table)
        except ValueError as error:
            raise puddles.PuddleError(f"puddle {self.puddle.target!r}: {error}") from None

    def _download(self, sql: str) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"duckstring-{self.source}-"))
        self._downloads += 1
        target = self._scratch / f"{self._downloads}.parquet"
        body = {"pond": self.source, "sql": sql}
        return self.client.query_file(body, "parquet", target)

    def _unavailable(self, error: ClientError) -> puddles.CatchmentUnavailableError:
        return puddles.CatchmentUnavailableError(f"puddle {self.puddle.target!r}: {error}")


def factory(name: str | None, puddle: puddles.Puddle) -> Any:
    try:
        registration = load().resolve(name)
    except ConfigError as error:
        raise puddles.CatchmentUnavailableError(f"puddle {puddle.target!r}: {error}") from None
    return PuddleCatchment(CatchmentClient(registration), puddle)


def download_source(
    registration_name: str | None, source: str, path_of: Callable[[str], Path]
) -> list[tuple[str, Path]]:
    """Download every published table of ``source`` from a registered Catchment (``None``: the
    default one) to ``path_of(table)``; the tables and where each went, in the order listed."""
    try:
        registration = load().resolve(registration_name)
    except ConfigError as error:
        raise puddles.CatchmentUnavailableError(str(error)) from None
    downloaded = []
    with CatchmentClient(registration) as client:
        try:
            listed = client.query({"pond": source, "sql": "SHOW TABLES"})
            for row in listed.rows:
                table = check_table_name(str(row["name"]))
                body = {"pond": source, "sql": f"SELECT * FROM {quote_identifier(table)}"}
                downloaded.append((table, client.query_file(body, "parquet", path_of(table))))
        except ClientError as error:
            raise puddles.CatchmentUnavailableError(f"Source {source!r}: {error}") from None
    return downloaded


def install() -> None:
    """Give puddles their Catchment client."""
    puddles.set_catchment_factory(factory)
