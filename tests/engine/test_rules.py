"""Control verbs, triggers, windows, faults and deploys of docs/concepts/, one behaviour each."""

import json

import pytest

from duckstring.engine.clock import DAY, HOUR, NEVER, SECOND
from duckstring.engine.core import CycleError, EngineError
from duckstring.engine.durations import parse_interval
from duckstring.engine.rows import engine_rows, restore
from duckstring.engine.sim import Simulation, always
from duckstring.engine.windows import WindowOverlapError, WindowRule


def chain(sim: Simulation, *names: str) -> None:
    previous: list[str] = []
    for name in names:
        sim.deploy(name, sources=previous)
        previous = [name]


# -- triggers -------------------------------------------------------------------------------------


def test_tap_delivers_one_pull_and_the_pipeline_goes_quiet() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.tap("A")
    sim.run_for(100)
    assert sim.began["A"] == 1 and sim.engine.pond("A").status == "idle"
    assert sim.engine.next_deadline() is None


def test_pulse_pushes_now_through_required_sources_only() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.deploy("B")
    sim.deploy("C", sources=["A", "B?"])
    sim.pulse("C")
    sim.settle()
    assert dict(sim.began) == {"A": 1, "C": 1}
    assert sim.engine.pond("C").end_f == sim.start


def test_setting_a_standing_trigger_replaces_the_other_and_untrigger_drains() -> None:
    sim = Simulation()
    chain(sim, "A", "B")
    sim.wave("B")
    sim.tide("B", 30)
    assert sim.engine.pond("B").trigger is not None
    assert sim.engine.pond("B").trigger.kind == "tide"
    sim.command("untrigger", "B")
    sim.settle()
    count = sim.began["B"]
    sim.run_for(300)
    assert sim.began["B"] == count
    assert sim.engine.pond("B").trigger is None


def test_tide_bound_must_be_positive() -> None:
    sim = Simulation()
    sim.deploy("A")
    with pytest.raises(EngineError):
        sim.tide("A", 0)


# -- control verbs --------------------------------------------------------------------------------


def test_wake_runs_once_without_pulling_sources_and_waits_for_new_data() -> None:
    sim = Simulation()
    chain(sim, "A", "B")
    sim.command("tap", "A")
    sim.settle()
    sim.command("wake", "B")
    sim.settle()
    assert sim.began["A"] == 1 and sim.began["B"] == 1
    sim.command("wake", "B")  # nothing newer upstream: it waits, it does not run
    sim.settle()
    assert sim.began["B"] == 1 and sim.engine.pond("B").status == "queued"
    sim.command("tap", "A")
    sim.settle()
    assert sim.began["B"] == 2 and sim.began["A"] == 2


def test_force_reruns_every_ripple_at_the_same_freshness_and_no_sink_reruns() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.deploy("B", {"b1": [], "b2": ["b1"]}, sources=["A"])
    sim.deploy("C", sources=["B"])
    sim.tap("C")
    sim.settle()
    b = sim.engine.pond("B")
    before_f, before_c = b.end_f, sim.began["C"]
    runs_before = sim.ripple_runs[("B", "b1")], sim.ripple_runs[("B", "b2")]
    sim.command("force", "B")
    sim.settle()
    assert (sim.ripple_runs[("B", "b1")], sim.ripple_runs[("B", "b2")]) == (
        runs_before[0] + 1,
        runs_before[1] + 1,
    )
    b2_starts = sim.times_of("B", "ripple_started")[-2:]
    assert b2_starts[1] - b2_starts[0] == 1.0  # b2 waits for b1's re-run
    assert b.end_f == before_f and b.start_f == before_f
    assert sim.began["C"] == before_c
    assert sim.events_of("B", "completed")[-1].f == before_f


def test_force_on_an_inlet_that_never_ran_starts_one_run_at_now() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.deploy("B", sources=["A"])
    sim.run_for(5)
    sim.command("force", "A")
    p = sim.engine.pond("A")
    assert p.start_f == sim.now  # an Inlet mints now
    sim.settle()
    assert (sim.began["A"], sim.completed["A"], sim.began["B"]) == (1, 1, 0)
    assert (p.gen, p.runs_completed) == (1, 1)
    assert not p.has_pull  # non-propagating, and nothing left held


