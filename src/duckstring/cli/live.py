"""The live view of Pond lines: ``duckstring status`` and every trigger and control command.

It polls ``/api/status`` and redraws in place with rich: one row per line, failures first, state
coloured, version, freshness age, staleness, standing trigger, failures and budgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from duckstring.cli.output import console
from duckstring.engine.durations import format_duration
from duckstring.remote.client import CatchmentClient

Status = dict[str, Any]

COLOURS = {
    "failed": "bold red",
    "killed": "bold red",
    "blocked": "yellow",
    "running": "cyan",
    "queued": "blue",
    "idle": "green",
}
_PRECEDENCE = {"failed": 0, "killed": 1, "blocked": 2, "running": 3, "queued": 4, "idle": 5}


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _age(now: datetime, text: str | None) -> str:
    moment = _instant(text)
    if moment is None:
        return "never"
    micros = int((now - moment).total_seconds() * 1_000_000)
    if micros < 0:
        return f"fresh until +{format_duration(-micros)}"
    return f"{format_duration(micros)} ago"


def lineage(status: Status, line: str) -> list[str]:
    """``line`` and every line upstream of it, nearest first."""
    sources: dict[str, list[str]] = {}
    for source, sink in status["edges"]:
        sources.setdefault(sink, []).append(source)
    seen, frontier = [line], [line]
    while frontier:
        for source in sources.get(frontier.pop(0), []):
            if source not in seen:
                seen.append(source)
                frontier.append(source)
    return seen


def resolve_line(
    status: Status, name: str, major: int | None = None, version: str | None = None
) -> str | None:
    lines = [p for p in status["ponds"] if p["name"] == name]
    if major is not None:
        lines = [p for p in lines if p["major"] == major]
    if version is not None:
        lines = [p for p in lines if p["version"] == version]
    if not lines:
        return None
    return str(max(lines, key=lambda p: p["major"])["id"])


def table(status: Status, focus: str | None = None, title: str | None = None) -> Table:
    now = _instant(status["now"]) or datetime.now()
    ponds = status["ponds"]
    if focus is not None:
        keep = lineage(status, focus)
        ponds = sorted((p for p in ponds if p["id"] in keep), key=lambda p: keep.index(p["id"]))
    else:
        ponds = sorted(ponds, key=lambda p: (_PRECEDENCE.get(p["status"], 9), p["id"]))
    view = Table(title=title, title_justify="left", expand=False, header_style="bold")
    for column in (
        "pond",
        "state",
        "version",
        "fresh",
        "staleness",
        "trigger",
        "runs",
        "failures",
        "budget i/o",
    ):
        view.add_column(column, no_wrap=True)
    for p in ponds:
        trigger = p["trigger"]
        if trigger is None:
            trigger_text = "-"
        elif trigger["kind"] == "tide":
            trigger_text = f"tide {format_duration(trigger['bound_ms'] * 1000)}"
        else:
            trigger_text = trigger["kind"]
        staleness = p["staleness_ms"]
        view.add_row(
            escape(p["id"]),
            Text(p["status"], style=COLOURS.get(p["status"], "")),
            escape(p["version"]),
            _age(now, p["end_f"]),
            "-" if staleness is None else format_duration(max(0, staleness) * 1000),
            trigger_text,
            str(p["runs_completed"]),
            Text(str(p["failures"]), style="red" if p["failures"] else ""),
            f"{p['immediate_retries']}/{p['source_retries']}",
        )
    if not ponds:
        view.add_row("(no Ponds deployed)", "", "", "", "", "", "", "", "")
    return view


def show_once(client: CatchmentClient, focus: str | None = None) -> None:
    console.print(table(client.get("/status"), focus))


def watch(
    client: CatchmentClient,
    focus: str | None = None,
    *,
    settled: Callable[[Status], str | None] | None = None,
    interval: float = 0.5,
    title: str | None = None,
) -> str | None:
    """Redraw until ``settled`` returns a message (returned), or until Ctrl+C (None)."""
    status = client.get("/status")
    footer = Text("Ctrl+C closes the view", style="dim")
    with Live(
        Group(table(status, focus, title), footer),
        console=console,
        auto_refresh=False,
        transient=False,
    ) as live:
        try:
            while True:
                message = settled(status) if settled is not None else None
                if message is not None:
                    live.update(Group(table(status, focus, title), Text(message)), refresh=True)
                    return message
                live.update(Group(table(status, focus, title), footer), refresh=True)
                time.sleep(interval)
                status = client.get("/status")
        except KeyboardInterrupt:
            return None


def one_shot_settled(line: str, start: Status) -> Callable[[Status], str | None]:
    """A one-shot trigger settles when its lineage has nothing running or queued after the
    target ran (or after a short grace when there was nothing to do)."""
    before = {p["id"]: p["runs_completed"] for p in start["ponds"]}
    began = time.monotonic()

    def settled(status: Status) -> str | None:
        keep = lineage(status, line)
        ponds = {p["id"]: p for p in status["ponds"] if p["id"] in keep}
        target = ponds.get(line)
        if target is None:
            return f"{line} is gone"
        if target["status"] in ("failed", "killed", "blocked"):
            return f"{line} is {target['status']}"
        busy = any(p["status"] in ("running", "queued") for p in ponds.values())
        ran = target["runs_completed"] > before.get(line, 0)
        if not busy and (ran or time.monotonic() - began > 2.0):
            return f"{line} settled (freshness {target['end_f'] or 'never'})"
        return None

    return settled
