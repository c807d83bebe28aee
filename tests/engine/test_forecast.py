"""Forecasts in sim time: the engine's simulator run ahead on a copy of a graph, on the demo
pipeline (transactions 1 s and products 2 s feed sales: daily_sales 2 s and price_tiers 1 s
into join_lines 3 s, the bottleneck; reports 1 s reads sales)."""

from __future__ import annotations

from datetime import timedelta

from duckstring.engine.clock import DAY, SECOND, from_micros, to_micros
from duckstring.engine.core import Engine
from duckstring.engine.durations import parse_interval
from duckstring.engine.forecast import (
    DEFAULT_RIPPLE_SECONDS,
    Bottleneck,
    forecast,
)
from duckstring.engine.rows import engine_rows
from duckstring.engine.sim import Simulation, always
from duckstring.engine.windows import WindowRule

MEASURED = {
    "transactions": {"ingest": 1.0},
    "products": {"ingest": 2.0},
    "sales": {"daily_sales": 2.0, "price_tiers": 1.0, "join_lines": 3.0},
    "reports": {"monthly_summary": 1.0},
}
JOIN_LINES = Bottleneck("sales", "join_lines", 3.0)


def demo(**options: object) -> Simulation:
    sim = Simulation(
        durations={
            f"{pond}.{ripple}": seconds
            for pond, ripples in MEASURED.items()
            for ripple, seconds in ripples.items()
        },
        **options,  # type: ignore[arg-type]
    )
    sim.deploy("transactions", {"ingest": []})
    sim.deploy("products", {"ingest": []})
    sim.deploy(
        "sales",
        {"daily_sales": [], "price_tiers": [], "join_lines": ["daily_sales", "price_tiers"]},
        sources=["transactions", "products"],
    )
    sim.deploy("reports", {"monthly_summary": []}, sources=["sales"])
    return sim


def published(sim: Simulation, pond: str) -> list[int]:
    """Instants at which the line's endF advanced in ``sim`` (several runs at once count once)."""
    return sorted({r.at for r in sim.events_of(pond, "completed")})


def busy_since(sim: Simulation) -> dict[tuple[str, str], int]:
    """When each Ripple's latest attempt started (what the Catchment's history records)."""
    return {(r.pond, r.ripple or ""): r.at for r in sim.timeline if r.event == "ripple_started"}


def test_a_wave_on_the_demo_settles_into_the_bottleneck_cadence() -> None:
    sim = demo()
    sim.wave("reports")
    rows = engine_rows(sim.engine)
    predicted = forecast(rows, "reports", sim.now, MEASURED)
    assert predicted.trigger == "wave"
    assert predicted.cadence is not None and abs(predicted.cadence - 3.0) <= 0.3
    assert predicted.bottleneck == JOIN_LINES
    assert predicted.holds is None and predicted.bound is None and predicted.reason is None
    assert predicted.assumed == ()
    # The live engine was not touched, and it then does what was forecast.
    assert engine_rows(sim.engine) == rows
    sim.run_for(60)
    actual = published(sim, "reports")
    assert predicted.next_fresh == actual[0] == sim.start + 8 * SECOND  # the critical path
    assert list(predicted.outputs) == actual[: len(predicted.outputs)]


def test_runs_in_flight_finish_their_remaining_expected_time() -> None:
    sim = demo()
    sim.wave("reports")
    sim.run_for(20.5)  # mid-cycle: Ripples of several lines are running
    running = [p.id for p in sim.engine.ponds.values() if p.ripples.any_busy]
    assert running, "the scenario must catch runs in flight"
    predicted = forecast(
        engine_rows(sim.engine), "reports", sim.now, MEASURED, running_since=busy_since(sim)
    )
    at = sim.now
    sim.run_for(60)
    actual = [t for t in published(sim, "reports") if t > at]
    assert predicted.next_fresh == actual[0]
    assert list(predicted.outputs) == actual[: len(predicted.outputs)]
    # Taken to have just started, the same Ripples finish later: the start times count.
    late = forecast(engine_rows(demo_at(20.5)), "reports", at, MEASURED)
    assert late.next_fresh is not None and late.next_fresh > actual[0]


def demo_at(seconds: float) -> Engine:
    sim = demo()
    sim.wave("reports")
    sim.run_for(seconds)
    return sim.engine


def test_a_tide_tighter_than_the_bottleneck_cannot_be_held_and_names_it() -> None:
    sim = demo()
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED, tide=SECOND)
    assert predicted.trigger == "tide" and predicted.bound == SECOND
    assert predicted.holds is False
    assert predicted.bottleneck == JOIN_LINES
    assert predicted.cadence is not None and abs(predicted.cadence - 3.0) <= 0.3
    # Asking changed nothing: the line still has no trigger.
    assert sim.engine.pond("reports").trigger is None


def test_a_tide_looser_than_the_bottleneck_holds_at_its_bound() -> None:
    sim = demo()
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED, tide=10 * SECOND)
    assert predicted.holds is True
    assert predicted.cadence is not None and abs(predicted.cadence - 10.0) <= 0.01
    # The line's own Tide is forecast the same way.
    sim.tide("reports", 10)
    own = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED)
    assert (own.trigger, own.bound, own.holds) == ("tide", 10 * SECOND, True)


