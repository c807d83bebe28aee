"""Inputs at the edge of their types, and many clients at once, never make the Catchment answer
500 nor leave a Pond unable to take its next command.

Found by the property-based run (``test_security_schemathesis``): a Tide bound of ``1e308``, a
window recurring every ``2**63`` days, a retry budget of ``2**63`` or a Duck event timed at
``-2**70`` raised ``OverflowError`` inside a command, after the engine had already changed in
memory; every later command on that Pond then failed too. And commands handled in the
threadpool raced each other on the one SQLite connection ("cannot start a transaction within a
transaction").
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from e2e.server import Server
from security.conftest import deploy_pond, pulse_until_published

OUT_OF_RANGE: list[tuple[str, str, dict[str, Any]]] = [
    ("tide-huge", "/ponds/edge/tide", {"bound_seconds": 1e308}),
    ("tide-over-1000-years", "/ponds/edge/tide", {"bound_seconds": 1e13}),
    ("budget-int64", "/ponds/edge/budget", {"immediate_retries": 2**63}),
    ("budget-huge", "/ponds/edge/budget", {"source_retries": 2**62}),
    (
        "window-every-int64-days",
        "/ponds/edge/windows",
        {"name": "w", "freq_unit": "DAY", "freq_interval": 2**63},
    ),
    (
        "window-every-1e15-seconds",
        "/ponds/edge/windows",
        {"name": "w", "freq_unit": "SECOND", "freq_interval": 10**15},
    ),
    (
        "window-duration-huge",
        "/ponds/edge/windows",
        {"name": "w", "freq_unit": "WEEK", "freq_interval": 1, "duration_seconds": 1e308},
    ),
    (
        "event-at-out-of-int64",
        "/duck/edge/1/events",
        {"events": [{"id": "x", "type": "ripple_succeeded", "at": -(2**70), "ripple": "numbers"}]},
    ),
    (
        "event-f-out-of-int64",
        "/duck/edge/1/events",
        {"events": [{"id": "y", "type": "run_completed", "at": 0, "f": 2**63, "seq": 1}]},
    ),
]


@pytest.fixture(scope="module")
def edge(start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory) -> Server:
    server = start_server()
    deploy_pond(server, tmp_path_factory.mktemp("projects"), "edge", kind="inlet")
    return server


@pytest.mark.parametrize(
    ("path", "body"), [(p, b) for _, p, b in OUT_OF_RANGE], ids=[i for i, _, _ in OUT_OF_RANGE]
)
def test_an_out_of_range_value_is_422_and_the_pond_still_takes_commands(
    edge: Server, path: str, body: dict[str, Any]
) -> None:
    with edge.client() as client:
        answer = client.post(path, json=body)
        assert answer.status_code == 422, answer.text
        assert client.post("/ponds/edge/untrigger").json() == {"ok": True}
        assert client.get("/ponds/edge/budget").json() == {
            "immediate_retries": 0,
            "source_retries": 0,
        }
        assert client.get("/ponds/edge/windows").json() == {"windows": []}


def test_the_largest_accepted_values_are_stored_and_served(edge: Server) -> None:
    with edge.client() as client:
        assert client.post("/ponds/edge/tide", json={"bound_seconds": 3.1e10}).status_code == 200
        assert client.post("/ponds/edge/untrigger").status_code == 200
        budget = {"immediate_retries": 1_000_000, "source_retries": 1_000_000}
        assert client.post("/ponds/edge/budget", json=budget).json() == {"ok": True}
        assert client.get("/ponds/edge/budget").json() == budget
        window = {"name": "slow", "freq_unit": "WEEK", "freq_interval": 52_000}
        assert client.post("/ponds/edge/windows", json=window).status_code == 200
        assert [w["name"] for w in client.get("/ponds/edge/windows").json()["windows"]] == ["slow"]
        assert client.post("/ponds/edge/windows/slow/remove").status_code == 200
        zero = {"immediate_retries": 0, "source_retries": 0}
        assert client.post("/ponds/edge/budget", json=zero).json() == {"ok": True}
        assert client.get("/ponds/edge/budget").json() == zero


def test_concurrent_commands_and_duck_events_never_fail(edge: Server) -> None:
    """Four clients issue commands, replay Duck events and read status at once, while the
    Pond's own Duck runs a Pulse."""
    pulse_until_published(edge, "edge")
    statuses: Counter[tuple[str, int]] = Counter()
    failures: list[str] = []
    event = {"id": "replayed", "type": "heartbeat", "at": 1}
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/ponds/edge/clear", None),
        ("POST", "/ponds/edge/untrigger", None),
        ("POST", "/ponds/edge/budget", {"immediate_retries": 1}),
        ("POST", "/duck/edge/1/events", {"events": [event]}),
        ("GET", "/status", None),
        ("GET", "/runs", None),
        ("POST", "/ponds/edge/pulse", None),
    ]

    def hammer(offset: int) -> None:
        with edge.client() as client:
            for index in range(60):
                method, path, body = calls[(index + offset) % len(calls)]
                try:
                    status = client.request(method, path, json=body).status_code
                except httpx.TransportError as error:  # a 500 closes the connection
                    failures.append(f"{method} {path}: {error!r}")
                    continue
                statuses[(path, status)] += 1

    threads = [threading.Thread(target=hammer, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert all(status == 200 for (_, status) in statuses), statuses
    with edge.client() as client:
        assert client.post("/ponds/edge/budget", json={"immediate_retries": 0}).status_code == 200