def test_force_on_a_sink_that_never_ran_waits_for_its_source_and_pulls_nothing() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.deploy("B", sources=["A"])
    sim.command("force", "B")
    sim.run_for(30)
    assert (sim.began["A"], sim.began["B"]) == (0, 0)  # sourceF is NEVER: it waits
    sim.tap("A")
    sim.settle()
    assert (sim.began["A"], sim.began["B"]) == (1, 1)
    assert sim.engine.pond("B").end_f == sim.engine.pond("A").end_f


def test_force_on_a_failed_inlet_that_never_completed_clears_it_and_runs_again() -> None:
    sim = Simulation(failures={("A", "A"): lambda attempt: attempt == 0})
    sim.deploy("A")
    sim.pulse("A")
    sim.settle()
    p = sim.engine.pond("A")
    assert p.is_failed and p.end_f == NEVER
    sim.command("force", "A")
    assert not p.is_failed
    sim.settle()
    assert (sim.began["A"], sim.completed["A"], p.runs_completed) == (2, 1, 1)


def test_sleep_drops_demand_and_trigger_and_upstream_drops_ancestors_too() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 3.0, "C": 1.0})
    chain(sim, "A", "B", "C")
    sim.wave("C")
    sim.run_for(10.5)
    sim.command("sleep", "C", upstream=True)
    for pond in "ABC":
        p = sim.engine.pond(pond)
        assert not p.has_pull and not p.targets and p.trigger is None
    sim.settle()
    counts = dict(sim.began)
    sim.run_for(600)
    assert dict(sim.began) == counts
    assert all(sim.engine.pond(p).status == "idle" for p in "ABC")


def test_sleep_keeps_ripple_targets_of_a_started_run_so_it_completes() -> None:
    sim = Simulation(durations={"A": 5.0})
    sim.deploy("A", {"a1": [], "a2": ["a1"]})
    sim.tap("A")
    sim.run_for(1)
    sim.command("sleep", "A")
    sim.settle()
    assert sim.completed["A"] >= 1
    assert sim.engine.pond("A").end_f == sim.start


def test_kill_cancels_the_run_blocks_downstream_and_clear_parks_held_demand() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 10.0})
    chain(sim, "A", "B", "C")
    sim.tap("C")
    sim.run_for(3)
    assert sim.engine.pond("B").status == "running"
    sim.command("kill", "B")
    engine = sim.engine
    assert sim.killed["B"] == 1 and engine.pond("B").is_killed
    assert engine.pond("B").status == "killed" and engine.pond("C").status == "blocked"
    assert engine.pond("B").start_f == engine.pond("B").end_f == NEVER
    sim.run_for(60)
    assert sim.began["B"] == 1 and sim.completed["B"] == 0
    sim.command("clear", "B")
    c = engine.pond("C")
    assert not engine.pond("B").is_killed and not c.blocked
    assert c.has_pull and c.status == "queued"  # blocked Ponds keep their demand ...
    sim.run_for(60)
    # ... but clear sends none up and starts nothing: it waits for new demand.
    assert (sim.began["A"], sim.began["B"], sim.began["C"]) == (2, 1, 0)
    sim.tap("C")
    sim.settle()
    assert sim.completed["B"] >= 1 and sim.completed["C"] == 1


def test_a_ripple_start_reported_after_a_kill_leaves_the_killed_line_idle() -> None:
    sim = Simulation(durations={"A": 10.0})
    sim.deploy("A")
    sim.pulse("A")
    sim.run_for(1)
    a = sim.engine.pond("A")
    f = a.start_f
    sim.command("kill", "A")
    # The dying Duck's ripple_started was in flight when the kill was handled.
    sim.engine.ripple_started("A", "A", f, sim.now)
    assert a.is_killed and {node.busy for node in a.ripples.order} == {False}
    assert a.status == "killed"


def test_clear_resets_to_idle_without_running() -> None:
    sim = Simulation(failures={("A", "A"): always})
    sim.deploy("A")
    sim.pulse("A")
    sim.settle()
    assert sim.engine.pond("A").is_failed
    sim.command("clear", "A")
    sim.run_for(60)
    a = sim.engine.pond("A")
    assert a.status == "idle" and sim.began["A"] == 1 and a.failures == 0
    assert a.start_f == a.end_f == NEVER


def test_wake_and_force_leave_killed() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.tap("A")
    sim.settle()
    sim.command("kill", "A")
    sim.command("force", "A")
    sim.settle()
    assert not sim.engine.pond("A").is_killed and sim.completed["A"] == 2


