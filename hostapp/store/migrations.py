"""Schema migrations, in order. Never edit a released one: append a new step.

Each step runs in its own transaction together with the `user_version` bump, so a failing
step leaves the database exactly as it was.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: key/value state and the job history
    """
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE jobs (
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        source TEXT NOT NULL,             -- 'grid' or 'local'
        definition TEXT NOT NULL,         -- the job definition JSON as received
        status TEXT NOT NULL,             -- queued/running/succeeded/failed/stopped
        reason TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        PRIMARY KEY (job_id, attempt)
    );
    """,
    # 2: the ledger (one row per job attempt) and the outbox of undelivered results
    """
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        gpu_uuid TEXT,
        started_at REAL NOT NULL,
        ended_at REAL,
        seconds_billed INTEGER NOT NULL DEFAULT 0,
        rate_per_second INTEGER NOT NULL,  -- token base units per second
        amount INTEGER NOT NULL DEFAULT 0, -- token base units, never floats
        status TEXT NOT NULL CHECK (status IN ('running', 'credited', 'paid', 'failed')),
        reason TEXT,
        payout_signature TEXT,
        UNIQUE (job_id, attempt)
    );
    CREATE INDEX ledger_started ON ledger (started_at);
    CREATE TABLE outbox (
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (job_id, attempt)
    );
    """,
    # 3: payouts seen on chain, and job output of each op
    """
    CREATE TABLE payouts (
        signature TEXT PRIMARY KEY,
        amount INTEGER NOT NULL,
        mint TEXT,
        received_at REAL NOT NULL,
        reconciled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE job_ops (
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        op_id TEXT NOT NULL,
        container_id TEXT,
        status TEXT NOT NULL,
        exit_code INTEGER,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        results TEXT,
        log_tail TEXT,
        started_at REAL,
        ended_at REAL,
        PRIMARY KEY (job_id, attempt, op_id)
    );
    """,
    # 4: earnings summary: hourly buckets kept by triggers, so dashboard totals and per-day charts
    # sum a few thousand buckets instead of a million ledger rows; plus measured energy per attempt
    # (milliwatt-hours, NULL when not measured) for earnings net of electricity.
    """
    ALTER TABLE ledger ADD COLUMN energy_mwh INTEGER;
    CREATE TABLE ledger_hourly (
        hour INTEGER NOT NULL,            -- whole hours since the Unix epoch (UTC) of started_at
        gpu TEXT NOT NULL,                -- gpu_uuid, '' for CPU / unknown
        status TEXT NOT NULL,
        amount INTEGER NOT NULL DEFAULT 0,
        seconds INTEGER NOT NULL DEFAULT 0,
        jobs INTEGER NOT NULL DEFAULT 0,
        energy_mwh INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, gpu, status)
    ) WITHOUT ROWID;
    INSERT INTO ledger_hourly (hour, gpu, status, amount, seconds, jobs, energy_mwh)
        SELECT CAST(started_at / 3600 AS INTEGER), COALESCE(gpu_uuid, ''), status, SUM(amount),
               SUM(seconds_billed), COUNT(*), COALESCE(SUM(energy_mwh), 0)
        FROM ledger GROUP BY 1, 2, 3;
    CREATE TRIGGER ledger_hourly_insert AFTER INSERT ON ledger BEGIN
        INSERT INTO ledger_hourly (hour, gpu, status, amount, seconds, jobs, energy_mwh)
        VALUES (CAST(NEW.started_at / 3600 AS INTEGER), COALESCE(NEW.gpu_uuid, ''), NEW.status,
                NEW.amount, NEW.seconds_billed, 1, COALESCE(NEW.energy_mwh, 0))
        ON CONFLICT (hour, gpu, status) DO UPDATE SET
            amount = amount + excluded.amount, seconds = seconds + excluded.seconds,
            jobs = jobs + 1, energy_mwh = energy_mwh + excluded.energy_mwh;
    END;
    CREATE TRIGGER ledger_hourly_delete AFTER DELETE ON ledger BEGIN
        UPDATE ledger_hourly SET amount = amount - OLD.amount, seconds = seconds - OLD.seconds_billed,
            jobs = jobs - 1, energy_mwh = energy_mwh - COALESCE(OLD.energy_mwh, 0)
        WHERE hour = CAST(OLD.started_at / 3600 AS INTEGER) AND gpu = COALESCE(OLD.gpu_uuid, '')
            AND status = OLD.status;
    END;
    CREATE TRIGGER ledger_hourly_update
    AFTER UPDATE OF started_at, gpu_uuid, status, amount, seconds_billed, energy_mwh ON ledger BEGIN
        UPDATE ledger_hourly SET amount = amount - OLD.amount, seconds = seconds - OLD.seconds_billed,
            jobs = jobs - 1, energy_mwh = energy_mwh - COALESCE(OLD.energy_mwh, 0)
        WHERE hour = CAST(OLD.started_at / 3600 AS INTEGER) AND gpu = COALESCE(OLD.gpu_uuid, '')
            AND status = OLD.status;
        INSERT INTO ledger_hourly (hour, gpu, status, amount, seconds, jobs, energy_mwh)
        VALUES (CAST(NEW.started_at / 3600 AS INTEGER), COALESCE(NEW.gpu_uuid, ''), NEW.status,
                NEW.amount, NEW.seconds_billed, 1, COALESCE(NEW.energy_mwh, 0))
        ON CONFLICT (hour, gpu, status) DO UPDATE SET
            amount = amount + excluded.amount, seconds = seconds + excluded.seconds,
            jobs = jobs + 1, energy_mwh = energy_mwh + excluded.energy_mwh;
    END;
    """,
    # 5: the earnings page lists payouts by signature (a partial index: most rows are unpaid)
    """
    CREATE INDEX ledger_payout_signature ON ledger (payout_signature) WHERE payout_signature IS NOT NULL;
    """,
    # 6: the process that runs (or ran) each job (hostapp/jobs/ownership.py), so that a process's
    # start-up reconcile only finishes the jobs of processes that are gone; NULL: an older hostapp's
    """
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    """,
    # 7: each attempt's lease timeout, so a credit from the grid is bounded by price × timeout
    # (hostapp/node/settlement.py); NULL: an attempt started by an older hostapp
    """
    ALTER TABLE ledger ADD COLUMN timeout_seconds INTEGER;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
