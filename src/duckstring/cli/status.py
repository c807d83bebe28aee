"""``duckstring status``: the live view of every Pond line, or of one Pond and its lineage."""

from __future__ import annotations

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
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Live view of every Pond line, or of one Pond and its lineage (Ctrl+C closes).

    State, version, freshness age, staleness, standing trigger, failures and budgets.
    """
    with connect(catchment) as client:
        focus = None
        if pond is not None:
            focus = live.resolve_line(client.get("/status"), pond, major, version)
            if focus is None:
                fail(f"unknown Pond {pond!r}")
        if once:
            live.show_once(client, focus)
        else:
            live.watch(client, focus, title=client.base)
