"""The alert tables of ``duck.db`` (migration 3 of :mod:`duckstring.catchment.store.schema`):
rules, open incidents, fired conditions, the outbox and the delivery log.

Every function takes the connection it works on: the routes use the Catchment's own (on its
event loop), the alert evaluator and the sender each their own (on their threads), so SQLite's
WAL lets them read while the driver writes, and each write is one short transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from duckstring.catchment.alerts.book import (
    Change,
    Closed,
    Fired,
    Incident,
    Notice,
    Opened,
    Rearmed,
)
from duckstring.catchment.alerts.rules import AlertRule
from duckstring.engine.clock import Micros

PENDING, SENT, FAILED, DROPPED = "pending", "sent", "failed", "dropped"


class DuplicateRule(ValueError):
    """A rule by that name exists."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection of its own to ``duck.db`` for a thread off the event loop."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA busy_timeout = 30000")
    return con


@contextmanager
def transaction(con: sqlite3.Connection) -> Iterator[None]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


# -- rules --------------------------------------------------------------------------------------


def _rule(row: sqlite3.Row) -> AlertRule:
    return AlertRule(
        name=row["name"],
        on=row["on_kind"],
        url=row["url"],
        ponds=tuple(json.loads(row["ponds"])),
        bound=row["bound_us"],
        created_at=row["created_at"],
    )


def rules(con: sqlite3.Connection) -> list[AlertRule]:
    return [_rule(row) for row in con.execute("SELECT * FROM alert_rules ORDER BY name")]


def rule(con: sqlite3.Connection, name: str) -> AlertRule | None:
    row = con.execute("SELECT * FROM alert_rules WHERE name = ?", (name,)).fetchone()
    return None if row is None else _rule(row)


def add_rule(con: sqlite3.Connection, new: AlertRule) -> None:
    """Store ``new``; :class:`DuplicateRule` if its name is taken."""
    try:
        con.execute(
            "INSERT INTO alert_rules (name, on_kind, bound_us, ponds, url, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (new.name, new.on, new.bound, json.dumps(list(new.ponds)), new.url, new.created_at),
        )
    except sqlite3.IntegrityError:
        raise DuplicateRule(f"an alert named {new.name!r} exists: remove it first") from None


def remove_rule(con: sqlite3.Connection, name: str) -> bool:
    """Forget the rule, what it fired, and its deliveries not made yet; False if unknown."""
    with transaction(con):
        gone = con.execute("DELETE FROM alert_rules WHERE name = ?", (name,)).rowcount
        con.execute("DELETE FROM alert_stale WHERE rule = ?", (name,))
        con.execute(
            "UPDATE alert_outbox SET state = ? WHERE rule = ? AND state = ?",
            (DROPPED, name, PENDING),
        )
    return gone == 1


# -- what the evaluator keeps -------------------------------------------------------------------


def incidents(con: sqlite3.Connection) -> list[Incident]:
    return [
        Incident(r["root"], r["opened_at"], r["end_f"], r["error"], tuple(json.loads(r["blocked"])))
        for r in con.execute("SELECT * FROM alert_incidents ORDER BY root")
    ]


def fired(con: sqlite3.Connection) -> list[tuple[str, str]]:
    return [(r["rule"], r["line"]) for r in con.execute("SELECT rule, line FROM alert_stale")]


def last_error(con: sqlite3.Connection, line: str) -> str | None:
    """The error the newest failed run of ``line`` ended with."""
    row = con.execute(
        "SELECT error FROM runs WHERE line = ? AND status = 'failed' ORDER BY id DESC LIMIT 1",
        (line,),
    ).fetchone()
    return None if row is None else row["error"]


