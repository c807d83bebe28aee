"""The local Parquet snapshots of a Pond project, by the names a Pond author uses for them.

A Source's hydrated table is ``source.table``. The Pond's own tables are ``{pond}.table``: the
last local run's output, or the self-puddle's snapshot of it before any run. :func:`connect`
opens them all in an in-memory DuckDB as views ``"source"."table"`` (and the Pond's own tables
also under their bare names), which is what ``puddle query`` runs against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckstring.local.layout import LocalLayout
from duckstring.pond.export import PARQUET_SUFFIX, sql_string
from duckstring.pond.names import quote_identifier

_ADDRESS = re.compile(r'\s*("(?:[^"]|"")+"|[^."\s]+)\.("(?:[^"]|"")+"|[^."\s]+)\s*')


@dataclass(frozen=True)
class Snapshot:
    """One local Parquet file: ``pond.table``, what kind it is, and where it lives."""

    pond: str
    table: str
    kind: str  # "puddle", "self-puddle" or "output"
    path: Path

    @property
    def address(self) -> str:
        return f"{self.pond}.{self.table}"


def list_snapshots(project: Path, pond: str) -> list[Snapshot]:
    """Every local snapshot of the project ``pond``: hydrated puddles, then its own output."""
    layout = LocalLayout(project)
    found = []
    for source in layout.hydrated_sources():
        kind = "self-puddle" if source == pond else "puddle"
        for path in _parquet_files(layout.ponds / source / "data"):
            found.append(Snapshot(source, _table_of(path), kind, path))
    for path in _parquet_files(layout.out):
        found.append(Snapshot(pond, _table_of(path), "output", path))
    return found


def addressable(project: Path, pond: str) -> dict[tuple[str, str], Snapshot]:
    """What each ``(pond, table)`` name reads: the Pond's output wins over its self-puddle."""
    chosen: dict[tuple[str, str], Snapshot] = {}
    for snapshot in list_snapshots(project, pond):
        key = (snapshot.pond, snapshot.table)
        if key not in chosen or snapshot.kind == "output":
            chosen[key] = snapshot
    return chosen


def parse_address(text: str) -> tuple[str, str]:
    """Split ``pond.table`` or ``"pond"."table"`` into its two names."""
    match = _ADDRESS.fullmatch(text)
    if match is None:
        raise ValueError(f'{text!r} is not a table address: write POND.TABLE or "pond"."table"')
    return _unquote(match.group(1)), _unquote(match.group(2))


def find_snapshot(project: Path, pond: str, address: str) -> Snapshot:
    """The snapshot an address names; ``LookupError`` listing what exists if there is none."""
    key = parse_address(address)
    available = addressable(project, pond)
    if key in available:
        return available[key]
    known = ", ".join(sorted(f"{p}.{t}" for p, t in available)) or "none yet"
    raise LookupError(
        f"no local table {key[0]}.{key[1]}; known tables: {known} "
        "(run `duckstring pond hydrate` or `duckstring pond run` to make more)"
    )


def connect(project: Path, pond: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view for every addressable local snapshot."""
    con = duckdb.connect()
    created_schemas: set[str] = set()
    for (owner, table), snapshot in sorted(addressable(project, pond).items()):
        if owner not in created_schemas:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(owner)}")
            created_schemas.add(owner)
        scan = f"SELECT * FROM read_parquet({sql_string(str(snapshot.path))})"
        con.execute(f"CREATE VIEW {quote_identifier(owner)}.{quote_identifier(table)} AS {scan}")
        if owner == pond:
            con.execute(f"CREATE OR REPLACE VIEW main.{quote_identifier(table)} AS {scan}")
    return con


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{PARQUET_SUFFIX}")) if folder.is_dir() else []


def _table_of(path: Path) -> str:
    return path.name.removesuffix(PARQUET_SUFFIX)


def _unquote(part: str) -> str:
    if part.startswith('"') and part.endswith('"'):
        return part[1:-1].replace('""', '"')
    return part
