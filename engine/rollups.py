"""Metrics history: rebuilding the per-minute rollups from raw rows (the 0002 migration, the
console benchmark) and pruning old raw rows and rollups in short transactions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select

from engine.db import Database, delete_in_batches
from engine.metrics import Rollup, minute_of
from engine.models import Metric, MetricBucket, MetricMinute

READ_CHUNK = timedelta(hours=6)  # raw rows grouped in memory at a time
PRUNE_BATCH = 5000  # raw rows per delete transaction
PRUNE_STEP = timedelta(hours=1)  # rollup minutes per delete transaction
ROLLUPS = (MetricMinute, MetricBucket)


def _names(conn: Connection, column: Any) -> Iterator[str]:
    """Distinct values of an indexed leading column, one index seek each."""
    name = conn.scalar(select(column).order_by(column).limit(1))
    while name is not None:
        yield name
        name = conn.scalar(select(column).where(column > name).order_by(column).limit(1))


def rebuild(conn: Connection, since: datetime, until: datetime | None = None) -> int:
    """Replace the rollups of the whole minutes from `since` to `until` (default: the newest
    row) with what the raw rows say; returns how many raw rows were read. Run it with no
    metrics writers (as migrations and the benchmark do): on PostgreSQL, a flush committed
    between the delete and the read here would be counted twice."""
    start = minute_of(since)
    read = 0
    for name in list(_names(conn, Metric.name)):
        end = until or conn.scalar(
            select(Metric.at).where(Metric.name == name).order_by(Metric.at.desc()).limit(1))
        if end is None or end < start:
            continue
        end = minute_of(end) + timedelta(minutes=1)
        for model in ROLLUPS:
            conn.execute(delete(model).where(model.name == name, model.minute >= start, model.minute < end))
        chunk = start
        while chunk < end:
            upto = min(chunk + READ_CHUNK, end)
            rollup = Rollup()
            rows = conn.execute(
                select(Metric.at, Metric.value, Metric.label)
                .where(Metric.name == name, Metric.at >= chunk, Metric.at < upto)
                .execution_options(yield_per=20_000))
            for at, value, label in rows:
                rollup.add(name, at, value, label)
                read += 1
            rollup.write(conn)
            chunk = upto
    return read


def prune(db: Database, raw_before: datetime, rollups_before: datetime) -> tuple[int, int]:
    """Delete raw metrics older than `raw_before` and rollups older than `rollups_before`, a
    batch per transaction (SQLite has a single writer); returns (raw rows, rollup rows)."""
    with db.read() as session:
        names = list(_names(session.connection(), Metric.name))
        rolled = sorted({n for m in ROLLUPS for n in _names(session.connection(), m.name)})
    raw = sum(_prune_raw(db, name, raw_before) for name in names)
    rollups = sum(_prune_rollup(db, model, name, rollups_before) for model in ROLLUPS for name in rolled)
    return raw, rollups


def _prune_raw(db: Database, name: str, before: datetime) -> int:
    return delete_in_batches(db, Metric, Metric.name == name, Metric.at < before, order_by=Metric.at, batch=PRUNE_BATCH)


def _prune_rollup(db: Database, model: Any, name: str, before: datetime) -> int:
    total = 0
    while True:
        with db.write() as session:
            first = session.scalar(
                select(model.minute).where(model.name == name, model.minute < before).order_by(model.minute).limit(1))
            if first is None:
                return total
            result = session.execute(
                delete(model).where(model.name == name, model.minute < min(first + PRUNE_STEP, before))
                .execution_options(synchronize_session=False))
        total += result.rowcount
