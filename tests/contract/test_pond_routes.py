"""The mutating Pond routes: each answers exactly ``{"ok": true}``; the values are read back with
the ``GET`` routes. A line is addressed by ``major`` and ``version`` as surface.md says: ``404``
for an unknown Pond or a version never deployed, ``422`` for a version that is not selected.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from contract.conftest import deploy, line
from e2e.projects import COUNTER
from e2e.server import Server

WINDOW = {"name": "nightly", "freq_unit": "DAY", "start_anchor": "2026-01-01T02:00:00Z"}

#: Every mutating Pond route, as (path after /ponds/{name}, body).
MUTATING: list[tuple[str, dict[str, Any] | None]] = [
    ("tap", None),
    ("pulse", None),
    ("wave", None),
    ("untrigger", None),
    ("wake", None),
    ("force", None),
    ("kill", None),
    ("clear", None),
    ("tide", {"bound_seconds": 3600}),
    ("sleep", {"upstream": True}),
    ("budget", {"immediate_retries": 1}),
    ("windows", WINDOW),
    ("windows/nightly/remove", None),
]


def completed(line_id: str, runs: int) -> Callable[[httpx.Client], bool]:
    return lambda client: bool(line(client, line_id)["runs_completed"] >= runs)


def nothing_running(client: httpx.Client) -> bool:
    answer = client.get("/runs", params={"pond": "source"}).json()
    return all(run["status"] != "running" for run in answer["runs"])


def test_every_mutating_route_answers_exactly_ok(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:

        def post(verb: str, body: dict[str, Any] | None = None) -> None:
            answer = client.post(f"/ponds/source/{verb}", json=body)
            assert answer.status_code == 200, (verb, answer.text)
            assert answer.json() == {"ok": True}, verb

        post("pulse")
        server.wait_for(completed("source@1", 1), what="the Pulse")
        post("force")  # on a line that has completed a run
        server.wait_for(completed("source@1", 2), what="the forced run")
        post("tap")
        post("wake")
        post("wave")
        assert line(client, "source@1")["trigger"] == {"kind": "wave", "bound_ms": None}
        post("untrigger")
        post("tide", {"bound_seconds": 3600})
        assert line(client, "source@1")["trigger"] == {"kind": "tide", "bound_ms": 3_600_000}
        post("sleep", {"upstream": True})
        assert line(client, "source@1")["trigger"] is None
        post("sleep")  # the body is optional
        post("budget", {"immediate_retries": 1, "source_retries": 2})
        post("windows", WINDOW)
        post("windows/nightly/remove")
        post("kill")
        assert line(client, "source@1")["is_killed"]
        post("clear")
        assert line(client, "source@1")["status"] == "idle"
        server.wait_for(nothing_running, what="no run in flight")


def test_an_unknown_pond_is_a_404_on_every_route(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:
        for verb, body in MUTATING:
            answer = client.post(f"/ponds/nothing/{verb}", json=body)
            assert answer.status_code == 404, (verb, answer.text)
            assert answer.json() == {"detail": "unknown Pond 'nothing'"}, verb
        for verb in ("budget", "windows"):
            assert client.get(f"/ponds/nothing/{verb}").status_code == 404
        assert line(client, "source@1")["trigger"] is None


def test_a_version_selects_its_own_major_and_must_be_the_selected_one(
    server: Server, tmp_path: Path
) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    deploy(server, tmp_path, "source", COUNTER, kind="inlet", version="1.1.0")
    deploy(server, tmp_path, "source", COUNTER, kind="inlet", version="2.0.0")
    with server.client() as client:
        for verb, body in MUTATING:
            # 1.0.0 was replaced by 1.1.0 as the selected version of major 1.
            stale = client.post(f"/ponds/source/{verb}", params={"version": "1.0.0"}, json=body)
            assert stale.status_code == 422, (verb, stale.text)
            assert stale.json() == {
                "detail": "version 1.0.0 is not the selected version of source@1 (selected: 1.1.0)"
            }, verb
            never = client.post(f"/ponds/source/{verb}", params={"version": "1.5.0"}, json=body)
            assert never.status_code == 404, (verb, never.text)
            assert never.json() == {"detail": "Pond 'source' has no version '1.5.0'"}, verb
            clash = client.post(
                f"/ponds/source/{verb}", params={"major": 2, "version": "1.1.0"}, json=body
            )
            assert clash.status_code == 422, (verb, clash.text)
            assert clash.json() == {"detail": "version 1.1.0 is of major 1, not major 2"}, verb
            bad = client.post(f"/ponds/source/{verb}", params={"version": "one"}, json=body)
            assert bad.status_code == 422 and "not a SemVer version" in bad.text, verb
        # Nothing of those refusals reached a line.
        for line_id in ("source@1", "source@2"):
            state = line(client, line_id)
            assert (state["trigger"], state["has_pull"], state["windows"]) == (None, False, 0)
            assert (state["immediate_retries"], state["runs_completed"]) == (0, 0)

        # A version addresses the line of its own major, not the highest one.
        selected = {"version": "1.1.0"}
        budget = {"immediate_retries": 3}
        assert client.post("/ponds/source/budget", params=selected, json=budget).json() == {
            "ok": True
        }
        assert client.get("/ponds/source/budget", params=selected).json() == {
            "immediate_retries": 3,
            "source_retries": 0,
        }
        assert client.get("/ponds/source/budget").json()["immediate_retries"] == 0  # major 2
        assert line(client, "source@1")["immediate_retries"] == 3
        assert client.post("/ponds/source/tide", params=selected, json={"bound_seconds": 60}).json()
        assert line(client, "source@1")["trigger"] == {"kind": "tide", "bound_ms": 60_000}
        assert line(client, "source@2")["trigger"] is None
        assert client.post("/ponds/source/untrigger", params={"major": 1}).json() == {"ok": True}
        assert client.post("/ponds/source/sleep", params={"major": 1}).json() == {"ok": True}
        server.wait_for(
            lambda c: all(r["status"] != "running" for r in c.get("/runs").json()["runs"]),
            what="no run in flight",
        )


def test_budget_updates_only_the_fields_it_is_given(server: Server, tmp_path: Path) -> None:
    deploy(server, tmp_path, "source", COUNTER, kind="inlet")
    with server.client() as client:

        def budget() -> dict[str, Any]:
            answer = client.get("/ponds/source/budget")
            assert answer.status_code == 200
            values: dict[str, Any] = answer.json()
            return values

        def change(body: Any) -> httpx.Response:
            return client.post("/ponds/source/budget", json=body)

        assert budget() == {"immediate_retries": 0, "source_retries": 0}
        assert change({"immediate_retries": 2}).json() == {"ok": True}
        assert budget() == {"immediate_retries": 2, "source_retries": 0}
        assert change({"source_retries": 3}).json() == {"ok": True}
        assert budget() == {"immediate_retries": 2, "source_retries": 3}
        assert change({}).json() == {"ok": True}
        assert change({"immediate_retries": None, "source_retries": 1}).json() == {"ok": True}
        assert budget() == {"immediate_retries": 2, "source_retries": 1}
        state = line(client, "source@1")
        assert (state["immediate_retries"], state["source_retries"]) == (2, 1)

        for body, field in [
            ({"immediate_retries": -1}, "immediate_retries"),
            ({"source_retries": "many"}, "source_retries"),
            ({"immediate_retries": 10_000_000}, "immediate_retries"),
            ({"source_retries": 0, "immediate_retries": 1.5}, "immediate_retries"),
        ]:
            refused = change(body)
            assert refused.status_code == 422, (body, refused.text)
            assert field in refused.text, body
            assert budget() == {"immediate_retries": 2, "source_retries": 1}, body
