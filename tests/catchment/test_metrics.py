"""The metrics of the lines in sim time: what they show equals /api/status, the text kept per
line equals a fresh rendering through every kind of change, the timings observe only what
committed, and the request timer labels by route template."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from duckstring.catchment.line_metrics import (
    KEPT_HEADERS,
    LINE_STATES,
    LineMetrics,
    LineSnapshot,
    clock_families,
    render,
)
from duckstring.catchment.request_timer import (
    ROUTE_KEY,
    RequestLatency,
    RequestTimer,
    RouteTemplates,
)
from duckstring.catchment.status import status_document
from duckstring.catchment.store.db import Deployment
from duckstring.catchment.timings import RunTimings
from duckstring.engine.clock import SECOND
from duckstring.engine.durations import parse_interval
from duckstring.engine.sim import Simulation
from duckstring.engine.windows import WindowRule


def deployment(line: str, version: str = "1.0.0") -> Deployment:
    return Deployment(line[:-2], version, 1, "pond", {}, [], "p", 0, True)


def samples(text: bytes) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text.decode()):
        yield from family.samples


def by_line(text: bytes, name: str, **labels: str) -> dict[str, float]:
    return {
        s.labels["line"]: s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    }


def assert_matches_status(text: bytes, sim: Simulation, lines: dict[str, Deployment]) -> None:
    status = {p["id"]: p for p in status_document(sim.engine, lines, sim.now)["ponds"]}
    assert by_line(text, "duckstring_line_runs_started_total") == {
        line: p["gen"] for line, p in status.items()
    }
    assert by_line(text, "duckstring_line_runs_completed_total") == {
        line: p["runs_completed"] for line, p in status.items()
    }
    assert by_line(text, "duckstring_line_failures") == {
        line: p["failures"] for line, p in status.items()
    }
    for state in LINE_STATES:
        assert by_line(text, "duckstring_line_state", state=state) == {
            line: float(p["status"] == state) for line, p in status.items()
        }
    staleness = by_line(text, "duckstring_line_staleness_seconds")
    assert staleness.keys() == {line for line, p in status.items() if p["staleness_ms"] is not None}
    for line, seconds in staleness.items():
        assert round(seconds * 1000) == status[line]["staleness_ms"]
        age = by_line(text, "duckstring_line_freshness_age_seconds")[line]
        assert age == pytest.approx(seconds - status[line]["d_ms"] / 1000)


def test_the_kept_text_equals_a_fresh_rendering_and_status_through_every_kind_of_change() -> None:
    """Each line's text is kept until its ``rev`` moves: if a change forgot to bump it, some
    step below would serve that line's old figures."""
    sim = Simulation(
        durations={"a@1": 0.4, "b@1": 0.7, "c@1": 0.3},
        failures={("c@1", "c@1"): lambda attempt: attempt in (1, 2)},
    )
    sim.deploy("a@1", {"x": [], "y": ["x"]})
    sim.deploy("b@1", sources=["a@1"], immediate_retries=1)
    sim.deploy("c@1", sources=["b@1", "w@1?"])
    sim.deploy("w@1")
    lines = {line: deployment(line) for line in ("a@1", "b@1", "c@1", "w@1")}
    timings = RunTimings()
    kept = LineMetrics(timings)
    checked = 0

    def check() -> None:
        nonlocal checked
        text = kept.snapshot(sim.engine, lines, sim.now).render()
        fresh = LineMetrics(timings).snapshot(sim.engine, lines, sim.now).render()
        assert text == fresh
        assert_matches_status(text, sim, lines)
        checked += 1

    def steps(seconds: float) -> None:
        for _ in range(round(seconds / 0.05)):
            sim.run_for(0.05)
            check()

    check()
    sim.pulse("c@1")
    steps(3)
    sim.wave("c@1")
    steps(4)
    sim.command("kill", "b@1")
    check()
    sim.command("clear", "b@1")
    steps(1)
    sim.command("sleep", "c@1", upstream=True)
    steps(1)
    sim.tide("c@1", 2)
    steps(3)
    sim.command("set_budget", "b@1", immediate_retries=3, source_retries=2)
    check()
    every = parse_interval("2s")
    sim.command("add_window", "w@1", WindowRule("night", sim.now + 500_000, every, 1_000_000))
    steps(3)
    sim.crash_worker("a@1")
    steps(1)
    sim.command("force", "a@1")
    steps(2)
    sim.command("untrigger", "c@1")
    steps(2)
    lines["b@1"] = deployment("b@1", "1.1.0")
    check()
    text = kept.snapshot(sim.engine, lines, sim.now).render()
    info = [s for s in samples(text) if s.name == "duckstring_line_info"]
    assert {s.labels["line"]: s.labels["version"] for s in info}["b@1"] == "1.1.0"
    timings.run_began("a@1", 99, sim.now)
    timings.run_ended("a@1", 99, sim.now + 2 * SECOND, "success")
    timings.commit()
    check()  # an observation alone (no change of state) re-renders the line
    assert checked > 300


