"""The Duck's coordinator on a real root: Ripples in order, published Parquet, the ledger and
the exact events of a run, overlapping runs, retries, failures and forced runs."""

from __future__ import annotations

import time

import duckdb
from duck_support import CHAIN, HELPERS, Line, begin, wait_until, write_version

F1 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in engine micros
F2 = F1 + 60_000_000


def rows(path: object) -> list[tuple[object, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


def test_three_ripples_run_in_dependency_order_and_publish_parquet(line: Line) -> None:
    duck = line.executor()
    duck.submit(begin(1, F1))
    assert duck.wait_idle(10)

    a, b, c = line.calls("a"), line.calls("b"), line.calls("c")
    assert len(a) == len(b) == len(c) == 1
    assert a[0] < b[0] < c[0]
    assert rows(line.parquet("a")) == [(1,)]
    assert rows(line.parquet("b")) == [(2,)]
    assert rows(line.parquet("c")) == [(1, 2)]
    assert line.event_ids() == [
        "ripple_started:1:a:0",
        "ripple_succeeded:1:a:0",
        "ripple_started:1:b:0",
        "ripple_succeeded:1:b:0",
        "ripple_started:1:c:0",
        "ripple_succeeded:1:c:0",
        "run_completed:1",
    ]
    completed = line.events()[-1]
    assert completed["type"] == "run_completed"
    assert (completed["seq"], completed["f"]) == (1, F1)
    ledger = line.ledger()
    try:
        run = ledger.run(1)
        assert run is not None and run.status == "success"
        assert [(x.ripple, x.attempt, x.status, x.f) for x in ledger.attempts(1)] == [
            ("a", 0, "success", F1),
            ("b", 0, "success", F1),
            ("c", 0, "success", F1),
        ]
    finally:
        ledger.close()


def test_begin_run_reaches_the_first_ripple_within_milliseconds(line: Line) -> None:
    duck = line.executor()
    started = time.perf_counter()
    duck.submit(begin(1, F1))  # cold: imports the version's code first
    assert duck.wait_idle(10)
    cold = line.calls("a")[0] - started

    started = time.perf_counter()
    duck.submit(begin(2, F2))
    assert duck.wait_idle(10)
    warm = line.calls("a")[1] - started
    print(f"begin_run -> first Ripple call: cold {cold * 1000:.1f} ms, warm {warm * 1000:.1f} ms")
    assert warm < 0.05
    assert cold < 1.0


def test_overlapping_runs_pipeline_and_both_complete(line: Line) -> None:
    duck = line.executor()
    line.hold("b")
    duck.submit(begin(1, F1))
    wait_until(lambda: len(line.calls("b")) == 1)  # b holds run 1 while a is free again
    duck.submit(begin(2, F2))
    wait_until(lambda: len(line.calls("a")) == 2)  # a runs for run 2 while b runs for run 1
    assert len(line.calls("b")) == 1 and not line.calls("c")
    line.release("b")
    assert duck.wait_idle(10)

    assert [len(line.calls(r)) for r in "abc"] == [2, 2, 2]
    ledger = line.ledger()
    try:
        assert [(r.seq, r.status) for r in ledger.runs()] == [(1, "success"), (2, "success")]
        attempts = {(x.seq, x.ripple): x for x in ledger.attempts()}
    finally:
        ledger.close()
    # Run 2's a started while run 1's b was still running: the runs overlapped.
    assert attempts[(2, "a")].started_at < attempts[(1, "b")].finished_at
    assert attempts[(2, "a")].f == F2 and attempts[(1, "b")].f == F1
    completions = [(e["seq"], e["f"]) for e in line.events() if e["type"] == "run_completed"]
    assert completions == [(1, F1), (2, F2)]


def test_immediate_retries_record_one_attempt_per_try(line: Line) -> None:
    line.fail("b", 2)
    duck = line.executor()
    duck.submit(begin(1, F1, retries=2))
    assert duck.wait_idle(10)

    ledger = line.ledger()
    try:
        attempts = [(x.ripple, x.attempt, x.status) for x in ledger.attempts(1)]
        failed = [x for x in ledger.attempts(1) if x.status == "failed"]
        run = ledger.run(1)
    finally:
        ledger.close()
    assert attempts == [
        ("a", 0, "success"),
        ("b", 0, "failed"),
        ("b", 1, "failed"),
        ("b", 2, "success"),
        ("c", 0, "success"),
    ]
    assert all(x.error == "ValueError: boom in b" for x in failed)
    assert run is not None and run.status == "success"
    retried = [e for e in line.events() if e["type"] == "ripple_failed"]
    assert [(e["attempt"], e["retrying"]) for e in retried] == [(0, True), (1, True)]
    assert line.event_ids()[-1] == "run_completed:1"


def test_spent_budget_fails_the_run_with_the_ripples_traceback(line: Line) -> None:
    line.fail("b", -1)
    duck = line.executor()
    duck.submit(begin(1, F1, retries=1))
    assert duck.wait_idle(10)

    events = line.events()
    assert [e["id"] for e in events] == [
        "ripple_started:1:a:0",
        "ripple_succeeded:1:a:0",
        "ripple_started:1:b:0",
        "ripple_failed:1:b:0",
        "ripple_started:1:b:1",
        "ripple_failed:1:b:1",
        "run_failed:1",
    ]
    assert [e["retrying"] for e in events if e["type"] == "ripple_failed"] == [True, False]
    failed = events[-1]
    assert (failed["seq"], failed["f"]) == (1, F1)
    assert failed["error"] == "ValueError: boom in b"
    trace = str(failed["traceback"])
    assert trace.startswith("Traceback")
    assert 'raise ValueError(f"boom in {name}")' in trace
    assert "duckstring/duck/" not in trace  # the author's frames, not the Duck's
    assert not line.calls("c")
    assert not line.parquet("c").exists()  # a failed run publishes nothing
    ledger = line.ledger()
    try:
        run = ledger.run(1)
        assert run is not None and (run.status, run.error) == ("failed", "ValueError: boom in b")
    finally:
        ledger.close()


def test_a_run_after_a_failure_runs_again_and_completes(line: Line) -> None:
    line.fail("c", 1)
    duck = line.executor()
    duck.submit(begin(1, F1))
    assert duck.wait_idle(10)
    duck.submit(begin(2, F2, kind="retry"))
    assert duck.wait_idle(10)
    assert [e["id"] for e in line.events() if e["type"].startswith("run_")] == [
        "run_failed:1",
        "run_completed:2",
    ]
    assert rows(line.parquet("c")) == [(1, 2)]


def test_forced_run_reruns_every_ripple_and_completes_by_seq(line: Line) -> None:
    duck = line.executor()
    duck.submit(begin(1, F1))
    assert duck.wait_idle(10)
    published = line.parquet("c").stat().st_mtime_ns
    duck.submit(begin(2, F1, kind="force"))
    assert duck.wait_idle(10)

    assert [len(line.calls(r)) for r in "abc"] == [2, 2, 2]
    forced = [e for e in line.events() if e["seq"] == 2]
    assert [e["id"] for e in forced][-1] == "run_completed:2"
    assert (forced[-1]["seq"], forced[-1]["f"]) == (2, F1)
    assert [e["f"] for e in forced if e["type"] == "ripple_started"] == [F1, F1, F1]
    assert line.parquet("c").stat().st_mtime_ns > published  # published again


def test_version_that_cannot_load_fails_its_run(line: Line) -> None:
    duck = line.executor()
    duck.submit(begin(1, F1, version="9.9.9"))
    assert duck.wait_idle(10)
    (failed,) = line.events()
    assert (failed["id"], failed["seq"], failed["f"]) == ("run_failed:1", 1, F1)
    assert str(failed["error"]).startswith("cannot load version 9.9.9:")
    assert duck.exit_code is None  # the Duck itself is fine


def test_a_run_finishes_on_the_version_it_began_with_after_a_redeploy(line: Line) -> None:
    # 1.1.0 traces its calls as v2_* and adds a Ripple d after c.
    v2 = CHAIN.replace('trace(pond, "', 'trace(pond, "v2_') + (
        '\n\n@ripple(parents=[c])\ndef d(pond):\n    trace(pond, "v2_d")\n'
        '    pond.write_table("d", pond.read_table("c"))\n'
    )
    write_version(line.layout, v2, version="1.1.0")
    duck = line.executor()
    line.hold("b")
    duck.submit(begin(1, F1))
    wait_until(lambda: len(line.calls("b")) == 1)
    duck.submit(begin(2, F2, version="1.1.0"))
    wait_until(lambda: len(line.calls("v2_a")) == 1)
    line.release("b")
    assert duck.wait_idle(10)

    assert [len(line.calls(r)) for r in ("a", "b", "c")] == [1, 1, 1]
    assert [len(line.calls(f"v2_{r}")) for r in ("a", "b", "c", "d")] == [1, 1, 1, 1]
    ledger = line.ledger()
    try:
        assert [(r.seq, r.version, r.status) for r in ledger.runs()] == [
            (1, "1.0.0", "success"),
            (2, "1.1.0", "success"),
        ]
        started = {(x.seq, x.ripple) for x in ledger.attempts()}
    finally:
        ledger.close()
    assert started == {(1, "a"), (1, "b"), (1, "c"), (2, "a"), (2, "b"), (2, "c"), (2, "d")}
    assert rows(line.parquet("d")) == [(1, 2)]


#: The test Pond, leaving one line beside its module file each time the module is imported.
COUNTS_IMPORTS = CHAIN + (
    "\n\nwith open(Path(__file__).with_name('imported'), 'a') as _out:\n    _out.write('x\\n')\n"
)


def imports(line: Line, version: str = "1.0.0") -> int:
    path = line.layout.version("pond", version) / "src" / "imported"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_the_expected_version_is_loaded_before_the_first_command(line: Line) -> None:
    write_version(line.layout, COUNTS_IMPORTS)
    duck = line.executor(expect="1.0.0")
    wait_until(lambda: imports(line) == 1, timeout=10)  # no command yet
    assert line.events() == []

    duck.submit(begin(1, F1))
    assert duck.wait_idle(10)
    assert line.event_ids()[-1] == "run_completed:1"
    assert imports(line) == 1  # the run used the code loaded ahead


def test_an_expected_version_that_cannot_load_changes_nothing(line: Line) -> None:
    duck = line.executor(expect="9.9.9")
    duck.submit(begin(1, F1, version="9.9.9"))
    duck.submit(begin(2, F2))
    assert duck.wait_idle(10)
    assert duck.exit_code is None
    failed, *rest = line.events()
    assert failed["id"] == "run_failed:1"  # reported by the run, not by the Duck's start
    assert str(failed["error"]).startswith("cannot load version 9.9.9:")
    assert rest[-1]["id"] == "run_completed:2"


def test_wait_handled_returns_once_the_runs_submitted_have_started_their_ripples(
    line: Line,
) -> None:
    line.hold("a")
    duck = line.executor()
    duck.submit(begin(1, F1))
    assert duck.wait_handled(10)
    assert line.event_ids() == ["ripple_started:1:a:0"]  # begun, its first Ripple running
    line.release("a")
    assert duck.wait_idle(10)
    assert line.event_ids()[-1] == "run_completed:1"


#: A version whose import waits while ``hold/import`` exists under the root.
SLOW_IMPORT = CHAIN + (
    "\n\n_hold = Path(__file__).parents[4] / 'hold' / 'import'"
    "\nwhile _hold.exists():\n    time.sleep(0.002)\n"
)


def test_wait_handled_gives_up_after_its_timeout_and_not_on_a_stopped_coordinator(
    line: Line,
) -> None:
    write_version(line.layout, SLOW_IMPORT)
    line.hold("import")
    duck = line.executor(expect="1.0.0")
    duck.submit(begin(1, F1))
    assert not duck.wait_handled(0.2)  # still importing the version
    line.release("import")
    assert duck.wait_handled(10)
    assert duck.wait_idle(10)

    duck.terminate()
    duck.join(10)
    duck.submit(begin(2, F2))  # a stopped coordinator handles nothing more ...
    started = time.monotonic()
    assert duck.wait_handled(10)  # ... and waiting on it ends at once
    assert time.monotonic() - started < 5


def test_a_source_read_error_names_the_sources_file(line: Line) -> None:
    # A Source snapshot is read through a pinned /dev/fd/N; the run's error names the file.
    write_version(
        line.layout,
        HELPERS
        + """

@ripple
def a(pond):
    pond.write_table("a", pond.read_table("upstream.t"))
""",
        manifest_extra='\n[sources]\nupstream = "1.0.0"\n',
    )
    published = line.layout.table("upstream", 1, "t")
    published.parent.mkdir(parents=True)
    published.write_bytes(b"not parquet")
    duck = line.executor()
    duck.submit(begin(1, F1))
    assert duck.wait_idle(10)

    failed = line.events()[-1]
    assert failed["type"] == "run_failed"
    assert str(published) in str(failed["error"])
    assert str(published) in str(failed["traceback"])
    assert "/dev/fd/" not in f"{failed['error']}{failed['traceback']}"
