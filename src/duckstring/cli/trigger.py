"""``duckstring trigger``: demand on a Pond (tap, pulse, wave, tide, remove) and its windows."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from duckstring.cli import live
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
from duckstring.engine.clock import SystemClock
from duckstring.engine.durations import DurationError, format_duration, parse_duration
from duckstring.engine.windows import WindowError, WindowRule
from duckstring.remote.client import CatchmentClient

trigger_app = typer.Typer(
    help="Put demand on a Pond: tap, pulse, wave, tide.", no_args_is_help=True
)

PondArgument = Annotated[str, typer.Argument(help="Pond name", metavar="POND")]


def register(app: typer.Typer) -> None:
    app.add_typer(trigger_app, name="trigger")


def open_view(
    client: CatchmentClient,
    name: str,
    major: int | None,
    version: str | None,
    *,
    one_shot: bool,
    before: dict[str, Any],
) -> None:
    """The live view on the target's lineage: a one-shot closes when it settles (non-zero
    exit if it failed); a standing trigger keeps it until Ctrl+C (the trigger stays)."""
    line = live.resolve_line(before, name, major, version)
    if line is None:
        fail(f"unknown Pond {name!r}")
    settled = live.one_shot_settled(line, before) if one_shot else None
    message = live.watch(client, line, settled=settled, title=f"{line} and its lineage")
    if message is None:
        if not one_shot:
            console.print("closed the view; the trigger stays")
        return
    if message.endswith(("failed", "killed", "blocked")):
        fail(message)


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
        before = client.get("/status") if not silent else {}
        client.post(f"/ponds/{name}/{verb}", params=selectors(major, version), json=body)
        console.print(f"{verb} {escape(name)}: ok")
        if not silent:
            open_view(client, name, major, version, one_shot=not (standing or watch), before=before)


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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Only say whether BOUND can be held (and what stops it); set nothing"
        ),
    ] = False,
) -> None:
    """Standing push: keep the Pond's staleness under BOUND."""
    try:
        seconds = parse_duration(bound) / 1_000_000
    except DurationError as error:
        fail(str(error))
    if dry_run:
        with connect(catchment) as client:
            answer = client.get(
                f"/ponds/{name}/forecast", params={**selectors(major, version), "tide": bound}
            )
        console.print(describe_tide_forecast(answer, bound))
        return
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


def describe_tide_forecast(answer: dict[str, Any], bound: str) -> str:
    """What ``GET …/forecast?tide=BOUND`` says, in a few lines (escaped for the console)."""
    line = str(answer.get("line"))
    holds = answer.get("holds")
    cadence = answer.get("cadence")
    every = "" if cadence is None else f": one fresh output every {_seconds(cadence)}"
    if holds is True:
        lines = [f"a Tide of {bound} on {line} can be held{every}"]
    elif holds is False:
        lines = [f"a Tide of {bound} on {line} cannot be held{every}"]
    else:
        lines = [f"cannot tell whether a Tide of {bound} on {line} can be held"]
    bottleneck = answer.get("bottleneck")
    if bottleneck is not None and holds is not True:
        pond = str(bottleneck["line"]).split("@")[0]
        lines.append(
            f"bottleneck: {pond}.{bottleneck['ripple']} ({bottleneck['line']}), "
            f"{_seconds(bottleneck['seconds'])} a run"
        )
    if answer.get("reason"):
        lines.append(f"why: {answer['reason']}")
    if answer.get("next_fresh"):
        lines.append(f"next fresh: {answer['next_fresh']} (in {_seconds(answer['next_fresh_in'])})")
    lines.append("dry run: nothing was set")
    return escape("\n".join(lines))


def _seconds(value: float) -> str:
    return format_duration(round(value * 1_000_000))


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


window_app = typer.Typer(
    help="Windows of an Inlet: when it may start; its data counts as fresh until a window ends.",
    no_args_is_help=True,
)
trigger_app.add_typer(window_app, name="window")


@window_app.callback()
def window(
    ctx: typer.Context,
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
) -> None:
    """duckstring trigger window POND add|list|remove …"""
    ctx.obj = {"pond": name, "catchment": catchment, "major": major}


@window_app.command("add")
def window_add(
    ctx: typer.Context,
    rule: Annotated[str, typer.Option("--name", "-n", help="Name of the rule")],
    every: Annotated[str, typer.Option("--every", "-e", help="Interval, one unit: 10s 12h 1d 1w")],
    start: Annotated[
        str | None,
        typer.Option("--start", "-s", help="Anchor: ISO 8601 or HH:MM UTC (default 00:00 today)"),
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", "-d", help="How long each window stays open")
    ] = None,
    on: Annotated[str | None, typer.Option("--on", "-o", help="Weekdays, e.g. MON,WED,FRI")] = None,
    until: Annotated[str | None, typer.Option("--until", "-u", help="Expiry (ISO 8601)")] = None,
) -> None:
    """Add a window rule (overlapping rules are refused)."""
    try:
        window_rule = WindowRule.from_text(
            rule,
            every=every,
            start=start,
            duration=duration,
            on=on,
            until=until,
            today=SystemClock().now(),
        )
    except WindowError as error:
        fail(str(error))
    with connect(ctx.obj["catchment"]) as client:
        client.post(
            f"/ponds/{ctx.obj['pond']}/windows",
            json=window_rule.to_api(),
            params=selectors(ctx.obj["major"], None),
        )
    console.print(
        f"window {escape(rule)} on {escape(ctx.obj['pond'])}: {escape(window_rule.describe())}"
    )


@window_app.command("list")
def window_list(ctx: typer.Context) -> None:
    """List the window rules."""
    with connect(ctx.obj["catchment"]) as client:
        rules = client.get(
            f"/ponds/{ctx.obj['pond']}/windows", params=selectors(ctx.obj["major"], None)
        )["windows"]
    if not rules:
        console.print(f"{escape(ctx.obj['pond'])} has no windows: it may start at any time")
        return
    view = Table("name", "rule")
    for rule in rules:
        view.add_row(escape(str(rule.get("name"))), escape(describe_window(rule)))
    console.print(view)


def describe_window(listed: dict[str, Any]) -> str:
    """One line for a window as ``GET …/windows`` lists it (``every 1d from … for 3h``)."""
    try:
        return WindowRule.from_api(listed).describe()
    except WindowError:
        # A shape this CLI does not know (a newer Catchment): show the fields as they came.
        return ", ".join(f"{key}={value}" for key, value in listed.items() if key != "name")


@window_app.command("remove")
def window_remove(
    ctx: typer.Context, rule: Annotated[str, typer.Argument(help="Name of the rule")]
) -> None:
    """Remove a window rule."""
    with connect(ctx.obj["catchment"]) as client:
        client.post(
            f"/ponds/{ctx.obj['pond']}/windows/{rule}/remove",
            params=selectors(ctx.obj["major"], None),
        )
    console.print(f"removed window {escape(rule)} from {escape(ctx.obj['pond'])}")
