"""``duckstring puddle``: inspect a Pond project's local snapshots and output (ls, show, query)."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import duckdb
import typer
from rich.markup import escape
from rich.table import Table

from duckstring.cli.output import console, expected_errors, fail
from duckstring.engine.clock import SECOND
from duckstring.engine.durations import format_duration
from duckstring.local.snapshots import connect, find_snapshot, list_snapshots
from duckstring.pond.export import sql_string
from duckstring.pond.manifest import ManifestError, find_project, load_manifest

puddle_app = typer.Typer(
    help="Inspect local snapshots: hydrated puddles and the output of `pond run`.",
    no_args_is_help=True,
)

_EXPECTED = (ManifestError, LookupError, ValueError)


def register(app: typer.Typer) -> None:
    app.add_typer(puddle_app, name="puddle")


@puddle_app.command("ls")
def ls() -> None:
    """List local tables with their rows, size and age."""
    with expected_errors(*_EXPECTED):
        project, pond = _project()
        snapshots = list_snapshots(project, pond)
    if not snapshots:
        console.print(
            "No local tables yet: run `duckstring pond hydrate` or `duckstring pond run`."
        )
        return
    table = Table("table", "kind", "rows", "size", "age", title=f"Local tables of {pond}")
    con = duckdb.connect()
    now = time.time()
    for snapshot in snapshots:
        stat = snapshot.path.stat()
        rows = con.execute(
            f"SELECT count(*) FROM read_parquet({sql_string(str(snapshot.path))})"
        ).fetchall()[0][0]
        table.add_row(
            escape(snapshot.address),
            snapshot.kind,
            f"{rows:,}",
            _size(stat.st_size),
            _age(now - stat.st_mtime),
        )
    con.close()
    console.print(table)


@puddle_app.command("show")
def show(
    address: Annotated[
        str,
        typer.Argument(metavar="POND.TABLE", help='sales.sale_line or "sales"."sale_line".'),
    ],
    rows: Annotated[int, typer.Option("-n", "--rows", min=0, help="Rows to show.")] = 10,
) -> None:
    """Show the first rows of a local table."""
    with expected_errors(*_EXPECTED):
        project, pond = _project()
        snapshot = find_snapshot(project, pond, address)
    con = duckdb.connect()
    relation = con.read_parquet(str(snapshot.path))
    total = relation.count("*").fetchall()[0][0]
    title = f"{snapshot.address} ({snapshot.kind}) — {min(rows, total):,} of {total:,} rows"
    _print_rows(title, relation.columns, relation.limit(rows).fetchall())
    con.close()


@puddle_app.command("query")
def query(
    sql: Annotated[
        str, typer.Argument(help='SQL over "source"."table" names; own tables also bare.')
    ],
    rows: Annotated[int, typer.Option("-n", "--rows", min=0, help="Rows to show.")] = 100,
) -> None:
    """Run SQL over the local tables; the Pond's own output is under its own name."""
    with expected_errors(*_EXPECTED):
        project, pond = _project()
        con = connect(project, pond)
    try:
        result = con.execute(sql)
        columns = [column[0] for column in result.description or []]
        fetched = result.fetchmany(rows + 1) if columns else []
    except duckdb.Error as error:
        fail(f"query failed: {_one_line(str(error))}")
    shown = fetched[:rows]
    more = " (more not shown; raise -n)" if len(fetched) > rows else ""
    _print_rows(f"{len(shown):,} row{'' if len(shown) == 1 else 's'}{more}", columns, shown)
    con.close()


def _project() -> tuple[Path, str]:
    project = find_project(Path.cwd())
    return project, load_manifest(project).name


def _print_rows(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    console.print(escape(title), soft_wrap=True)
    table = Table()
    for index, column in enumerate(columns):
        values = [row[index] for row in rows if row[index] is not None]
        numeric = bool(values) and all(
            isinstance(value, int | float | Decimal) and not isinstance(value, bool)
            for value in values
        )
        table.add_column(escape(column), justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*[_cell(value) for value in row])
    console.print(table)


def _cell(value: object) -> str:
    if value is None:
        return "[dim]NULL[/]"
    if isinstance(value, datetime):
        return escape(value.isoformat(sep=" "))
    if isinstance(value, date):
        return value.isoformat()
    return escape(str(value))


def _age(seconds: float) -> str:
    whole = int(seconds)
    return f"{format_duration(whole * SECOND)} ago" if whole > 0 else "just now"


def _size(size: int) -> str:
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"


def _one_line(message: str) -> str:
    # DuckDB messages carry a caret diagram under "LINE n:"; keep the words, drop the drawing.
    kept = [
        line.strip()
        for line in message.splitlines()
        if line.strip() and not line.startswith("LINE ") and set(line.strip()) != {"^"}
    ]
    return " ".join(kept)