def record(con: sqlite3.Connection, changes: Iterable[Change], now: Micros) -> int:
    """Persist what the book decided, notices into the outbox, in one transaction; the
    number of notices written."""
    written = 0
    with transaction(con):
        for change in changes:
            if isinstance(change, Notice):
                enqueue(con, change, now)
                written += 1
            elif isinstance(change, Opened):
                i = change.incident
                con.execute(
                    "INSERT OR REPLACE INTO alert_incidents (root, opened_at, end_f, error, "
                    "blocked) VALUES (?, ?, ?, ?, ?)",
                    (i.root, i.opened_at, i.end_f, i.error, json.dumps(list(i.blocked))),
                )
            elif isinstance(change, Closed):
                con.execute("DELETE FROM alert_incidents WHERE root = ?", (change.root,))
            elif isinstance(change, Fired):
                con.execute(
                    "INSERT OR REPLACE INTO alert_stale (rule, line, fired_at) VALUES (?, ?, ?)",
                    (change.rule, change.line, change.at),
                )
            elif isinstance(change, Rearmed):
                con.execute(
                    "DELETE FROM alert_stale WHERE rule = ? AND line = ?",
                    (change.rule, change.line),
                )
    return written


# -- the outbox and the log ---------------------------------------------------------------------


def enqueue(con: sqlite3.Connection, notice: Notice, now: Micros) -> int:
    """Write ``notice`` to the outbox, due now; its id."""
    cursor = con.execute(
        "INSERT INTO alert_outbox (rule, kind, line, title, body, level, created_at, next_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (notice.rule, notice.kind, notice.line, notice.title, notice.body, notice.level, now, now),
    )
    return int(cursor.lastrowid or 0)


@dataclass(frozen=True)
class Pending:
    """A notification waiting in the outbox, with the URL of its rule now."""

    id: int
    rule: str
    url: str | None
    title: str
    body: str
    level: str
    attempts: int
    next_at: Micros


def next_pending(con: sqlite3.Connection) -> Pending | None:
    """The pending notification due first."""
    row = con.execute(
        "SELECT o.*, r.url FROM alert_outbox o LEFT JOIN alert_rules r ON r.name = o.rule "
        "WHERE o.state = ? ORDER BY o.next_at, o.id LIMIT 1",
        (PENDING,),
    ).fetchone()
    if row is None:
        return None
    return Pending(
        row["id"],
        row["rule"],
        row["url"],
        row["title"],
        row["body"],
        row["level"],
        row["attempts"],
        row["next_at"],
    )


def attempted(
    con: sqlite3.Connection,
    pending: Pending,
    at: Micros,
    error: str | None,
    retry_at: Micros | None,
) -> None:
    """Log one delivery attempt and move the notification on: sent, due again at
    ``retry_at``, or given up (``retry_at`` None)."""
    attempt = pending.attempts + 1
    if error is None:
        state, next_at = SENT, pending.next_at
    elif retry_at is None:
        state, next_at = FAILED, pending.next_at
    else:
        state, next_at = PENDING, retry_at
    with transaction(con):
        con.execute(
            "INSERT INTO alert_deliveries (notification, rule, at, attempt, ok, error) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (pending.id, pending.rule, at, attempt, int(error is None), error),
        )
        con.execute(
            "UPDATE alert_outbox SET attempts = ?, state = ?, next_at = ? WHERE id = ?",
            (attempt, state, next_at, pending.id),
        )


def drop(con: sqlite3.Connection, pending: Pending) -> None:
    """Its rule is gone: the notification is not sent."""
    con.execute("UPDATE alert_outbox SET state = ? WHERE id = ?", (DROPPED, pending.id))


def log(con: sqlite3.Connection, name: str | None, limit: int) -> list[dict[str, Any]]:
    """Delivery attempts newest first, of one rule or all, with their notification."""
    where, params = "", []
    if name is not None:
        where, params = "WHERE d.rule = ?", [name]
    rows = con.execute(
        "SELECT d.id, d.at, d.rule, d.attempt, d.ok, d.error, o.id AS notification, o.kind, "
        "o.line, o.title, o.body, o.state FROM alert_deliveries d "
        f"JOIN alert_outbox o ON o.id = d.notification {where} ORDER BY d.id DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [dict(row) for row in rows]


def pending_count(con: sqlite3.Connection, name: str) -> int:
    row = con.execute(
        "SELECT count(*) FROM alert_outbox WHERE rule = ? AND state = ?", (name, PENDING)
    ).fetchone()
    return int(row[0])
