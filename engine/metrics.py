"""Metrics rows (payer call latency and outcome, job duration, throughput) for the Stats tab,
buffered in memory and written in batches, together with their per-minute rollups
(`metric_minutes`: count and sum by label; `metric_buckets`: a latency histogram)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, insert

from engine.buckets import bucket_of
from engine.db import Database, conflict_insert
from engine.models import Metric, MetricBucket, MetricMinute

PAYER_CALL = "payer_call"  # value: seconds; label: "<surface>:<outcome>"
PAYER_HEDGE = "payer_hedge"  # value: 1 per hedged copy sent; label: surface
JOB_DURATION = "job_duration"  # value: seconds; label: final status
JOB_ROWS_PER_SECOND = "job_rows_per_s"
ROWS_DONE = "rows_done"  # value: rows written in one batch
QUEUE_LENGTH = "queue_length"
HISTOGRAMS = frozenset({PAYER_CALL})  # names whose values also go to metric_buckets


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class Rollup:
    """Metric rows grouped by minute in Python, so that writing them is a few upserts."""

    def __init__(self) -> None:
        self.minutes: dict[tuple[str, datetime, str], list[float]] = {}
        self.buckets: dict[tuple[str, datetime, int], int] = {}

    def add(self, name: str, at: datetime, value: float, label: str) -> None:
        minute = minute_of(at)
        entry = self.minutes.get((name, minute, label))
        if entry is None:
            self.minutes[(name, minute, label)] = [1, value]
        else:
            entry[0] += 1
            entry[1] += value
        if name in HISTOGRAMS:
            key = (name, minute, bucket_of(value))
            self.buckets[key] = self.buckets.get(key, 0) + 1

    def write(self, conn: Connection) -> None:
        """Add the grouped figures to the rollup tables (in key order: concurrent writers on
        PostgreSQL then lock rows in the same order and cannot deadlock)."""
        _upsert(conn, MetricMinute.__table__, ("name", "minute", "label"), ("count", "total"), [
            {"name": n, "minute": m, "label": lb, "count": int(c), "total": t}
            for (n, m, lb), (c, t) in sorted(self.minutes.items())])
        _upsert(conn, MetricBucket.__table__, ("name", "minute", "bucket"), ("count",), [
            {"name": n, "minute": m, "bucket": b, "count": c} for (n, m, b), c in sorted(self.buckets.items())])


def write_rows(conn: Connection, rows: list[dict]) -> None:
    """Insert metric rows (at, name, value, label) and add them to the rollups: one insert and
    a few upserts, in the caller's transaction."""
    rollup = Rollup()
    for row in rows:
        rollup.add(row["name"], row["at"], row["value"], row["label"])
    conn.execute(insert(Metric), rows)
    rollup.write(conn)


def _upsert(conn: Connection, table: Table, keys: tuple[str, ...], adds: tuple[str, ...], rows: list[dict]) -> None:
    if not rows:
        return
    stmt = conflict_insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in adds})
    conn.execute(stmt, rows)


class MetricsBuffer:
    """Thread-safe; `record` is cheap, `flush` writes everything buffered in one insert."""

    def __init__(self, db: Database, limit: int = 100_000) -> None:
        self.db = db
        self.limit = limit
        self._rows: list[dict] = []
        self._lock = threading.Lock()

    def record(self, name: str, value: float, label: str = "", at: datetime | None = None) -> None:
        with self._lock:
            if len(self._rows) < self.limit:
                self._rows.append({"at": at or datetime.now(UTC), "name": name, "value": float(value), "label": label})

    def payer_call(self, surface: str, outcome: str, seconds: float) -> None:
        self.record(PAYER_CALL, seconds, f"{surface}:{outcome}")

    def payer_hedge(self, surface: str) -> None:
        self.record(PAYER_HEDGE, 1.0, surface)

    def flush(self) -> int:
        """Write the buffered rows and their rollups in one transaction."""
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            try:
                with self.db.write() as session:
                    write_rows(session.connection(), rows)
            except Exception:
                with self._lock:  # keep them for the next flush
                    self._rows = (rows + self._rows)[: self.limit]
                raise
        return len(rows)
