"""The forecast against a real Catchment running the demo at its documented durations: the
Wave's 3 s cadence from measured durations, and a Tide it cannot hold, asked for and not set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from e2e.server import Server
from e2e.test_catchment_demo import deploy_demo

KEYS = {
    "line",
    "at",
    "trigger",
    "next_fresh",
    "next_fresh_in",
    "cadence",
    "bound",
    "holds",
    "bottleneck",
    "reason",
    "assumed",
}


@pytest.fixture
def full_speed(tmp_path: Path) -> Iterator[Server]:
    """The demo at its documented durations: join_lines takes 3 s."""
    running = Server(
        root=tmp_path / "root", home=tmp_path / "home", env={"DUCKSTRING_DEMO_SCALE": "1"}
    )
    running.start()
    yield running
    try:
        running.close()
    finally:
        print("---- Catchment log ----")
        print(running.log_tail(6000))


def settled(client: httpx.Client) -> list[dict[str, Any]] | None:
    ponds: list[dict[str, Any]] = client.get("/status").json()["ponds"]
    quiet = all(p["status"] == "idle" and p["gen"] == p["runs_completed"] for p in ponds)
    return ponds if quiet else None


def demand(ponds: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (p["id"], p["status"], p["gen"], p["trigger"], p["has_pull"], p["target_f"])
        for p in sorted(ponds, key=lambda p: p["id"])
    ]


def test_the_forecast_predicts_the_wave_cadence_and_a_tide_it_cannot_hold(
    full_speed: Server,
) -> None:
    server = full_speed
    deploy_demo(server)
    server.cli("trigger", "pulse", "reports", "--silent")
    before = server.wait_for(
        lambda c: settled(c) if c.get("/status").json()["ponds"] else None,
        timeout=90,
        what="the first pulse to publish reports",
    )
    assert all(p["runs_completed"] >= 1 for p in before), before
    with server.client() as client:
        bad = client.get("/ponds/reports/forecast", params={"tide": "soon"})
        assert bad.status_code == 422 and "tide" in bad.json()["detail"]
        assert client.get("/ponds/nowhere/forecast").status_code == 404
        out = server.cli("trigger", "tide", "reports", "1s", "--dry-run")
        assert "cannot be held" in out.stdout and "sales.join_lines" in out.stdout, out.stdout
        assert "nothing was set" in out.stdout
        assert demand(client.get("/status").json()["ponds"]) == demand(before)

        client.post("/ponds/reports/wave").raise_for_status()
        body = client.get("/ponds/reports/forecast").json()
        assert set(body) == KEYS
        assert body["line"] == "reports@1" and body["trigger"] == "wave"
        assert abs(body["cadence"] - 3.0) <= 0.3, body
        assert body["bottleneck"]["line"] == "sales@1", body
        assert body["bottleneck"]["ripple"] == "join_lines", body
        assert body["next_fresh"] is not None and body["reason"] is None
        assert body["assumed"] == []  # the first Pulse measured every Ripple

        client.post("/ponds/reports/sleep", json={"upstream": True}).raise_for_status()
    server.wait_for(settled, timeout=60, what="the Wave's runs to drain")
