"""The reference scenarios of docs/concepts/scenarios.md, with the exact figures given there."""

import itertools

from duckstring.engine.clock import DAY, NEVER, SECOND
from duckstring.engine.durations import parse_interval
from duckstring.engine.sim import Simulation, always
from duckstring.engine.windows import WindowRule


def chain(sim: Simulation, *names: str) -> None:
    previous: list[str] = []
    for name in names:
        sim.deploy(name, sources=previous)
        previous = [name]


def completion_gaps(sim: Simulation, pond: str, after: float) -> list[float]:
    """Gaps between the instants a Pond published (runs completed together count once)."""
    times = sorted({t for t in sim.times_of(pond, "completed") if t >= after})
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


def test_cold_tap_on_a_chain_runs_a_three_times_b_twice_c_once() -> None:
    sim = Simulation()
    chain(sim, "A", "B", "C")
    sim.tap("C")
    sim.settle()
    assert (sim.began["A"], sim.began["B"], sim.began["C"]) == (3, 2, 1)
    assert (sim.completed["A"], sim.completed["B"], sim.completed["C"]) == (3, 2, 1)


def test_cold_tap_across_ponds_runs_the_inlet_three_times_and_the_sink_once() -> None:
    sim = Simulation()
    sim.deploy("p1", {"r1": [], "r2": [], "r3": ["r1", "r2"]})
    sim.deploy("p2", {"s1": []}, sources=["p1"])
    sim.tap("p2")
    sim.settle()
    assert sim.completed["p1"] == 3
    assert sim.completed["p2"] == 1


def test_wave_throttles_upstream_to_the_middle_bottleneck() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 3.0, "C": 1.0})
    chain(sim, "A", "B", "C")
    sim.wave("C")
    sim.run_to(120)
    for pond in ("A", "B", "C"):
        gaps = completion_gaps(sim, pond, after=20)
        assert gaps and set(gaps) == {3.0}, (pond, gaps)
    window = [t for t in sim.times_of("A", "began") if 30 <= t < 90]
    assert len(window) == len([t for t in sim.times_of("B", "began") if 30 <= t < 90])


def test_push_after_pull_runs_each_once_and_jumps_to_the_new_freshness() -> None:
    sim = Simulation()
    chain(sim, "A", "B", "C")
    sim.tap("C")
    sim.settle()
    engine = sim.engine
    assert engine.pond("A").end_f > engine.pond("B").end_f > engine.pond("C").end_f
    before = dict(sim.began)
    sim.run_for(10)
    sim.pulse("C")
    sim.settle()
    assert {p: sim.began[p] - before[p] for p in "ABC"} == {"A": 1, "B": 1, "C": 1}
    a_f = engine.pond("A").end_f
    assert engine.pond("B").end_f == a_f == engine.pond("C").end_f == sim.now - 3 * SECOND


def test_branching_pulse_runs_only_the_lineage() -> None:
    sim = Simulation()
    sim.deploy("A")
    sim.deploy("B")
    sim.deploy("C", sources=["A", "B"])
    sim.deploy("D", sources=["B"])
    sim.pulse("D")
    sim.settle()
    assert dict(sim.began) == {"B": 1, "D": 1}


def test_optional_slow_parent_is_never_waited_for() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 4.0, "C": 1.0})
    sim.deploy("A")
    sim.deploy("B")
    sim.deploy("C", sources=["A", "B?"])
    sim.wave("C")
    sim.run_to(60)
    assert set(completion_gaps(sim, "C", after=5)) == {1.0}
    assert set(completion_gaps(sim, "A", after=5)) == {1.0}
    assert 0 < sim.completed["B"] < sim.completed["C"] / 3


def test_diamond_freshness_is_the_min_of_both_branches() -> None:
    sim = Simulation(durations={"S": 1.0, "A": 1.0, "B": 3.0, "X": 1.0})
    sim.deploy("S")
    sim.deploy("A", sources=["S"])
    sim.deploy("B", sources=["S"])
    sim.deploy("X", sources=["A", "B"])
    sim.wave("X")
    sim.run_to(60)
    latest: dict[str, int] = {"A": NEVER, "B": NEVER}
    checked = 0
    for record in sim.timeline:
        if record.event == "completed" and record.pond in latest:
            latest[record.pond] = record.f
        if record.event == "began" and record.pond == "X":
            assert record.f == min(latest.values())
            checked += 1
    assert checked >= 10
    assert any(
        r.event == "completed" and r.pond == "A" and r.f > sim.engine.pond("X").end_f
        for r in sim.timeline
    )


