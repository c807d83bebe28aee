"""The worker protocol's lane: it answers well-formed requests of a known line ahead of FastAPI's
router, with the routes' own steps, and hands everything else on to the routes, which answer
the error; the key guards it however the server reports the prefix the app is served under."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send

from duckstring.catchment.app import create_app
from duckstring.catchment.routes.common import route_path
from duckstring.catchment.routes.duck import DuckLane
from duckstring.catchment.service import CatchmentConfig
from duckstring.duck.protocol import (
    POLL_WAIT_MAX,
    BeginRun,
    DuckEvent,
    events_body,
    events_path,
    jobs_path,
    jobs_query,
)

KEY = "lane-key-0123456789"
EVENTS = "/api/duck/solo/1/events"
JOBS = "/api/duck/solo/1/jobs"


class HandedOn:
    """Stands between the lane and the router, noting the paths the lane handed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def deployed(client: TestClient, start: str = "", headers: dict[str, str] | None = None) -> None:
    """Deploy the Pond ``solo`` (one Ripple) through the API."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as entries:
        entries.writestr("pond.toml", '[pond]\nname = "solo"\nversion = "1.0.0"\n')
        entries.writestr(
            "src/pond.py", "from duckstring import ripple\n\n@ripple\ndef a(pond):\n    pass\n"
        )
    answer = client.post(
        f"{start}/api/deploy",
        files={"pond": ("pond.zip", archive.getvalue(), "application/zip")},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text


def watch_lane(app: FastAPI) -> HandedOn:
    node: Any = app.middleware_stack
    while not isinstance(node, DuckLane):
        node = node.app
    watcher = HandedOn(node.app)
    node.app = watcher
    return watcher


@contextlib.contextmanager
def lane_bypassed(app: FastAPI) -> Iterator[None]:
    """Requests go past the lane, straight to the routes (the key check still first)."""
    node: Any = app.middleware_stack
    while not isinstance(node.app, DuckLane):
        node = node.app
    lane = node.app
    node.app = lane.app
    try:
        yield
    finally:
        node.app = lane


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_app(CatchmentConfig(root=tmp_path_factory.mktemp("lane") / "root"))
    with TestClient(app) as client:
        deployed(client)
        yield app, client


@pytest.fixture
def handed_on(served: tuple[FastAPI, TestClient]) -> HandedOn:
    return watch_lane(served[0])


def begin(seq: int) -> BeginRun:
    return BeginRun(seq=seq, f=1_000_000 * seq, version="1.0.0", kind="pull", immediate_retries=0)


def test_the_lane_answers_a_poll_and_an_event_post_without_the_router(
    served: tuple[FastAPI, TestClient], handed_on: HandedOn
) -> None:
    app, client = served
    board = app.state.catchment.board
    for seq in (7, 8):
        board.post("solo@1", begin(seq))
    answer = client.get(JOBS, params={"duck": "d1", "wait": "0", "held": ["7", "9"]})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"commands": [begin(8).model_dump()]}
    event = {"id": "heartbeat:lane", "type": "heartbeat", "at": 1, "busy": True}
    posted = client.post(EVENTS, json={"events": [event]})
    assert (posted.status_code, posted.json()) == (200, {"ok": True})
    charset = client.post(
        EVENTS,
        content=json.dumps({"events": [{**event, "id": "heartbeat:charset"}]}),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 200, charset.text
    assert handed_on.paths == []


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", JOBS, {"params": {"wait": "x"}}, 422),
        ("GET", JOBS, {"params": {"wait": "61"}}, 422),
        ("GET", JOBS, {"params": {"wait": "0", "held": "seven"}}, 422),
        ("GET", "/api/duck/nobody/1/jobs", {"params": {"wait": "0"}}, 404),
        ("POST", JOBS, {}, 405),
        ("GET", EVENTS, {}, 405),
        ("POST", EVENTS, {"content": b"{not json"}, 422),
        ("POST", EVENTS, {"json": {"events": [{"id": "x", "type": "no such type", "at": 1}]}}, 422),
        ("POST", "/api/duck/nobody/1/events", {"json": {"events": []}}, 404),
    ],
    ids=[
        "wait-not-a-number",
        "wait-over-60",
        "held-not-a-number",
        "jobs-of-unknown-line",
        "jobs-posted",
        "events-read",
        "events-not-json",
        "event-of-unknown-type",
        "events-of-unknown-line",
    ],
)
def test_what_the_lane_does_not_answer_goes_to_the_routes_and_they_answer_the_error(
    served: tuple[FastAPI, TestClient],
    handed_on: HandedOn,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    answer = served[1].request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    assert "detail" in answer.json()
    assert handed_on.paths == [path]


def test_a_body_the_lane_read_and_refused_reaches_the_route_whole(
    served: tuple[FastAPI, TestClient], handed_on: HandedOn
) -> None:
    """The route's 422 names the event: it read the very body the lane had already read."""
    event = {"id": "too-late", "type": "run_completed", "at": 0, "f": 2**63, "seq": 1}
    answer = served[1].post(EVENTS, json={"events": [event]})
    assert answer.status_code == 422
    assert answer.json() == {"detail": "event 'too-late': f is out of range"}
    assert handed_on.paths == [EVENTS]


