"""Why a line does what it does: every reason kind, on the demo graph and the reference
scenarios, asserting the structured chain (kinds, lines, rules, facts), not sentences."""

from __future__ import annotations

from duckstring.engine.clock import DAY, HOUR, SECOND
from duckstring.engine.durations import parse_interval
from duckstring.engine.explain import (
    CONTROL,
    FAULTS,
    FRESHNESS,
    POND_STATE,
    RULES,
    TRIGGERS,
    WINDOWS,
    Explanation,
    explain,
)
from duckstring.engine.sim import Simulation, always
from duckstring.engine.windows import WindowRule

#: The demo's Ripple durations (seconds), as the Catchment would measure them.
MEASURED = {
    "transactions@1": {"ingest": 1.0},
    "products@1": {"ingest": 0.5},
    "sales@1": {"daily_sales": 1.0, "price_tiers": 0.5, "join_lines": 2.0},
    "reports@1": {"monthly_summary": 1.0},
}

#: Section headings of the engine's rule set; every reason cites one.
SECTIONS = {
    "Freshness",
    "Pond state",
    "Rules",
    "Triggers",
    "Windows (Inlets)",
    "Control verbs (one Pond, no propagation)",
    "Faults",
}


def demo(**options: object) -> Simulation:
    """The demo graph: two Inlets feed sales@1, which feeds reports@1."""
    sim = Simulation(
        durations={
            f"{line}.{ripple}": seconds
            for line, ripples in MEASURED.items()
            for ripple, seconds in ripples.items()
        },
        **options,  # type: ignore[arg-type]
    )
    sim.deploy("transactions@1", {"ingest": []})
    sim.deploy("products@1", {"ingest": []})
    sim.deploy(
        "sales@1",
        {"daily_sales": [], "price_tiers": [], "join_lines": ["daily_sales", "price_tiers"]},
        sources=["transactions@1", "products@1"],
    )
    sim.deploy("reports@1", {"monthly_summary": []}, sources=["sales@1"])
    return sim


def why(sim: Simulation, line: str) -> Explanation:
    explanation = explain(sim.engine, line, sim.now, MEASURED)
    assert {reason.rule for reason in explanation.reasons} <= SECTIONS
    return explanation


def chain(explanation: Explanation) -> list[tuple[str, str, str]]:
    return [(r.kind, r.line, r.rule) for r in explanation.reasons]


def test_an_idle_line_has_no_demand() -> None:
    sim = demo()
    answer = why(sim, "sales@1")
    assert answer.state == "idle"
    assert chain(answer) == [("no_demand", "sales@1", TRIGGERS)]
    assert answer.reasons[0].detail["sinks"] == ["reports@1"]
    assert answer.reasons[0].detail["sinks_holding"] == []


def test_a_queued_sink_holds_the_wave_and_waits_for_the_running_source() -> None:
    sim = demo()
    sim.wave("reports@1")
    sim.run_to(1.3)  # both Inlets are done; sales@1 runs its first run
    answer = why(sim, "reports@1")
    assert answer.state == "queued"
    assert chain(answer) == [
        ("holds_pull", "reports@1", RULES),
        ("waits_for_source", "sales@1", FRESHNESS),
        ("source_running", "sales@1", RULES),
    ]
    held, waits, running = answer.reasons
    assert (held.detail["via"], held.detail["origin"], held.detail["trigger"]) == (
        "wave",
        "reports@1",
        "wave",
    )
    assert waits.detail["source_end_f"] is None and waits.detail["start_f"] is None
    sales = sim.engine.pond("sales@1")
    (run,) = sales.runs.values()
    assert running.detail["seq"] == run.seq == 1
    assert running.detail["ripples"] == ["daily_sales", "price_tiers"]
    # The longest path through sales: max(1.0, 0.5) + 2.0; begun when transactions finished.
    assert running.detail["expected_seconds"] == 3.0
    assert running.detail["expected_done_in"] == 3.0 - (sim.now - run.started_at) / SECOND
    assert run.started_at == sim.seconds(1.0)


def test_a_line_waiting_on_a_newer_source_names_both_freshnesses() -> None:
    sim = demo()
    sim.pulse("reports@1")  # every line ends at the same freshness
    sim.settle()
    sim.run_for(5)
    sim.command("wake", "reports@1")  # local pull: sales@1 is not pulled, so it stays behind
    answer = why(sim, "reports@1")
    assert chain(answer)[:2] == [
        ("holds_pull", "reports@1", CONTROL),
        ("waits_for_source", "sales@1", FRESHNESS),
    ]
    assert answer.reasons[0].detail["local"] is True
    reports, sales = sim.engine.pond("reports@1"), sim.engine.pond("sales@1")
    waits = answer.reasons[1]
    assert waits.detail["source_end_f"] == sales.end_f == reports.start_f
    assert waits.detail["start_f"] == reports.start_f
    assert chain(answer)[2:] == [("no_demand", "sales@1", TRIGGERS)]