def test_wave_with_a_daily_window_runs_once_a_day_fresh_until_the_window_end() -> None:
    sim = Simulation()
    chain(sim, "A", "B", "C")
    rule = WindowRule(name="daily", start=sim.start, every=parse_interval("1d"))
    sim.engine.add_window("A", rule, sim.now)
    sim.wave("C")
    sim.run_for(3 * 86_400 - 1)
    for pond in "ABC":
        assert sim.completed[pond] == 3, pond
    began = sim.events_of("A", "began")
    assert [r.at - sim.start for r in began] == [0, DAY, 2 * DAY]
    assert [r.f - sim.start for r in began] == [DAY, 2 * DAY, 3 * DAY]
    a = sim.engine.pond("A")
    assert a.end_f == sim.start + 3 * DAY and a.d == DAY
    for record in began:  # staleness of the data a run takes, at the window's start
        assert record.at + a.d - record.f == 0
    c = sim.engine.pond("C")
    assert c.d == DAY and c.end_f == a.end_f


def test_tide_adds_a_target_every_bound_and_keeps_staleness_under_bound_plus_lead() -> None:
    sim = Simulation()
    chain(sim, "A", "B", "C")
    sim.tide("C", 10)
    sim.run_to(200)
    assert sim.times_of("A", "began")[:6] == [0, 10, 20, 30, 40, 50]
    previous = NEVER
    for record in sim.events_of("C", "completed"):
        if previous != NEVER:
            assert (record.at - previous) / SECOND <= 13.0
        previous = record.f
    assert sim.completed["C"] >= 19


def test_tide_slower_bottleneck_runs_once_per_bottleneck_without_piling_targets() -> None:
    sim = Simulation(durations={"A": 1.0, "B": 15.0, "C": 1.0})
    chain(sim, "A", "B", "C")
    sim.tide("C", 10)
    held = []
    for _ in range(600):
        sim.run_for(1)
        held.append(len(sim.engine.pond("C").targets))
    assert set(completion_gaps(sim, "C", after=60)) == {15.0}
    assert set(completion_gaps(sim, "B", after=60)) == {15.0}
    b_runs = [t for t in sim.times_of("B", "ripple_started") if t >= 60]
    assert {round(b - a, 6) for a, b in itertools.pairwise(b_runs)} == {15.0}
    # Targets stay bounded (each run start drops those it satisfies): no growing pile.
    assert max(held) <= 4
    assert max(held[300:]) <= max(held[:300])


def test_faults_two_attempts_per_run_a_retry_on_change_and_the_sink_blocked() -> None:
    sim = Simulation(failures={("P", "P"): always})
    sim.deploy("S")
    sim.deploy("P", sources=["S"], immediate_retries=1, source_retries=1)
    sim.deploy("K", sources=["P"])
    engine = sim.engine
    sim.tap("K")
    blocked_seen = []
    for _ in range(30):
        sim.run_for(1)
        blocked_seen.append(engine.pond("K").blocked)
    attempts = sim.events_of("P", "ripple_failed")
    assert len(attempts) == 4
    assert [r.attempt for r in attempts] == [0, 1, 0, 1]
    assert sim.began["P"] == 2 and sim.failed["P"] == 2
    assert engine.pond("P").failures == 2 and engine.pond("P").is_failed
    assert all(blocked_seen[3:])
    sim.tap("S")
    sim.settle()
    assert len(sim.events_of("P", "ripple_failed")) == 4
    assert engine.pond("K").blocked and engine.pond("K").status == "blocked"
    sim.command("clear", "P")
    assert not engine.pond("K").blocked and not engine.pond("P").is_failed
    assert engine.pond("P").failures == 0


def test_wave_keeps_the_bottleneck_cadence_when_runs_are_reported_after_export() -> None:
    """A real Duck starts a Pond's next Ripple while it still publishes the last run, so a
    pull can reach the Pond just after its leaf started. The leaf must pass that pull up at
    once: held until its next start, it stalled the Pond a whole run every other cycle (the
    demo's Wave ran at 4 s instead of 3 s)."""
    sim = Simulation(
        export_seconds=0.02,
        durations={
            "transactions": 1.0,
            "products": 2.0,
            "sales.daily_sales": 2.0,
            "sales.price_tiers": 1.0,
            "sales.join_lines": 3.0,
            "reports": 1.0,
        },
    )
    sim.deploy("transactions", {"ingest": []})
    sim.deploy("products", {"ingest": []})
    sim.deploy(
        "sales",
        {"daily_sales": [], "price_tiers": [], "join_lines": ["daily_sales", "price_tiers"]},
        sources=["transactions", "products"],
    )
    sim.deploy("reports", {"monthly_summary": []}, sources=["sales"])
    sim.wave("reports")
    sim.run_to(120)
    for pond in ("transactions", "products", "sales", "reports"):
        gaps = completion_gaps(sim, pond, after=20)
        assert len(gaps) >= 30 and all(abs(gap - 3.0) < 1e-6 for gap in gaps), (pond, gaps)
