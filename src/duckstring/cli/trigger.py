"""``duckstring trigger``: demand on a Pond (tap, pulse, wave, tide, remove) and its windows."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape

from duckstring.cli.client import CatchmentClient
from duckstring.cli.common import (
    CatchmentOption,
    MajorOption,
    SilentOption,
    VersionOption,
    WatchOption,
    connect,
    selectors,
)
from duckstring.cli.output import console, fail
from duckstring.engine.durations import DurationError, parse_duration

trigger_app = typer.Typer(
    help="Put demand on a Pond: tap, pulse, wave, tide.", no_args_is_help=True
)

PondArgument = Annotated[str, typer.Argument(help="Pond name")]


def register(app: typer.Typer) -> None:
    app.add_typer(trigger_app, name="trigger")


def _lineage(status: dict[str, Any], line: str) -> list[dict[str, Any]]:
    by_id = {p["id"]: p for p in status["ponds"]}
    sources: dict[str, list[str]] = {}
    for source, sink in status["edges"]:
        sources.setdefault(sink, []).append(source)
    seen, frontier = [line], [line]
    while frontier:
        for source in sources.get(frontier.pop(), []):
            if source not in seen:
                seen.append(source)
                frontier.append(source)
    return [by_id[i] for i in seen if i in by_id]


def _line_of(status: dict[str, Any], name: str, major: int | None) -> str:
    lines = [p for p in status["ponds"] if p["name"] == name]
    if major is not None:
        lines = [p for p in lines if p["major"] == major]
    if not lines:
        fail(f"unknown Pond {name!r}")
    return str(max(lines, key=lambda p: p["major"])["id"])


def follow(client: CatchmentClient, name: str, major: int | None, *, until_settled: bool) -> None:
    """Print the target's lineage as it changes; stop when a one-shot settles (or on Ctrl+C)."""
    status = client.get("/status")
    line = _line_of(status, name, major)
    start = {p["id"]: p["runs_completed"] for p in _lineage(status, line)}
    shown: dict[str, str] = {}
    try:
        while True:
            lineage = _lineage(status, line)
            for pond in reversed(lineage):
                text = f"{pond['status']} F={pond['end_f'] or '-'}"
                if shown.get(pond["id"]) != text:
                    shown[pond["id"]] = text
                    colour = {
                        "failed": "red",
                        "killed": "red",
                        "blocked": "yellow",
                        "running": "cyan",
                        "queued": "blue",
                    }.get(pond["status"], "green")
                    console.print(
                        f"  {escape(pond['id']):<24} [{colour}]{pond['status']:<8}[/] "
                        f"runs {pond['runs_completed']:<5} F {escape(pond['end_f'] or '-')}"
                    )
            target = next(p for p in lineage if p["id"] == line)
            if until_settled:
                busy = any(p["status"] in ("running", "queued") for p in lineage)
                if target["status"] in ("failed", "killed", "blocked"):
                    fail(f"{line} is {target['status']}")
                if not busy and target["runs_completed"] > start.get(line, 0):
                    console.print(f"[green]{escape(line)} settled[/] at F {target['end_f']}")
                    return
            time.sleep(0.5)
            status = client.get("/status")
    except KeyboardInterrupt:
        console.print("stopped watching (the trigger stays)")


def _fire(
    verb: str,
    name: str,
    catchment: str | None,
    major: int | None,
    version: str | None,
    silent: bool,
    watch: bool,
    standing: bool,
    body: dict[str, Any] | None = None,
) -> None:
    with connect(catchment) as client:
        client.post(f"/ponds/{name}/{verb}", params=selectors(major, version), json=body)
        console.print(f"{verb} {escape(name)}: ok")
        if not silent:
            follow(client, name, major, until_settled=not (standing or watch))


@trigger_app.command("tap")
def tap(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
    silent: SilentOption = False,
    watch: WatchOption = False,
) -> None:
    """Pull once: run the Pond when its Sources have newer data, waking them as needed."""
    _fire("tap", name, catchment, major, version, silent, watch, standing=False)


@trigger_app.command("pulse")
def pulse(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
    silent: SilentOption = False,
    watch: WatchOption = False,
) -> None:
    """Push once: bring the Pond and its lineage up to now."""
    _fire("pulse", name, catchment, major, version, silent, watch, standing=False)


@trigger_app.command("wave")
def wave(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
    silent: SilentOption = False,
) -> None:
    """Standing pull: keep the Pond flowing at the pace of its slowest constraint."""
    _fire("wave", name, catchment, major, version, silent, True, standing=True)


@trigger_app.command("tide")
def tide(
    name: PondArgument,
    bound: Annotated[str, typer.Argument(help="Staleness bound, e.g. 10m or 1h30m")],
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
    silent: SilentOption = False,
) -> None:
    """Standing push: keep the Pond's staleness under BOUND."""
    try:
        seconds = parse_duration(bound) / 1_000_000
    except DurationError as error:
        fail(str(error))
    _fire(
        "tide",
        name,
        catchment,
        major,
        version,
        silent,
        True,
        standing=True,
        body={"bound_seconds": seconds},
    )


@trigger_app.command("remove")
def remove(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Remove the standing trigger; demand already in the graph drains."""
    with connect(catchment) as client:
        client.post(f"/ponds/{name}/untrigger", params=selectors(major, version))
        console.print(f"removed the standing trigger of {escape(name)}")
