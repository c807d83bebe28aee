"""The status view's table, drawn from a status document at a given width: whole values in a
narrow terminal, compact ages, and the document cut to a Pond's lineage."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from duckstring.cli.live import compact_age, restrict, table
from duckstring.pond.names import line_id

NOW = "2026-03-01T12:00:00Z"


def line(name: str, status: str, version: str, end_f: str | None, **fields: Any) -> dict[str, Any]:
    entry = {
        "id": line_id(name, int(version.split(".")[0])),
        "name": name,
        "major": int(version.split(".")[0]),
        "version": version,
        "status": status,
        "runs_completed": 12,
        "end_f": end_f,
        "staleness_ms": 7_000,
        "trigger": {"kind": "tide", "bound_ms": 5_400_000},
        "failures": 3,
        "immediate_retries": 2,
        "source_retries": 1,
    }
    return {**entry, **fields}


DOCUMENT: dict[str, Any] = {
    "now": NOW,
    "ponds": [
        line("transactions", "running", "12.104.3", "2026-03-01T11:59:57Z"),
        line("products", "blocked", "1.0.0-rc.1", "2026-03-01T11:56:00Z"),
        line("sales_by_region", "queued", "3.2.1", "2026-03-01T10:00:00Z"),
        line("reports", "failed", "2.0.0", "2026-02-24T09:00:00Z"),
        line("weather", "idle", "1.0.0", None, trigger=None, staleness_ms=None),
    ],
    "edges": [
        ["transactions@12", "sales_by_region@3"],
        ["products@1", "sales_by_region@3"],
        ["sales_by_region@3", "reports@2"],
    ],
}

#: Each line's state, version and age, in the order the view lists them (failures first).
WHOLE = {
    "reports@2": ("failed", "2.0.0", "5d"),
    "products@1": ("blocked", "1.0.0-rc.1", "4m"),
    "transactions@12": ("running", "12.104.3", "3s"),
    "sales_by_region@3": ("queued", "3.2.1", "2h"),
    "weather@1": ("idle", "1.0.0", "never"),
}


def draw(document: dict[str, Any], width: int, focus: str | None = None) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(table(document, focus, width=width))
    return out.getvalue()


def rows(drawn: str) -> dict[str, list[str]]:
    """The body rows of a drawn table, by Pond line."""
    found = {}
    for text in drawn.splitlines():
        cells = [cell.strip() for cell in text.strip("│").split("│")]
        if len(cells) > 1 and cells[0] in WHOLE:
            found[cells[0]] = cells
    return found


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (3, "3s"),
        (59, "59s"),
        (60, "1m"),
        (4 * 60 + 59, "4m"),
        (3_599, "59m"),
        (3_600, "1h"),
        (2 * 3_600 + 3_599, "2h"),
        (86_399, "23h"),
        (5 * 86_400 + 80_000, "5d"),
        (400 * 86_400, "400d"),
    ],
)
def test_compact_age_is_the_largest_whole_unit(seconds: int, text: str) -> None:
    assert compact_age(seconds * 1_000_000 + 999_999) == text


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_view_keeps_pond_state_version_and_age_whole(width: int) -> None:
    drawn = draw(DOCUMENT, width)
    assert "…" not in drawn
    assert max(len(text) for text in drawn.splitlines()) <= width
    assert {pond: tuple(cells[1:4]) for pond, cells in rows(drawn).items()} == WHOLE
    assert drawn.splitlines()[1].split()[1:9:2] == ["pond", "state", "version", "age"]
    assert "not shown at this width: " in drawn


def test_columns_leave_a_narrow_view_least_wanted_first() -> None:
    headings = {
        width: draw(DOCUMENT, width).splitlines()[1].replace("┃", " ").split()
        for width in (50, 60, 70, 80, 200)
    }
    assert headings[200] == [
        "pond",
        "state",
        "version",
        "age",
        "stale",
        "trigger",
        "runs",
        "fails",
        "budget",
    ]
    # The trigger ("tide 1h30m") is too wide at 80; the narrower runs still fit.
    assert headings[80] == ["pond", "state", "version", "age", "stale", "runs", "fails"]
    assert headings[70] == ["pond", "state", "version", "age", "stale", "fails"]
    assert headings[60] == ["pond", "state", "version", "age", "stale"]
    assert headings[50] == ["pond", "state", "version", "age"]
    wide = draw(DOCUMENT, 200)
    assert "not shown" not in wide and "tide 1h30m" in wide and "2/1" in wide


def test_values_too_wide_for_the_terminal_fold_rather_than_lose_their_end() -> None:
    drawn = draw(DOCUMENT, 40)
    assert "…" not in drawn
    # Read each column top to bottom: the values are all there, in order, some on two lines.
    body = [text for text in drawn.splitlines() if text.startswith("│")]
    columns = ["".join(cells) for cells in zip(*(rows_of(text) for text in body), strict=True)]
    for index, values in enumerate([list(WHOLE), *zip(*WHOLE.values(), strict=True)]):
        assert columns[index] == "".join(values)


def rows_of(text: str) -> list[str]:
    return [cell.strip() for cell in text.strip("│").split("│")]


def test_a_document_without_clock_or_staleness_still_draws() -> None:
    """A Catchment that sends neither ``now`` nor ``staleness_ms``: ages count from here."""
    document = {
        "ponds": [{k: v for k, v in p.items() if k != "staleness_ms"} for p in DOCUMENT["ponds"]],
        "edges": DOCUMENT["edges"],
    }
    drawn = draw(document, 200)
    assert rows(drawn)["weather@1"][3:5] == ["never", "-"]
    assert rows(drawn)["reports@2"][3].endswith("d")


def test_no_ponds_says_so() -> None:
    assert "(no Ponds deployed)" in draw({"ponds": [], "edges": []}, 80)


def test_restrict_keeps_a_line_and_its_upstream_lineage_with_their_edges() -> None:
    cut = restrict(DOCUMENT, "sales_by_region@3")
    assert [p["id"] for p in cut["ponds"]] == [
        "sales_by_region@3",
        "transactions@12",
        "products@1",
    ]
    assert cut["edges"] == [
        ["transactions@12", "sales_by_region@3"],
        ["products@1", "sales_by_region@3"],
    ]
    assert cut["now"] == NOW
    assert restrict(DOCUMENT, "weather@1") == {
        **DOCUMENT,
        "ponds": [DOCUMENT["ponds"][4]],
        "edges": [],
    }
    focused = rows(draw(DOCUMENT, 80, focus="reports@2"))
    assert list(focused) == ["reports@2", "sales_by_region@3", "transactions@12", "products@1"]


def test_a_node_column_appears_only_when_ducks_run_on_a_cluster() -> None:
    assert "node" not in draw(DOCUMENT, width=200).splitlines()[1]
    placed = {
        **DOCUMENT,
        "ponds": [
            {**p, "node": {"id": "1d4f0c2a9b7e55aa", "address": "10.0.3.7"}}
            if p["name"] == "transactions"
            else {**p, "node": None}
            for p in DOCUMENT["ponds"]
        ],
    }
    wide = draw(placed, width=200)
    assert "node" in wide and "10.0.3.7 1d4f0c2a" in wide
    narrow = draw(placed, width=60)
    assert "10.0.3.7" not in narrow and "node" in narrow  # named among the columns not shown