def test_a_running_line_names_its_run_cause_and_the_pull_its_ripples_hold() -> None:
    sim = demo()
    sim.wave("reports@1")
    sim.run_to(1.5)
    answer = why(sim, "sales@1")
    assert answer.state == "running"
    assert chain(answer) == [("running", "sales@1", RULES), ("holds_pull", "sales@1", RULES)]
    cause = answer.reasons[0].detail["cause"]
    assert (cause["kind"], cause["by"], cause["via"], cause["trigger"]) == (
        "pull",
        "reports@1",
        "sink",
        "wave",
    )


def test_a_run_waiting_to_publish_is_queued() -> None:
    sim = demo(export_seconds=0.5)
    sim.tap("transactions@1")
    sim.run_to(1.2)  # its Ripple finished at 1.0; the Duck publishes until 1.5
    answer = why(sim, "transactions@1")
    assert answer.state == "queued"
    assert chain(answer) == [("queued", "transactions@1", RULES)]
    assert answer.reasons[0].detail["ripples"] == []
    assert answer.reasons[0].detail["seq"] == 1


def test_a_pulse_is_held_as_a_push_target_all_the_way_up() -> None:
    sim = demo()
    sim.run_to(2)
    sim.pulse("reports@1")
    pulsed = sim.now
    sim.run_for(0.2)
    answer = why(sim, "reports@1")
    assert chain(answer) == [
        ("holds_push", "reports@1", RULES),
        ("waits_for_source", "sales@1", FRESHNESS),
        ("holds_push", "reports@1", RULES),
        ("waits_for_source", "transactions@1", FRESHNESS),
        ("source_running", "transactions@1", RULES),
    ]
    mine, _, relayed, _, _ = answer.reasons
    assert mine.detail["target"] == relayed.detail["target"] == pulsed
    assert (mine.detail["via"], relayed.detail["via"]) == ("pulse", "sink")
    assert relayed.detail["origin"] == "reports@1" and relayed.detail["trigger"] == "pulse"


def test_a_blocked_sink_points_through_its_sources_to_the_root_failure() -> None:
    sim = demo(failures={("products@1", "ingest"): always})
    sim.wave("reports@1")
    sim.run_to(5)
    answer = why(sim, "reports@1")
    assert answer.state == "blocked"
    assert chain(answer) == [
        ("blocked_by", "sales@1", FAULTS),
        ("blocked_by", "products@1", FAULTS),
        ("failed", "products@1", FAULTS),
        ("budget_spent", "products@1", FAULTS),
    ]
    failed = answer.reasons[2].detail
    assert failed["error"] == "ingest raised"
    assert failed["hint"] == "duckstring control clear products"
    assert failed["seq"] == 1 and failed["at"] == sim.seconds(0.5)
    assert answer.reasons[3].detail == {"used": 0, "budget": 0, "failures": 1}


def test_faults_scenario_retries_on_change_then_spends_its_budget() -> None:
    sim = Simulation(failures={("P", "P"): always})
    sim.deploy("S")
    sim.deploy("P", sources=["S"], immediate_retries=1, source_retries=1)
    sim.deploy("K", sources=["P"])
    sim.pulse("K")  # push re-arms nothing: S runs once, P's run fails with nothing newer
    sim.run_for(5)
    first = why(sim, "P")
    assert chain(first) == [
        ("failed", "P", FAULTS),
        ("retries_on_change", "P", FAULTS),
        ("waits_for_source", "S", FRESHNESS),
        ("no_demand", "S", TRIGGERS),
    ]
    assert first.reasons[1].detail == {"used": 0, "budget": 1, "failures": 1}
    sim.tap("S")  # the Source updates: the on-change retry runs and fails again
    sim.settle()
    second = why(sim, "P")
    assert chain(second) == [("failed", "P", FAULTS), ("budget_spent", "P", FAULTS)]
    assert second.reasons[1].detail == {"used": 1, "budget": 1, "failures": 2}
    assert chain(why(sim, "K")) == [("blocked_by", "P", FAULTS), *chain(second)]


