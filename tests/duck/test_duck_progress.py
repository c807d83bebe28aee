"""The coordinator's small rules on their own: the stall timer, the handover counts, and which
run a Ripple Run belongs to. Pure: an injected clock, no threads, no sleeps."""

from __future__ import annotations

from duckstring.duck.ledger import RUNNING
from duckstring.duck.progress import Progress, StallWatch
from duckstring.duck.records import FAILING, RunState, run_of
from duckstring.engine.pond import FORCE, PULL


class Seconds:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_stall_is_due_after_stall_seconds_stuck_in_a_row() -> None:
    clock = Seconds()
    watch = StallWatch(5.0, now=clock)
    assert watch.wait() is None  # nothing stuck: the coordinator waits without a limit
    assert not watch.stalled(True)
    clock.value += 3.0
    assert watch.wait() == 2.0
    assert not watch.stalled(True)
    clock.value += 2.0
    assert watch.wait() == 0.0
    assert watch.stalled(True)


def test_a_step_that_moves_starts_the_stall_count_again() -> None:
    clock = Seconds()
    watch = StallWatch(5.0, now=clock)
    watch.stalled(True)
    clock.value += 4.0
    assert not watch.stalled(False)
    assert watch.wait() is None
    watch.stalled(True)
    clock.value += 4.0
    assert not watch.stalled(True)
    clock.value += 1.0
    assert watch.stalled(True)


def test_a_zero_stall_is_due_at_the_first_stuck_step() -> None:
    assert StallWatch(0.0, now=Seconds()).stalled(True)


def test_handed_commands_count_until_handled_and_idle_needs_no_outstanding_work() -> None:
    progress = Progress()
    assert progress.wait_handled(0) and progress.wait_idle(0)
    progress.submitted()
    progress.submitted()
    assert not progress.wait_handled(0)
    progress.handled()
    assert not progress.wait_handled(0)
    progress.handled()
    progress.outstanding = True
    assert progress.wait_handled(0)
    assert not progress.wait_idle(0)
    progress.outstanding = False
    assert progress.wait_idle(0)


def test_a_stopped_coordinator_releases_every_waiter() -> None:
    progress = Progress()
    progress.submitted()
    progress.outstanding = True
    progress.stop()
    assert progress.wait_handled(0) and progress.wait_idle(0)


def run(
    seq: int, f: int, kind: str = PULL, *, status: str = RUNNING, dormant: bool = False
) -> RunState:
    return RunState(seq, f, "1.0.0", kind, status, dormant)


def test_a_ripple_run_belongs_to_the_newest_run_at_its_freshness() -> None:
    runs = [run(1, 10), run(2, 20), run(3, 20), run(4, 30)]
    assert run_of(runs, runs[-1], 20, forcing=False).seq == 3


def test_without_a_run_at_its_freshness_the_newest_run_below_takes_it() -> None:
    runs = [run(1, 10), run(2, 15), run(3, 30)]
    assert run_of(runs, runs[-1], 20, forcing=False).seq == 2


def test_a_forcing_ripple_belongs_to_a_force_run_at_or_below_it() -> None:
    runs = [run(1, 20), run(2, 10, FORCE), run(3, 30, FORCE)]
    assert run_of(runs, runs[-1], 20, forcing=True).seq == 2
    assert run_of(runs, runs[-1], 20, forcing=False).seq == 1


def test_runs_ending_or_dormant_are_passed_by_and_latest_is_the_last_resort() -> None:
    ending = run(1, 20, status=FAILING)
    dormant = run(2, 20, dormant=True)
    above = run(3, 30)
    assert run_of([ending, dormant, above], ending, 20, forcing=False) is above
    assert run_of([ending, dormant], dormant, 20, forcing=False) is dormant
