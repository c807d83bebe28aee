"""``duckstring control``: the control verbs and the retry budgets of one Pond."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from duckstring.cli.common import (
    CatchmentOption,
    MajorOption,
    SilentOption,
    VersionOption,
    WatchOption,
    connect,
    selectors,
)
from duckstring.cli.output import console
from duckstring.cli.trigger import open_view

control_app = typer.Typer(
    help="Steer one Pond: wake, force, sleep, kill, clear, budgets.", no_args_is_help=True
)

PondArgument = Annotated[str, typer.Argument(help="Pond name", metavar="POND")]


def register(app: typer.Typer) -> None:
    app.add_typer(control_app, name="control")


def _verb(
    verb: str,
    name: str,
    catchment: str | None,
    major: int | None,
    version: str | None,
    silent: bool,
    watch: bool,
    body: dict[str, object] | None = None,
    view: bool = True,
) -> None:
    with connect(catchment) as client:
        before = client.get("/status") if not silent else {}
        client.post(f"/ponds/{name}/{verb}", params=selectors(major, version), json=body)
        console.print(f"{verb} {escape(name)}: ok")
        if view and not silent:
            open_view(client, name, major, version, one_shot=not watch, before=before)


@control_app.command("wake")
def wake(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
    silent: SilentOption = False,
    watch: WatchOption = False,
) -> None:
    """One pull that stays local (Sources are not woken); clears failed/killed."""
    _verb("wake", name, catchment, major, version, silent, watch)


@control_app.command("force")
def force(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
    silent: SilentOption = False,
    watch: WatchOption = False,
) -> None:
    """Re-run every Ripple at the current freshness (no Sink re-runs); clears failed/killed."""
    _verb("force", name, catchment, major, version, silent, watch)


@control_app.command("sleep")
def sleep(
    name: PondArgument,
    upstream: Annotated[bool, typer.Option(help="Also every ancestor")] = False,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Drop the Pond's demand and standing trigger; a started run still completes."""
    _verb("sleep", name, catchment, major, version, True, False, {"upstream": upstream}, view=False)


@control_app.command("kill")
def kill(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Stop the worker now, cancel in-flight runs, park the Pond (downstream blocks)."""
    _verb("kill", name, catchment, major, version, True, False, view=False)


@control_app.command("clear")
def clear(
    name: PondArgument,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Reset failed/killed to idle without running; unblock downstream.

    Nothing starts: demand already held here and downstream waits for new demand (a trigger)
    or for a Source to publish.
    """
    _verb("clear", name, catchment, major, version, True, False, view=False)
    console.print(
        f"nothing runs until new demand: [bold]duckstring trigger tap {escape(name)}[/] "
        "(or pulse) starts it again"
    )


@control_app.command("failure-budget")
def failure_budget(
    name: PondArgument,
    immediate: Annotated[
        int | None,
        typer.Option("--immediate", "-i", min=0, help="Retries of a failing Ripple within one run"),
    ] = None,
    on_change: Annotated[
        int | None,
        typer.Option(
            "--on-change", "-o", min=0, help="Fresh runs after failure when a Source updates"
        ),
    ] = None,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Show the retry budgets, or set them with --immediate / --on-change (a budget not
    given keeps its value)."""
    change = {
        field: value
        for field, value in (("immediate_retries", immediate), ("source_retries", on_change))
        if value is not None
    }
    with connect(catchment) as client:
        path, params = f"/ponds/{name}/budget", selectors(major, version)
        if change:
            client.post(path, params=params, json=change)
        budget = client.get(path, params=params)
    console.print(
        f"{escape(name)}: immediate retries {budget['immediate_retries']}, "
        f"on-change retries {budget['source_retries']}"
    )


def _resource(text: str) -> tuple[str, float]:
    """``NAME=N`` (``NAME`` alone: one of it)."""
    name, _, amount = text.partition("=")
    try:
        return name.strip(), float(amount) if amount.strip() else 1.0
    except ValueError:
        raise typer.BadParameter(f"must be NAME=N, not {text!r}", param_hint="--resource") from None


@control_app.command("placement")
def placement(
    name: PondArgument,
    cpus: Annotated[
        float | None, typer.Option("--cpus", min=0, help="CPUs its Duck holds on its node")
    ] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Memory its Duck holds: 8G, 512MiB, bytes")
    ] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option("--resource", help="A custom resource of the cluster: NAME=N (repeatable)"),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Forget the placement: the launcher's default")
    ] = False,
    catchment: CatchmentOption = None,
    major: MajorOption = None,
    version: VersionOption = None,
) -> None:
    """Show where the Pond's Duck runs and what it asks of its node, or set it.

    A placement is the operator's, like a window: it survives restarts and redeploys, and the
    line's next Duck starts with it (a Duck running now stays where it is). An option not given
    keeps its value; --resource replaces the custom resources. On a Ray cluster it becomes the
    actor's resources; the local launcher only records it.
    """
    resources = dict(_resource(text) for text in resource or [])
    with connect(catchment) as client:
        path, params = f"/ponds/{name}/placement", selectors(major, version)
        current = client.get(path, params=params)
        if clear or cpus is not None or memory is not None or resource:
            body = (
                {}
                if clear
                else {
                    "cpus": current["cpus"] if cpus is None else cpus,
                    "memory": current["memory"] if memory is None else memory,
                    "resources": current["resources"] if not resource else resources,
                }
            )
            current = client.post(path, params=params, json=body)
    asks = [
        *([f"{current['cpus']:g} CPU"] if current["cpus"] is not None else []),
        *([f"{current['memory'] / (1 << 30):.2f} GiB"] if current["memory"] is not None else []),
        *(f"{key}={value:g}" for key, value in sorted(current["resources"].items())),
    ]
    node = current["node"]
    where = "no Duck running" if node is None else f"on node {node['id'][:12]} ({node['address']})"
    if node is None and current["launcher"] == "local":
        where = "on this Catchment's machine (local launcher)"
    console.print(
        f"{escape(current['line'])}: asks {escape(', '.join(asks)) or 'the default'}; {where}"
    )
