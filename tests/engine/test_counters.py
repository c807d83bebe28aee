"""``gen`` / ``runs_completed`` per Pond and per Ripple, and Ripple state from dispatch.

On the wire, ``gen`` is the number of Runs started (a client computes runs in flight as
``gen - runs_completed``); an immediate Ripple retry is the same Ripple Run, a deploy or demand
starts none.
"""

from __future__ import annotations

from duckstring.engine.clock import SECOND
from duckstring.engine.core import Engine
from duckstring.engine.effects import RunBegan
from duckstring.engine.ripples import RippleSpec
from duckstring.engine.sim import Simulation, always

T0 = 1_767_571_200 * SECOND


def counters(sim: Simulation, pond: str) -> tuple[int, int]:
    p = sim.engine.pond(pond)
    return p.gen, p.runs_completed


def ripple_counters(sim: Simulation, pond: str) -> dict[str, tuple[int, int]]:
    return {n.name: (n.gen, n.runs_completed) for n in sim.engine.pond(pond).ripples.order}


def test_a_fresh_line_counts_nothing_and_a_pulse_then_a_force_count_one_run_each() -> None:
    sim = Simulation()
    sim.deploy("A", {"x": [], "y": ["x"]})
    assert counters(sim, "A") == (0, 0)
    sim.pulse("A")
    assert counters(sim, "A") == (1, 0)  # in flight: gen - runs_completed == 1
    sim.settle()
    assert counters(sim, "A") == (1, 1)
    assert ripple_counters(sim, "A") == {"x": (1, 1), "y": (1, 1)}
    sim.command("force", "A")
    sim.settle()
    assert counters(sim, "A") == (2, 2)
    assert ripple_counters(sim, "A") == {"x": (2, 2), "y": (2, 2)}


def test_demand_deploys_and_clear_start_no_run_and_count_none() -> None:
    sim = Simulation(failures={("B", "B"): always})
    sim.deploy("A")
    sim.deploy("B", sources=["A"])
    sim.pulse("B")
    sim.settle()
    assert counters(sim, "A") == (1, 1) and counters(sim, "B") == (1, 0)
    sim.command("clear", "B")
    sim.deploy("B", sources=["A"])
    sim.deploy("A")
    sim.command("set_budget", "B", immediate_retries=3)
    sim.run_for(60)
    assert counters(sim, "A") == (1, 1) and counters(sim, "B") == (1, 0)


def test_an_immediate_retry_is_the_same_ripple_run_and_the_same_pond_run() -> None:
    sim = Simulation(failures={("A", "y"): lambda attempt: attempt == 0})
    sim.deploy("A", {"x": [], "y": ["x"]}, immediate_retries=1)
    sim.pulse("A")
    sim.settle()
    assert len(sim.events_of("A", "ripple_started")) == 3  # x, y, y again
    assert counters(sim, "A") == (1, 1)
    assert ripple_counters(sim, "A") == {"x": (1, 1), "y": (1, 1)}


def test_retry_on_change_counts_a_new_pond_run() -> None:
    sim = Simulation(failures={("B", "B"): always})
    sim.deploy("A")
    sim.deploy("B", sources=["A"], source_retries=1)
    sim.pulse("B")
    sim.settle()
    sim.pulse("A")  # the Source updates: B retries once on change
    sim.settle()
    assert counters(sim, "B") == (2, 0)
    assert ripple_counters(sim, "B") == {"B": (2, 0)}


def test_ripples_are_running_from_dispatch_before_any_duck_event() -> None:
    engine = Engine()
    specs = [RippleSpec("x"), RippleSpec("z"), RippleSpec("y", ("x",))]
    engine.deploy("A@1", specs, [], T0)
    engine.pulse("A@1", T0)
    (began,) = [e for e in engine.drain() if isinstance(e, RunBegan)]
    p = engine.pond("A@1")
    nodes = p.ripples.nodes
    # Roots run at once; y waits for its parent's output: it holds a target it cannot meet.
    assert (nodes["x"].busy, nodes["z"].busy, nodes["y"].busy) == (True, True, False)
    assert nodes["y"].targets == [began.f]
    assert p.status == "running" and (p.gen, p.runs_completed) == (1, 0)
    # The Duck's own start events confirm what the Catchment already shows: no change.
    engine.ripple_started("A@1", "x", began.f, T0 + 1)
    assert nodes["x"].gen == 1
    engine.ripple_succeeded("A@1", "x", T0 + SECOND)
    assert nodes["y"].busy and nodes["y"].gen == 1  # x's output lets y run
    engine.ripple_started("A@1", "y", began.f, T0 + SECOND)
    engine.ripple_succeeded("A@1", "z", T0 + SECOND)
    engine.ripple_succeeded("A@1", "y", T0 + 2 * SECOND)
    # Every Ripple is done; the run waits for its publish: in flight, not running.
    assert not p.ripples.any_busy and p.status == "queued"
    engine.run_completed("A@1", began.f, T0 + 3 * SECOND, seq=began.seq)
    assert p.status == "idle" and (p.gen, p.runs_completed) == (1, 1)
    assert {n.name: (n.gen, n.runs_completed) for n in p.ripples.order} == {
        "x": (1, 1),
        "z": (1, 1),
        "y": (1, 1),
    }


def test_a_ripple_holding_pull_reads_queued_and_a_redeploy_keeps_the_counters() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.deploy("B", {"b1": [], "b2": ["b1"]}, sources=["A"])
    sim.tap("B")
    b = sim.engine.pond("B")
    assert all(n.has_pull for n in b.ripples.order) and b.status == "queued"
    sim.settle()
    before, pond_before = ripple_counters(sim, "B"), counters(sim, "B")
    assert pond_before[0] >= 1 and before["b1"] == (pond_before[0], pond_before[1])
    sim.deploy("B", {"b1": [], "b2": ["b1"], "b3": ["b2"]}, sources=["A"])
    assert ripple_counters(sim, "B") == {**before, "b3": (0, 0)}
    assert counters(sim, "B") == pond_before
