"""Every read and write of ``duck.db``.

The Catchment calls the store from one thread (its event loop). Each operation that changes
engine state runs inside :meth:`Store.transaction`, so the state change and the history rows that
explain it commit together.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any

from duckstring.catchment.placement import Placement
from duckstring.catchment.store.schema import MIGRATIONS
from duckstring.engine.clock import SECOND
from duckstring.engine.core import Engine
from duckstring.engine.rows import TABLES, Rows, pond_rows
from duckstring.pond.names import line_id

#: Engine row tables and the SQLite table each is kept in.
ENGINE_TABLES = {table: f"engine_{table}" for table in TABLES}


class StoreError(RuntimeError):
    """The database cannot be used (newer schema than this code, corrupt, locked)."""


@dataclass(frozen=True)
class Deployment:
    """One deployed version of a Pond."""

    name: str
    version: str
    major: int
    kind: str
    manifest: dict[str, Any]
    ripples: list[dict[str, Any]]
    path: str
    deployed_at: int
    is_active: bool

    @property
    def line(self) -> str:
        return line_id(self.name, self.major)


class Store:
    """``duck.db``: deployments, engine state and run history."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self.con.row_factory = sqlite3.Row
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self._depth = 0
        # The engine rows of each Pond as last committed, and as written by the open
        # transaction: save_ponds rewrites only the tables whose rows changed (see there).
        self._saved: dict[str, Rows] = {}
        self._written: dict[str, Rows] = {}
        self._migrate()

    def close(self) -> None:
        self.con.close()

    # -- schema ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.con.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this Duckstring "
                f"understands ({len(MIGRATIONS)}): upgrade Duckstring"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.con.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        self.con.execute(statement)
                self.con.execute(f"PRAGMA user_version = {number}")
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        return int(self.con.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of change; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._written.clear()  # rolled back: what was committed before still stands
            self.con.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self.con.execute("COMMIT")
        except BaseException:
            # What reached the file is unknown: every Pond's rows are written afresh next time.
            self._written.clear()
            self._saved.clear()
            raise
        self._saved.update(self._written)
        self._written.clear()

    # -- engine state ------------------------------------------------------------------------

    def load_engine_rows(self) -> Rows:
        rows: Rows = {}
        for table, sql_table in ENGINE_TABLES.items():
            rows[table] = [dict(row) for row in self.con.execute(f"SELECT * FROM {sql_table}")]
        return rows

    def save_ponds(self, engine: Engine, pond_ids: Iterable[str]) -> None:
        """Replace the stored engine rows of the given Ponds with their current state.

        Only the tables whose rows differ from what this store last wrote for the Pond are
        rewritten: most changes (a run beginning or ending) touch a Pond's own row, its Ripples
        and its runs, not its Sources, Ripple edges or windows, and deleting and inserting all
        seven tables cost ~0.15 ms a Pond, several times a run. A Pond not written since the
        store opened, or whose last write failed, is written whole.
        """
        written = self._written if self._depth else self._saved
        for pond_id in pond_ids:
            p = engine.ponds.get(pond_id)
            rows = pond_rows(p) if p is not None else {table: [] for table in ENGINE_TABLES}
            before = self._written.get(pond_id) or self._saved.get(pond_id)
            try:
                for table, sql_table in ENGINE_TABLES.items():
                    table_rows = rows[table]
                    if before is not None and before[table] == table_rows:
                        continue
                    key = "id" if table == "ponds" else "pond"
                    self.con.execute(f"DELETE FROM {sql_table} WHERE {key} = ?", (pond_id,))
                    if not table_rows:
                        continue
                    columns = list(table_rows[0])
                    sql = (
                        f"INSERT INTO {sql_table} ({', '.join(columns)}) "
                        f"VALUES ({', '.join('?' for _ in columns)})"
                    )
                    self.con.executemany(
                        sql, [tuple(row[c] for c in columns) for row in table_rows]
                    )
            except BaseException:
                self._written.pop(pond_id, None)
                self._saved.pop(pond_id, None)
                raise
            written[pond_id] = rows

    # -- deployments -------------------------------------------------------------------------

    def _deployment(self, row: sqlite3.Row) -> Deployment:
        return Deployment(
            name=row["name"],
            version=row["version"],
            major=row["major"],
            kind=row["kind"],
            manifest=json.loads(row["manifest"]),
            ripples=json.loads(row["ripples"]),
            path=row["path"],
            deployed_at=row["deployed_at"],
            is_active=bool(row["is_active"]),
        )

    def record_deployment(self, deployment: Deployment) -> None:
        """Store a deployed version and make it the selected one of its major."""
        self.con.execute(
            "UPDATE deployments SET is_active = 0 WHERE name = ? AND major = ?",
            (deployment.name, deployment.major),
        )
        self.con.execute(
            "INSERT OR REPLACE INTO deployments (name, version, major, kind, manifest, ripples, "
            "path, deployed_at, is_active) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                deployment.name,
                deployment.version,
                deployment.major,
                deployment.kind,
                json.dumps(deployment.manifest),
                json.dumps(deployment.ripples),
                deployment.path,
                deployment.deployed_at,
            ),
        )

    def deployment(self, name: str, version: str) -> Deployment | None:
        row = self.con.execute(
            "SELECT * FROM deployments WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        return None if row is None else self._deployment(row)

    def active_deployments(self) -> list[Deployment]:
        """The selected version of every line, by name then major."""
        rows = self.con.execute(
            "SELECT * FROM deployments WHERE is_active = 1 ORDER BY name, major"
        ).fetchall()
        return [self._deployment(row) for row in rows]

    def forget_history(self, line: str, version: str) -> None:
        """A redeploy of the same version overwrites it, history included."""
        seqs = [
            row[0]
            for row in self.con.execute(
                "SELECT seq FROM runs WHERE line = ? AND version = ?", (line, version)
            )
        ]
        self.con.execute("DELETE FROM runs WHERE line = ? AND version = ?", (line, version))
        self.con.executemany(
            "DELETE FROM ripple_runs WHERE line = ? AND seq = ?", [(line, s) for s in seqs]
        )

    # -- run history -------------------------------------------------------------------------

    def run_began(
        self,
        line: str,
        name: str,
        major: int,
        seq: int,
        f: int | None,
        version: str | None,
        kind: str,
        at: int,
        cause: dict[str, Any] | None = None,
    ) -> None:
        """A Pond Run began; ``cause`` (the engine's ``RunCause.to_row``) says why."""
        self.con.execute(
            "INSERT OR REPLACE INTO runs (line, name, major, seq, f, version, kind, started_at, "
            "status, cause) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (
                line,
                name,
                major,
                seq,
                f,
                version,
                kind,
                at,
                None if cause is None else json.dumps(cause),
            ),
        )

    def run_finished(
        self,
        line: str,
        seq: int,
        status: str,
        at: int,
        error: str | None = None,
        traceback: str | None = None,
    ) -> None:
        self.con.execute(
            "UPDATE runs SET status = ?, finished_at = ?, error = COALESCE(?, error), "
            "traceback = COALESCE(?, traceback) WHERE line = ? AND seq = ?",
            (status, at, error, traceback, line, seq),
        )

    def attempt_started(
        self, line: str, seq: int, ripple: str, attempt: int, f: int | None, at: int
    ) -> None:
        self.con.execute(
            "INSERT OR IGNORE INTO ripple_runs (line, seq, ripple, attempt, f, status, "
            "started_at) VALUES (?, ?, ?, ?, ?, 'running', ?)",
            (line, seq, ripple, attempt, f, at),
        )

    def attempt_finished(
        self,
        line: str,
        seq: int,
        ripple: str,
        attempt: int,
        status: str,
        at: int,
        error: str | None = None,
        traceback: str | None = None,
    ) -> None:
        self.con.execute(
            "INSERT OR IGNORE INTO ripple_runs (line, seq, ripple, attempt, status, started_at) "
            "VALUES (?, ?, ?, ?, 'running', ?)",
            (line, seq, ripple, attempt, at),
        )
        self.con.execute(
            "UPDATE ripple_runs SET status = ?, finished_at = ?, error = ?, traceback = ? "
            "WHERE line = ? AND seq = ? AND ripple = ? AND attempt = ?",
            (status, at, error, traceback, line, seq, ripple, attempt),
        )

    def fail_running_attempts(self, line: str, at: int, error: str) -> None:
        """The worker is gone: every attempt still marked running ends failed."""
        self.con.execute(
            "UPDATE ripple_runs SET status = 'failed', finished_at = ?, error = ? "
            "WHERE line = ? AND status = 'running'",
            (at, error, line),
        )

    def first_event(self, line: str, event_id: str) -> bool:
        """Record a worker event id; False when it was applied before (a replay)."""
        cursor = self.con.execute(
            "INSERT OR IGNORE INTO applied_events (line, event_id) VALUES (?, ?)",
            (line, event_id),
        )
        return cursor.rowcount == 1

    def runs(self, lines: list[str] | None, limit: int) -> list[dict[str, Any]]:
        """Run history newest first, optionally only of ``lines`` (every version of each)."""
        where, params = "", []
        if lines is not None:
            where = f"WHERE line IN ({', '.join('?' for _ in lines)})"
            params = lines
        rows = self.con.execute(
            f"SELECT * FROM runs {where} ORDER BY started_at DESC, id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [dict(row) for row in rows]

    def run(self, line: str, seq: int) -> dict[str, Any] | None:
        """One run of ``line`` by its seq, its ``cause`` decoded (None when not recorded)."""
        row = self.con.execute(
            "SELECT * FROM runs WHERE line = ? AND seq = ?", (line, seq)
        ).fetchone()
        if row is None:
            return None
        run = dict(row)
        run["cause"] = None if run["cause"] is None else json.loads(run["cause"])
        return run

    def last_failed_runs(self, lines: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The newest failed or killed run of each of ``lines`` that has one."""
        wanted = list(lines)
        if not wanted:
            return {}
        rows = self.con.execute(
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY line ORDER BY seq DESC) "
            "AS newest FROM runs WHERE status IN ('failed', 'killed') "
            f"AND line IN ({', '.join('?' for _ in wanted)})) WHERE newest = 1",
            wanted,
        ).fetchall()
        return {row["line"]: dict(row) for row in rows}

    def failed_run_counts(self) -> dict[str, int]:
        """How many Pond Runs of each line its history records as failed."""
        rows = self.con.execute(
            "SELECT line, COUNT(*) AS failed FROM runs WHERE status = 'failed' GROUP BY line"
        ).fetchall()
        return {row["line"]: row["failed"] for row in rows}

    def ripple_durations(
        self, lines: list[str] | None = None, last: int = 20
    ) -> dict[str, dict[str, float]]:
        """Measured durations: for each line (or only ``lines``) and each Ripple, the median in
        seconds of its last ``last`` successful attempts. What the Catchment expects a Ripple
        to take, for explaining and forecasting; a Ripple that never succeeded is absent."""
        where, params = "", []
        if lines is not None:
            where = f"AND line IN ({', '.join('?' for _ in lines)})"
            params = lines
        rows = self.con.execute(
            "SELECT line, ripple, took FROM (SELECT line, ripple, "
            "finished_at - started_at AS took, "
            "ROW_NUMBER() OVER (PARTITION BY line, ripple ORDER BY id DESC) AS newest "
            "FROM ripple_runs WHERE status = 'success' AND started_at IS NOT NULL "
            f"AND finished_at IS NOT NULL {where}) WHERE newest <= ?",
            (*params, last),
        ).fetchall()
        taken: dict[str, dict[str, list[int]]] = {}
        for row in rows:
            taken.setdefault(row["line"], {}).setdefault(row["ripple"], []).append(row["took"])
        return {
            line: {ripple: max(0, median(took)) / SECOND for ripple, took in ripples.items()}
            for line, ripples in taken.items()
        }

    def running_since(self, lines: list[str] | None = None) -> dict[tuple[str, str], int]:
        """When each Ripple running now started, by ``(line, ripple)`` (its newest attempt
        marked running), for forecasting how long it still takes."""
        where, params = "", []
        if lines is not None:
            where = f"AND line IN ({', '.join('?' for _ in lines)})"
            params = lines
        rows = self.con.execute(
            "SELECT line, ripple, max(started_at) AS since FROM ripple_runs "
            f"WHERE status = 'running' AND started_at IS NOT NULL {where} GROUP BY line, ripple",
            params,
        ).fetchall()
        return {(row["line"], row["ripple"]): row["since"] for row in rows}

    def attempts_of(self, line: str, seqs: list[int]) -> list[dict[str, Any]]:
        if not seqs:
            return []
        rows = self.con.execute(
            f"SELECT * FROM ripple_runs WHERE line = ? AND seq IN ({', '.join('?' for _ in seqs)}) "
            "ORDER BY id",
            (line, *seqs),
        ).fetchall()
        return [dict(row) for row in rows]

    # -- where Ducks run ---------------------------------------------------------------------

    def catchment_id(self) -> str:
        """This Catchment's id, made once and kept: it names its Ducks on a shared cluster."""
        row = self.con.execute("SELECT value FROM catchment_meta WHERE key = 'id'").fetchone()
        if row is not None:
            return str(row["value"])
        made = uuid.uuid4().hex[:12]
        self.con.execute(
            "INSERT OR IGNORE INTO catchment_meta (key, value) VALUES ('id', ?)", (made,)
        )
        return self.catchment_id()

    def placements(self) -> dict[str, tuple[Placement, str | None]]:
        """Every line's placement and the node its last Duck ran on."""
        return {
            row["line"]: (
                Placement(row["cpus"], row["memory"], json.loads(row["resources"])),
                row["node"],
            )
            for row in self.con.execute("SELECT * FROM placements")
        }

    def set_placement(self, line: str, placement: Placement) -> None:
        self.con.execute(
            "INSERT INTO placements (line, cpus, memory, resources) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (line) DO UPDATE SET cpus = excluded.cpus, memory = excluded.memory, "
            "resources = excluded.resources",
            (line, placement.cpus, placement.memory, json.dumps(placement.resources)),
        )

    def set_node(self, line: str, node: str) -> None:
        self.con.execute(
            "INSERT INTO placements (line, node) VALUES (?, ?) "
            "ON CONFLICT (line) DO UPDATE SET node = excluded.node",
            (line, node),
        )
