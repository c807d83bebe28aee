"""``pond hydrate``: materialise a Pond's puddles into ``puddles/ponds/{source}/data/``.

Each Source is hydrated as a unit: its puddles write into a fresh staging folder that replaces
the Source's data folder only when all of them succeeded, so a failing puddle leaves the previous
snapshot intact. Whole-Source puddles run before table puddles, so a table puddle can refine one
table of a whole-Source snapshot.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from duckstring.local.layout import LocalLayout
from duckstring.pond.export import PARQUET_SUFFIX, sql_string
from duckstring.pond.isolation import user_traceback
from duckstring.pond.manifest import Manifest, load_manifest
from duckstring.pond.names import check_table_name
from duckstring.pond.puddle import PuddleError, PuddleSpec, discover_puddles, run_puddle
from duckstring.remote import puddles as remote_puddles

Warn = Callable[[str], None]


class PuddleFailedError(Exception):
    """A puddle function raised; carries the author's traceback for display."""

    def __init__(self, target: str, error: BaseException) -> None:
        self.target = target
        self.error = error
        self.traceback_text = user_traceback(error)
        super().__init__(f"puddle {target!r} failed: {type(error).__name__}: {error}")


@dataclass(frozen=True)
class HydratedTable:
    """One table a hydrate wrote."""

    source: str
    table: str
    rows: int
    path: Path


def hydrate(
    project: Path | str,
    sources: Sequence[str] = (),
    *,
    catchment: str | None = None,
    warn: Warn = lambda message: None,
    from_catchment: bool = False,
) -> list[HydratedTable]:
    """Run the puddles of ``project`` (only those of ``sources``, if given).

    Sources named in ``sources`` without a puddle, and puddles for a Pond that is neither a
    Source nor the Pond itself, are reported through ``warn`` and skipped. Raises
    :class:`PuddleFailedError` if a puddle function fails. With ``from_catchment``, a Source
    without a puddle is downloaded instead, as the Catchment ``catchment`` (else the default
    one) publishes it.
    """
    remote_puddles.install()  # p.catchment() reaches registered Catchments
    project = Path(project)
    manifest = load_manifest(project)
    layout = LocalLayout(project)
    module = project / manifest.puddles
    if module.is_file():
        specs = _usable(discover_puddles(module), manifest, warn)
    elif not from_catchment:
        warn(f"no puddles module at {manifest.puddles}; nothing to hydrate")
        return []
    else:
        specs = []
    by_source: dict[str, list[PuddleSpec]] = {}
    for spec in specs:
        by_source.setdefault(spec.source, []).append(spec)

    hydrated: list[HydratedTable] = []
    if sources:
        selected = []
        for name in dict.fromkeys(sources):
            if name in by_source:
                selected.append(name)
            elif from_catchment:
                hydrated.extend(_download(layout, name, catchment))
            else:
                warn(f"no puddle defines Source {name!r}; skipped")
    else:
        selected = list(by_source)
        for source in manifest.sources:
            if source.name not in by_source:
                if from_catchment:
                    hydrated.extend(_download(layout, source.name, catchment))
                    continue
                note = " (optional)" if source.optional else ""
                warn(
                    f"Source {source.name!r}{note} has no puddle; Ripples that read it will "
                    "fail in a local run"
                )
    for name in selected:
        hydrated.extend(_hydrate_source(layout, name, by_source[name], project, catchment, warn))
    return hydrated


def _usable(specs: list[PuddleSpec], manifest: Manifest, warn: Warn) -> list[PuddleSpec]:
    allowed = {*manifest.source_names, manifest.name}
    usable = []
    for spec in specs:
        if spec.source in allowed:
            usable.append(spec)
        else:
            warn(
                f"puddle {spec.target!r} is for {spec.source!r}, which is neither a Source of "
                f"{manifest.name!r} nor {manifest.name!r} itself; skipped"
            )
    return usable


def _hydrate_source(
    layout: LocalLayout,
    source: str,
    specs: list[PuddleSpec],
    project: Path,
    catchment: str | None,
    warn: Warn,
) -> list[HydratedTable]:
    final = layout.source_data(source)
    staging = final.with_name(f".data.{uuid.uuid4().hex}.staging")
    staging.mkdir(parents=True)
    try:
        # Whole-Source puddles first, so table puddles refine their output.
        for spec in sorted(specs, key=lambda s: s.table is not None):
            before = _files(staging)
            try:
                run_puddle(spec, staging, project, catchment)
            except Exception as error:
                raise PuddleFailedError(spec.target, error) from error
            if _files(staging) == before:
                warn(f"puddle {spec.target!r} wrote no table")
        # Count from the files themselves: a puddle may also copy files into p.path directly.
        written = _row_counts(source, staging)
        retired = final.with_name(f".data.{uuid.uuid4().hex}.retired")
        if final.exists():
            final.rename(retired)
        staging.rename(final)
        shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [
        HydratedTable(source, table, rows, layout.source_table(source, table))
        for table, rows in sorted(written.items())
    ]


def _download(layout: LocalLayout, source: str, catchment: str | None) -> list[HydratedTable]:
    """A Source without a puddle, as a Catchment publishes it (``--from-catchment``)."""
    downloaded = remote_puddles.download_source(
        catchment, source, lambda table: layout.source_table(source, table)
    )
    hydrated = []
    for table, path in downloaded:
        query = f"SELECT count(*) FROM read_parquet({sql_string(str(path))})"
        rows = duckdb.execute(query).fetchall()
        hydrated.append(HydratedTable(source, table, int(rows[0][0]), path))
    return hydrated


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        path.name: (path.stat().st_mtime_ns, path.stat().st_size)
        for path in folder.glob(f"*{PARQUET_SUFFIX}")
    }


def _row_counts(source: str, folder: Path) -> dict[str, int]:
    counts = {}
    con = duckdb.connect()
    try:
        for path in sorted(folder.glob(f"*{PARQUET_SUFFIX}")):
            table = path.name.removesuffix(PARQUET_SUFFIX)
            try:
                check_table_name(table)
                query = f"SELECT count(*) FROM read_parquet({sql_string(str(path))})"
                counts[table] = int(con.execute(query).fetchall()[0][0])
            except (ValueError, duckdb.Error) as error:
                reason = str(error).splitlines()[0]
                raise PuddleError(
                    f"puddles for {source!r} left {path.name} in p.path, which is not a "
                    f"readable Parquet table ({reason})"
                ) from None
    finally:
        con.close()
    return counts