def test_a_windowed_inlet_outside_its_window_waits_for_it_to_open() -> None:
    sim = demo()
    nightly = WindowRule("nightly", sim.start + 2 * HOUR, parse_interval("1d"), HOUR)
    sim.engine.add_window("transactions@1", nightly, sim.now)
    sim.wave("reports@1")
    sim.run_to(60)
    answer = why(sim, "transactions@1")
    assert answer.state == "queued"
    assert chain(answer) == [
        ("holds_pull", "sales@1", RULES),
        ("window_closed", "transactions@1", WINDOWS),
    ]
    detail = answer.reasons[1].detail
    assert detail["window"] == "nightly" and detail["opens"] == sim.start + 2 * HOUR
    assert detail["opens_in"] == 2 * 3600 - 60
    # Downstream, the chain ends at the same window.
    assert chain(why(sim, "reports@1"))[-1] == ("window_closed", "transactions@1", WINDOWS)


def test_a_windowed_inlet_that_ran_in_its_window_waits_for_the_next() -> None:
    sim = demo()
    nightly = WindowRule("nightly", sim.start + 2 * HOUR, parse_interval("1d"), HOUR)
    sim.engine.add_window("transactions@1", nightly, sim.now)
    sim.wave("reports@1")
    sim.run_to(2 * 3600 + 30 * 60)
    assert sim.completed["transactions@1"] == 1
    answer = why(sim, "transactions@1")
    assert [r.kind for r in answer.reasons] == ["holds_pull", "window_used"]
    detail = answer.reasons[1].detail
    assert detail["ran_in"] == "nightly"
    assert detail["opens"] == sim.start + DAY + 2 * HOUR


def test_a_cleared_failure_leaves_the_sinks_demand_parked() -> None:
    sim = demo(failures={("products@1", "ingest"): always})
    sim.wave("reports@1")
    sim.run_to(5)
    sim.failures.clear()
    sim.command("clear", "products@1")
    answer = why(sim, "sales@1")
    assert ("parked", "sales@1", CONTROL) in chain(answer)
    assert answer.reasons[0].kind == "holds_pull"


def test_a_killed_line_and_its_blocked_sink() -> None:
    sim = demo()
    sim.wave("reports@1")
    sim.run_to(1.5)
    sim.command("kill", "sales@1")
    assert chain(why(sim, "sales@1")) == [("killed", "sales@1", CONTROL)]
    assert why(sim, "sales@1").reasons[0].detail["hint"] == "duckstring control clear sales"
    assert chain(why(sim, "reports@1")) == [
        ("blocked_by", "sales@1", FAULTS),
        ("killed", "sales@1", CONTROL),
    ]


def test_a_source_not_deployed_counts_as_never() -> None:
    sim = Simulation()
    sim.deploy("reports@1", sources=["sales@1"])
    sim.tap("reports@1")
    answer = why(sim, "reports@1")
    assert chain(answer) == [
        ("holds_pull", "reports@1", RULES),
        ("waits_for_source", "sales@1", FRESHNESS),
        ("not_deployed", "sales@1", POND_STATE),
    ]


def test_an_idle_tide_names_when_it_adds_its_next_target() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 1.0, "C": 1.0})
    sim.deploy("A")
    sim.deploy("B", sources=["A"])
    sim.deploy("C", sources=["B"])
    sim.tide("C", 10)
    sim.run_to(5)
    answer = why(sim, "C")
    assert answer.state == "idle"
    assert chain(answer) == [("tide_waits", "C", TRIGGERS)]
    c = sim.engine.pond("C")
    detail = answer.reasons[0].detail
    assert detail["bound"] == 10.0
    assert detail["due"] == c.start_f + 10 * SECOND == sim.start + 10 * SECOND
    assert detail["due_in"] == 5.0


def test_the_major_is_named_in_the_hint_when_the_pond_has_several_lines() -> None:
    sim = demo(failures={("products@2", "ingest"): always})
    sim.deploy("products@2", {"ingest": []})
    sim.tap("products@2")
    sim.run_to(2)
    answer = why(sim, "products@2")
    assert answer.reasons[0].detail["hint"] == "duckstring control clear products --major 2"


def test_the_summary_joins_the_chain_root_last() -> None:
    sim = demo()
    sim.wave("reports@1")
    sim.run_to(1.5)
    summary = why(sim, "reports@1").summary
    assert summary.startswith("queued: holds pull from the Wave on reports@1 → waits for sales@1")
    assert summary.endswith("expected done in 2.5 s")
