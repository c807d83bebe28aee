"""What a spare Duck does while it waits for a line: everything a Duck's start does that does
not depend on the line.

A Duck is forked from the forkserver, and the forked process copies each memory page the first
time it writes to it. A Duck's first pass through the import system, the manifest parser,
SQLite and DuckDB's storage touches a great many pages (Python writes a reference count on
every object it uses), and each step of it takes two to four times what it takes in a warm
process. A spare goes once through that start on a scratch line, so the Duck it becomes starts
its first run sooner (measured on one cold Duck, run start to first Ripple: ~18 ms from a
spare, ~26 ms from a fork). Nothing of the rehearsal is kept, and nothing that goes wrong in
it matters: the real start reports its own errors.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

from duckstring.duck import registry
from duckstring.duck.ledger import Ledger
from duckstring.engine.ripples import RippleGraph, RippleSpec
from duckstring.pond.manifest import load_manifest
from duckstring.pond.topology import discover_ripples

#: The scratch line's Pond: a manifest and two Ripples, as small as a real one gets.
MANIFEST = '[pond]\nname = "rehearsal"\nversion = "1.0.0"\n'
RIPPLES = """from duckstring import ripple


@ripple
def first(pond):
    pond.write_table("first", pond.con.sql("SELECT 1 AS n"))


@ripple(parents=[first])
def second(pond):
    pond.write_table("second", pond.read_table("first"))
"""


def get_ready() -> None:
    """Start the database threads, then rehearse a Duck's start on a scratch line."""
    registry.start_threads()
    scratch = Path(tempfile.mkdtemp(prefix="duckstring-spare-"))
    try:
        with contextlib.suppress(Exception):
            _rehearse(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _rehearse(folder: Path) -> None:
    (folder / "pond.toml").write_text(MANIFEST)
    (folder / "src").mkdir()
    (folder / "src" / "pond.py").write_text(RIPPLES)
    manifest = load_manifest(folder)
    topology = discover_ripples(folder / manifest.ripples)
    RippleGraph(tuple(RippleSpec(r.name, r.parents) for r in topology.ripples))
    for item in topology.ripples:  # the scratch module stays out of the Duck's modules
        sys.modules.pop(item.function.__module__, None)
    ledger = Ledger(folder / "pond.db")
    try:
        ledger.interrupt_orphans(0)
        ledger.prune_sent(0)
        ledger.runs()
        ledger.ripple_end_fs()
    finally:
        ledger.close()
    registry.rehearse_attach(folder / "registry.duckdb")
