"""``GET /metrics`` of a real Catchment with real Ducks, read by prometheus_client's own parser:
its figures equal /api/status, its histograms count the runs, it times every route (the
worker protocol's fast lane too), it counts failures across a restart, and it sits behind the
key when one is set."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from e2e.projects import COUNTER, RAISES, chain_projects, write_pond
from e2e.server import Server, status_of

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def scrape(server: Server, key: str | None = None) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{server.url}/metrics", headers=headers, timeout=30)


def parse(text: str) -> dict[str, list[Sample]]:
    """Samples by sample name (``x_total``, ``x_bucket``, …), as Prometheus would store them."""
    found: dict[str, list[Sample]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append(sample)
    return found


def value(found: dict[str, list[Sample]], name: str, **labels: str) -> float | None:
    matching = [
        s.value for s in found[name] if all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else None


def status(server: Server) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        return {p["id"]: p for p in client.get("/status").json()["ponds"]}


def deploy(server: Server, project: Path) -> None:
    server.cli("pond", "deploy", "-y", cwd=project)


def test_metrics_match_the_status_and_time_runs_ripples_and_routes(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    for project in chain_projects(tmp_path):
        deploy(server, project)
    with server.client() as client:
        for runs in (1, 2):
            assert client.post("/ponds/sink/pulse").json() == {"ok": True}
            server.wait_for(
                lambda c, runs=runs: all(
                    p["runs_completed"] >= runs and p["status"] == "idle"
                    for p in c.get("/status").json()["ponds"]
                ),
                timeout=60,
                what=f"pulse {runs} through the chain",
            )
    before = status(server)
    answer = scrape(server)
    after = status(server)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == PROMETHEUS_TEXT
    found = parse(answer.text)

    assert set(before) == {"source@1", "middle@1", "sink@1"}
    for line, pond in before.items():
        assert value(found, "duckstring_line_runs_started_total", line=line) == pond["gen"]
        completed = pond["runs_completed"]
        assert value(found, "duckstring_line_runs_completed_total", line=line) == completed
        assert value(found, "duckstring_line_runs_failed_total", line=line) == 0
        assert value(found, "duckstring_line_failures", line=line) == pond["failures"]
        assert value(found, "duckstring_line_runs_in_flight", line=line) == 0
        assert value(found, "duckstring_line_state", line=line, state=pond["status"]) == 1
        states = [s for s in found["duckstring_line_state"] if s.labels["line"] == line]
        assert sum(s.value for s in states) == 1 and len(states) == 6
        staleness = value(found, "duckstring_line_staleness_seconds", line=line)
        assert staleness is not None
        low, high = pond["staleness_ms"] / 1000, after[line]["staleness_ms"] / 1000
        assert low - 0.001 <= staleness <= high + 0.001
        age = value(found, "duckstring_line_freshness_age_seconds", line=line)
        assert age is not None and abs(age - (staleness - pond["d_ms"] / 1000)) < 1e-6
        info = value(found, "duckstring_line_info", line=line, version="1.0.0", major="1")
        assert info == 1
        # Every run and every Ripple attempt was timed, and only successes happened.
        runs = value(found, "duckstring_pond_run_duration_seconds_count", line=line)
        assert runs == completed >= 2
        assert value(found, "duckstring_pond_run_duration_seconds_sum", line=line) > 0
        inf = value(
            found,
            "duckstring_pond_run_duration_seconds_bucket",
            line=line,
            outcome="success",
            le="+Inf",
        )
        assert inf == completed
        for ripple in pond["ripples"]:
            attempts = value(
                found,
                "duckstring_ripple_duration_seconds_count",
                line=line,
                ripple=ripple["name"],
                outcome="success",
            )
            assert attempts == ripple["runs_completed"] >= 2

    latency = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in found["duckstring_http_request_duration_seconds_count"]
    }
    assert latency.get(("/api/status", "GET", "200"), 0) >= 2, latency
    assert latency[("/api/ponds/{name}/pulse", "POST", "200")] == 2
    # The worker protocol's fast lane answers before the router, and is timed all the same.
    assert latency[("/api/duck/{name}/{major}/jobs", "GET", "200")] >= 3
    assert latency[("/api/duck/{name}/{major}/events", "POST", "200")] >= 3
    assert not [route for route, _, _ in latency if "sink" in route or "@" in route]

    # The Ducks linger after their runs: each is counted, and its memory read.
    assert sum(s.value for s in found["duckstring_ducks"]) >= 1
    resident = {s.labels["line"]: s.value for s in found["duckstring_duck_resident_bytes"]}
    assert resident and set(resident) <= set(before)
    assert all(size > 5 * 1024 * 1024 for size in resident.values()), resident


def test_failures_are_counted_across_a_restart_with_the_retries_left(
    server: Server, tmp_path: Path
) -> None:
    server.connect_cli()
    deploy(server, write_pond(tmp_path, "source", COUNTER, kind="inlet"))
    settings = "immediate_retries = 1\nsource_retries = 2"
    deploy(
        server,
        write_pond(tmp_path, "middle", RAISES, sources={"source": "1.0.0"}, settings=settings),
    )
    with server.client() as client:
        client.post("/ponds/middle/pulse")
    server.wait_for(lambda c: status_of(c, "middle@1")["is_failed"], what="middle to fail")
    middle = status(server)["middle@1"]
    found = parse(scrape(server).text)
    assert value(found, "duckstring_line_state", line="middle@1", state="failed") == 1
    assert value(found, "duckstring_line_failures", line="middle@1") == middle["failures"] == 1
    assert value(found, "duckstring_line_runs_failed_total", line="middle@1") == 1
    assert value(found, "duckstring_line_runs_failed_total", line="source@1") == 0
    # The failure spent no on-change retry; no run is in flight, so the next has its whole
    # immediate budget.
    assert value(found, "duckstring_line_retries_left", line="middle@1", kind="on_change") == 2
    assert value(found, "duckstring_line_retries_left", line="middle@1", kind="immediate") == 1
    failed_attempts = value(
        found,
        "duckstring_ripple_duration_seconds_count",
        line="middle@1",
        ripple="fragile",
        outcome="failed",
    )
    assert failed_attempts == 2  # the attempt and its immediate retry
    failed_runs = value(
        found, "duckstring_pond_run_duration_seconds_count", line="middle@1", outcome="failed"
    )
    assert failed_runs == 1

    server.stop()
    server.start()
    found = parse(scrape(server).text)
    # The count comes from the history; the histograms start again with the process.
    assert value(found, "duckstring_line_runs_failed_total", line="middle@1") == 1
    assert not found["duckstring_pond_run_duration_seconds_count"]


def test_metrics_need_the_key_when_one_is_set(tmp_path: Path) -> None:
    key = "s3cret"
    with Server(root=tmp_path / "root", home=tmp_path / "home", key=key) as server:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}):
            refused = httpx.get(f"{server.url}/metrics", headers=headers, timeout=30)
            assert refused.status_code == 401, headers
            assert "API key" in refused.json()["detail"]
            assert refused.headers["www-authenticate"] == "Bearer"
        answer = scrape(server, key)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == PROMETHEUS_TEXT
        found = parse(answer.text)
        refusals = value(
            found,
            "duckstring_http_request_duration_seconds_count",
            route="unmatched",
            method="GET",
            status="401",
        )
        assert refusals == 3
        assert httpx.get(f"{server.url}/api/health", timeout=30).status_code == 200