def test_only_lines_that_changed_are_rendered_again() -> None:
    sim = Simulation(durations={"a@1": 1.0})
    sim.deploy("a@1")
    sim.deploy("b@1")
    lines = {line: deployment(line) for line in ("a@1", "b@1")}
    metrics = LineMetrics(RunTimings())
    first = metrics.snapshot(sim.engine, lines, sim.now)
    assert [figures.line for figures, _, _ in first.changed] == ["a@1", "b@1"]
    first.render()
    assert metrics.snapshot(sim.engine, lines, sim.now).changed == []
    sim.pulse("a@1")
    again = metrics.snapshot(sim.engine, lines, sim.now)
    assert [figures.line for figures, _, _ in again.changed] == ["a@1"]
    again.render()
    del lines["b@1"]  # undeployed: its text goes
    text = metrics.snapshot(sim.engine, lines, sim.now).render()
    assert set(by_line(text, "duckstring_line_info")) == {"a@1"}
    assert "b@1" not in metrics.kept


def test_retries_left_count_down_with_each_failure_and_retry() -> None:
    sim = Simulation(
        durations={"s@1": 0.1, "p@1": 1.0}, failures={("p@1", "p@1"): lambda attempt: True}
    )
    sim.deploy("s@1")
    sim.deploy("p@1", sources=["s@1"], immediate_retries=1, source_retries=2)
    lines = {line: deployment(line) for line in ("s@1", "p@1")}
    timings = RunTimings()
    metrics = LineMetrics(timings)

    def left() -> tuple[float, float]:
        text = metrics.snapshot(sim.engine, lines, sim.now).render()
        return (
            by_line(text, "duckstring_line_retries_left", kind="immediate")["p@1"],
            by_line(text, "duckstring_line_retries_left", kind="on_change")["p@1"],
        )

    assert left() == (1, 2)
    sim.pulse("p@1")
    sim.run_for(0.5)  # s ran; p's first attempt is running
    assert left() == (1, 2)
    # Its Duck reports the first attempt failed and retried: that spends the run's budget.
    (seq,) = sim.engine.pond("p@1").runs
    timings.attempt_ended("p@1", seq, "p@1", 0, sim.now, "failed", retrying=True)
    timings.commit()
    assert left() == (0, 2)
    sim.run_for(2.0)  # the retry failed too: the run failed, which spends no on-change retry
    assert sim.engine.pond("p@1").failures == 1
    assert left() == (1, 2)  # no run in flight: the next one gets the whole immediate budget
    for spent in (1, 2, 3):
        sim.pulse("s@1")  # new input: a retry on change while the budget lasts; it fails too
        sim.run_for(3.0)
        assert sim.engine.pond("p@1").failures == 1 + min(spent, 2)
        assert left() == (1, max(0, 2 - spent))


def test_timings_observe_only_what_committed() -> None:
    timings = RunTimings()
    timings.run_began("a@1", 1, 0)
    timings.discard()  # rolled back: the run never began
    timings.run_ended("a@1", 1, 5 * SECOND, "success")
    timings.commit()
    runs = {s.name: s.value for s in samples_of(timings.of("a@1").runs.collect())}
    assert runs.get("duckstring_pond_run_duration_seconds_count", 0) == 0

    timings.run_began("a@1", 2, 10 * SECOND)
    timings.attempt_started("a@1", 2, "x", 0, 10 * SECOND)
    timings.attempt_ended("a@1", 2, "x", 0, 10 * SECOND + 300_000, "failed")
    timings.attempt_started("a@1", 2, "x", 1, 11 * SECOND)
    assert timings.version("a@1") == 1  # the first run ended, though its start was unknown
    timings.commit()
    timings.run_ended("a@1", 2, 13 * SECOND, "failed")
    timings.commit()
    line = timings.of("a@1")
    assert line.failed == 1 and timings.version("a@1") == 3
    runs = {
        (s.name, s.labels.get("outcome"), s.labels.get("le")): s.value
        for s in samples_of(line.runs.collect())
    }
    assert runs[("duckstring_pond_run_duration_seconds_count", "failed", None)] == 1
    assert runs[("duckstring_pond_run_duration_seconds_sum", "failed", None)] == 3.0
    assert runs[("duckstring_pond_run_duration_seconds_bucket", "failed", "1.0")] == 0
    assert runs[("duckstring_pond_run_duration_seconds_bucket", "failed", "5.0")] == 1
    ripples = {
        (s.name, s.labels.get("ripple"), s.labels.get("outcome")): s.value
        for s in samples_of(line.ripples.collect())
    }
    assert ripples[("duckstring_ripple_duration_seconds_sum", "x", "failed")] == 0.3
    # The second attempt never reported its end (its Duck died): its start is forgotten with
    # the run, not kept for ever.
    timings.attempt_ended("a@1", 2, "x", 1, 20 * SECOND, "success")
    timings.commit()
    assert ("duckstring_ripple_duration_seconds_count", "x", "success") not in {
        (s.name, s.labels.get("ripple"), s.labels.get("outcome"))
        for s in samples_of(line.ripples.collect())
    }