# -- faults ---------------------------------------------------------------------------------------


def test_a_worker_failure_fails_the_newest_run_with_its_message() -> None:
    sim = Simulation(durations={"B": 10.0})
    chain(sim, "A", "B", "C")
    sim.tap("C")
    sim.run_for(5)
    sim.crash_worker("B", "Duck process disappeared (SIGKILL)")
    b = sim.engine.pond("B")
    assert b.is_failed and b.failures == 1 and b.status == "failed"
    assert sim.failed["B"] == 1 and sim.engine.pond("C").blocked
    sim.run_for(60)
    assert sim.completed["B"] == 0


def test_retry_on_change_recovers_when_the_fix_holds() -> None:
    flaky = {"count": 0}

    def fails_first_run(_: int) -> bool:
        flaky["count"] += 1
        return flaky["count"] == 1

    sim = Simulation(failures={("P", "P"): fails_first_run})
    sim.deploy("S")
    sim.deploy("P", sources=["S"], source_retries=1)
    sim.deploy("K", sources=["P"])
    sim.tap("K")
    sim.run_for(30)
    p = sim.engine.pond("P")
    assert not p.is_failed and p.failures == 0 and p.failed_f == NEVER
    assert sim.failed["P"] == 1 and sim.completed["P"] >= 1
    assert not sim.engine.pond("K").blocked


def test_redeploy_clears_a_failure_starts_nothing_and_new_demand_flows_again() -> None:
    sim = Simulation(failures={("P", "P"): always})
    sim.deploy("S")
    sim.deploy("P", sources=["S"])
    sim.deploy("K", sources=["P"])
    sim.wave("K")
    sim.run_for(10)
    assert sim.engine.pond("P").is_failed
    sim.failures.clear()
    began = dict(sim.began)
    sim.deploy("P", sources=["S"])
    assert not sim.engine.pond("P").is_failed and not sim.engine.pond("K").blocked
    sim.run_for(10)
    assert dict(sim.began) == began  # deploying never starts a run
    sim.tap("K")
    sim.run_for(10)
    assert sim.completed["P"] >= 1 and sim.completed["K"] >= 2  # the Wave flows again


def test_clear_of_a_source_parks_the_sink_until_the_source_publishes() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 1.0}, failures={("A", "A"): lambda n: n == 0})
    chain(sim, "A", "B")
    sim.pulse("B")
    sim.settle()
    assert sim.engine.pond("A").is_failed and sim.engine.pond("B").targets
    sim.command("clear", "A")
    sim.run_for(30)
    assert (sim.began["A"], sim.began["B"]) == (1, 0)  # B's target waits, A is not pushed
    sim.tap("A")  # new demand on A: its run's publish is B's Source advancing
    sim.settle()
    assert (sim.completed["A"], sim.completed["B"]) == (1, 1)
    assert not sim.engine.pond("B").targets


def test_a_parked_line_restores_parked_and_starts_nothing_on_restart() -> None:
    sim = Simulation(failures={("A", "A"): lambda n: n == 0})
    chain(sim, "A", "B")
    sim.wave("B")
    sim.settle()
    sim.command("clear", "A")
    restored = restore(json.loads(json.dumps(engine_rows(sim.engine))), sim.now)
    assert restored.drain() == []  # the restart starts nothing the live engine did not
    assert restored.pond("A").parked and restored.pond("B").parked


def test_blocked_pond_drains_input_its_sources_already_produced() -> None:
    sim = Simulation(durations={"A": 1.0, "F": 1.0, "C": 5.0}, failures={("F", "F"): always})
    sim.deploy("A")
    sim.deploy("F")
    sim.deploy("C", sources=["A", "F?"])
    sim.deploy("D", sources=["C", "F"])
    sim.tap("C")
    sim.run_for(2)
    assert sim.engine.pond("F").is_failed and not sim.engine.pond("C").blocked


# -- windows --------------------------------------------------------------------------------------


def test_do_not_consume_gap_makes_demand_wait_for_the_window() -> None:
    sim = Simulation()
    sim.deploy("A")
    rule = WindowRule("writes-done", sim.start + 2 * HOUR, parse_interval("1d"), 22 * HOUR)
    sim.engine.add_window("A", rule, sim.now)
    sim.run_for(3600)
    sim.tap("A")
    assert sim.began["A"] == 0
    assert sim.engine.next_deadline() == sim.start + 2 * HOUR
    sim.run_to(2 * 3600 + 10)
    run = sim.events_of("A", "began")[0]
    assert run.at == sim.start + 2 * HOUR and run.f == sim.start + DAY
    assert sim.engine.pond("A").d == 22 * HOUR


