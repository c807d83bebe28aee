"""``duckstring alert``: rules that tell an operator, once, about the root cause."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from duckstring.cli.common import CatchmentOption, connect
from duckstring.cli.output import console, fail

alert_app = typer.Typer(
    help="Alert rules: failure, recovery and staleness, delivered through Apprise URLs.",
    no_args_is_help=True,
)

KINDS = ("failure", "recovery", "stale", "forecast-breach")
#: How long ``alert test`` waits for the first attempt's outcome.
TEST_WAIT = 30.0

NameArgument = Annotated[str, typer.Argument(help="The alert's name", metavar="NAME")]


def register(app: typer.Typer) -> None:
    app.add_typer(alert_app, name="alert")


@alert_app.command("add")
def add(
    name: NameArgument,
    duration: Annotated[
        str | None,
        typer.Argument(
            help="With --on stale: the bound on staleness (10m, 1h, 1d); with --on "
            "forecast-breach, optional: the bound (default: each line's Tide bound)"
        ),
    ] = None,
    on: Annotated[
        str,
        typer.Option(
            "--on",
            help="failure, recovery, stale DURATION or forecast-breach [DURATION]",
            metavar="KIND",
        ),
    ] = "",
    ponds: Annotated[
        list[str] | None,
        typer.Option(
            "--pond", "-p", help="Only about this Pond (or line, name@major); repeat for more"
        ),
    ] = None,
    to: Annotated[
        str, typer.Option("--to", help="Apprise URL: json://, slack://, mailto://, …")
    ] = "",
    catchment: CatchmentOption = None,
) -> None:
    """Add an alert rule; it survives restarts and redeploys.

    A failure alert names the root line that failed and the lines it blocks (a line that is
    only blocked never alerts); a recovery alert closes it. A stale alert fires once when a
    line's staleness passes DURATION, and again only after it was fresh. A forecast-breach
    alert fires before that: when the forecast says a line's next fresh output comes too late
    for DURATION (or, without one, that it cannot hold its Tide), naming the bottleneck.
    """
    if on not in KINDS:
        fail(f"--on must be one of {', '.join(KINDS)}, not {on!r}", 2)
    if on == "stale" and duration is None:
        fail("--on stale needs its bound: alert add NAME --on stale 1h --to URL", 2)
    if on not in ("stale", "forecast-breach") and duration is not None:
        fail(f"unexpected {duration!r}: only --on stale or forecast-breach takes a duration", 2)
    if not to:
        fail("--to is required: the Apprise URL to deliver to", 2)
    body: dict[str, Any] = {"name": name, "on": on, "ponds": ponds or [], "to": to}
    if duration is not None:
        body["duration"] = duration
    with connect(catchment) as client:
        client.post("/alerts", json=body)
    console.print(f"alert {escape(name)}: added")


@alert_app.command("ls")
def ls(catchment: CatchmentOption = None) -> None:
    """List the alert rules: kind, Ponds, where they deliver (secrets hidden), state."""
    with connect(catchment) as client:
        rules = client.get("/alerts")["alerts"]
    if not rules:
        console.print("no alert rules: add one with `duckstring alert add`")
        return
    table = Table("name", "on", "ponds", "to", "state", "pending", box=None)
    for rule in rules:
        on = rule["on"] if rule["duration"] is None else f"{rule['on']} {rule['duration']}"
        table.add_row(
            escape(rule["name"]),
            on,
            escape(", ".join(rule["ponds"]) or "all"),
            escape(rule["to"]),
            rule["state"],
            str(rule["pending"]),
        )
    console.print(table)


@alert_app.command("rm")
def rm(name: NameArgument, catchment: CatchmentOption = None) -> None:
    """Remove an alert rule; what it had not delivered yet is dropped."""
    with connect(catchment) as client:
        client.request("DELETE", f"/alerts/{name}")
    console.print(f"alert {escape(name)}: removed")


@alert_app.command("test")
def test(
    name: NameArgument,
    wait: Annotated[
        bool, typer.Option(help="Wait for the first attempt's outcome (up to 30 s)")
    ] = True,
    catchment: CatchmentOption = None,
) -> None:
    """Send the rule a test notification, and say whether it was delivered."""
    with connect(catchment) as client:
        path, params = "/alerts/log", {"name": name, "limit": 1}
        before = client.get(path, params=params)["deliveries"] if wait else []
        seen = before[0]["id"] if before else 0
        client.post(f"/alerts/{name}/test")
        if not wait:
            console.print(f"alert {escape(name)}: test notification queued")
            return
        deadline = time.monotonic() + TEST_WAIT
        while time.monotonic() < deadline:
            newest = client.get(path, params=params)["deliveries"]
            if newest and newest[0]["id"] > seen:
                attempt = newest[0]
                if attempt["ok"]:
                    console.print(f"alert {escape(name)}: test notification delivered")
                    return
                fail(
                    f"the test notification was not delivered: {attempt['error']} (it is "
                    f"retried; `duckstring alert log {name}` shows each attempt)"
                )
            time.sleep(0.2)
    fail(f"no delivery attempt yet after {TEST_WAIT:g} s: see `duckstring alert log {name}`")


@alert_app.command("log")
def log(
    name: Annotated[str | None, typer.Argument(help="Only this alert's deliveries")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000)] = 20,
    catchment: CatchmentOption = None,
) -> None:
    """Delivery attempts, newest first: when, which alert, which attempt, and the outcome."""
    params: dict[str, Any] = {"limit": limit}
    if name is not None:
        params["name"] = name
    with connect(catchment) as client:
        deliveries = client.get("/alerts/log", params=params)["deliveries"]
    if not deliveries:
        console.print("no deliveries yet")
        return
    table = Table("at", "alert", "kind", "line", "attempt", "outcome", box=None)
    for attempt in deliveries:
        outcome = (
            "delivered" if attempt["ok"] else f"[red]failed[/]: {escape(attempt['error'] or '')}"
        )
        table.add_row(
            attempt["at"] or "",
            escape(attempt["rule"]),
            attempt["kind"],
            escape(attempt["line"] or ""),
            str(attempt["attempt"]),
            outcome,
        )
    console.print(table)
