"""``pond run``: one local Pond Run against the hydrated puddles, with no server.

The working database ``puddles/registry.duckdb`` is recreated for every run. Unless ``fresh``,
it is first seeded with the self-puddle (the Pond's own prior state), so every run starts from
the same state and two runs give identical output. Ripples then run in dependency order,
independent ones in parallel threads, each on its own cursor; Sources are read from
``puddles/ponds/{source}/data/``. A successful run exports every table to ``puddles/out/``;
a failed run exports nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from duckstring.local.layout import LocalLayout
from duckstring.pond.export import PARQUET_SUFFIX, ExportedTable, export_tables, sql_string
from duckstring.pond.handle import Pond
from duckstring.pond.isolation import user_traceback
from duckstring.pond.manifest import load_manifest
from duckstring.pond.names import quote_identifier
from duckstring.pond.topology import Ripple, Topology, discover_ripples


@dataclass(frozen=True)
class RippleOutcome:
    """How one Ripple went: its time, the tables it wrote, and its error if it failed."""

    name: str
    seconds: float
    tables: tuple[str, ...] = ()
    error: BaseException | None = None
    traceback_text: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunResult:
    """The outcome of a local Pond Run."""

    pond: str
    seeded: list[str] = field(default_factory=list)
    outcomes: list[RippleOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    exported: list[ExportedTable] = field(default_factory=list)

    @property
    def failed(self) -> list[RippleOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def run_pond(
    project: Path | str,
    *,
    ripple: str | None = None,
    fresh: bool = False,
    on_start: Callable[[str], None] = lambda name: None,
    on_finish: Callable[[RippleOutcome], None] = lambda outcome: None,
    max_workers: int | None = None,
) -> RunResult:
    """Run the Pond at ``project`` once, locally.

    ``ripple`` runs only that Ripple and the Ripples it depends on (its ancestors). ``fresh``
    skips the self-puddle seeding. ``on_start`` is called from the Ripple's own thread as it
    starts, ``on_finish`` from the calling thread as each Ripple ends. Raises ``KeyError`` for
    an unknown Ripple, and the manifest and discovery errors; a failing Ripple is reported in
    the result, not raised.
    """
    project = Path(project)
    manifest = load_manifest(project)
    topology = discover_ripples(project / manifest.ripples)
    if ripple is not None:
        topology = topology.with_ancestors(ripple)
    layout = LocalLayout(project)
    layout.puddles.mkdir(parents=True, exist_ok=True)
    for stale in (layout.registry, layout.registry.with_name(layout.registry.name + ".wal")):
        stale.unlink(missing_ok=True)

    result = RunResult(manifest.name)
    con = duckdb.connect(str(layout.registry))
    try:
        if not fresh:
            result.seeded = _seed_from_self_puddle(con, layout, manifest.name)
        base = Pond(
            manifest.name,
            manifest.version,
            project,
            con,
            layout.source_table,
            sources=manifest.source_names,
        )
        _run_ripples(base, topology, result, on_start, on_finish, max_workers)
        if result.ok:
            result.exported = export_tables(con, layout.out)
    finally:
        con.close()
    return result


def _seed_from_self_puddle(
    con: duckdb.DuckDBPyConnection, layout: LocalLayout, pond: str
) -> list[str]:
    folder = layout.source_data(pond)
    if not folder.is_dir():
        return []
    seeded = []
    for path in sorted(folder.glob(f"*{PARQUET_SUFFIX}")):
        table = path.name.removesuffix(PARQUET_SUFFIX)
        con.execute(
            f"CREATE TABLE {quote_identifier(table)} AS "
            f"SELECT * FROM read_parquet({sql_string(str(path))})"
        )
        seeded.append(table)
    return seeded


def _run_ripples(
    base: Pond,
    topology: Topology,
    result: RunResult,
    on_start: Callable[[str], None],
    on_finish: Callable[[RippleOutcome], None],
    max_workers: int | None,
) -> None:
    pending = list(topology.ripples)
    done: set[str] = set()
    running: dict[Future[RippleOutcome], Ripple] = {}
    workers = max_workers or min(32, max(4, (os.cpu_count() or 1) * 4), len(pending))
    with ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="ripple") as pool:
        while pending or running:
            if not result.failed:
                for item in [r for r in pending if all(p in done for p in r.parents)]:
                    pending.remove(item)
                    running[pool.submit(_call_ripple, base, item, on_start)] = item
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                outcome = future.result()
                result.outcomes.append(outcome)
                on_finish(outcome)
                if outcome.ok:
                    done.add(outcome.name)
    # After a failure nothing new starts; what never ran is reported as skipped.
    result.skipped = [item.name for item in pending]


def _call_ripple(base: Pond, item: Ripple, on_start: Callable[[str], None]) -> RippleOutcome:
    handle = base.for_thread()
    started = time.perf_counter()
    try:
        on_start(item.name)
        item.function(handle)
    except BaseException as error:
        return RippleOutcome(
            item.name,
            time.perf_counter() - started,
            tuple(handle.tables_written),
            error,
            user_traceback(error),
        )
    finally:
        with contextlib.suppress(duckdb.Error):
            handle.close()
    return RippleOutcome(item.name, time.perf_counter() - started, tuple(handle.tables_written))
