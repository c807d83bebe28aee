"""``duckstring why``: why a Pond is in its state, why one of its runs happened, and (with
``--forecast``) when it will next be fresh."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from duckstring.cli.common import CatchmentOption, MajorOption, VersionOption, connect, selectors
from duckstring.cli.output import console, fail

#: Reasons that end a chain badly: shown in red.
_ALARMS = {"failed", "killed", "budget_spent", "not_deployed"}


def register(app: typer.Typer) -> None:
    app.command("why")(why)


def why(
    pond: Annotated[str, typer.Argument(help="Pond name", metavar="POND")],
    run: Annotated[
        int | None,
        typer.Option("--run", help="A run's seq on the line (as `runs` lists it): why it ran"),
    ] = None,
    forecast: Annotated[
        bool, typer.Option("--forecast", help="When the line will next be fresh, and its pace")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON")] = False,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Why POND is in its state: the chain of reasons, root last (--run ID: why that run
    happened; --forecast: when it is next fresh, its cadence and its bottleneck)."""
    if run is not None and forecast:
        fail("--run and --forecast ask different questions: give one", code=2)
    if run is not None and run < 1:
        fail("--run takes a run's seq, 1 or more", code=2)
    params = selectors(major, version)
    with connect(catchment) as client:
        if forecast:
            document = client.get(f"/ponds/{pond}/forecast", params=params)
        else:
            if run is not None:
                params["run"] = run
            document = client.get(f"/ponds/{pond}/why", params=params)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    if forecast:
        lines = render_forecast(document)
    elif run is not None:
        lines = render_run(document)
    else:
        lines = render_why(document)
    for line in lines:
        console.print(line)


def render_why(document: dict[str, Any]) -> list[Text]:
    """A line's state and its chain of reasons, each indented under the one it explains."""
    head = Text()
    head.append(document["line"], style="bold")
    head.append(f" is {document['state']}", style=_state_style(document["state"]))
    head.append(f" (at {_moment(document.get('at'))})", style="dim")
    return [head, *_chain(document["reasons"])]


def render_run(document: dict[str, Any]) -> list[Text]:
    """Why one run happened: its demand, the freshness it took, and how it ended."""
    run = document["run"]
    head = Text()
    head.append(f"{document['line']} run {run['seq']}", style="bold")
    head.append(f" ({run['kind']}, {run['status']}", style=_state_style(run["status"]))
    head.append(f", began {_moment(run.get('started_at'))})", style="dim")
    return [head, *_chain(document["reasons"], nested=False)]


def render_forecast(document: dict[str, Any]) -> list[Text]:
    """The forecast of ``GET /api/ponds/{name}/forecast``: next fresh, cadence, bottleneck."""
    head = Text()
    head.append(document["line"], style="bold")
    trigger = document.get("trigger")
    head.append(f" forecast ({trigger or 'no trigger'})", style="")
    head.append(f" at {_moment(document.get('at'))}", style="dim")
    lines = [head]
    next_fresh = document.get("next_fresh")
    if next_fresh is None:
        lines.append(_field("next fresh", "not expected"))
    else:
        soon = document.get("next_fresh_in")
        suffix = "" if soon is None else f" (in {_seconds(soon)})"
        lines.append(_field("next fresh", f"{_moment(next_fresh)}{suffix}"))
    cadence = document.get("cadence")
    if cadence is not None:
        lines.append(_field("cadence", f"every {_seconds(cadence)}"))
    bound = document.get("bound")
    holds = document.get("holds")
    if bound is not None:
        verdict = "" if holds is None else (" — holds" if holds else " — cannot hold")
        lines.append(_field("bound", f"{_seconds(bound)}{verdict}", alarm=holds is False))
    bottleneck = document.get("bottleneck")
    if bottleneck is not None:
        text = f"{bottleneck['line']} {bottleneck['ripple']} ({_seconds(bottleneck['seconds'])})"
        lines.append(_field("bottleneck", text))
    reason = document.get("reason")
    if reason:
        lines.append(_field("why", reason))
    assumed = document.get("assumed") or []
    if assumed:
        lines.append(_field("not measured yet (taken as 1 s)", ", ".join(assumed)))
    return lines


def _chain(reasons: list[dict[str, Any]], *, nested: bool = True) -> list[Text]:
    lines = []
    for depth, reason in enumerate(reasons):
        line = Text("  " + ("  " * depth if nested else ""))
        line.append("└ " if nested and depth else "• ")
        line.append(reason["text"], style="red" if reason["kind"] in _ALARMS else "")
        line.append(f"  [{reason['rule']}]", style="dim")
        lines.append(line)
    if not reasons:
        lines.append(Text("  (nothing to explain)", style="dim"))
    return lines


def _field(name: str, value: str, *, alarm: bool = False) -> Text:
    line = Text(f"  {name}: ", style="dim")
    line.append(value, style="red" if alarm else "")
    return line


def _state_style(state: str) -> str:
    return {
        "failed": "red",
        "killed": "red",
        "blocked": "yellow",
        "running": "green",
        "success": "green",
        "queued": "cyan",
    }.get(state, "")


def _moment(value: str | None) -> str:
    if not value:
        return "never"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f} s"
    whole = int(value)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
