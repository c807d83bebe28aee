"""Versioned schema of ``duck.db``. Each migration runs once, in order, in one transaction;
``PRAGMA user_version`` records how far a database has come."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: deployments, engine state, run history, applied worker events.
    """
    CREATE TABLE deployments (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        major INTEGER NOT NULL,
        kind TEXT NOT NULL,
        manifest TEXT NOT NULL,          -- JSON: sources, budgets seeds, module paths
        ripples TEXT NOT NULL,           -- JSON: [{"name", "parents"}] in dependency order
        path TEXT NOT NULL,              -- relative to the root
        deployed_at INTEGER NOT NULL,
        is_active INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (name, version)
    );
    CREATE INDEX deployments_line ON deployments (name, major);

    CREATE TABLE engine_ponds (
        id TEXT PRIMARY KEY,
        start_f INTEGER, end_f INTEGER, d INTEGER NOT NULL,
        has_pull INTEGER NOT NULL, pull_local INTEGER NOT NULL,
        is_failed INTEGER NOT NULL, failed_f INTEGER, failures INTEGER NOT NULL,
        is_killed INTEGER NOT NULL,
        immediate_retries INTEGER NOT NULL, source_retries INTEGER NOT NULL,
        trigger_kind TEXT, trigger_bound INTEGER,
        run_seq INTEGER NOT NULL, runs_completed INTEGER NOT NULL, gen INTEGER NOT NULL
    );
    CREATE TABLE engine_sources (
        pond TEXT NOT NULL, position INTEGER NOT NULL, source TEXT NOT NULL,
        optional INTEGER NOT NULL, PRIMARY KEY (pond, position)
    );
    CREATE TABLE engine_ripples (
        pond TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
        start_f INTEGER, end_f INTEGER, has_pull INTEGER NOT NULL, busy INTEGER NOT NULL,
        force_f INTEGER, forcing INTEGER NOT NULL, PRIMARY KEY (pond, position)
    );
    CREATE TABLE engine_ripple_parents (
        pond TEXT NOT NULL, ripple TEXT NOT NULL, position INTEGER NOT NULL,
        parent TEXT NOT NULL, PRIMARY KEY (pond, ripple, position)
    );
    CREATE TABLE engine_targets (pond TEXT NOT NULL, ripple TEXT, f INTEGER NOT NULL);
    CREATE INDEX engine_targets_pond ON engine_targets (pond);
    CREATE TABLE engine_runs (
        pond TEXT NOT NULL, seq INTEGER NOT NULL, f INTEGER, kind TEXT NOT NULL,
        started_at INTEGER NOT NULL, status TEXT NOT NULL, PRIMARY KEY (pond, seq)
    );
    CREATE TABLE engine_windows (
        pond TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL,
        start_us INTEGER NOT NULL, every TEXT NOT NULL, duration_us INTEGER NOT NULL,
        weekdays TEXT, until_us INTEGER, PRIMARY KEY (pond, position)
    );

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        line TEXT NOT NULL,
        name TEXT NOT NULL,
        major INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        f INTEGER,
        version TEXT,
        kind TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        status TEXT NOT NULL,
        error TEXT,
        traceback TEXT,
        UNIQUE (line, seq)
    );
    CREATE INDEX runs_name ON runs (name, major, id);

    CREATE TABLE ripple_runs (
        id INTEGER PRIMARY KEY,
        line TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ripple TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        f INTEGER,
        status TEXT NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        error TEXT,
        traceback TEXT,
        UNIQUE (line, seq, ripple, attempt)
    );

    CREATE TABLE applied_events (
        line TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (line, event_id)
    ) WITHOUT ROWID;
    """,
    # 2: `gen` on the wire is the number of Pond Runs started (run_seq); the change counter
    # that column held lives in memory only. A line parked by clear or a deploy. Ripples count
    # their runs started and completed, and remember an attempt their run's budget retries.
    """
    ALTER TABLE engine_ponds DROP COLUMN gen;
    ALTER TABLE engine_ponds ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE engine_ripples ADD COLUMN retrying INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE engine_ripples ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE engine_ripples ADD COLUMN runs_completed INTEGER NOT NULL DEFAULT 0;
    """,
    # 3: why a run happened. Each Pond Run records, as it begins, the demand that caused it
    # and the Source that supplied its freshness (JSON, see engine.pond.RunCause.to_row); a
    # line remembers which of its runs published its endF, for its Sinks' causes.
    """
    ALTER TABLE runs ADD COLUMN cause TEXT;
    ALTER TABLE engine_ponds ADD COLUMN end_seq INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: operator-owned alert rules, the open incidents and fired staleness bounds they
    # deduplicate by, the durable outbox of notifications and the log of every delivery attempt.
    """
    CREATE TABLE alert_rules (
        name TEXT PRIMARY KEY,
        on_kind TEXT NOT NULL,           -- failure, recovery, stale or forecast-breach
        bound_us INTEGER,                -- stale: the staleness bound
        ponds TEXT NOT NULL,             -- JSON: Pond names or lines it watches, [] for all
        url TEXT NOT NULL,               -- the Apprise URL it delivers to
        created_at INTEGER NOT NULL
    );
    CREATE TABLE alert_incidents (
        root TEXT PRIMARY KEY,           -- the failed line, one open incident each
        opened_at INTEGER NOT NULL,
        end_f INTEGER NOT NULL,          -- its freshness as it failed
        error TEXT,
        blocked TEXT NOT NULL            -- JSON: the lines it blocked
    );
    CREATE TABLE alert_stale (
        rule TEXT NOT NULL, line TEXT NOT NULL, fired_at INTEGER NOT NULL,
        PRIMARY KEY (rule, line)
    );
    CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,              -- failure, recovery, stale or test
        line TEXT,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        level TEXT NOT NULL,             -- the Apprise notification type
        created_at INTEGER NOT NULL,
        next_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending'   -- pending, sent, failed or dropped
    );
    CREATE INDEX alert_outbox_due ON alert_outbox (state, next_at);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY,
        notification INTEGER NOT NULL,
        rule TEXT NOT NULL,
        at INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX alert_deliveries_rule ON alert_deliveries (rule, id);
    """,
    # 5: where Ducks run. The Catchment's own id (it names its Ducks on a cluster), and each
    # line's operator-owned placement (what its Duck asks of a node) with the node its Duck
    # last ran on, so the next one goes back there and finds its working database.
    """
    CREATE TABLE catchment_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE placements (
        line TEXT PRIMARY KEY,           -- name@major
        cpus REAL,                       -- CPUs its Duck holds (NULL: the launcher's default)
        memory INTEGER,                  -- bytes of memory its Duck holds (NULL: none asked)
        resources TEXT NOT NULL DEFAULT '{}',  -- JSON: custom resource -> amount
        node TEXT                        -- the node its last Duck ran on
    );
    """,
]
