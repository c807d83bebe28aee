import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from duckstring.local.hydrate import hydrate
from duckstring.local.runner import RippleOutcome, run_pond

ProjectFactory = Callable[..., Path]

SALES_MANIFEST = """
[pond]
name = "sales"
version = "1.0.0"

[sources]
transactions = "1.0.0"
"""

SALES_PUDDLES = """
from duckstring import puddle

@puddle("transactions.transactions")
def transactions(p):
    return p.con.sql(
        "SELECT range AS id, 1 + range % 3 AS product_id, 2 AS quantity FROM range(30)"
    )
"""

# Two independent Ripples of 0.4 s each feed a third; run in parallel, both start before either
# ends.
SALES_RIPPLES = """
import time
from duckstring import ripple

@ripple
def totals(pond):
    time.sleep(0.4)
    lines = pond.read_table("transactions.transactions")
    pond.write_table("totals", lines.aggregate("product_id, sum(quantity) AS units"))

@ripple
def labels(pond):
    time.sleep(0.4)
    labels = "SELECT * FROM (VALUES (1, 'pen'), (2, 'ink'), (3, 'pad')) v(product_id, label)"
    pond.write_table("labels", pond.con.sql(labels))

@ripple(parents=[totals, labels])
def report(pond):
    joined = pond.con.sql(
        "SELECT label, units FROM totals JOIN labels USING (product_id) ORDER BY label"
    )
    pond.write_table("report", joined)
"""


def parquet_rows(path: Path) -> list[tuple[object, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()


def digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(repr(parquet_rows(p)).encode()).hexdigest()
        for p in sorted(folder.glob("*.parquet"))
    }


def test_ripples_run_in_dependency_order_with_independent_ones_in_parallel(
    make_project: ProjectFactory,
) -> None:
    project = make_project(SALES_MANIFEST, SALES_RIPPLES, SALES_PUDDLES)
    hydrate(project)
    events: list[tuple[str, str, float]] = []

    def started(name: str) -> None:
        events.append(("start", name, time.monotonic()))

    def finished(outcome: RippleOutcome) -> None:
        events.append(("finish", outcome.name, time.monotonic()))

    result = run_pond(project, on_start=started, on_finish=finished)

    assert result.ok, [o.traceback_text for o in result.failed]
    assert [o.name for o in result.outcomes if o.name == "report"] == ["report"]
    assert {o.name: o.tables for o in result.outcomes} == {
        "totals": ("totals",),
        "labels": ("labels",),
        "report": ("report",),
    }
    report_start = next(t for kind, name, t in events if kind == "start" and name == "report")
    parents_done = [t for kind, name, t in events if kind == "finish" and name != "report"]
    assert report_start >= max(parents_done)
    independent_starts = [t for kind, name, t in events if kind == "start" and name != "report"]
    assert max(independent_starts) < min(parents_done), "independent Ripples did not overlap"
    out = project / "puddles" / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "labels.parquet",
        "report.parquet",
        "totals.parquet",
    ]
    assert parquet_rows(out / "report.parquet") == [("ink", 20), ("pad", 20), ("pen", 20)]


def test_a_failing_ripple_reports_its_traceback_and_exports_nothing(
    make_project: ProjectFactory,
) -> None:
    project = make_project(
        SALES_MANIFEST,
        """
        from duckstring import ripple

        @ripple
        def first(pond):
            pond.write_table("first", pond.con.sql("SELECT 1 AS x"))

        @ripple(parents=[first])
        def broken(pond):
            raise RuntimeError("the join went wrong")

        @ripple(parents=[broken])
        def after(pond):
            pond.write_table("after", pond.con.sql("SELECT 1 AS x"))
        """,
    )
    result = run_pond(project)
    assert not result.ok
    [failure] = result.failed
    assert failure.name == "broken"
    assert "RuntimeError: the join went wrong" in failure.traceback_text
    assert 'pond.py", line 10, in broken' in failure.traceback_text
    assert "runner.py" not in failure.traceback_text
    assert result.skipped == ["after"]
    assert not (project / "puddles" / "out").exists()


def test_a_missing_source_snapshot_fails_the_ripple_naming_the_source(
    make_project: ProjectFactory,
) -> None:
    project = make_project(SALES_MANIFEST, SALES_RIPPLES)
    result = run_pond(project)
    messages = [str(o.error) for o in result.failed]
    assert any("'transactions' has no published table 'transactions'" in m for m in messages)


APPEND_MANIFEST = """
[pond]
name = "ledger"
version = "1.0.0"
type = "inlet"
"""

# Appends one batch to its own previous output, like the demo's transactions Inlet.
APPEND_RIPPLES = """
from duckstring import ripple

@ripple
def ingest(pond):
    if pond.has_table("entries"):
        previous = pond.read_table("entries")
        start = previous.aggregate("coalesce(max(id), -1) + 1").fetchall()[0][0]
    else:
        previous, start = None, 0
    batch = pond.con.sql(
        f"SELECT range AS id, hash(range) % 100 AS amount FROM range({start}, {start} + 5)"
    )
    pond.write_table("entries", batch if previous is None else previous.union(batch))
"""

APPEND_PUDDLES = """
from duckstring import puddle

@puddle("ledger.entries")
def prior(p):
    return p.con.sql("SELECT range AS id, 7 AS amount FROM range(10)")
"""


def test_self_puddle_seeding_makes_two_runs_identical(make_project: ProjectFactory) -> None:
    project = make_project(APPEND_MANIFEST, APPEND_RIPPLES, APPEND_PUDDLES)
    hydrate(project)
    out = project / "puddles" / "out"

    first = run_pond(project)
    assert first.ok and first.seeded == ["entries"]
    first_digest = digest(out)
    second = run_pond(project)
    assert second.ok
    assert digest(out) == first_digest
    assert duckdb.sql(f"SELECT count(*) FROM '{out / 'entries.parquet'}'").fetchall() == [(15,)]

    fresh = run_pond(project, fresh=True)
    assert fresh.ok and fresh.seeded == []
    assert duckdb.sql(f"SELECT count(*) FROM '{out / 'entries.parquet'}'").fetchall() == [(5,)]


def test_without_a_self_puddle_each_run_starts_from_nothing(make_project: ProjectFactory) -> None:
    project = make_project(APPEND_MANIFEST, APPEND_RIPPLES)
    out = project / "puddles" / "out"
    run_pond(project)
    first_digest = digest(out)
    run_pond(project)
    assert digest(out) == first_digest


def test_running_one_ripple_runs_it_with_its_ancestors_only(make_project: ProjectFactory) -> None:
    project = make_project(
        SALES_MANIFEST,
        SALES_RIPPLES.replace("time.sleep(0.4)", "pass"),
        SALES_PUDDLES,
    )
    hydrate(project)
    only_labels = run_pond(project, ripple="labels")
    assert [o.name for o in only_labels.outcomes] == ["labels"]
    assert [t.name for t in only_labels.exported] == ["labels"]
    report = run_pond(project, ripple="report")
    assert sorted(o.name for o in report.outcomes) == ["labels", "report", "totals"]
    with pytest.raises(KeyError, match="has no Ripple 'nope'"):
        run_pond(project, ripple="nope")
