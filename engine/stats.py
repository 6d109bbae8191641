"""System statistics for the Stats tab and `claimsops stats`: every figure is one query over an
indexed column (jobs by created_at, metrics by (name, at), rollups by (name, minute)), so a
year of history costs nothing.

The last hour's payer-call figures (percentiles, outcomes, latency sparkline) and throughput
come from the per-minute rollups (`metric_minutes`, `metric_buckets`): about 60 × (labels +
buckets) rows instead of 180,000 raw rows at the payer's 50 calls per second. Percentiles and
outcome counts cover the 60 whole minutes before the current one and the current minute so
far; rows per minute the 60 whole minutes only; the sparklines the 59 whole minutes and the
current minute so far as their last bar (an operator watching a first job sees it at once; the
throughput bar of a minute still under way is lower than it will be). Latency percentiles are read from 4 % wide log-spaced buckets
(engine.buckets): each is within 2 % of the exact nearest-rank percentile. Outcome counts,
throughput and the per-minute average latency are exact.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select, text

from engine.buckets import percentiles
from engine.config import Settings
from engine.db import Database
from engine.jobs.lifecycle import CANCELLED, COMPLETED, FAILED, PENDING, PROCESSING
from engine.metrics import JOB_DURATION, PAYER_CALL, QUEUE_LENGTH, ROWS_DONE, minute_of
from engine.models import Job, Metric, MetricBucket, MetricMinute, Worker, utcnow
from engine.workers_registry import ALIVE_WITHIN

OUTCOME_CLASSES = ("ok", "not_found", "throttled", "payer_error", "timeout", "client_error")
SPARK_MINUTES = 60


@dataclass
class Stats:
    at: datetime
    jobs_today: dict[str, int] = field(default_factory=dict)
    success_rate: float | None = None
    failed_by_reason: list[tuple[str, int]] = field(default_factory=list)
    duration_avg_s: float | None = None
    duration_p95_s: float | None = None
    rows_per_minute: float = 0.0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    calls_by_outcome: dict[str, int] = field(default_factory=dict)
    workers_alive: int = 0
    workers_busy: int = 0
    queue_length: int | None = None
    database: dict[str, Any] = field(default_factory=dict)
    redis_memory_bytes: int | None = None
    disk_free_bytes: int | None = None
    throughput_spark: list[float] = field(default_factory=list)  # rows per minute, oldest first
    latency_spark: list[float] = field(default_factory=list)  # average payer latency (ms) per minute

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _percentiles(db: Database, name: str, since: datetime, qs: tuple[float, ...]) -> list[float | None]:
    """Exact percentiles over raw rows: kept for job durations today (one row per finished job,
    a few thousand at most, read through the (name, at) index)."""
    where = (Metric.name == name, Metric.at >= since)
    with db.read() as session:
        if not db.is_sqlite:
            row = session.execute(
                select(*(func.percentile_cont(q).within_group(Metric.value) for q in qs)).where(*where)
            ).one()
            return [float(v) if v is not None else None for v in row]
        count = session.scalar(select(func.count()).select_from(Metric).where(*where)) or 0
        if not count:
            return [None] * len(qs)
        out = []
        for q in qs:
            offset = min(count - 1, int(q * (count - 1) + 0.5))
            out.append(session.scalar(select(Metric.value).where(*where).order_by(Metric.value).offset(offset).limit(1)))
        return out


@dataclass
class _Hour:
    """The last hour from the rollups."""

    latency: list[float | None]
    labels: dict[str, int]
    rows_done: list[float]  # per minute, the current one last
    latency_avg: list[float]
    whole_rows_done: float  # in the 60 whole minutes before the current one


def _last_hour(db: Database, now: datetime) -> _Hour:
    start = minute_of(now) - timedelta(minutes=SPARK_MINUTES)
    with db.read() as session:
        minutes = session.execute(
            select(MetricMinute.name, MetricMinute.minute, MetricMinute.label, MetricMinute.count, MetricMinute.total)
            .where(MetricMinute.name.in_((PAYER_CALL, ROWS_DONE)), MetricMinute.minute >= start)).all()
        buckets = session.execute(
            select(MetricBucket.bucket, func.sum(MetricBucket.count))
            .where(MetricBucket.name == PAYER_CALL, MetricBucket.minute >= start).group_by(MetricBucket.bucket)).all()
    labels: dict[str, int] = {}
    rows_done = [0.0] * SPARK_MINUTES
    calls = [0] * SPARK_MINUTES
    seconds = [0.0] * SPARK_MINUTES
    whole_rows_done = 0.0
    for name, minute, label, count, total in minutes:
        i = int((minute - start).total_seconds() // 60) - 1  # the sparklines end with the current minute
        spark = 0 <= i < SPARK_MINUTES
        if name == ROWS_DONE:
            whole_rows_done += total if i < SPARK_MINUTES - 1 else 0.0
            if spark:
                rows_done[i] += total
            continue
        labels[label] = labels.get(label, 0) + count
        if spark:
            calls[i] += count
            seconds[i] += total
    return _Hour(
        latency=percentiles(((b, int(c)) for b, c in buckets), (0.5, 0.95, 0.99)),
        labels=labels,
        rows_done=rows_done,
        latency_avg=[seconds[i] / calls[i] if calls[i] else 0.0 for i in range(SPARK_MINUTES)],
        whole_rows_done=whole_rows_done,
    )


def _database_figures(db: Database) -> dict[str, Any]:
    figures: dict[str, Any] = {"backend": db.backend}
    try:
        if db.sqlite_path is not None:
            figures["size_bytes"] = db.sqlite_path.stat().st_size
            wal = db.sqlite_path.with_name(db.sqlite_path.name + "-wal")
            figures["wal_bytes"] = wal.stat().st_size if wal.exists() else 0
        elif not db.is_sqlite:
            with db.read() as session:
                figures["size_bytes"] = session.scalar(text("SELECT pg_database_size(current_database())"))
                figures["connections"] = session.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"))
                figures["transactions"] = session.scalar(text(
                    "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"))
    except Exception as exc:  # a figure we cannot read is shown as unknown, not an error
        figures["error"] = type(exc).__name__
    return figures


def _redis_memory(settings: Settings) -> int | None:
    if not settings.broker_url.startswith("redis"):
        return None
    try:
        import redis

        client = redis.Redis.from_url(settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return int(client.info("memory")["used_memory"])
        finally:
            client.close()
    except Exception:
        return None


def collect(db: Database, settings: Settings, *, now: datetime | None = None) -> Stats:
    now = now or utcnow()
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    stats = Stats(at=now)
    with db.read() as session:
        # Grouped by `status || ''`, an expression no index covers: SQLite (no ANALYZE) would
        # otherwise walk the status index over every job ever (35 ms at 100,000 jobs) instead
        # of reading today's range of the created_at index (0.1 ms).
        status = Job.status + literal_column("''")
        today = Job.created_at >= day_start
        counts = dict(session.execute(select(status, func.count()).where(today).group_by(status)).all())
        stats.jobs_today = {s: int(counts.get(s, 0)) for s in (COMPLETED, FAILED, CANCELLED, PROCESSING, PENDING)}
        stats.jobs_today["CANCELLING"] = int(counts.get("CANCELLING", 0))
        stats.jobs_today["total"] = int(sum(counts.values()))
        reasons = session.execute(
            select(Job.failure_reason, func.count()).where(today, status == FAILED)
            .group_by(Job.failure_reason).order_by(func.count().desc()).limit(8)).all()
        stats.failed_by_reason = [((r or "no reason recorded")[:120], int(n)) for r, n in reasons]
        durations = session.execute(
            select(func.avg(Metric.value), func.count()).where(Metric.name == JOB_DURATION, Metric.at >= day_start)).one()
        stats.duration_avg_s = float(durations[0]) if durations[0] is not None else None
        cutoff = now - ALIVE_WITHIN
        live = select(Worker).where(Worker.last_seen_at >= cutoff, Worker.stopped_at.is_(None)).subquery()
        stats.workers_alive = int(session.scalar(select(func.count()).select_from(live)) or 0)
        stats.workers_busy = int(session.scalar(
            select(func.count()).select_from(live).where(live.c.current_job_id.is_not(None))) or 0)
        queue = session.scalar(
            select(Metric.value).where(Metric.name == QUEUE_LENGTH, Metric.at >= now - timedelta(minutes=2))
            .order_by(Metric.at.desc()).limit(1))
        stats.queue_length = int(queue) if queue is not None else None
    finished = stats.jobs_today[COMPLETED] + stats.jobs_today[FAILED]
    stats.success_rate = round(stats.jobs_today[COMPLETED] / finished, 3) if finished else None
    stats.duration_p95_s = _percentiles(db, JOB_DURATION, day_start, (0.95,))[0]
    hour = _last_hour(db, now)
    stats.rows_per_minute = round(hour.whole_rows_done / SPARK_MINUTES, 1)
    stats.latency_ms = {k: round(v * 1000, 1) if v is not None else None
                        for k, v in zip(("p50", "p95", "p99"), hour.latency, strict=True)}
    outcomes = dict.fromkeys(OUTCOME_CLASSES, 0)
    for label, n in hour.labels.items():
        outcome = (label or "").split(":")[-1]
        outcomes[outcome if outcome in outcomes else "client_error"] += int(n)
    stats.calls_by_outcome = outcomes
    stats.database = _database_figures(db)
    stats.redis_memory_bytes = _redis_memory(settings)
    try:
        home = settings.home if settings.home.exists() else settings.home.parent
        stats.disk_free_bytes = shutil.disk_usage(home if home.exists() else os.getcwd()).free
    except OSError:
        stats.disk_free_bytes = None
    stats.throughput_spark = [round(v, 1) for v in hour.rows_done]
    stats.latency_spark = [round(v * 1000, 1) for v in hour.latency_avg]
    return stats
