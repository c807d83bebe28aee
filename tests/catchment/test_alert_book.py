"""Alert deduplication in sim time: the engine's own rules run a chain, and the book is told
what each step changed, exactly as the Catchment's driver tells it (no processes, no sleeps)."""

from __future__ import annotations

from duckstring.catchment.alerts.book import (
    AlertBook,
    Change,
    Closed,
    Fired,
    Notice,
    Opened,
    Rearmed,
    facts_of,
    rule_state,
)
from duckstring.catchment.alerts.forecasts import prediction_of
from duckstring.catchment.alerts.rules import AlertRule
from duckstring.engine.clock import SECOND
from duckstring.engine.forecast import forecast
from duckstring.engine.rows import engine_rows
from duckstring.engine.sim import Simulation

URL = "json://127.0.0.1:9/alerts"
FAILURE = AlertRule("pager", "failure", URL)
RECOVERY = AlertRule("all-clear", "recovery", URL)


class Broken:
    """A Ripple that raises until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False

    def __call__(self, attempt: int) -> bool:
        return not self.fixed


def chain(broken: Broken, **retries: int) -> Simulation:
    """S (an Inlet) -> P -> K, with P's Ripple failing while ``broken``."""
    sim = Simulation(failures={("P", "P"): broken})
    sim.deploy("S")
    sim.deploy("P", sources=["S"], **retries)
    sim.deploy("K", sources=["P"])
    return sim


def observe(book: AlertBook, sim: Simulation) -> list[Change]:
    """What the driver's hook does after a committed change: the facts of the lines it touched."""
    engine = sim.engine
    changed = engine.take_changed()
    return book.observe([facts_of(engine.ponds[line]) for line in changed], sim.now)


def notices(changes: list[Change]) -> list[Notice]:
    return [change for change in changes if isinstance(change, Notice)]


def test_a_root_failure_alerts_once_with_its_blast_radius_and_a_clear_recovers_it() -> None:
    broken = Broken()
    sim = chain(broken)
    book = AlertBook([FAILURE, RECOVERY], error_of=lambda line: f"ValueError in {line}")
    observe(book, sim)
    sim.tap("K")
    sim.run_for(5)
    told = observe(book, sim)
    assert sim.engine.pond("P").is_failed and sim.engine.pond("K").blocked
    [alert] = notices(told)
    assert (alert.rule, alert.kind, alert.line) == ("pager", "failure", "P")
    assert "Blocked downstream (1): K" in alert.body and "ValueError in P" in alert.body
    [opened] = [change for change in told if isinstance(change, Opened)]
    assert opened.incident.blocked == ("K",)

    # Still failed: more demand, more of the Source, no repeat.
    for _ in range(3):
        sim.tap("K")
        sim.tap("S")
        sim.run_for(5)
        assert notices(observe(book, sim)) == []

    broken.fixed = True
    sim.command("clear", "P")
    told = observe(book, sim)
    [recovery] = notices(told)
    assert (recovery.rule, recovery.kind, recovery.line) == ("all-clear", "recovery", "P")
    assert "P was cleared" in recovery.body and "No longer blocked (1): K" in recovery.body
    assert Closed("P") in told
    sim.tap("K")
    sim.run_for(10)
    assert notices(observe(book, sim)) == []
    assert sim.engine.pond("K").runs_completed == 1


def test_a_root_recovers_by_its_next_success() -> None:
    broken = Broken()
    sim = chain(broken, source_retries=3)
    book = AlertBook([FAILURE, RECOVERY])
    sim.tap("K")
    sim.run_for(5)
    assert [n.kind for n in notices(observe(book, sim))] == ["failure"]
    broken.fixed = True
    sim.tap("S")  # a fresh Source: the on-change retry runs P again, and it succeeds
    sim.run_for(10)
    [recovery] = notices(observe(book, sim))
    assert recovery.kind == "recovery" and "P succeeded again" in recovery.body
    assert not sim.engine.pond("P").is_failed


def test_a_line_that_is_only_blocked_never_alerts_but_its_rule_hears_of_the_root() -> None:
    broken = Broken()
    sim = chain(broken)
    about_k = AlertRule("k-owner", "failure", URL, ponds=("K",))
    about_s = AlertRule("s-owner", "failure", URL, ponds=("S",))
    book = AlertBook([about_k, about_s])
    sim.tap("K")
    sim.run_for(5)
    told = notices(observe(book, sim))
    # One alert, about the root P, to the rule of the blocked K; none about K itself.
    assert [(n.rule, n.line) for n in told] == [("k-owner", "P")]
    assert set(book.incidents) == {"P"}


def test_a_killed_line_blocks_without_alerting() -> None:
    sim = chain(Broken())
    book = AlertBook([FAILURE])
    sim.command("kill", "S")
    assert sim.engine.pond("K").blocked
    assert notices(observe(book, sim)) == [] and book.incidents == {}


def test_a_new_book_reconciles_with_the_lines_without_repeating() -> None:
    """After a restart the stored incidents meet every line's facts: a failure already told
    stays quiet, one that ended while nobody watched is recovered, a new one alerts."""
    broken = Broken()
    sim = chain(broken)
    first = AlertBook([FAILURE, RECOVERY])
    sim.tap("K")
    sim.run_for(5)
    assert len(notices(observe(first, sim))) == 1

    def restarted() -> AlertBook:
        book = AlertBook([FAILURE, RECOVERY], first.incidents.values(), first.fired)
        every = [facts_of(p) for p in sim.engine.ponds.values()]
        assert notices(book.observe(every, sim.now)) == []
        return book

    restarted()
    broken.fixed = True
    sim.command("clear", "P")
    book = AlertBook([FAILURE, RECOVERY], first.incidents.values())
    told = notices(book.observe([facts_of(p) for p in sim.engine.ponds.values()], sim.now))
    assert [n.kind for n in told] == ["recovery"]


