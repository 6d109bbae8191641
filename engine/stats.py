"""System statistics for the Stats tab and `claimsops stats`: every figure is one query over an
indexed column (jobs by created_at, metrics by (name, at)), so a year of history costs nothing."""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from engine.config import Settings
from engine.db import Database
from engine.jobs import CANCELLED, COMPLETED, FAILED, PENDING, PROCESSING
from engine.metrics import JOB_DURATION, PAYER_CALL, QUEUE_LENGTH, ROWS_DONE
from engine.models import Job, Metric, Worker, utcnow
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
    latency_spark: list[float] = field(default_factory=list)  # median payer latency (ms) per minute

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def _percentiles(db: Database, name: str, since: datetime, qs: tuple[float, ...]) -> list[float | None]:
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


def _minute_buckets(db: Database, name: str, since: datetime, how: str) -> dict[int, float]:
    """Per-minute sum or average of a metric since `since`, keyed by minute index from `since`."""
    epoch = since.timestamp()
    with db.read() as session:
        if db.is_sqlite:
            minute = func.cast((func.strftime("%s", Metric.at) - int(epoch)) / 60, type_=Metric.value.type)
        else:
            minute = func.floor((func.extract("epoch", Metric.at) - epoch) / 60)
        agg = func.sum(Metric.value) if how == "sum" else func.avg(Metric.value)
        rows = session.execute(
            select(minute, agg).where(Metric.name == name, Metric.at >= since).group_by(minute)
        ).all()
    return {int(m): float(v) for m, v in rows if m is not None and v is not None}


def _spark(buckets: dict[int, float]) -> list[float]:
    return [round(buckets.get(i, 0.0), 1) for i in range(SPARK_MINUTES)]


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
    hour_ago = now - timedelta(hours=1)
    stats = Stats(at=now)
    with db.read() as session:
        counts = dict(session.execute(
            select(Job.status, func.count()).where(Job.created_at >= day_start).group_by(Job.status)).all())
        stats.jobs_today = {s: int(counts.get(s, 0)) for s in (COMPLETED, FAILED, CANCELLED, PROCESSING, PENDING)}
        stats.jobs_today["CANCELLING"] = int(counts.get("CANCELLING", 0))
        stats.jobs_today["total"] = int(sum(counts.values()))
        reasons = session.execute(
            select(Job.failure_reason, func.count()).where(Job.created_at >= day_start, Job.status == FAILED)
            .group_by(Job.failure_reason).order_by(func.count().desc()).limit(8)).all()
        stats.failed_by_reason = [((r or "no reason recorded")[:120], int(n)) for r, n in reasons]
        durations = session.execute(
            select(func.avg(Metric.value), func.count()).where(Metric.name == JOB_DURATION, Metric.at >= day_start)).one()
        stats.duration_avg_s = float(durations[0]) if durations[0] is not None else None
        rows_hour = session.scalar(
            select(func.sum(Metric.value)).where(Metric.name == ROWS_DONE, Metric.at >= hour_ago)) or 0
        stats.rows_per_minute = round(float(rows_hour) / 60, 1)
        by_label = session.execute(
            select(Metric.label, func.count()).where(Metric.name == PAYER_CALL, Metric.at >= hour_ago)
            .group_by(Metric.label)).all()
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
    p50, p95, p99 = _percentiles(db, PAYER_CALL, hour_ago, (0.5, 0.95, 0.99))
    stats.latency_ms = {k: round(v * 1000, 1) if v is not None else None for k, v in
                        (("p50", p50), ("p95", p95), ("p99", p99))}
    outcomes = dict.fromkeys(OUTCOME_CLASSES, 0)
    for label, n in by_label:
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
    stats.throughput_spark = _spark(_minute_buckets(db, ROWS_DONE, hour_ago, "sum"))
    stats.latency_spark = [round(v * 1000, 1) for v in _spark(_minute_buckets(db, PAYER_CALL, hour_ago, "avg"))]
    return stats
