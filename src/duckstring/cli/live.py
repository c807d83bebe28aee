"""The live view of Pond lines: ``duckstring status`` and every trigger and control command.

It polls ``/api/status`` and redraws in place with rich: one row per line, failures first, state
coloured, version, freshness age, staleness, standing trigger, failures and budgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Group
from rich.live import Live
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


_AGE_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60))


def compact_age(micros: int) -> str:
    """A duration in its largest whole unit: ``3s``, ``4m``, ``2h``, ``5d`` (short enough that
    a narrow terminal never has to cut it)."""
    seconds = max(0, micros) // 1_000_000
    for unit, size in _AGE_UNITS:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _age(now: datetime, text: str | None) -> str:
    moment = _instant(text)
    if moment is None:
        return "never"
    micros = int((now - moment).total_seconds() * 1_000_000)
    if micros < 0:
        return f"in {compact_age(-micros)}"
    return compact_age(micros)


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


def restrict(status: Status, focus: str) -> Status:
    """The status document cut to ``focus`` and its upstream lineage (nearest first), with
    only the edges between those lines."""
    keep = lineage(status, focus)
    ponds = sorted(
        (p for p in status["ponds"] if p["id"] in keep), key=lambda p: keep.index(p["id"])
    )
    edges = [edge for edge in status["edges"] if edge[0] in keep and edge[1] in keep]
    return {**status, "ponds": ponds, "edges": edges}


def _trigger_text(trigger: dict[str, Any] | None) -> str:
    if trigger is None:
        return "-"
    if trigger["kind"] == "tide" and trigger.get("bound_ms") is not None:
        return f"tide {format_duration(trigger['bound_ms'] * 1000)}"
    return str(trigger["kind"])


def _cells(p: dict[str, Any], now: datetime) -> dict[str, Text]:
    """One line's cells, by heading."""
    staleness = p.get("staleness_ms")
    return {
        "pond": Text(p["id"]),
        "state": Text(p["status"], style=COLOURS.get(p["status"], "")),
        "version": Text(p["version"]),
        "age": Text(_age(now, p["end_f"])),
        "stale": Text("-" if staleness is None else compact_age(staleness * 1000)),
        "trigger": Text(_trigger_text(p["trigger"])),
        "runs": Text(str(p["runs_completed"])),
        "fails": Text(str(p["failures"]), style="red" if p["failures"] else ""),
        "budget": Text(f"{p['immediate_retries']}/{p['source_retries']}"),
        "node": Text(_node_text(p.get("node"))),
    }


def _node_text(node: dict[str, str] | None) -> str:
    """Where a line's Duck runs on a cluster: its node's address and the start of its id."""
    return "-" if not node else f"{node['address']} {node['id'][:8]}"


#: Headings in the order they are shown. The first four are always shown, and whole.
HEADINGS = (
    "pond",
    "state",
    "version",
    "age",
    "stale",
    "trigger",
    "runs",
    "fails",
    "budget",
    "node",
)
_WHOLE = HEADINGS[:4]
#: The other columns, most wanted first: each is shown if it fits after those before it.
#: ``node`` only on a Catchment whose Ducks run on a cluster (some line's Duck is on a node).
_BY_WIDTH = ("stale", "fails", "trigger", "runs", "budget", "node")


def _table_width(widths: list[int]) -> int:
    # Every cell is padded one space each side, and the box draws one rule per edge.
    return sum(widths) + 3 * len(widths) + 1


def _fitting(rows: list[dict[str, Text]], width: int) -> list[str]:
    """The headings that fit in ``width`` columns: the whole ones, then each of the others
    (most wanted first) that still fits."""

    def needed(heading: str) -> int:
        return max([len(heading), *(row[heading].cell_len for row in rows)])

    shown = list(_WHOLE)
    placed = _any_node(rows)
    for heading in _BY_WIDTH:
        if heading == "node" and not placed:
            continue
        if _table_width([needed(h) for h in (*shown, heading)]) <= width:
            shown.append(heading)
    return [heading for heading in HEADINGS if heading in shown]


def _any_node(rows: list[dict[str, Text]]) -> bool:
    return any(row["node"].plain not in ("", "-") for row in rows)


_NO_PONDS = {heading: Text("") for heading in HEADINGS} | {"pond": Text("(no Ponds deployed)")}


def table(
    status: Status,
    focus: str | None = None,
    title: str | None = None,
    width: int | None = None,
) -> Table:
    """The view of ``status`` (cut to ``focus`` and its lineage when given) in ``width``
    columns (the console's by default). The Pond, state, version and freshness age are always
    shown and never cut; each other column is shown if it still fits, most wanted first."""
    now = _instant(status.get("now")) or datetime.now(UTC)
    if focus is not None:
        ponds = restrict(status, focus)["ponds"]
    else:
        ponds = sorted(status["ponds"], key=lambda p: (_PRECEDENCE.get(p["status"], 9), p["id"]))
    rows = [_cells(p, now) for p in ponds] or [_NO_PONDS]
    shown = _fitting(rows, console.width if width is None else width)
    hidden = [h for h in HEADINGS if h not in shown and (h != "node" or _any_node(rows))]
    view = Table(
        title=title,
        title_justify="left",
        caption=f"not shown at this width: {', '.join(hidden)}" if hidden and ponds else None,
        caption_justify="left",
        caption_style="dim",
        expand=False,
        header_style="bold",
    )
    for heading in shown:
        # Should even the whole columns not fit, their values fold onto a second line rather
        # than lose their end to an ellipsis.
        view.add_column(heading, no_wrap=heading not in _WHOLE, overflow="fold")
    for row in rows:
        view.add_row(*(row[heading] for heading in shown))
    return view


def show_once(status: Status, focus: str | None = None) -> None:
    """Print one snapshot of the view."""
    console.print(table(status, focus))


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
