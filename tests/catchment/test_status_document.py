"""The status document is built as plain dicts; it must keep the documented shape."""

import json

from duckstring.catchment.models import Status
from duckstring.catchment.status import status_document
from duckstring.catchment.store.db import Deployment
from duckstring.engine.sim import Simulation


def test_the_status_document_matches_its_model() -> None:
    sim = Simulation()
    sim.deploy("a@1", {"x": [], "y": ["x"]})
    sim.deploy("b@1", sources=["a@1"])
    sim.tide("b@1", 10)
    sim.run_for(1.5)
    lines = {
        line: Deployment(line[:-2], "1.0.0", 1, "pond", {}, [], "p", 0, True)
        for line in ("a@1", "b@1")
    }
    document = status_document(sim.engine, lines, sim.now)
    parsed = Status.model_validate(document)
    assert parsed.model_dump() == document
    assert document["edges"] == [["a@1", "b@1"]]
    b = next(p for p in document["ponds"] if p["id"] == "b@1")
    assert b["trigger"] == {"kind": "tide", "bound_ms": 10_000}
    a = next(p for p in document["ponds"] if p["id"] == "a@1")
    assert a["ripple_edges"] == [["x", "y"]] and a["status"] == "running"


def test_the_cached_document_equals_a_fresh_one_through_every_kind_of_change() -> None:
    """The cache rebuilds a Pond only when its ``gen`` moves: if any change of state forgot
    to bump it, some step below would serve a stale Pond."""
    from duckstring.catchment.status import StatusCache
    from duckstring.engine.windows import WindowRule

    sim = Simulation(
        durations={"a@1": 0.4, "b@1": 0.7, "c@1": 0.3},
        failures={("c@1", "c@1"): lambda attempt: attempt in (1, 2)},
    )
    sim.deploy("a@1", {"x": [], "y": ["x"]})
    sim.deploy("b@1", sources=["a@1"], immediate_retries=1)
    sim.deploy("c@1", sources=["b@1", "w@1?"])
    sim.deploy("w@1")
    lines = {
        line: Deployment(line[:-2], "1.0.0", 1, "pond", {}, [], "p", 0, True)
        for line in ("a@1", "b@1", "c@1", "w@1")
    }
    cache = StatusCache()
    checked = 0

    def check() -> None:
        nonlocal checked
        fresh = status_document(sim.engine, lines, sim.now)
        assert json.loads(cache.document(sim.engine, lines, sim.now)) == fresh
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
    from duckstring.engine.durations import parse_interval

    every = parse_interval("2s")
    sim.command("add_window", "w@1", WindowRule("night", sim.now + 500_000, every, 1_000_000))
    steps(3)
    sim.crash_worker("a@1")
    steps(1)
    sim.command("force", "a@1")
    steps(2)
    sim.command("wake", "w@1")
    steps(1)
    sim.command("untrigger", "c@1")
    steps(2)
    lines["b@1"] = Deployment("b", "1.1.0", 1, "pond", {}, [], "p", 0, True)
    check()
    assert json.loads(cache.document(sim.engine, lines, sim.now))["ponds"][1]["version"] == "1.1.0"
    assert checked > 300
