"""log_retention: logs older than 14 days (ERROR and above: 90 days), old run history and
handled commands, raw metrics older than 30 days and their per-minute rollups older than 90,
in short batches; then a WAL checkpoint on SQLite."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, or_

from engine.db import BUSY_TIMEOUT_MS, Database, delete_in_batches
from engine.models import Command, LogRecord, TaskRun
from engine.rollups import prune
from engine.tasks.body import OK, WARN, TaskContext, TaskResult, plural

LOG_DAYS = 14
ERROR_LOG_DAYS = 90
RUN_DAYS = 90
COMMAND_DAYS = 30
METRIC_DAYS = 30  # raw metric rows; the Stats tab reads at most today's
ROLLUP_DAYS = 90  # metric_minutes and metric_buckets
BATCH = 5000
CHECKPOINT_BUSY_MS = 2000
log = logging.getLogger("claimsops.maintenance")


def wal_checkpoint(db: Database) -> str:
    """Fold the SQLite WAL back into the database file and truncate it; waits at most 2 s for
    readers, so writers are never held up longer than that."""
    raw = db.write_engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, frames, done = cursor.fetchone()
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
    finally:
        raw.close()
    if busy:
        return f"WAL checkpoint incomplete ({done} of {frames} pages; readers busy)"
    return f"WAL checkpoint of {plural(max(done, 0), 'page')}"


def log_retention(ctx: TaskContext) -> TaskResult:
    now = ctx.started_at
    old = delete_in_batches(
        ctx.db, LogRecord,
        or_(
            and_(LogRecord.at < now - timedelta(days=LOG_DAYS), LogRecord.level < logging.ERROR),
            LogRecord.at < now - timedelta(days=ERROR_LOG_DAYS),
        ),
        batch=BATCH,
    )
    runs = delete_in_batches(ctx.db, TaskRun, TaskRun.started_at < now - timedelta(days=RUN_DAYS), batch=BATCH)
    commands = delete_in_batches(
        ctx.db, Command, Command.handled_at.is_not(None), Command.requested_at < now - timedelta(days=COMMAND_DAYS),
        batch=BATCH,
    )
    metrics, rollups = prune(ctx.db, now - timedelta(days=METRIC_DAYS), now - timedelta(days=ROLLUP_DAYS))
    summary = (
        f"deleted {plural(old, 'log line')} (kept {LOG_DAYS} days, errors {ERROR_LOG_DAYS}), "
        f"{plural(runs, 'old run')}, {plural(commands, 'handled command')}, "
        f"{plural(metrics, 'metric row')} (kept {METRIC_DAYS} days) and "
        f"{plural(rollups, 'metric rollup row')} (kept {ROLLUP_DAYS} days)"
    )
    outcome = OK
    if ctx.db.is_sqlite and ctx.db.sqlite_path is not None:
        checkpoint = wal_checkpoint(ctx.db)
        summary += f"; {checkpoint}"
        outcome = WARN if "incomplete" in checkpoint else OK
    log.info(summary)
    return TaskResult(outcome, summary)