def test_weekday_filter_runs_a_wave_only_on_those_days() -> None:
    sim = Simulation()
    chain(sim, "A", "B")
    rule = WindowRule("mwf", sim.start, parse_interval("1d"), weekdays={0, 2, 4})
    sim.engine.add_window("A", rule, sim.now)
    sim.wave("B")
    sim.run_for(7 * 86_400 - 1)
    days = [int(t // 86_400) for t in sim.times_of("A", "began")]
    assert days == [0, 2, 4]
    assert sim.completed["B"] == 3


def test_until_ends_the_windows_and_demand_waits_forever() -> None:
    sim = Simulation()
    chain(sim, "A", "B")
    rule = WindowRule("twice", sim.start, parse_interval("1d"), until=sim.start + 2 * DAY)
    sim.engine.add_window("A", rule, sim.now)
    sim.wave("B")
    sim.run_for(5 * 86_400)
    assert [int(t // 86_400) for t in sim.times_of("A", "began")] == [0, 1]
    assert sim.engine.pond("A").status == "queued"
    assert sim.engine.next_deadline() is None


def test_overlapping_window_rules_are_rejected_and_nothing_changes() -> None:
    sim = Simulation()
    sim.deploy("A")
    first = WindowRule("morning", sim.start + 6 * HOUR, parse_interval("1d"), 4 * HOUR)
    sim.engine.add_window("A", first, sim.now)
    clash = WindowRule("hourly", sim.start, parse_interval("1h"), 30 * 60 * SECOND)
    with pytest.raises(WindowOverlapError):
        sim.engine.add_window("A", clash, sim.now)
    assert sim.engine.pond("A").windows == [first]
    with pytest.raises(EngineError):
        sim.engine.remove_window("A", "hourly", sim.now)


def test_windows_apply_to_inlets_only() -> None:
    sim = Simulation()
    chain(sim, "A", "B")
    rule = WindowRule("daily", sim.start, parse_interval("1d"))
    with pytest.raises(EngineError, match="Inlets"):
        sim.engine.add_window("B", rule, sim.now)


def test_staleness_counts_the_window_delay() -> None:
    sim = Simulation()
    sim.deploy("A")
    rule = WindowRule("daily", sim.start, parse_interval("1d"))
    sim.engine.add_window("A", rule, sim.now)
    sim.tap("A")
    sim.settle()
    a = sim.engine.pond("A")
    assert a.staleness(sim.start) == 0
    assert a.staleness(sim.start + 5 * HOUR) == 5 * HOUR


# -- deploys --------------------------------------------------------------------------------------


def test_a_sink_deployed_before_its_source_binds_when_it_appears_without_running() -> None:
    sim = Simulation()
    sim.deploy("B", sources=["A"])
    sim.wave("B")
    sim.run_for(10)
    assert sim.began["B"] == 0 and sim.engine.pond("B").status == "queued"
    sim.deploy("A")
    sim.run_for(10)
    assert sim.began["A"] == 0  # deploying never starts a run, nor sends demand to it
    assert sim.engine.sinks("A") == [sim.engine.pond("B")]
    sim.tap("B")
    sim.run_for(10)
    assert sim.completed["A"] >= 1 and sim.completed["B"] >= 1


def test_a_deploy_closing_a_cycle_is_rejected_and_changes_nothing() -> None:
    sim = Simulation()
    chain(sim, "A", "B", "C")
    with pytest.raises(CycleError, match="A -> C -> B -> A"):
        sim.deploy("A", sources=["C"])
    assert sim.engine.pond("A").sources == []
    assert sim.engine.sinks_of.get("C", []) == []


def test_two_majors_are_separate_lines() -> None:
    sim = Simulation()
    sim.deploy("src@1")
    sim.deploy("src@2")
    sim.deploy("sink@1", sources=["src@2"])
    sim.tap("sink@1")
    sim.settle()
    assert sim.began["src@1"] == 0 and sim.began["sink@1"] == 1
    assert sim.began["src@2"] == 2  # the cold tap's re-arm, as in a chain
