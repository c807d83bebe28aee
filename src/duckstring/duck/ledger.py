"""``pond.db``: a Duck's run ledger and event outbox (SQLite, WAL).

The ledger is the Duck's own record of what it ran: one row per Pond Run it was given and one
per Ripple attempt. Every event the Duck reports is written to the outbox in the same
transaction as the ledger change it reports, and only then sent, so a Duck that crashes or a
Catchment that is down loses nothing: unsent events are replayed, and their ids are stable.

This module owns the schema and its migrations (``PRAGMA user_version``). One connection per
thread: the coordinator writes runs, attempts and events; the sender reads the outbox and marks
events sent.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from duckstring.duck.protocol import DuckEvent
from duckstring.engine.clock import Micros

#: How a run or a Ripple attempt stands: the words of the Catchment's run history and its API.
RUNNING, SUCCESS, FAILED = "running", "success", "failed"

#: Error of an attempt that was running when its Duck stopped; it is not the Ripple's fault, so
#: it does not spend the run's retry budget.
INTERRUPTED = "interrupted: the Duck stopped before the Ripple finished"

_MIGRATIONS: tuple[str, ...] = (
    # 1: runs, attempts and the outbox.
    """
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY,
        f INTEGER NOT NULL,
        version TEXT NOT NULL,
        kind TEXT NOT NULL,
        immediate_retries INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        began_at INTEGER NOT NULL,
        finished_at INTEGER,
        error TEXT
    );
    CREATE TABLE attempts (
        seq INTEGER NOT NULL,
        f INTEGER NOT NULL,
        ripple TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed')),
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        error TEXT,
        traceback TEXT,
        PRIMARY KEY (seq, ripple, attempt)
    );
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        sent INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_unsent ON outbox (sent) WHERE sent = 0;
    """,
    # 2: a run that ended well is 'success', as its attempts, the Catchment's history and the
    # API say (it was 'completed'). SQLite changes a CHECK only by copying the table.
    """
    CREATE TABLE runs_2 (
        seq INTEGER PRIMARY KEY,
        f INTEGER NOT NULL,
        version TEXT NOT NULL,
        kind TEXT NOT NULL,
        immediate_retries INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed')),
        began_at INTEGER NOT NULL,
        finished_at INTEGER,
        error TEXT
    );
    INSERT INTO runs_2
        SELECT seq, f, version, kind, immediate_retries,
               CASE status WHEN 'completed' THEN 'success' ELSE status END,
               began_at, finished_at, error
        FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_2 RENAME TO runs;
    """,
)


class LedgerError(RuntimeError):
    """A ledger this code cannot use (written by a newer Duckstring)."""


@dataclass(frozen=True)
class RunRow:
    seq: int
    f: Micros
    version: str
    kind: str
    immediate_retries: int
    status: str
    error: str | None = None


@dataclass(frozen=True)
class AttemptRow:
    seq: int
    f: Micros
    ripple: str
    attempt: int
    status: str
    started_at: Micros
    finished_at: Micros | None
    error: str | None
    traceback: str | None


@dataclass(frozen=True)
class OutboxRow:
    id: str
    body: str
    sent: bool


class Ledger:
    """One connection to a line's ``pond.db``. Not shared between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # The coordinator thread that owns a Ledger may not be the thread that opened it.
        self.db = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._use_wal(timeout=10.0)
        # NORMAL in WAL mode survives a process crash (not a power cut), and keeps commits cheap
        # on the dispatch path.
        self.db.execute("PRAGMA synchronous = NORMAL")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def _use_wal(self, timeout: float) -> None:
        """Put a new file in WAL mode (a file already in it stays so).

        Switching takes the file exclusively and does not wait for a lock someone else
        holds, so two connections making the same new ledger at once (the Catchment at
        deploy, the line's first Duck) can find it locked: then the other one is switching
        it, and this one waits for that to end like any reader would.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # waits its turn
            if self.db.execute("PRAGMA journal_mode").fetchone() == ("wal",):
                return
            time.sleep(0.001)

    def _migrate(self) -> None:
        version = self._version()
        while version < len(_MIGRATIONS):
            with self._transaction():
                # Read again under the write lock: another process (the Catchment preparing
                # a new line, or a Duck) may have migrated since.
                version = self._version()
                if version < len(_MIGRATIONS):
                    for statement in _MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    version += 1
                    self.db.execute(f"PRAGMA user_version = {version}")

    def _version(self) -> int:
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        if version > len(_MIGRATIONS):
            raise LedgerError(
                f"{self.path} has schema version {version}; this Duck knows up to "
                f"{len(_MIGRATIONS)} (was it written by a newer Duckstring?)"
            )
        return int(version)

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # -- runs ------------------------------------------------------------------------------------

    def run(self, seq: int) -> RunRow | None:
        row = self.db.execute(
            "SELECT seq, f, version, kind, immediate_retries, status, error FROM runs "
            "WHERE seq = ?",
            (seq,),
        ).fetchone()
        return RunRow(*row) if row else None

    def runs(self, status: str | None = None) -> list[RunRow]:
        query = "SELECT seq, f, version, kind, immediate_retries, status, error FROM runs"
        rows = (
            self.db.execute(query + " WHERE status = ? ORDER BY seq", (status,))
            if status
            else self.db.execute(query + " ORDER BY seq")
        )
        return [RunRow(*row) for row in rows]

    def begin_run(self, run: RunRow, at: Micros, events: Sequence[DuckEvent] = ()) -> None:
        """Record a run given to this Duck (a run already recorded keeps its row); a run that
        cannot even begin is recorded ``failed`` with the event that says so."""
        finished_at = None if run.status == RUNNING else at
        with self._transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO runs (seq, f, version, kind, immediate_retries, status, "
                "began_at, finished_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.seq,
                    run.f,
                    run.version,
                    run.kind,
                    run.immediate_retries,
                    run.status,
                    at,
                    finished_at,
                    run.error,
                ),
            )
            self._add(events)

    def finish_runs(
        self,
        seqs: Iterable[int],
        status: str,
        at: Micros,
        events: Sequence[DuckEvent],
        error: str | None = None,
    ) -> None:
        """Runs end as ``success`` or ``failed``, with the events that report it."""
        with self._transaction():
            self.db.executemany(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? "
                "WHERE seq = ? AND status = 'running'",
                [(status, at, error, seq) for seq in seqs],
            )
            self._add(events)

    # -- attempts --------------------------------------------------------------------------------

    def attempts(self, seq: int | None = None) -> list[AttemptRow]:
        query = (
            "SELECT seq, f, ripple, attempt, status, started_at, finished_at, error, traceback "
            "FROM attempts"
        )
        if seq is None:
            rows = self.db.execute(query + " ORDER BY started_at, seq, attempt")
        else:
            rows = self.db.execute(query + " WHERE seq = ? ORDER BY started_at, attempt", (seq,))
        return [AttemptRow(*row) for row in rows]

    def start_attempt(
        self, seq: int, f: Micros, ripple: str, attempt: int, at: Micros, event: DuckEvent
    ) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO attempts (seq, f, ripple, attempt, status, started_at) "
                "VALUES (?, ?, ?, ?, 'running', ?)",
                (seq, f, ripple, attempt, at),
            )
            self._add([event])

    def finish_attempt(
        self,
        seq: int,
        ripple: str,
        attempt: int,
        status: str,
        at: Micros,
        events: Sequence[DuckEvent],
        error: str | None = None,
        traceback: str | None = None,
        failed_runs: Iterable[int] = (),
    ) -> None:
        """An attempt ends; with ``failed_runs``, the runs it takes down end in the same
        transaction."""
        with self._transaction():
            self.db.execute(
                "UPDATE attempts SET status = ?, finished_at = ?, error = ?, traceback = ? "
                "WHERE seq = ? AND ripple = ? AND attempt = ?",
                (status, at, error, traceback, seq, ripple, attempt),
            )
            self.db.executemany(
                "UPDATE runs SET status = 'failed', finished_at = ?, error = ? "
                "WHERE seq = ? AND status = 'running'",
                [(at, error, run) for run in failed_runs],
            )
            self._add(events)

    def interrupt_orphans(self, at: Micros) -> int:
        """Attempts left ``running`` by a Duck that stopped end as interrupted failures."""
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE attempts SET status = 'failed', finished_at = ?, error = ? "
                "WHERE status = 'running'",
                (at, INTERRUPTED),
            )
        return cursor.rowcount

    def ripple_end_fs(self) -> dict[str, Micros]:
        """Per Ripple, the freshest ``f`` at which one of its attempts succeeded."""
        rows = self.db.execute(
            "SELECT ripple, max(f) FROM attempts WHERE status = 'success' GROUP BY ripple"
        )
        return {ripple: f for ripple, f in rows}

    # -- outbox ----------------------------------------------------------------------------------

    def add_events(self, events: Sequence[DuckEvent]) -> None:
        with self._transaction():
            self._add(events)

    def _add(self, events: Sequence[DuckEvent]) -> None:
        # An id already in the outbox is the same fact reported again: keep the first.
        self.db.executemany(
            "INSERT OR IGNORE INTO outbox (id, body, created_at) VALUES (?, ?, ?)",
            [(event.id, event.model_dump_json(), event.at) for event in events],
        )

    def resend(self, event_id: str) -> bool:
        """Queue an event already in the outbox to be sent again; False if there is none."""
        with self._transaction():
            cursor = self.db.execute("UPDATE outbox SET sent = 0 WHERE id = ?", (event_id,))
        return cursor.rowcount > 0

    def unsent(self, limit: int = 200) -> list[OutboxRow]:
        """The oldest unsent events, in the order they were written."""
        rows = self.db.execute(
            "SELECT id, body, sent FROM outbox WHERE sent = 0 ORDER BY rowid LIMIT ?", (limit,)
        )
        return [OutboxRow(id, body, bool(sent)) for id, body, sent in rows]

    def mark_sent(self, ids: Sequence[str]) -> None:
        with self._transaction():
            self.db.executemany("UPDATE outbox SET sent = 1 WHERE id = ?", [(i,) for i in ids])

    def outbox(self) -> list[OutboxRow]:
        """Every event in the outbox, oldest first."""
        rows = self.db.execute("SELECT id, body, sent FROM outbox ORDER BY rowid")
        return [OutboxRow(id, body, bool(sent)) for id, body, sent in rows]

    def unsent_count(self) -> int:
        (count,) = self.db.execute("SELECT count(*) FROM outbox WHERE sent = 0").fetchone()
        return int(count)

    def prune_sent(self, before: Micros) -> None:
        """Forget events that were delivered before ``before`` (the ledger keeps the facts)."""
        with self._transaction():
            self.db.execute("DELETE FROM outbox WHERE sent = 1 AND created_at < ?", (before,))


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        if kind is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