def test_stale_fires_once_past_its_bound_and_rearms_when_fresh() -> None:
    sim = Simulation()
    sim.deploy("S")
    stale = AlertRule("late", "stale", URL, bound=10 * SECOND)
    book = AlertBook([stale])
    assert book.next_check(sim.now) is None  # never run: never stale
    sim.tap("S")
    sim.run_for(1)
    observe(book, sim)
    end_f = sim.engine.pond("S").end_f
    due = book.next_check(sim.now)
    assert due == end_f + 10 * SECOND + 1  # the moment staleness passes the bound
    assert book.tick(due - 1) == []
    told = book.tick(due)
    assert [type(c) for c in told] == [Fired, Notice]
    assert "S is 10s stale, past its bound of 10s" in notices(told)[0].body
    assert book.tick(due + 60 * SECOND) == []  # once
    assert book.next_check(due) is None  # nothing to wait for until it is fresh again

    sim.run_until(due + 60 * SECOND)
    sim.tap("S")
    sim.run_for(1)
    assert observe(book, sim) == [Rearmed("late", "S")]
    again = book.next_check(sim.now)
    assert again is not None and len(notices(book.tick(again))) == 1


def test_a_stale_rule_added_later_checks_every_line_at_once() -> None:
    sim = Simulation()
    sim.deploy("S")
    sim.deploy("T")
    book = AlertBook()
    sim.tap("S")
    sim.tap("T")
    sim.run_for(1)
    observe(book, sim)
    sim.run_for(30)
    only_t = AlertRule("t-late", "stale", URL, ponds=("T",), bound=5 * SECOND)
    told = notices(book.set_rules([only_t], sim.now))
    assert [(n.rule, n.line) for n in told] == [("t-late", "T")]
    assert book.set_rules([], sim.now) == [Rearmed("t-late", "T")]


def slow_chain(seconds: float) -> Simulation:
    """S (an Inlet) -> P -> K, P's Ripple taking ``seconds``."""
    sim = Simulation(durations={"P.P": seconds})
    sim.deploy("S")
    sim.deploy("P", sources=["S"])
    sim.deploy("K", sources=["P"])
    return sim


def predict(book: AlertBook, sim: Simulation, line: str = "K") -> list[Change]:
    """What the forecaster does after a change: forecast the line on a copy of the graph with
    the durations the sim runs at, and hand the book the prediction."""
    durations = {"S": {"S": 1.0}, "P": {"P": sim.durations["P.P"]}, "K": {"K": 1.0}}
    result = forecast(engine_rows(sim.engine), line, sim.now, durations)
    return book.predicted([prediction_of(result)], sim.now)


def test_a_tide_the_forecast_says_cannot_hold_alerts_once_naming_the_bottleneck() -> None:
    ahead = AlertRule("ahead", "forecast-breach", URL)
    assert rule_state(ahead) == "active"
    sim = slow_chain(6.0)
    book = AlertBook([ahead])
    observe(book, sim)
    sim.command("tide", "K", 4 * SECOND)
    sim.run_for(1)
    observe(book, sim)
    [alert] = notices(predict(book, sim))
    assert (alert.rule, alert.kind, alert.line) == ("ahead", "forecast-breach", "K")
    assert alert.title == "Duckstring: K will be fresh too late"
    assert "cannot hold its Tide of 4s" in alert.body and "bottleneck P P (6.0 s)" in alert.body
    # Forecast again, still too slow: told once.
    sim.run_for(10)
    observe(book, sim)
    assert notices(predict(book, sim)) == []
    # A bound it can hold re-arms the rule.
    sim.command("tide", "K", 60 * SECOND)
    sim.run_for(1)
    observe(book, sim)
    assert predict(book, sim) == [Rearmed("ahead", "K")]


def test_a_bound_of_its_own_fires_before_the_line_goes_stale() -> None:
    soon = AlertRule("soon", "forecast-breach", URL, bound=15 * SECOND)
    stale = AlertRule("late", "stale", URL, bound=15 * SECOND)
    sim = slow_chain(6.0)
    book = AlertBook([soon, stale])
    sim.tap("K")
    sim.run_for(12)
    assert notices(observe(book, sim)) == []
    assert sim.engine.pond("K").end_f > 0
    # A Pulse now, 12 s stale: K's next fresh output lands once S, P (6 s) and K ran again,
    # about 20 s after the freshness it has. The forecast says so before the bound passes.
    sim.command("pulse", "K")
    assert notices(observe(book, sim)) == []
    told = notices(predict(book, sim))
    assert [(n.rule, n.line) for n in told] == [("soon", "K")]
    assert "past its bound of 15s" in told[0].body and "bottleneck P P" in told[0].body
    assert notices(book.tick(sim.now)) == []  # not stale yet: the forecast came first
    sim.run_for(4)
    assert [n.rule for n in notices(observe(book, sim) + book.tick(sim.now))] == ["late"]


def test_a_blocked_line_leaves_its_forecast_breach_to_the_root_failure() -> None:
    ahead = AlertRule("ahead", "forecast-breach", URL)
    sim = chain(Broken())
    book = AlertBook([ahead, FAILURE])
    sim.command("tide", "K", 1 * SECOND)
    sim.run_for(10)
    told = observe(book, sim)
    assert sim.engine.pond("K").blocked
    assert [(n.rule, n.line) for n in notices(told)] == [("pager", "P")]
    durations = {"S": {"S": 1.0}, "P": {"P": 1.0}, "K": {"K": 1.0}}
    result = forecast(engine_rows(sim.engine), "K", sim.now, durations)
    assert result.holds is False
    assert notices(book.predicted([prediction_of(result)], sim.now)) == []
