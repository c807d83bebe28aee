"""``duckstring status``: the live view of every Pond line, or of one Pond and its lineage."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from duckstring.cli import live
from duckstring.cli.common import CatchmentOption, MajorOption, VersionOption, connect
from duckstring.cli.output import fail


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(
    pond: Annotated[str | None, typer.Argument(help="Only this Pond and its lineage")] = None,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the status document (GET /api/status) as JSON and exit; with POND, "
            "only its line and its upstream lineage",
        ),
    ] = False,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Live view of every Pond line, or of one Pond and its lineage (Ctrl+C closes).

    State, version, freshness age, staleness, standing trigger, failures and budgets.
    """
    with connect(catchment) as client:
        document = client.get("/status")
        focus = None
        if pond is not None:
            focus = live.resolve_line(document, pond, major, version)
            if focus is None:
                fail(_unknown(document, pond, major, version))
        if as_json:
            # Plain stdout, not the rich console: a script reads it, so nothing may wrap or
            # be coloured.
            shown = document if focus is None else live.restrict(document, focus)
            typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        elif once:
            live.show_once(document, focus)
        else:
            live.watch(client, focus, title=client.base)


def _unknown(document: live.Status, pond: str, major: int | None, version: str | None) -> str:
    """Why no line matches: no such Pond, or none of its lines has that major or version."""
    if live.resolve_line(document, pond) is None:
        return f"unknown Pond {pond!r}"
    wanted = [] if major is None else [f"major {major}"]
    if version is not None:
        wanted.append(f"version {version}")
    return f"no line of Pond {pond!r} with {' and '.join(wanted)}"