def test_the_route_path_drops_the_prefix_only_where_the_server_put_it() -> None:
    def scope(path: str, root_path: str) -> Scope:
        return {"type": "http", "path": path, "root_path": root_path}

    assert route_path(scope("/catchment/api/status", "/catchment")) == "/api/status"
    assert route_path(scope("/api/status", "/catchment")) == "/api/status"
    assert route_path(scope("/catchmentx/api/status", "/catchment")) == "/catchmentx/api/status"
    assert route_path(scope("/catchment", "/catchment")) == ""
    assert route_path(scope("/api/status", "")) == "/api/status"


@pytest.mark.parametrize("prefixed", [True, False], ids=["path-with-prefix", "path-without"])
def test_the_key_guards_the_lane_however_the_server_reports_the_prefix(
    tmp_path: Path, prefixed: bool
) -> None:
    """Some servers put the prefix an app is served under in the path, some do not; the router
    matches either way, so the key check must too (it runs before the lane)."""
    app = create_app(CatchmentConfig(root=tmp_path / "root", api_key=KEY))
    with TestClient(app, root_path="/catchment") as client:
        start = "/catchment" if prefixed else ""
        key = {"Authorization": f"Bearer {KEY}"}
        deployed(client, start, key)
        body = {"events": [{"id": "heartbeat:guard", "type": "heartbeat", "at": 1}]}
        refused = client.post(f"{start}{EVENTS}", json=body)
        assert refused.status_code == 401
        refused = client.get(f"{start}{JOBS}", params={"wait": "0"})
        assert refused.status_code == 401
        assert client.post(f"{start}{EVENTS}", json=body, headers=key).status_code == 200
        assert client.get(f"{start}/api/health").status_code == 200


@pytest.mark.parametrize("through", ["lane", "routes"])
def test_what_the_duck_client_writes_the_lane_and_the_routes_answer_alike(
    served: tuple[FastAPI, TestClient], handed_on: HandedOn, through: str
) -> None:
    """A poll and an event post as the Duck's client writes them (the protocol's builders), for
    any wait, held runs and Duck id: the lane answers them itself, and the routes, asked the
    same, answer the same."""
    app, client = served
    board = app.state.catchment.board
    bypass = lane_bypassed(app) if through == "routes" else contextlib.nullcontext()

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        duck=st.text(max_size=12),
        wait=st.floats(0, POLL_WAIT_MAX),
        held=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
    )
    def poll(duck: str, wait: float, held: list[int]) -> None:
        new = max(held, default=0) + 1  # not held: the answer, whatever the wait
        for seq in [*held, new]:
            board.post("solo@1", begin(seq))
        answer = client.get(f"{jobs_path('solo', 1)}?{jobs_query(duck, wait, held)}")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"commands": [begin(new).model_dump()]}

    with bypass:
        poll()
        event = DuckEvent(id=f"heartbeat:{through}:1", type="heartbeat", at=1, busy=True)
        posted = client.post(
            events_path("solo", 1),
            content=events_body([event.model_dump_json()]),
            headers={"content-type": "application/json"},
        )
    assert (posted.status_code, posted.json()) == (200, {"ok": True})
    # Past the lane, every request reached the routes; through it, none did.
    assert set(handed_on.paths) == (set() if through == "lane" else {JOBS, EVENTS})


@pytest.mark.parametrize("through", ["lane", "routes"])
def test_a_replayed_event_changes_nothing(served: tuple[FastAPI, TestClient], through: str) -> None:
    """A worker error reported again after the Duck started a new attempt (its outbox resent
    after a lost answer) must not cancel that attempt: each (line, event id) applies once."""
    app, client = served
    f = 1_767_225_600_000_000

    def post(*events: dict[str, Any]) -> None:
        answer = client.post(EVENTS, json={"events": list(events)})
        assert answer.status_code == 200, answer.text

    def ripple_a() -> str:
        (pond,) = client.get("/api/status").json()["ponds"]
        (ripple,) = pond["ripples"]
        return str(ripple["status"])

    def started(seq: int) -> dict[str, Any]:
        attempt = {"seq": seq, "f": f + seq, "ripple": "a", "attempt": 0}
        return {"id": f"ripple_started:{seq}:a:0", "type": "ripple_started", "at": f, **attempt}

    error = {"id": f"worker_error:{through}:1", "type": "worker_error", "at": f, "error": "x"}
    first = 100 if through == "lane" else 200
    with lane_bypassed(app) if through == "routes" else contextlib.nullcontext():
        post(started(first))
        post(error)
        assert ripple_a() == "idle"  # the error ended the attempt
        post(started(first + 1))
        post(error)
        assert ripple_a() == "running"
