"""Windows on the wire: ``GET|POST /api/ponds/{name}/windows`` and ``…/windows/{window}/remove``.

A window reads back exactly as surface.md spells it, whatever form of it was sent (days as a
string or a list, any case; instants with any offset). A malformed payload is one 422 naming
the field, and leaves the Pond's windows as they were.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from contract.conftest import deploy, line
from e2e.projects import COUNTER
from e2e.server import Server

NIGHTLY: dict[str, Any] = {
    "name": "nightly",
    "start_anchor": "2026-01-01T02:00:00Z",
    "duration_seconds": 10800,
    "freq_unit": "DAY",
    "freq_interval": 1,
    "valid_days": "MON,WED,FRI",
    "until_time": None,
}
WIRE_KEYS = {
    "name",
    "start_anchor",
    "duration_seconds",
    "freq_unit",
    "freq_interval",
    "valid_days",
    "until_time",
}


def windows(client: httpx.Client, pond: str = "source") -> list[dict[str, Any]]:
    answer = client.get(f"/ponds/{pond}/windows")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["windows"]
    listed: list[dict[str, Any]] = body["windows"]
    return listed


def add(client: httpx.Client, window: dict[str, Any], pond: str = "source") -> httpx.Response:
    return client.post(f"/ponds/{pond}/windows", json=window)


def test_a_window_reads_back_in_the_exact_wire_shape(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    deploy(server, tmp_path, "other", COUNTER, kind="inlet")
    with server.client() as client:
        assert windows(client) == []
        answer = add(client, NIGHTLY)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ok": True}
        assert windows(client) == [NIGHTLY]

        # Days as a list in any case, instants with an offset: normalised on the way in.
        office = {
            "name": "office",
            "start_anchor": "2026-01-01T11:00:00+02:00",
            "duration_seconds": 3600,
            "freq_unit": "day",
            "freq_interval": 1,
            "valid_days": ["thu", "Tue"],
            "until_time": "2027-01-01T01:30:00+01:00",
        }
        assert add(client, office).json() == {"ok": True}
        listed = windows(client)
        assert [set(w) for w in listed] == [WIRE_KEYS, WIRE_KEYS]
        assert listed == [
            NIGHTLY,
            {
                "name": "office",
                "start_anchor": "2026-01-01T09:00:00Z",
                "duration_seconds": 3600,
                "freq_unit": "DAY",
                "freq_interval": 1,
                "valid_days": "TUE,THU",
                "until_time": "2027-01-01T00:30:00Z",
            },
        ]
        assert line(client, "source@1")["windows"] == 2
        # What GET answers is a valid POST: a client may copy windows to another Pond.
        for window in listed:
            assert add(client, window, pond="other").json() == {"ok": True}
        assert windows(client, "other") == listed


def test_omitted_fields_take_their_defaults(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        before = datetime.now(UTC).date()
        answer = add(client, {"name": "tick", "freq_unit": "HOUR"})
        after = datetime.now(UTC).date()
        assert answer.json() == {"ok": True}
        (tick,) = windows(client)
        # Anchored at 00:00 UTC today, every 1 hour, open back-to-back, every day, no end.
        assert tick["start_anchor"] in {f"{day.isoformat()}T00:00:00Z" for day in (before, after)}
        assert tick == {
            "name": "tick",
            "start_anchor": tick["start_anchor"],
            "duration_seconds": 3600,
            "freq_unit": "HOUR",
            "freq_interval": 1,
            "valid_days": None,
            "until_time": None,
        }
        explicit_nulls = {
            "name": "weekly",
            "start_anchor": None,
            "duration_seconds": None,
            "freq_unit": "WEEK",
            "freq_interval": 2,
            "valid_days": None,
            "until_time": None,
        }
        assert client.post("/ponds/source/windows/tick/remove").json() == {"ok": True}
        assert add(client, explicit_nulls).json() == {"ok": True}
        (weekly,) = windows(client)
        assert weekly["duration_seconds"] == 14 * 86400
        assert weekly["valid_days"] is None and weekly["until_time"] is None


#: (what is wrong, the field the 422 must name, the change to NIGHTLY renamed "bad").
MALFORMED: list[tuple[str, str, dict[str, Any]]] = [
    ("unknown unit", "freq_unit", {"freq_unit": "MONTH"}),
    ("unit of the wrong type", "freq_unit", {"freq_unit": 3}),
    ("no unit", "freq_unit", {"freq_unit": None}),
    ("interval as text", "freq_interval", {"freq_interval": "1"}),
    ("fractional interval", "freq_interval", {"freq_interval": 1.5}),
    ("interval as a boolean", "freq_interval", {"freq_interval": True}),
    ("zero interval", "freq_interval", {"freq_interval": 0}),
    ("negative interval", "freq_interval", {"freq_interval": -2}),
    ("an interval of 10**30 days", "freq_interval", {"freq_interval": 10**30}),
    ("zero duration", "duration_seconds", {"duration_seconds": 0}),
    ("negative duration", "duration_seconds", {"duration_seconds": -5}),
    ("duration as text", "duration_seconds", {"duration_seconds": "3600"}),
    ("a duration under a microsecond", "duration_seconds", {"duration_seconds": 1e-9}),
    ("a duration of 1e300 s", "duration_seconds", {"duration_seconds": 1e300}),
    ("a bad day name", "valid_days", {"valid_days": "MON,XYZ"}),
    ("a bad day in a list", "valid_days", {"valid_days": ["MON", "FUNDAY"]}),
    ("a day that is not text", "valid_days", {"valid_days": ["MON", 3]}),
    ("days as a number", "valid_days", {"valid_days": 5}),
    ("no day named", "valid_days", {"valid_days": ""}),
    ("an empty list of days", "valid_days", {"valid_days": []}),
    ("a bad anchor", "start_anchor", {"start_anchor": "yesterday"}),
    ("an anchor that is not text", "start_anchor", {"start_anchor": 1767225600}),
    ("an anchor before year 1 in UTC", "start_anchor", {"start_anchor": "0001-01-01T00:00+01:00"}),
    ("an end past year 9999 in UTC", "until_time", {"until_time": "9999-12-31T23:59-01:00"}),
    ("a bad end", "until_time", {"until_time": "soon"}),
    ("an end before the anchor", "until_time", {"until_time": "2025-01-01T00:00:00Z"}),
    ("an end that is not text", "until_time", {"until_time": 5}),
    ("a name with a space", "name", {"name": "bad name"}),
    ("a name of 65 characters", "name", {"name": "x" * 65}),
    ("a name that is not text", "name", {"name": 7}),
]


def test_a_malformed_window_is_a_422_naming_the_field_and_changes_nothing(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        assert add(client, NIGHTLY).json() == {"ok": True}
        for what, field, change in MALFORMED:
            window = {**NIGHTLY, "name": "bad", **change}
            answer = add(client, window)
            assert answer.status_code == 422, (what, answer.status_code, answer.text)
            assert field in json.dumps(answer.json()["detail"]), (what, answer.text)
            assert windows(client) == [NIGHTLY], what
        for what, field, window in [
            ("no name", "name", {k: v for k, v in NIGHTLY.items() if k != "name"}),
            ("no unit", "freq_unit", {k: v for k, v in NIGHTLY.items() if k != "freq_unit"}),
        ]:
            answer = add(client, window)
            assert answer.status_code == 422, (what, answer.text)
            assert field in json.dumps(answer.json()["detail"]), (what, answer.text)
        for body in ([NIGHTLY], "nightly", 5):
            assert client.post("/ponds/source/windows", json=body).status_code == 422
        assert windows(client) == [NIGHTLY]
        assert line(client, "source@1")["windows"] == 1
        # The Pond still takes a good window after all those refusals.
        later = {**NIGHTLY, "name": "later", "start_anchor": "2026-01-01T12:00:00Z"}
        assert add(client, later).json() == {"ok": True}
        assert [w["name"] for w in windows(client)] == ["nightly", "later"]


def test_an_overlap_or_a_taken_name_is_a_422_that_says_so(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        assert add(client, NIGHTLY).json() == {"ok": True}
        clash = add(client, {**NIGHTLY, "name": "clash", "start_anchor": "2026-01-01T03:00:00Z"})
        assert clash.status_code == 422
        detail = clash.json()["detail"]
        assert detail.startswith("window 'clash' overlaps window 'nightly': 'clash' would be open")
        taken = add(client, {**NIGHTLY, "start_anchor": "2026-01-01T12:00:00Z"})
        assert taken.status_code == 422
        assert "already has a window named 'nightly'" in taken.json()["detail"]
        itself = add(client, {**NIGHTLY, "name": "long", "duration_seconds": 2 * 86400})
        assert itself.status_code == 422 and "overlaps itself" in itself.json()["detail"]
        assert windows(client) == [NIGHTLY]


def test_remove_answers_ok_then_404(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        assert add(client, NIGHTLY).json() == {"ok": True}
        removed = client.post("/ponds/source/windows/nightly/remove")
        assert removed.status_code == 200 and removed.json() == {"ok": True}
        assert windows(client) == []
        again = client.post("/ponds/source/windows/nightly/remove")
        assert again.status_code == 404
        assert again.json() == {"detail": "source@1 has no window named 'nightly'"}
        unknown = client.post("/ponds/nothing/windows/nightly/remove")
        assert unknown.status_code == 404 and "unknown Pond 'nothing'" in unknown.json()["detail"]
        assert client.get("/ponds/nothing/windows").status_code == 404
        assert add(client, NIGHTLY, pond="nothing").status_code == 404


def test_windows_are_refused_on_a_pond_with_sources(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    body = "\n@ripple\ndef copy(pond):\n    pass\n"
    deploy(server, tmp_path, "sink", body, sources={"source": "1.0.0"})
    with server.client() as client:
        answer = add(client, NIGHTLY, pond="sink")
        assert answer.status_code == 422
        assert answer.json() == {"detail": "sink@1 has Sources: windows apply to Inlets only"}
        assert windows(client, "sink") == []
