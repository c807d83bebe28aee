"""``duckstring query``: SQL over a Pond's published tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from duckstring.cli.common import CatchmentOption, MajorOption, VersionOption, connect
from duckstring.cli.output import console, fail


def register(app: typer.Typer) -> None:
    app.command("query")(query)


def query(
    pond: Annotated[str, typer.Argument(help="Pond name")],
    ripple: Annotated[str | None, typer.Argument(help="A Ripple: preview its table")] = None,
    sql: Annotated[str | None, typer.Option("--sql", help="SQL, or @file.sql")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the result as CSV")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write it as JSON")] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="Write it as Parquet")] = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="Folder for files (default ./ponds/POND/…)")
    ] = None,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """SQL over POND's published tables; a RIPPLE alone shows its first 10 rows.

    Tables are named bare or as pond.table. With --csv, --json or --parquet the result is
    written to a file under ./ponds/POND/[RIPPLE/] (or --path).
    """
    if sql is not None and sql.startswith("@"):
        try:
            sql = Path(sql[1:]).read_text()
        except OSError as error:
            fail(f"cannot read {sql[1:]}: {error.strerror}")
    if sql is None and ripple is None:
        fail("give a RIPPLE to preview or --sql")
    outputs = [
        (fmt, f)
        for fmt, f in (("csv", csv), ("json", json_file), ("parquet", parquet))
        if f is not None
    ]
    if len(outputs) > 1:
        fail("choose one of --csv, --json and --parquet")
    body: dict[str, Any] = {
        "pond": pond,
        "major": major,
        "version": version,
        "ripple": ripple,
        "sql": sql,
    }
    with connect(catchment) as client:
        if outputs:
            fmt, name = outputs[0]
            folder = path if path is not None else Path("ponds") / pond / (ripple or "")
            target = name if name.is_absolute() else folder / name
            client.query_file(body, fmt, target)
            console.print(f"wrote {escape(str(target))}")
            return
        answer = client.query(body)
    table = Table(*[escape(column) for column in answer.columns])
    for row in answer.rows:
        table.add_row(*[escape(_shown(row.get(column))) for column in answer.columns])
    console.print(table)
    if not answer.rows:
        console.print("(no rows)")
    if answer.truncated:
        console.print("(more rows than shown)")


def _shown(value: Any) -> str:
    """A JSON value as a table cell: lists and objects as JSON, null as NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
