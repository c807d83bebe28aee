"""The fleet policy's rules in simulated time: no process, no thread, no sleep.

Each test builds the Catchment as the policy sees it (:class:`Lines`, a FleetView held in
memory), tells the policy what happened, and checks the actions it returns and when it asks to
be woken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from duckstring.catchment.fleet import (
    IDLE_DUCK_BYTES,
    Action,
    Adopt,
    Fail,
    Fleet,
    FleetRules,
    Kill,
    Measure,
    Phase,
    Replenish,
    Shutdown,
    Spawn,
    loading_for,
)
from duckstring.duck.worker import EXIT_LOCKED

MIB = 1024 * 1024


@dataclass
class Line:
    """One line as the fleet sees it."""

    #: (source, required)
    sources: list[tuple[str, bool]] = field(default_factory=list)
    demand: bool = False
    trigger: bool = False
    #: A run in flight; ``halted``: a run the engine keeps after it failed.
    running: bool = False
    halted: bool = False
    #: A begin_run waits on the job board for its Duck.
    queued: bool = False
    faulted: bool = False
    window_closed: bool = False
    #: Why its started Duck waits for a cluster node (None: it is on one).
    unplaced: str | None = None


@dataclass
class Lines:
    """A Catchment as the fleet policy sees it (a FleetView held in memory)."""

    lines: dict[str, Line] = field(default_factory=dict)
    dial_back_known: bool = True
    spares: int = 0
    spares_ready: int = 0

    def __getitem__(self, line: str) -> Line:
        return self.lines[line]

    def knows(self, line: str) -> bool:
        return line in self.lines

    def has_runs(self, line: str) -> bool:
        entry = self.lines.get(line)
        return entry is not None and (entry.running or entry.halted)

    def is_running(self, line: str) -> bool:
        entry = self.lines.get(line)
        return entry is not None and entry.running

    def has_demand(self, line: str) -> bool:
        entry = self.lines.get(line)
        return entry is not None and entry.demand

    def has_trigger(self, line: str) -> bool:
        entry = self.lines.get(line)
        return entry is not None and entry.trigger

    def run_queued(self, line: str) -> bool:
        entry = self.lines.get(line)
        return entry is not None and entry.queued

    def kept_warm(self) -> set[str]:
        warm: set[str] = set()
        frontier = [line for line, entry in self.lines.items() if entry.trigger]
        while frontier:
            line = frontier.pop()
            if line not in warm:
                warm.add(line)
                frontier.extend(s for s, _ in self.lines[line].sources if s in self.lines)
        return warm

    def awaiting_runs(self) -> Iterable[str]:
        return [
            line
            for line, entry in self.lines.items()
            if entry.demand and not (entry.running or entry.halted)
        ]

    def upstream(self, line: str) -> Iterable[tuple[str, bool]]:
        return [(s, required) for s, required in self.lines[line].sources if s in self.lines]

    def is_faulted(self, line: str) -> bool:
        return self.lines[line].faulted

    def window_closed(self, line: str) -> bool:
        entry = self.lines[line]
        return not entry.sources and entry.window_closed

    def can_start(self) -> bool:
        return self.dial_back_known

    def spares_short(self) -> bool:
        return self.spares_ready < self.spares

    def waiting_for_node(self, line: str) -> str | None:
        return self.lines[line].unplaced


def chain(*names: str, **facts: bool) -> Lines:
    """``names[0]`` (an Inlet) -> ``names[1]`` -> ..., every line with ``facts``."""
    view = Lines()
    previous: str | None = None
    for name in names:
        line = f"{name}@1"
        sources = [] if previous is None else [(previous, True)]
        view.lines[line] = Line(sources=sources, **facts)
        previous = line
    return view


def rules(**overrides: object) -> FleetRules:
    """Roomy rules, so a test sees only the one it is about."""
    values: dict[str, object] = {
        "prestart": 16,
        "loading": 16,
        "linger": 60.0,
        "linger_max": 16,
        "linger_bytes": None,
        "silence": 60.0,
    }
    values.update(overrides)
    return FleetRules(**values)  # type: ignore[arg-type]


def warm_duck(fleet: Fleet, view: Lines, line: str, now: float = 0.0) -> None:
    """Give ``line`` a Duck that has started and polled."""
    view.lines.setdefault(line, Line())
    fleet.ducks.pop(line, None)
    fleet.started(line, now)
    assert fleet.polled(line, now)


def post_run(fleet: Fleet, view: Lines, line: str) -> None:
    """The driver posts a begin_run of ``line`` (the run is in flight, and queued)."""
    view[line].running = True
    view[line].queued = True
    fleet.run_posted(line)


def spawns(actions: Iterable[Action]) -> list[str]:
    return [a.line for a in actions if isinstance(a, Spawn)]


def shutdowns(actions: Iterable[Action]) -> list[str]:
    return [a.line for a in actions if isinstance(a, Shutdown)]


# -- a Duck for each run -----------------------------------------------------------------------


def test_a_posted_run_starts_its_lines_duck_once() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    post_run(fleet, view, "solo@1")
    assert fleet.decide(0.0, view).actions == [Spawn("solo@1")]
    assert fleet.ducks["solo@1"].phase is Phase.STARTING
    post_run(fleet, view, "solo@1")  # a second run while it starts: the same Duck takes it
    assert fleet.decide(0.1, view).actions == []
    fleet.started("solo@1", 0.2)
    assert fleet.ducks["solo@1"].phase is Phase.LOADING
    assert fleet.polled("solo@1", 0.3)  # its first poll: it is warm
    assert fleet.ducks["solo@1"].phase is Phase.WARM
    assert not fleet.polled("solo@1", 0.4)
    assert fleet.decide(0.5, view).actions == []


def test_no_duck_starts_before_the_dial_back_url_is_known() -> None:
    fleet, view = Fleet(rules()), chain("a", "b", demand=True)
    view.dial_back_known = False
    post_run(fleet, view, "a@1")
    assert fleet.decide(0.0, view).actions == []
    assert fleet.ducks == {}
    view.dial_back_known = True
    assert spawns(fleet.decide(1.0, view).actions) == ["a@1", "b@1"]  # the run's, then ahead


def test_a_run_taken_back_before_its_duck_started_starts_none() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    view.dial_back_known = False
    post_run(fleet, view, "solo@1")
    fleet.decide(0.0, view)
    view["solo@1"].queued = view["solo@1"].running = False  # it failed before any Duck took it
    view.dial_back_known = True
    assert fleet.decide(1.0, view).actions == []


# -- start ahead -------------------------------------------------------------------------------


def test_ducks_start_ahead_nearest_the_inlets_first() -> None:
    view = chain("source", "middle", "sink", demand=True)
    view.lines["side@1"] = Line(sources=[("middle@1", False)], demand=True)
    fleet = Fleet(rules(loading=2))
    assert spawns(fleet.decide(0.0, view).actions) == ["source@1", "middle@1"]
    assert all(fleet.ducks[line].ahead for line in ("source@1", "middle@1"))
    # While two load, no third starts; each one that finishes loading makes room for one.
    assert fleet.decide(0.1, view).actions == []
    fleet.started("source@1", 0.2)
    fleet.started("middle@1", 0.2)
    assert fleet.decide(0.3, view).actions == []
    assert fleet.polled("source@1", 0.4)
    assert spawns(fleet.decide(0.4, view).actions) == ["side@1"]  # level 2, before "sink"
    assert fleet.polled("middle@1", 0.5)
    assert spawns(fleet.decide(0.5, view).actions) == ["sink@1"]


@pytest.mark.parametrize(("cores", "loading"), [(1, 1), (2, 1), (4, 3), (16, 15)])
def test_one_fewer_duck_loads_at_a_time_than_there_are_cores(cores: int, loading: int) -> None:
    assert loading_for(cores) == loading
    view = chain(*(f"p{i}" for i in range(20)), demand=True)
    fleet = Fleet(rules(loading=loading_for(cores)))
    assert len(spawns(fleet.decide(0.0, view).actions)) == loading


def test_at_most_prestart_ducks_wait_ahead_and_a_run_frees_a_place() -> None:
    view = chain("a", "b", "c", demand=True)
    fleet = Fleet(rules(prestart=2))
    assert spawns(fleet.decide(0.0, view).actions) == ["a@1", "b@1"]
    for line in ("a@1", "b@1"):
        warm_duck(fleet, view, line)
        fleet.ducks[line].ahead = True
    assert fleet.decide(1.0, view).actions == []  # two wait ahead: no third
    post_run(fleet, view, "a@1")  # a's run began: its Duck no longer waits ahead
    assert spawns(fleet.decide(2.0, view).actions) == ["c@1"]


def test_no_duck_starts_ahead_for_a_line_with_a_duck_or_a_run() -> None:
    view = chain("a", "b", demand=True)
    view["a@1"].running = True  # a's run is in flight: a Duck for it starts with the run
    fleet = Fleet(rules())
    warm_duck(fleet, view, "b@1")
    assert fleet.decide(0.0, view).actions == []


def test_no_duck_starts_ahead_behind_a_closed_window() -> None:
    view = chain("source", "middle", "sink", demand=True)
    view["source@1"].window_closed = True
    fleet = Fleet(rules())
    assert fleet.decide(0.0, view).actions == []
    view["source@1"].window_closed = False  # the window opened
    assert spawns(fleet.decide(1.0, view).actions) == ["source@1", "middle@1", "sink@1"]


def test_no_duck_starts_ahead_behind_a_fault_but_an_optional_source_does_not_hold_back() -> None:
    view = chain("source", "middle", "sink", demand=True)
    view["middle@1"].faulted = True
    view.lines["extra@1"] = Line(demand=True, window_closed=True)
    view["sink@1"].sources.append(("extra@1", False))
    fleet = Fleet(rules())
    # source can run; middle is failed; sink waits on middle; extra's window is closed.
    assert spawns(fleet.decide(0.0, view).actions) == ["source@1"]
    view["middle@1"].faulted = False
    assert spawns(fleet.decide(1.0, view).actions) == ["middle@1", "sink@1"]


def test_a_source_without_demand_does_not_hold_its_sink_back() -> None:
    view = chain("source", "sink", demand=True)
    view["source@1"].demand = False  # fresh enough: nothing to run there
    view["source@1"].window_closed = True
    assert spawns(Fleet(rules()).decide(0.0, view).actions) == ["sink@1"]


# -- linger ------------------------------------------------------------------------------------


def test_an_idle_duck_lingers_a_minute_then_is_told_to_stop() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1")
    decision = fleet.decide(10.0, view)
    assert decision.actions == [] and decision.wake_at == 70.0
    assert fleet.ducks["solo@1"].phase is Phase.IDLE
    assert fleet.decide(69.9, view).actions == []
    assert fleet.decide(70.0, view).actions == [Shutdown("solo@1")]
    assert fleet.ducks["solo@1"].phase is Phase.STOPPING
    assert fleet.decide(71.0, view).actions == []  # told once


def test_a_lingering_duck_takes_its_lines_next_run() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1")
    fleet.decide(10.0, view)
    post_run(fleet, view, "solo@1")
    assert fleet.decide(50.0, view).actions == []  # no new Duck: the lingering one runs it
    assert fleet.ducks["solo@1"].phase is Phase.WARM
    view["solo@1"].running = view["solo@1"].queued = False
    assert fleet.decide(60.0, view).wake_at == 120.0  # idle again: a new minute


def test_linger_zero_stops_an_idle_duck_at_once() -> None:
    fleet, view = Fleet(rules(linger=0.0)), chain("solo")
    warm_duck(fleet, view, "solo@1")
    assert fleet.decide(1.0, view).actions == [Shutdown("solo@1")]


@pytest.mark.parametrize("work", ["running", "halted", "demand", "trigger", "queued"])
def test_a_duck_with_work_is_not_idle(work: str) -> None:
    fleet, view = Fleet(rules(linger=0.0)), chain("solo")
    warm_duck(fleet, view, "solo@1")
    setattr(view["solo@1"], work, True)
    assert shutdowns(fleet.decide(1.0, view).actions) == []
    assert fleet.ducks["solo@1"].phase is Phase.WARM


def test_a_standing_trigger_keeps_the_ducks_upstream_of_it_warm() -> None:
    fleet, view = Fleet(rules(linger=0.0)), chain("source", "middle", "sink")
    view.lines["other@1"] = Line()
    view["sink@1"].trigger = True
    for line in view.lines:
        warm_duck(fleet, view, line)
    assert shutdowns(fleet.decide(1.0, view).actions) == ["other@1"]


def test_only_the_most_recently_idle_ducks_linger_past_linger_max() -> None:
    fleet, view = Fleet(rules(linger_max=2)), chain("a", "b", "c")
    for at, line in enumerate(["a@1", "b@1", "c@1"]):
        warm_duck(fleet, view, line)
        fleet.decide(float(at), view)  # a idles first, c last
    assert fleet.ducks["a@1"].phase is Phase.STOPPING
    assert [fleet.ducks[line].phase for line in ("b@1", "c@1")] == [Phase.IDLE, Phase.IDLE]


def test_a_new_duck_that_finds_its_work_gone_lingers_once_it_polled() -> None:
    fleet, view = Fleet(rules(linger=0.0)), chain("solo")
    post_run(fleet, view, "solo@1")
    fleet.decide(0.0, view)
    view["solo@1"].running = view["solo@1"].queued = False  # killed while it started
    fleet.started("solo@1", 1.0)
    assert fleet.decide(1.0, view).actions == []  # still loading: told at its first poll
    assert fleet.polled("solo@1", 2.0)
    assert fleet.decide(2.0, view).actions == [Shutdown("solo@1")]


def test_a_shutdown_taken_back_for_a_new_run_keeps_the_duck() -> None:
    fleet, view = Fleet(rules(linger=0.0)), chain("solo")
    warm_duck(fleet, view, "solo@1")
    assert fleet.decide(1.0, view).actions == [Shutdown("solo@1")]
    fleet.shutdown_withdrawn("solo@1")  # a run came before the Duck read its shutdown
    post_run(fleet, view, "solo@1")
    assert fleet.decide(2.0, view).actions == []
    assert fleet.at_work(view) == {"solo@1"}  # a graceful stop now leaves it running
    view["solo@1"].running = view["solo@1"].queued = False
    assert fleet.decide(3.0, view).actions == [Shutdown("solo@1")]  # and it idles again


# -- the memory budget -------------------------------------------------------------------------


def idle_ducks(fleet: Fleet, view: Lines, count: int) -> list[str]:
    """``count`` idle Ducks, the first idle longest (since t = 0, 1, ...)."""
    lines = [f"p{i}@1" for i in range(count)]
    for at, line in enumerate(lines):
        warm_duck(fleet, view, line, float(at))
        fleet.ducks[line].phase = Phase.IDLE
        fleet.ducks[line].idle_since = float(at)
    return lines


def test_idle_ducks_are_measured_when_they_might_not_fit() -> None:
    view = Lines()
    fleet = Fleet(rules(linger_bytes=100 * MIB))
    lines = idle_ducks(fleet, view, 2)  # 2 x 25 MiB x 2 <= 100 MiB: no reading needed
    assert fleet.decide(10.0, view).actions == []
    lines += idle_ducks(fleet, view, 3)[2:]
    assert fleet.decide(10.0, view).actions == [Measure(tuple(lines))]
    fleet.measured(dict.fromkeys(lines, 10 * MIB))
    assert fleet.decide(10.0, view).actions == []  # each is measured once while it idles


def test_as_many_idle_ducks_linger_as_fit_longest_idle_stopped_first() -> None:
    view = Lines()
    fleet = Fleet(rules(linger_bytes=60 * MIB))
    lines = idle_ducks(fleet, view, 4)
    fleet.decide(10.0, view)
    fleet.measured({lines[0]: 10 * MIB, lines[1]: 30 * MIB, lines[2]: 20 * MIB, lines[3]: 30 * MIB})
    # Newest first: p3 (30) and p2 (20) fit in 60 MiB; p1 (30) does not, nor p0 behind it.
    assert shutdowns(fleet.decide(10.0, view).actions) == [lines[0], lines[1]]


def test_a_duck_whose_memory_cannot_be_read_counts_as_a_usual_duck() -> None:
    view = Lines()
    fleet = Fleet(rules(linger_bytes=IDLE_DUCK_BYTES + MIB))
    lines = idle_ducks(fleet, view, 2)
    fleet.measured({lines[0]: None, lines[1]: None})
    assert fleet.ducks[lines[0]].size == IDLE_DUCK_BYTES
    assert shutdowns(fleet.decide(10.0, view).actions) == [lines[0]]


def test_no_duck_is_measured_while_a_run_is_in_flight_or_a_duck_starts() -> None:
    view = Lines()
    fleet = Fleet(rules(linger_bytes=10 * MIB))
    idle_ducks(fleet, view, 2)
    warm_duck(fleet, view, "busy@1")
    view["busy@1"].running = True
    assert fleet.decide(10.0, view).actions == []  # unmeasured Ducks count by number only
    view["busy@1"].running = False
    view["busy@1"].demand = True
    fleet.ducks["new@1"] = fleet.ducks.pop("busy@1")
    fleet.ducks["new@1"].phase = Phase.STARTING
    assert not any(isinstance(a, Measure) for a in fleet.decide(11.0, view).actions)


def test_a_reading_of_a_duck_no_longer_idle_is_dropped() -> None:
    view = Lines()
    fleet = Fleet(rules(linger_bytes=10 * MIB))
    (line,) = idle_ducks(fleet, view, 1)
    view[line].demand = True
    fleet.decide(1.0, view)
    fleet.measured({line: 999 * MIB})
    assert fleet.ducks[line].size is None


# -- spares ------------------------------------------------------------------------------------


def test_spares_are_started_again_only_when_no_run_is_in_flight() -> None:
    fleet, view = Fleet(rules()), chain("solo", demand=True)
    view.spares, view.spares_ready = 2, 1
    warm_duck(fleet, view, "solo@1")
    view["solo@1"].running = True
    assert Replenish() not in fleet.decide(1.0, view).actions
    view["solo@1"].running = False
    assert Replenish() in fleet.decide(2.0, view).actions
    view.spares_ready = 2  # kept at two: none more
    assert Replenish() not in fleet.decide(3.0, view).actions


def test_no_spare_is_started_while_a_lines_duck_starts_or_loads() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    view.spares = 2
    post_run(fleet, view, "solo@1")
    assert fleet.decide(0.0, view).actions == [Spawn("solo@1")]
    view["solo@1"].running = view["solo@1"].queued = False
    assert Replenish() not in fleet.decide(1.0, view).actions  # STARTING
    fleet.started("solo@1", 2.0)
    assert Replenish() not in fleet.decide(2.0, view).actions  # LOADING
    assert fleet.polled("solo@1", 3.0)
    assert Replenish() in fleet.decide(3.0, view).actions


# -- silence and stalls ------------------------------------------------------------------------

SILENT = "the Duck of solo@1 was silent for 60 s mid-run"


def test_a_duck_silent_for_a_minute_mid_run_is_killed_and_its_run_fails() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1", now=5.0)
    view["solo@1"].running = True
    assert fleet.decide(10.0, view).wake_at == 65.0
    fleet.heard("solo@1", 30.0)  # its events push the deadline on
    assert fleet.decide(64.9, view).wake_at == 90.0
    assert fleet.decide(89.9, view).actions == []
    assert fleet.decide(90.0, view).actions == [Kill("solo@1"), Fail("solo@1", SILENT)]
    assert fleet.ducks["solo@1"].phase is Phase.KILLED
    # Its exit is the kill's doing: no second failure; a queued retry gets a new Duck.
    view["solo@1"].queued = True
    exit_actions = fleet.exited("solo@1", -9, adopted=False, now=91.0, view=view)
    assert exit_actions == []
    assert fleet.decide(91.0, view).actions == [Spawn("solo@1")]


def test_a_duck_no_node_took_in_a_minute_fails_its_run_saying_so() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    post_run(fleet, view, "solo@1")
    assert fleet.decide(0.0, view).actions == [Spawn("solo@1")]
    fleet.started("solo@1", 0.0)  # started, never polled: it waits for a node
    view["solo@1"].unplaced = "Ray has no node free for it yet (2 CPUs)"
    assert fleet.decide(60.0, view).actions == [
        Kill("solo@1"),
        Fail(
            "solo@1",
            "the Duck of solo@1 was not placed within 60 s: "
            "Ray has no node free for it yet (2 CPUs)",
        ),
    ]


def test_an_idle_duck_gives_way_to_a_duck_waiting_for_a_node() -> None:
    fleet, view = Fleet(rules()), chain("old", "new", "waiting")
    for line, since in (("old@1", 1.0), ("new@1", 2.0)):
        warm_duck(fleet, view, line, now=since)
        assert fleet.decide(since, view).actions == []  # idle, lingering
    post_run(fleet, view, "waiting@1")
    assert fleet.decide(3.0, view).actions == [Spawn("waiting@1")]
    fleet.started("waiting@1", 3.0)
    view["waiting@1"].unplaced = "Ray has no node free for it yet (1 CPU)"
    assert fleet.decide(4.0, view).actions == [Shutdown("old@1")]  # the longest idle
    assert fleet.decide(5.0, view).actions == []  # one gives way per Duck waiting


def test_silence_counts_only_with_a_run_in_flight() -> None:
    fleet, view = Fleet(rules()), chain("solo", trigger=True)
    warm_duck(fleet, view, "solo@1")
    decision = fleet.decide(1000.0, view)
    assert decision.actions == [] and decision.wake_at is None


def test_a_stalled_duck_is_replaced_for_the_run_begun_after_its_report() -> None:
    """A Duck that reports itself stalled (its worker_error fails the newest run, in the
    driver) then exits: the failure it reports stands (the exit's finds no run in flight; see
    test_driver.py), and a run begun meanwhile gets a new Duck."""
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1")
    view["solo@1"].halted = True  # the report failed the run
    actions = fleet.exited("solo@1", 4, adopted=False, now=1.0, view=view)
    assert actions == [Fail("solo@1", "the Duck of solo@1 exited with code 4")]
    view["solo@1"].queued = view["solo@1"].running = True  # a retry begun after it
    assert fleet.decide(1.0, view).actions == [Spawn("solo@1")]


# -- exits, kills, start failures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "adopted", "message"),
    [
        (1, False, "the Duck of solo@1 exited with code 1"),
        (-9, False, "the Duck of solo@1 was killed by signal 9"),
        (None, True, "the Duck of solo@1 (adopted after a restart) exited"),
    ],
)
def test_a_duck_that_exits_unasked_fails_its_lines_run(
    code: int | None, adopted: bool, message: str
) -> None:
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1")
    view["solo@1"].running = True
    assert fleet.exited("solo@1", code, adopted=adopted, now=1.0, view=view) == [
        Fail("solo@1", message)
    ]
    assert "solo@1" not in fleet.ducks


def test_an_idle_ducks_exit_fails_nothing() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1")
    assert fleet.exited("solo@1", 0, adopted=False, now=1.0, view=view) == []


def test_a_killed_duck_is_replaced_only_once_it_exited() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    warm_duck(fleet, view, "solo@1")
    assert fleet.kill("solo@1") == [Kill("solo@1")]
    post_run(fleet, view, "solo@1")  # a run after the kill: it waits for the next Duck
    assert fleet.decide(1.0, view).actions == []
    assert fleet.at_work(view) == set()  # a stop now would not leave the killed Duck
    assert fleet.exited("solo@1", -9, adopted=False, now=2.0, view=view) == []
    assert fleet.decide(2.0, view).actions == [Spawn("solo@1")]


def test_a_stopping_duck_is_followed_by_a_new_one_for_a_run_it_did_not_take() -> None:
    fleet, view = Fleet(rules(linger=0.0)), chain("solo")
    warm_duck(fleet, view, "solo@1")
    assert fleet.decide(1.0, view).actions == [Shutdown("solo@1")]
    post_run(fleet, view, "solo@1")  # it had read its shutdown already
    assert fleet.decide(2.0, view).actions == []
    assert fleet.exited("solo@1", 0, adopted=False, now=3.0, view=view) == []
    assert fleet.decide(3.0, view).actions == [Spawn("solo@1")]


def test_a_duck_that_could_not_start_fails_the_run_it_was_started_for() -> None:
    fleet, view = Fleet(rules()), chain("solo", "ahead", demand=True)
    post_run(fleet, view, "solo@1")
    assert spawns(fleet.decide(0.0, view).actions) == ["solo@1", "ahead@1"]
    message = "could not start the Duck of solo@1: no memory"
    assert fleet.start_failed("solo@1", message, view) == [Fail("solo@1", message)]
    assert fleet.start_failed("ahead@1", "could not start", view) == []  # no work to fail
    assert fleet.ducks == {}


# -- adoption after a restart ------------------------------------------------------------------


def test_an_adopted_duck_takes_its_lines_runs_and_no_second_duck_starts() -> None:
    fleet, view = Fleet(rules()), chain("solo", demand=True)
    fleet.adopted("solo@1", 0.0)  # it holds the line's lock: it outlived the last Catchment
    assert fleet.decide(0.0, view).actions == []  # no Duck started ahead beside it
    post_run(fleet, view, "solo@1")  # the run in flight at the restart, dispatched again
    assert fleet.decide(1.0, view).actions == []
    assert fleet.at_work(view) == {"solo@1"}


def test_a_duck_refused_its_line_makes_the_catchment_adopt_the_holder() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    post_run(fleet, view, "solo@1")
    fleet.decide(0.0, view)
    fleet.started("solo@1", 0.1)
    assert fleet.exited("solo@1", EXIT_LOCKED, adopted=False, now=0.2, view=view) == [
        Adopt("solo@1")
    ]
    assert fleet.decide(0.2, view).actions == []  # nothing starts while it is adopted
    fleet.adopted("solo@1", 0.3)
    assert fleet.decide(0.3, view).actions == []  # the holder takes the queued run
    assert fleet.ducks["solo@1"].adopted


def test_when_the_holder_is_gone_too_the_run_fails_and_a_queued_one_gets_a_duck() -> None:
    fleet, view = Fleet(rules()), chain("solo")
    post_run(fleet, view, "solo@1")
    fleet.decide(0.0, view)
    fleet.started("solo@1", 0.1)
    fleet.exited("solo@1", EXIT_LOCKED, adopted=False, now=0.2, view=view)
    fleet.decide(0.2, view)
    assert fleet.not_adopted("solo@1", view) == [
        Fail("solo@1", f"the Duck of solo@1 exited with code {EXIT_LOCKED}")
    ]
    assert fleet.decide(0.3, view).actions == [Spawn("solo@1")]


# -- a graceful stop ---------------------------------------------------------------------------


def test_a_graceful_stop_leaves_running_only_the_ducks_with_work_in_flight() -> None:
    view = chain("busy", "queued", "idle", "stopping", "killed", "halted")
    fleet = Fleet(rules())
    for line in view.lines:
        warm_duck(fleet, view, line)
    view["busy@1"].running = True
    view["queued@1"].queued = True  # its begin_run not yet taken
    view["halted@1"].halted = True  # failed: nothing in flight
    view["stopping@1"].running = True
    fleet.ducks["stopping@1"].phase = Phase.STOPPING
    view["killed@1"].running = True
    fleet.kill("killed@1")
    assert fleet.at_work(view) == {"busy@1", "queued@1"}