def test_a_line_blocked_by_a_spent_failure_has_no_next_fresh_and_names_the_root() -> None:
    sim = demo(failures={("products", "ingest"): always})
    sim.wave("reports")
    sim.run_for(10)
    assert sim.engine.pond("products").is_failed and sim.engine.pond("reports").blocked
    rows = engine_rows(sim.engine)
    predicted = forecast(rows, "reports", sim.now, MEASURED)
    assert predicted.next_fresh is None and predicted.next_fresh_in is None
    assert predicted.reason == "blocked by products failure"
    assert predicted.holds is None
    tide = forecast(rows, "reports", sim.now, MEASURED, tide=60 * SECOND)
    assert tide.holds is False and tide.reason == "blocked by products failure"
    root = forecast(rows, "products", sim.now, MEASURED)
    assert root.next_fresh is None and root.reason is not None
    assert root.reason.startswith("products failed, not retried")


def test_a_failure_its_budget_retries_is_forecast_as_passing() -> None:
    sim = demo(failures={("sales", "join_lines"): lambda attempt: attempt == 0})
    sim.engine.set_budget("sales", sim.now, source_retries=1)
    sim.wave("reports")
    sim.run_for(7.5)
    assert sim.engine.pond("sales").is_failed and sim.engine.pond("reports").blocked
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED)
    assert predicted.reason is None and predicted.next_fresh is not None


def test_a_line_nobody_asks_for_is_not_forecast_fresh() -> None:
    sim = demo()
    predicted = forecast(engine_rows(sim.engine), "sales", sim.now, MEASURED)
    assert predicted.trigger is None
    assert predicted.next_fresh is None and predicted.reason == "no demand"
    assert predicted.cadence is None
    assert predicted.bottleneck == JOIN_LINES  # what would set its pace


def test_demand_from_a_sink_makes_a_source_fresh() -> None:
    sim = demo()
    sim.wave("reports")
    predicted = forecast(engine_rows(sim.engine), "sales", sim.now, MEASURED)
    assert predicted.trigger is None and predicted.reason is None
    assert predicted.next_fresh == sim.start + 7 * SECOND
    assert predicted.cadence is not None and abs(predicted.cadence - 3.0) <= 0.3


def test_a_pulse_is_forecast_once_with_no_cadence() -> None:
    sim = demo()
    sim.pulse("reports")
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED)
    assert predicted.trigger == "pulse"
    assert predicted.next_fresh_in == 8.0
    assert predicted.cadence is None and len(predicted.outputs) == 1


def test_an_inlet_whose_window_opens_past_the_horizon_waits_for_it() -> None:
    sim = demo()
    opens = to_micros(from_micros(sim.start) + timedelta(days=10))
    rule = WindowRule("fortnightly", opens, parse_interval("2w"), DAY)
    sim.engine.add_window("transactions", rule, sim.now)
    sim.wave("reports")
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED)
    assert predicted.next_fresh is None
    assert predicted.reason is not None
    assert predicted.reason.startswith("waiting for window fortnightly on transactions, opens")


def test_a_daily_window_sets_the_cadence_of_a_wave() -> None:
    sim = demo()
    rule = WindowRule("daily", sim.start + 3600 * SECOND, parse_interval("1d"), 3600 * SECOND)
    for inlet in ("transactions", "products"):
        sim.engine.add_window(inlet, rule, sim.now)
    sim.wave("reports")
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED)
    assert predicted.next_fresh == sim.start + 3600 * SECOND + 8 * SECOND
    assert predicted.cadence == DAY / SECOND


def test_a_ripple_never_measured_takes_the_default_and_is_listed() -> None:
    sim = demo()
    sim.pulse("reports")
    measured = {**MEASURED, "reports": {}}
    predicted = forecast(engine_rows(sim.engine), "reports", sim.now, measured)
    assert predicted.assumed == ("reports.monthly_summary",)
    assert predicted.to_api()["assumed"] == ["reports.monthly_summary"]
    assert predicted.next_fresh_in == 7.0 + DEFAULT_RIPPLE_SECONDS


def test_the_bottleneck_is_the_slowest_ripple_waited_for_not_an_optional_one() -> None:
    sim = Simulation()
    sim.deploy("A", {"a": []})
    sim.deploy("B", {"b": []})
    sim.deploy("C", {"c": []}, sources=["A", "B?"])
    measured = {"A": {"a": 1.0}, "B": {"b": 4.0}, "C": {"c": 0.5}}
    sim.wave("C")
    predicted = forecast(engine_rows(sim.engine), "C", sim.now, measured)
    assert predicted.bottleneck == Bottleneck("A", "a", 1.0)
    assert predicted.cadence is not None and abs(predicted.cadence - 1.0) <= 0.1


def test_to_api_has_exactly_the_documented_keys() -> None:
    sim = demo()
    sim.wave("reports")
    body = forecast(engine_rows(sim.engine), "reports", sim.now, MEASURED, tide=SECOND).to_api()
    assert list(body) == [
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
    ]
    assert body["bottleneck"] == {"line": "sales", "ripple": "join_lines", "seconds": 3.0}
    assert body["bound"] == 1.0 and body["holds"] is False
    assert body["at"] == "2026-01-05T00:00:00Z"


def test_a_graph_too_busy_to_simulate_far_enough_is_cut_off_and_says_so() -> None:
    sim = Simulation()
    previous: list[str] = []
    for index in range(300):
        sim.deploy(f"L{index}", {"r": []}, sources=previous)
        previous = [f"L{index}"]
    sim.wave("L299")  # every line runs each second: 300 s of that is past the budget
    before = sim.engine.events
    predicted = forecast(engine_rows(sim.engine), "L299", sim.now, {}, tide=SECOND)
    assert sim.engine.events == before
    assert predicted.next_fresh is None and predicted.holds is None
    assert predicted.reason is not None and "too busy" in predicted.reason
    assert predicted.bottleneck == Bottleneck("L299", "r", DEFAULT_RIPPLE_SECONDS)
