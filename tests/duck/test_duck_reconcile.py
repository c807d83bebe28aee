"""A Duck picks up after a restart (its own, or the Catchment's): Ripples that already
succeeded are not run again, and no event is reported twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from duck_support import Line, begin, wait_until, write_version

from duckstring.engine.ripples import RippleGraph

F1 = 1_767_225_600_000_000


def crash_mid_run(line: Line) -> None:
    """Run 1 gets as far as b, then its Duck stops without a word (b's outcome is lost)."""
    first = line.executor()
    line.hold("b")
    first.submit(begin(1, F1))
    wait_until(lambda: len(line.calls("b")) == 1)
    first.terminate()
    assert first.join(5) == 0
    line.release("b")
    wait_until(lambda: first.calls_running == 0)
    first.close()


def test_redispatch_after_restart_reruns_only_unfinished_ripples(line: Line) -> None:
    crash_mid_run(line)
    assert line.event_ids() == [
        "ripple_started:1:a:0",
        "ripple_succeeded:1:a:0",
        "ripple_started:1:b:0",
    ]

    second = line.executor()
    second.submit(begin(1, F1))
    assert second.wait_idle(10)

    assert [len(line.calls(r)) for r in "abc"] == [1, 2, 1]
    assert line.event_ids() == [
        "ripple_started:1:a:0",
        "ripple_succeeded:1:a:0",
        "ripple_started:1:b:0",
        "ripple_started:1:b:1",
        "ripple_succeeded:1:b:1",
        "ripple_started:1:c:0",
        "ripple_succeeded:1:c:0",
        "run_completed:1",
    ]
    ledger = line.ledger()
    try:
        b = [(x.attempt, x.status, x.error) for x in ledger.attempts(1) if x.ripple == "b"]
        run = ledger.run(1)
    finally:
        ledger.close()
    assert b == [
        (0, "failed", "interrupted: the Duck stopped before the Ripple finished"),
        (1, "success", None),
    ]
    assert run is not None and run.status == "success"
    assert line.parquet("c").exists()


def test_an_interrupted_attempt_does_not_spend_the_retry_budget(line: Line) -> None:
    crash_mid_run(line)
    line.fail("b", 1)
    second = line.executor()
    second.submit(begin(1, F1, retries=1))
    assert second.wait_idle(10)
    ledger = line.ledger()
    try:
        b = [(x.attempt, x.status) for x in ledger.attempts(1) if x.ripple == "b"]
        run = ledger.run(1)
    finally:
        ledger.close()
    assert b == [(0, "failed"), (1, "failed"), (2, "success")]
    assert run is not None and run.status == "success"


def test_redispatch_of_a_finished_run_only_resends_its_ending(line: Line) -> None:
    first = line.executor()
    first.submit(begin(1, F1))
    assert first.wait_idle(10)
    first.shutdown()
    assert first.join(5) == 0
    first.close()
    ledger = line.ledger()
    try:
        ledger.mark_sent([row.id for row in ledger.outbox()])  # the Catchment had them all
    finally:
        ledger.close()
    ids = line.event_ids()

    second = line.executor()
    second.submit(begin(1, F1))
    assert second.wait_idle(10)

    assert [len(line.calls(r)) for r in "abc"] == [1, 1, 1]
    ledger = line.ledger()
    try:
        outbox = ledger.outbox()
    finally:
        ledger.close()
    assert [row.id for row in outbox] == ids  # nothing new, nothing twice
    assert [row.id for row in outbox if not row.sent] == ["run_completed:1"]


def test_redispatch_of_a_run_in_flight_changes_nothing(line: Line) -> None:
    duck = line.executor()
    line.hold("b")
    duck.submit(begin(1, F1))
    wait_until(lambda: len(line.calls("b")) == 1)
    duck.submit(begin(1, F1))  # the Catchment restarted and dispatches again
    line.release("b")
    assert duck.wait_idle(10)
    assert [len(line.calls(r)) for r in "abc"] == [1, 1, 1]
    ids = line.event_ids()
    assert len(ids) == len(set(ids)) == 7


def test_event_ids_name_the_fact_not_the_moment_or_the_duck(tmp_path: Path) -> None:
    """Two Ducks (different ids, different moments) doing the same work report the same ids,
    so the Catchment can apply a replayed outbox once."""
    seen = []
    for duck_id in ("one", "two"):
        line = Line(tmp_path / duck_id)
        line.root.mkdir(parents=True)
        write_version(line.layout)
        line.fail("c", 1)
        duck = line.executor(duck_id=duck_id)
        duck.submit(begin(1, F1, retries=1))
        duck.submit(begin(2, F1 + 1, kind="push"))
        assert duck.wait_idle(10)
        duck.shutdown()
        duck.join(5)
        duck.close()
        seen.append(line.event_ids())
    assert sorted(seen[0]) == sorted(seen[1])  # overlapping runs may interleave differently
    assert len(seen[0]) == len(set(seen[0]))
    assert "ripple_failed:1:c:0" in seen[0] and "ripple_succeeded:1:c:1" in seen[0]


def test_stall_is_reported_and_stops_the_duck(line: Line, monkeypatch: pytest.MonkeyPatch) -> None:
    # A graph that never offers anything to start: outstanding work, nothing running.
    monkeypatch.setattr(RippleGraph, "due", lambda self, start_f: [])
    duck = line.executor(stall=0.3)
    duck.submit(begin(1, F1))
    assert duck.join(5) == 4
    (event,) = line.events()
    assert event["type"] == "worker_error"
    assert event["error"] == "stalled: outstanding work but no Ripple running for 0.3 s"
