"""With a key set, every ``/api`` route but health answers 401 without it or with a wrong one.

The routes come from the live OpenAPI document, so a route added later is checked without
anyone remembering to list it here; a second test makes sure no ``/api`` route hides from that
document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from duckstring.catchment.app import create_app
from duckstring.catchment.service import CatchmentConfig
from e2e.server import Server
from security.conftest import KEY, deploy_pond

#: Values for path parameters, so that with the key a request reaches a real Pond.
PATH_VALUES = {
    "name": "guarded",
    "pond": "guarded",
    "major": "1",
    "version": "1.0.0",
    "ripple": "numbers",
    "window": "nightly",
}
#: The worker protocol is part of /api and guarded like the rest.
DUCK_ROUTES = {
    ("GET", "/api/duck/{name}/{major}/jobs"),
    ("POST", "/api/duck/{name}/{major}/events"),
}
WRONG_AUTHORIZATIONS = {
    "missing": None,
    "empty": "",
    "other key": "Bearer not-the-key",
    "key plus a character": f"Bearer {KEY}x",
    "key minus a character": f"Bearer {KEY[:-1]}",
    "key without scheme": KEY,
    "basic scheme": f"Basic {KEY}",
    "token scheme": f"Token {KEY}",
}


@pytest.fixture(scope="module")
def guarded(
    start_server: Callable[..., Server], tmp_path_factory: pytest.TempPathFactory
) -> Server:
    server = start_server(key=KEY)
    deploy_pond(server, tmp_path_factory.mktemp("projects"), "guarded", kind="inlet")
    return server


@pytest.fixture(scope="module")
def operations(guarded: Server) -> list[tuple[str, str]]:
    document = httpx.get(f"{guarded.url}/openapi.json").json()
    found = [
        (method.upper(), path)
        for path, methods in document["paths"].items()
        for method in methods
        if path.startswith("/api/")
    ]
    assert set(found) >= DUCK_ROUTES
    assert len(found) >= 25, found
    return found


def request(client: httpx.Client, method: str, template: str, key: str | None) -> int:
    """The status of one call of the operation, with ``Authorization: key`` (or none)."""
    path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m[1]], template)
    headers = {} if key is None else {"Authorization": key}
    params = {"wait": "0"} if path.endswith("/jobs") else None
    body: dict[str, Any] | None = None
    if method != "GET":
        body = {"events": []} if path.endswith("/events") else {}
    # Streamed, so the archive of the whole root is not downloaded just for its status.
    with client.stream(method, path, headers=headers, params=params, json=body) as answer:
        if answer.status_code == 401:
            assert answer.headers.get("www-authenticate") == "Bearer"
            assert KEY not in answer.read().decode()
        return answer.status_code


def test_health_answers_without_a_key(guarded: Server) -> None:
    answer = httpx.get(f"{guarded.url}/api/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.parametrize("wrong", sorted(WRONG_AUTHORIZATIONS))
def test_every_api_route_but_health_is_401_without_the_right_key(
    guarded: Server, operations: list[tuple[str, str]], wrong: str
) -> None:
    let_through = []
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        for method, path in operations:
            status = request(client, method, path, WRONG_AUTHORIZATIONS[wrong])
            if (status == 401) == (path == "/api/health"):
                let_through.append((method, path, status))
    assert not let_through, f"not 401 without the right key (health must be 200): {let_through}"


def test_every_api_route_answers_with_the_right_key(
    guarded: Server, operations: list[tuple[str, str]]
) -> None:
    refused = []
    with httpx.Client(base_url=guarded.url, timeout=30) as client:
        for method, path in operations:
            status = request(client, method, path, f"Bearer {KEY}")
            if status == 401 or status >= 500:
                refused.append((method, path, status))
    assert not refused, refused


def test_the_key_is_taken_only_from_the_authorization_header(guarded: Server) -> None:
    for attempt in (
        {"params": {"key": KEY}},
        {"params": {"api_key": KEY}},
        {"headers": {"X-API-Key": KEY}},
        {"cookies": {"key": KEY}},
    ):
        answer = httpx.get(f"{guarded.url}/api/status", **attempt)  # type: ignore[arg-type]
        assert answer.status_code == 401, attempt


def test_no_api_route_is_left_out_of_the_openapi_document(tmp_path: Path) -> None:
    """A route hidden from the document would escape the enumeration above."""
    app = create_app(CatchmentConfig(root=tmp_path / "root", api_key=KEY))
    document = app.openapi()
    documented = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
        for method in route.methods
    }
    assert served <= documented, served - documented


def test_the_openapi_document_says_which_routes_need_the_key(tmp_path: Path) -> None:
    document = create_app(CatchmentConfig(root=tmp_path / "root", api_key=KEY)).openapi()
    schemes = document["components"]["securitySchemes"]
    assert [(s["type"], s["scheme"]) for s in schemes.values()] == [("http", "bearer")]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            # /metrics too: Prometheus sends the key as a bearer token.
            needs_key = path == "/metrics" or (path.startswith("/api/") and path != "/api/health")
            assert bool(operation.get("security")) == needs_key, (method, path)


def test_a_malformed_body_without_the_key_is_still_401(guarded: Server) -> None:
    answer = httpx.post(
        f"{guarded.url}/api/ponds/guarded/tide",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 401
