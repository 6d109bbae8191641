"""Per-minute metric rollups (SQLite and PostgreSQL): what flushes write equals what the raw rows
say, concurrent flushes add up, a rebuild reproduces them, the 0002 migration backfills the
last 2 hours, and percentiles from the buckets stay within their stated precision."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select

from engine import buckets
from engine.db import SCHEMA_HEAD, Database
from engine.metrics import JOB_DURATION, PAYER_CALL, ROWS_DONE, MetricsBuffer, minute_of
from engine.migrate import _config, current_revision
from engine.models import Metric, MetricBucket, MetricMinute, utcnow
from engine.rollups import rebuild

LABELS = ("summary:ok", "summary:ok", "inquiry:ok", "summary:timeout", "summary:throttled")


def _exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _record(buffer: MetricsBuffer, rng: random.Random, n: int, minutes: int = 5) -> None:
    now = utcnow()
    for i in range(n):
        at = now - timedelta(minutes=minutes) + timedelta(seconds=60 * minutes * i / n)
        surface, outcome = rng.choice(LABELS).split(":")
        buffer.record(PAYER_CALL, rng.lognormvariate(-0.4, 0.6), f"{surface}:{outcome}", at=at)
        if i % 10 == 0:
            buffer.record(ROWS_DONE, rng.randint(1, 500), at=at)
    buffer.record(JOB_DURATION, 42.5, "COMPLETED")


def _from_raw(db: Database) -> tuple[dict, Counter]:
    minutes: dict = defaultdict(lambda: [0, 0.0])
    hist: Counter = Counter()
    with db.read() as session:
        for name, at, value, label in session.execute(select(Metric.name, Metric.at, Metric.value, Metric.label)):
            entry = minutes[(name, minute_of(at), label)]
            entry[0] += 1
            entry[1] += value
            if name == PAYER_CALL:
                hist[(name, minute_of(at), buckets.bucket_of(value))] += 1
    return dict(minutes), hist


def _rollups(db: Database) -> tuple[dict, Counter]:
    with db.read() as session:
        minutes = {(n, m, lb): [c, t] for n, m, lb, c, t in session.execute(
            select(MetricMinute.name, MetricMinute.minute, MetricMinute.label, MetricMinute.count, MetricMinute.total))}
        hist = Counter({(n, m, b): c for n, m, b, c in session.execute(
            select(MetricBucket.name, MetricBucket.minute, MetricBucket.bucket, MetricBucket.count))})
    return minutes, hist


def _assert_rollups_match_raw(db: Database) -> None:
    raw_minutes, raw_hist = _from_raw(db)
    minutes, hist = _rollups(db)
    assert minutes.keys() == raw_minutes.keys()
    for key, (count, total) in raw_minutes.items():
        assert minutes[key][0] == count, key
        assert minutes[key][1] == pytest.approx(total, rel=1e-9, abs=1e-9), key
    assert hist == raw_hist


def test_flushes_write_rollups_equal_to_the_raw_rows(db) -> None:
    buffer = MetricsBuffer(db)
    rng = random.Random(1)
    for _ in range(3):  # several flushes touching the same minutes
        _record(buffer, rng, 1500)
        buffer.flush()
    _assert_rollups_match_raw(db)
    minutes, hist = _rollups(db)
    assert sum(c for (n, _, _), (c, _) in minutes.items() if n == PAYER_CALL) == 4500
    assert sum(hist.values()) == 4500 and len({m for _, m, _ in hist}) >= 5


def test_rebuild_reproduces_the_flushed_rollups(db) -> None:
    buffer = MetricsBuffer(db)
    _record(buffer, random.Random(2), 2000, minutes=30)
    buffer.flush()
    flushed = _rollups(db)
    with db.write() as session:
        session.execute(delete(MetricMinute))
        session.execute(delete(MetricBucket))
    with db.write() as session:
        read = rebuild(session.connection(), utcnow() - timedelta(hours=1))
    assert read == 2000 + 200 + 1
    rebuilt = _rollups(db)
    assert rebuilt[0].keys() == flushed[0].keys() and rebuilt[1] == flushed[1]
    for key, (count, total) in flushed[0].items():
        assert rebuilt[0][key][0] == count and rebuilt[0][key][1] == pytest.approx(total, rel=1e-9)
    with db.write() as session:  # rebuilding again replaces, never adds
        rebuild(session.connection(), utcnow() - timedelta(hours=1))
    assert _rollups(db)[1] == flushed[1]


def test_concurrent_flushes_add_up(db_url) -> None:
    """Four writers (own Database, own connections) flushing into the same minutes and labels."""
    writers, flushes, per_flush = 4, 10, 200
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []
    minute = minute_of(utcnow())

    def work(seed: int) -> None:
        database = Database(db_url)
        try:
            buffer = MetricsBuffer(database)
            rng = random.Random(seed)
            barrier.wait()
            for _ in range(flushes):
                for _ in range(per_flush):
                    buffer.record(PAYER_CALL, rng.choice((0.1, 0.2, 0.4)), rng.choice(LABELS), at=minute)
                buffer.flush()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    database = Database(db_url)
    try:
        _assert_rollups_match_raw(database)
        minutes, hist = _rollups(database)
        assert sum(c for c, _ in minutes.values()) == writers * flushes * per_flush
        assert sum(hist.values()) == writers * flushes * per_flush and len(hist) == 3
    finally:
        database.dispose()


def test_bucket_percentiles_stay_within_the_stated_precision() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(-0.4, 0.6) for _ in range(5000)] + [0.0, 1e-6, 50_000.0]
    counts = Counter(buckets.bucket_of(v) for v in values)
    qs = (0.01, 0.5, 0.9, 0.95, 0.99)
    for q, got in zip(qs, buckets.percentiles(counts.items(), qs), strict=True):
        assert got == pytest.approx(_exact(values, q), rel=0.0199), q
    for v in (1e-3, 0.05, 0.71, 3.3, 29.0, 600.0):
        assert buckets.bucket_value(buckets.bucket_of(v)) == pytest.approx(v, rel=0.0199)
    assert buckets.percentiles([], (0.5,)) == [None]


def test_collect_reads_percentiles_from_the_buckets(db, tmp_path) -> None:
    from engine import stats
    from engine.config import Settings

    rng = random.Random(4)
    buffer = MetricsBuffer(db)
    now = utcnow()
    values = [rng.lognormvariate(-0.4, 0.6) for _ in range(3000)]
    for i, value in enumerate(values):
        buffer.record(PAYER_CALL, value, LABELS[i % len(LABELS)], at=now - timedelta(minutes=1 + i % 50))
    buffer.record(PAYER_CALL, 99.0, "summary:ok", at=now - timedelta(minutes=70))  # outside the hour
    buffer.record(ROWS_DONE, 40, at=now - timedelta(minutes=3))
    buffer.record(ROWS_DONE, 7, at=now)  # the current minute: the sparkline's last bar, not the average
    buffer.flush()
    with db.write() as session:  # the raw rows are not read for the hour's figures
        session.execute(delete(Metric).where(Metric.name == PAYER_CALL))
    s = stats.collect(db, Settings(home=tmp_path), now=now)
    assert s.calls_by_outcome["ok"] == 1800 and s.calls_by_outcome["timeout"] == 600
    assert sum(s.calls_by_outcome.values()) == 3000
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert s.latency_ms[key] == pytest.approx(_exact(values, q) * 1000, rel=0.02), key
    by_minute = defaultdict(list)
    for i, value in enumerate(values):
        by_minute[58 - (i % 50)].append(value)  # a call k minutes ago: k bars before the current minute's
    for slot, vals in by_minute.items():
        assert s.latency_spark[slot] == pytest.approx(sum(vals) / len(vals) * 1000, abs=0.051)
    assert s.latency_spark[:9] == [0.0] * 9 and s.latency_spark[59] == 0.0
    assert s.throughput_spark[56] == 40 and s.throughput_spark[59] == 7
    assert s.rows_per_minute == round(40 / 60, 1)


def test_migration_from_0001_backfills_the_last_two_hours(db_url) -> None:
    database = Database(db_url, migrate=False)
    try:
        command.upgrade(_config(database.write_engine), "0001")
        now = utcnow()
        rows = [{"at": now - timedelta(minutes=m, seconds=s), "name": PAYER_CALL, "value": 0.1 * (1 + s % 7),
                 "label": "summary:ok"} for m in (1, 60, 110) for s in range(0, 300, 7)]
        old = [{"at": now - timedelta(hours=h), "name": PAYER_CALL, "value": 1.0, "label": "summary:ok"}
               for h in (3, 47)]
        with database.engine.begin() as conn:
            conn.execute(insert(Metric), rows + old)
        assert database.upgrade()
        assert current_revision(database.write_engine) == SCHEMA_HEAD
        with database.read() as session:
            counted = session.scalar(select(func.sum(MetricMinute.count)))
            oldest = session.scalar(select(func.min(MetricMinute.minute)))
        assert counted == len(rows)
        assert oldest >= minute_of(now - timedelta(hours=2))
        with database.write() as session:  # the older rows are left out: compare the rest
            session.execute(delete(Metric).where(Metric.at < now - timedelta(hours=2)))
        _assert_rollups_match_raw(database)
    finally:
        database.dispose()