def samples_of(families: Any) -> list[Sample]:
    return [sample for family in families for sample in family.samples]


class _Route:
    def __init__(self, path: str) -> None:
        self.path = path


def _app(status: int, route: _Route | None, lane: str | None = None) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if lane is not None:
            scope[ROUTE_KEY] = lane
        elif route is not None:
            scope["route"] = route  # what the router writes, as the route was declared
        if status == 0:
            raise RuntimeError("the handler broke")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def _request(app: Any, method: str = "GET") -> None:
    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    asyncio.run(app({"type": "http", "method": method, "path": "/x"}, receive, send))


def test_the_request_timer_labels_by_route_template_method_and_status() -> None:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    latency = RequestLatency(registry)
    templates = RouteTemplates()
    pond, deploy, status = _Route("/ponds/{name}"), _Route("/deploy"), _Route("/status")
    templates.include([pond, deploy, status], "/api")

    def timed(status_code: int, route: _Route | None, lane: str | None = None) -> Any:
        return RequestTimer(_app(status_code, route, lane), latency, templates)

    _request(timed(200, pond))
    _request(timed(200, pond))
    _request(timed(404, None))
    _request(timed(200, None, lane="/api/duck/{name}/{major}/jobs"))
    _request(timed(422, deploy), method="POST")
    _request(timed(200, _Route("/ui/{asset}")))  # included with no prefix
    with pytest.raises(RuntimeError):
        _request(timed(0, status))
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in samples_of(registry.collect())
        if s.name == "duckstring_http_request_duration_seconds_count"
    }
    assert counts == {
        ("/api/ponds/{name}", "GET", "200"): 2,
        ("unmatched", "GET", "404"): 1,
        ("/api/duck/{name}/{major}/jobs", "GET", "200"): 1,
        ("/api/deploy", "POST", "422"): 1,
        ("/ui/{asset}", "GET", "200"): 1,
        ("/api/status", "GET", "500"): 1,
    }


@pytest.mark.parametrize("line", ["sales@1", 'odd"name\\@2'])
def test_the_clock_families_are_byte_for_byte_what_the_client_writes(line: str) -> None:
    """The freshness age and staleness are written from kept prefixes; the document must be
    what prometheus_client renders from the families themselves, whatever the values."""
    metrics = LineMetrics(RunTimings())
    values = [(0.0, 0.5), (1e-7, 12345678.25), (3.0, -2.0), (float("inf"), 1e21)]
    snapshot = LineSnapshot(metrics, [], [], [(line, age, stale) for age, stale in values])
    age, staleness = clock_families()
    for seconds_old, seconds_stale in values:
        age.add_metric([line], seconds_old)
        staleness.add_metric([line], seconds_stale)
    # No line has kept text here: the kept families are their headers alone.
    assert snapshot.render() == b"".join(KEPT_HEADERS) + render([age, staleness])


def test_a_large_document_is_sent_in_chunks_that_join_to_it() -> None:
    from collections import Counter

    from prometheus_client import generate_latest

    from duckstring.catchment.metrics import CHUNK, CatchmentMetrics, FleetSnapshot

    metrics = CatchmentMetrics()
    lines = [f"p{i:04d}@1" for i in range(3000)]
    clock = [(line, float(i), float(i) / 2) for i, line in enumerate(lines)]
    snapshot = LineSnapshot(metrics.lines, [], [], clock)
    fleet = FleetSnapshot(Counter(), 0, {}, dict, {})
    chunks = metrics._render(snapshot, fleet)
    whole = snapshot.render() + fleet.render() + generate_latest(metrics.registry)
    assert len(chunks) > 1 and b"".join(chunks) == whole
    assert all(len(chunk) < 2 * CHUNK for chunk in chunks)
