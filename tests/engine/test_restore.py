"""Engine state survives a round trip through plain rows and continues identically."""

import copy
import json

from duckstring.engine.clock import HOUR
from duckstring.engine.durations import parse_interval
from duckstring.engine.rows import engine_rows, restore
from duckstring.engine.sim import Simulation, always
from duckstring.engine.windows import WindowRule


def build() -> Simulation:
    sim = Simulation(
        durations={"A": 1.0, "B": 3.0, "C": 1.5, "W": 0.5},
        failures={("F", "F"): always},
        seed=7,
    )
    sim.deploy("A", {"a1": [], "a2": ["a1"], "a3": ["a1"], "a4": ["a2", "a3"]})
    sim.deploy("B", sources=["A"])
    sim.deploy("W")
    sim.engine.add_window("W", WindowRule("h", sim.start, parse_interval("1h"), HOUR // 2), sim.now)
    sim.deploy("F", sources=["W"], immediate_retries=1, source_retries=1)
    sim.deploy("C", sources=["B", "W", "F?"])
    sim.deploy("D", sources=["F"])
    sim.wave("C")
    sim.tide("D", 600)
    return sim


def comparable(rows: dict) -> dict:
    return copy.deepcopy(rows)


def test_restore_mid_wave_continues_identically() -> None:
    original = build()
    original.run_to(47.5)  # mid-run: Ripples busy, runs in flight, a failure held
    engine = original.engine
    assert any(p.runs for p in engine.ponds.values())
    assert engine.pond("F").is_failed

    twin = copy.deepcopy(original)
    rows = json.loads(json.dumps(engine_rows(twin.engine)))  # plain rows only
    twin.engine = restore(rows, twin.now)
    assert twin.engine.drain() == []
    assert comparable(engine_rows(twin.engine)) == comparable(engine_rows(engine))
    assert twin.engine.next_deadline() == engine.next_deadline()

    original.run_to(3 * 3600)
    twin.run_to(3 * 3600)
    cut = len([r for r in original.timeline if r.at <= original.seconds(47.5)])
    assert twin.timeline[cut:] == original.timeline[cut:]
    assert len(original.timeline) - cut > 1000
    assert comparable(engine_rows(twin.engine)) == comparable(engine_rows(original.engine))


def test_in_flight_runs_are_listed_for_redispatch() -> None:
    sim = build()
    sim.run_to(2.5)
    restored = restore(engine_rows(sim.engine), sim.now)
    listed = {(pond, run.seq, run.f) for pond, run in restored.in_flight_runs()}
    expected = {
        (p.id, run.seq, run.f)
        for p in sim.engine.ponds.values()
        for run in p.runs.values()
        if run.status == "running"
    }
    assert listed == expected and listed
