"""Turn whatever a Pond author hands over (a relation, a DataFrame, Arrow) into something to SELECT.

Used by the Pond handle and the puddle handle alike, so both accept exactly the same inputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from duckstring.pond.names import INTERNAL_PREFIX, quote_identifier


@contextmanager
def scanned(con: duckdb.DuckDBPyConnection, data: object, what: str) -> Iterator[str]:
    """Register ``data`` on ``con`` for the duration of the block; yields an SQL name to read.

    ``data`` is a DuckDB relation or anything DuckDB can scan (pandas or Polars DataFrame,
    Arrow table or reader). ``what`` names the caller in error messages (``write_table``).
    """
    if isinstance(data, str | bytes):
        raise TypeError(
            f"{what} takes a relation or a data frame, not SQL text; "
            "build a relation with con.sql(...) and pass that"
        )
    view = f"{INTERNAL_PREFIX}input_{uuid.uuid4().hex}"
    try:
        con.register(view, data)
    except duckdb.InvalidInputException:
        if not isinstance(data, duckdb.DuckDBPyRelation):
            raise TypeError(
                f"{what} cannot scan a {type(data).__name__}; pass a DuckDB relation, "
                "a pandas or Polars DataFrame, or an Arrow table"
            ) from None
        # A relation on another database (e.g. duckdb.sql's default connection) cannot be
        # scanned here directly; stream it across as Arrow.
        con.register(view, _arrow_reader(data))
    try:
        yield quote_identifier(view)
    finally:
        con.unregister(view)


def _arrow_reader(relation: duckdb.DuckDBPyRelation) -> object:
    to_reader = getattr(relation, "to_arrow_reader", None)
    if to_reader is not None:
        return to_reader()
    return relation.fetch_record_batch()  # DuckDB before to_arrow_reader existed
