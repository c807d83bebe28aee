"""Every Pond Run records, as it begins, the demand that caused it and who supplied its
freshness; ``explain_cause`` reads that record back."""

from __future__ import annotations

from test_explain import demo

from duckstring.engine.clock import HOUR, NEVER
from duckstring.engine.durations import parse_interval
from duckstring.engine.effects import RunBegan
from duckstring.engine.explain import FRESHNESS, RULES, TRIGGERS, WINDOWS, explain_cause
from duckstring.engine.pond import Demand, RunCause
from duckstring.engine.rows import engine_rows, restore
from duckstring.engine.sim import Simulation, always
from duckstring.engine.windows import WindowRule


def causes(sim: Simulation) -> dict[tuple[str, int], RunCause | None]:
    """The cause of every run the engine began, as its host saw it."""
    seen: dict[tuple[str, int], RunCause | None] = {}
    original = sim._apply

    def record(effect: object) -> None:
        if isinstance(effect, RunBegan):
            seen[(effect.pond, effect.seq)] = effect.cause
        original(effect)  # type: ignore[arg-type]

    sim._apply = record  # type: ignore[method-assign]
    return seen


def published_by(sim: Simulation, line: str, f: int) -> int:
    """The seq of the run of ``line`` that published freshness ``f``."""
    (seq,) = {r.seq for r in sim.events_of(line, "completed") if r.f == f}
    assert seq is not None
    return seq


def test_a_sinks_run_names_the_wave_that_pulled_and_the_source_run_that_fed_it() -> None:
    sim = demo()
    seen = causes(sim)
    sim.wave("reports@1")
    sim.run_to(30)
    assert seen[("reports@1", 1)] == RunCause(
        "pull",
        Demand("reports@1", "wave", "reports@1", "wave"),
        None,
        sim.start,
        "sales@1",
        published_by(sim, "sales@1", sim.start),
    )
    for (line, seq), cause in seen.items():
        assert cause is not None
        if line == "sales@1" and seq > 1:
            assert cause.demand == Demand("reports@1", "sink", "reports@1", "wave")
            # sales@1 takes the older Inlet: the run of it that published that freshness.
            assert cause.source in ("transactions@1", "products@1")
            assert cause.source_run == published_by(sim, cause.source, cause.source_f)
        if line == "transactions@1":
            (began,) = [r for r in sim.events_of(line, "began") if r.seq == seq]
            assert cause.source is None and cause.source_f == began.at  # an Inlet mints now
            assert cause.demand == Demand("sales@1", "sink", "reports@1", "wave")


def test_a_pulse_records_its_target_on_every_line_it_ran() -> None:
    sim = demo()
    sim.run_to(10)
    seen = causes(sim)
    sim.pulse("reports@1")
    pulsed = sim.now
    sim.settle()
    assert set(seen) == {("transactions@1", 1), ("products@1", 1), ("sales@1", 1), ("reports@1", 1)}
    assert seen[("reports@1", 1)] == RunCause(
        "push", Demand("reports@1", "pulse", "reports@1", "pulse"), pulsed, pulsed, "sales@1", 1
    )
    sales = seen[("sales@1", 1)]
    assert sales is not None and sales.target == pulsed and sales.kind == "push"
    assert sales.demand == Demand("reports@1", "sink", "reports@1", "pulse")
    inlet = seen[("transactions@1", 1)]
    assert inlet is not None and inlet.demand == Demand("sales@1", "sink", "reports@1", "pulse")
    assert (inlet.source, inlet.source_f) == (None, pulsed)


def test_a_windowed_inlet_records_the_window_that_gave_its_freshness() -> None:
    sim = demo()
    nightly = WindowRule("nightly", sim.start + 2 * HOUR, parse_interval("1d"), HOUR)
    sim.engine.add_window("transactions@1", nightly, sim.now)
    seen = causes(sim)
    sim.tap("transactions@1")
    sim.run_to(3 * 3600)
    cause = seen[("transactions@1", 1)]
    assert cause is not None
    assert (cause.window, cause.source_f) == ("nightly", sim.start + 3 * HOUR)
    assert cause.demand == Demand("transactions@1", "tap", "transactions@1", "tap")
    reasons = explain_cause("transactions@1", 1, cause)
    assert [(r.kind, r.rule, r.line) for r in reasons] == [
        ("started_by", TRIGGERS, "transactions@1"),
        ("source_freshness", WINDOWS, "transactions@1"),
    ]


def test_retry_and_force_runs_record_their_kind() -> None:
    sim = Simulation(failures={("P", "P"): always})
    sim.deploy("S")
    sim.deploy("P", sources=["S"], source_retries=1)
    seen = causes(sim)
    sim.pulse("P")
    sim.run_for(5)
    sim.tap("S")
    sim.run_for(5)
    retry = seen[("P", 2)]
    assert retry is not None and (retry.kind, retry.demand) == ("retry", None)
    assert (retry.source, retry.source_run) == ("S", 2)
    sim.failures.clear()
    sim.command("clear", "P")
    sim.command("wake", "P")
    sim.settle()
    sim.command("force", "S")
    forced = seen[("S", 3)]
    assert forced is not None and forced.kind == "force"
    assert forced.demand == Demand("S", "force", "S", "force")


def test_explain_cause_reads_a_sink_run_back_as_the_issue_words_it() -> None:
    cause = RunCause(
        "pull", Demand("reports@1", "sink", "reports@1", "wave"), None, 1_000, "products@1", 18
    )
    started, source = explain_cause("sales@1", 19, cause)
    assert (started.kind, started.rule, started.line) == ("started_by", RULES, "reports@1")
    assert started.text == "run 19 of sales@1 was started by pull from reports@1 (Wave)"
    assert (source.kind, source.rule, source.line) == ("source_freshness", FRESHNESS, "products@1")
    assert source.detail["source_run"] == 18 and source.text.endswith("from products@1 run 18")
    assert [r.kind for r in explain_cause("sales@1", 3, None)] == ["cause_unknown"]


def test_a_cause_round_trips_through_plain_rows() -> None:
    cause = RunCause("push", Demand("a@1", "sink", "b@1", "tide"), 7, 7, "c@1", 3, None)
    row = cause.to_row()
    assert all(isinstance(v, (str, int, type(None))) for v in row.values())
    assert RunCause.from_row(row) == cause
    never = RunCause("retry", None, None, NEVER)
    assert never.to_row()["source_f"] is None and RunCause.from_row(never.to_row()) == never


def test_the_run_that_published_end_f_survives_a_restore() -> None:
    sim = demo()
    sim.wave("reports@1")
    sim.run_to(20)
    sales = sim.engine.pond("sales@1")
    assert sales.end_seq == published_by(sim, "sales@1", sales.end_f)
    again = restore(engine_rows(sim.engine), sim.now)
    assert again.pond("sales@1").end_seq == sales.end_seq
