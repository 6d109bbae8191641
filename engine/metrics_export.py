"""The Prometheus exposition of claimsops (`claimsops metrics`, and `up`, `worker`, `scheduler`
with CLAIMSOPS_METRICS_PORT): one collector that reads the database on every scrape, so any
number of processes export the same figures.

Each scrape is a few indexed queries: jobs by status with their row counters (one GROUP BY),
today's payer calls and latency histogram from the per-minute rollups, today's job durations
(one row per finished job), workers, queue length, stalled jobs, tasks, open alerts and the claim
follow-up (claims by state, due, closed this week).
Counters read from the rollups cover the current UTC day: they start again from zero at
midnight, which Prometheus' rate() and increase() take as a counter reset. Labels are bounded
sets (statuses, outcomes, surfaces, task and check names): never a claim, file or user name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from engine.alerts import open_alerts
from engine.buckets import bucket_value
from engine.config import Settings
from engine.db import Database
from engine.errors import describe
from engine.jobs.lifecycle import CANCELLED, CANCELLING, COMPLETED, FAILED, PENDING, PROCESSING
from engine.jobs.liveness import stalled_jobs
from engine.metrics import JOB_DURATION, PAYER_CALL, PAYER_HEDGE, QUEUE_LENGTH, minute_of
from engine.models import Job, MetricBucket, MetricMinute, Worker, utcnow
from engine.models import Metric as MetricRow
from engine.payer.limits import LimiterState
from engine.stats import OUTCOME_CLASSES
from engine.tasks.body import OK, OUTCOMES, RUNNING
from engine.tasks.status import LATE, list_tasks
from engine.tasks.store import latest_run
from engine.workers_registry import ALIVE_WITHIN

log = logging.getLogger("claimsops.metrics")

PREFIX = "claimsops_"
JOB_STATUSES = (PENDING, PROCESSING, CANCELLING, COMPLETED, FAILED, CANCELLED)
ROW_OUTCOMES = {"found": Job.found_rows, "not_found": Job.not_found_rows, "error": Job.error_rows,
                "invalid": Job.invalid_rows}
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)  # seconds
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0)  # seconds
QUEUE_FRESH = timedelta(minutes=2)


def _histogram(values: Iterator[tuple[float, int]], bounds: tuple[float, ...]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs from (value, count) pairs, ending with +Inf."""
    counts = [0] * (len(bounds) + 1)
    for value, count in values:
        i = next((i for i, b in enumerate(bounds) if value <= b), len(bounds))
        counts[i] += count
    out, seen = [], 0
    for bound, count in zip((*map(str, bounds), "+Inf"), counts, strict=True):
        seen += count
        out.append((bound, float(seen)))
    return out


LimiterReader = Callable[[], LimiterState | None]  # the shared (Redis) limiter's state, when there is one


class DatabaseCollector(Collector):
    """Every claimsops metric, read from the database at scrape time (and the shared payer
    limiter's live state from `limiter`, which only the processes sharing it through Redis have)."""

    def __init__(self, db: Database, settings: Settings, limiter: LimiterReader | None = None) -> None:
        self.db, self.settings, self.limiter = db, settings, limiter

    def collect(self) -> Iterator[Metric]:
        """Every family, or (the database unreadable) only claimsops_database_up 0: a scrape
        never fails with a traceback, and a rule can alert on the database itself."""
        now = utcnow()
        try:
            families = [*self._jobs(), *self._payer(now), *self._job_durations(now), *self._workers(now),
                        *self._stalled(), *self._tasks(now), *self._alerts(), *self._followup(now)]
        except Exception as exc:
            log.warning("metrics scrape: %s", describe(exc))
            families = []
        yield GaugeMetricFamily(PREFIX + "database_up", "1 when this scrape read the database.",
                                value=1.0 if families else 0.0)
        yield from families

    def _jobs(self) -> Iterator[Metric]:
        with self.db.read() as session:
            rows = session.execute(
                select(Job.status, func.count(), *(func.coalesce(func.sum(c), 0) for c in ROW_OUTCOMES.values()))
                .group_by(Job.status)).all()
        jobs = GaugeMetricFamily(PREFIX + "jobs", "Jobs by status.", labels=["status"])
        by_status = {status: int(count) for status, count, *_ in rows}
        for status in (*JOB_STATUSES, *sorted(set(by_status) - set(JOB_STATUSES))):
            jobs.add_metric([status], by_status.get(status, 0))
        yield jobs
        processed = CounterMetricFamily(PREFIX + "rows_processed", "Rows of all jobs processed, by outcome.",
                                        labels=["outcome"])
        for i, outcome in enumerate(ROW_OUTCOMES):
            processed.add_metric([outcome], float(sum(int(r[2 + i]) for r in rows)))
        yield processed

    def _payer(self, now: datetime) -> Iterator[Metric]:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        last_minute = minute_of(now) - timedelta(minutes=1)
        with self.db.read() as session:
            minutes = session.execute(
                select(MetricMinute.name, MetricMinute.label, func.sum(MetricMinute.count), func.sum(MetricMinute.total))
                .where(MetricMinute.name.in_((PAYER_CALL, PAYER_HEDGE)), MetricMinute.minute >= day)
                .group_by(MetricMinute.name, MetricMinute.label)).all()
            buckets = session.execute(
                select(MetricBucket.bucket, func.sum(MetricBucket.count))
                .where(MetricBucket.name == PAYER_CALL, MetricBucket.minute >= day)
                .group_by(MetricBucket.bucket)).all()
            achieved = session.scalar(
                select(func.coalesce(func.sum(MetricMinute.count), 0))
                .where(MetricMinute.name == PAYER_CALL, MetricMinute.minute == last_minute)) or 0
        calls = CounterMetricFamily(
            PREFIX + "payer_calls", "Payer calls today (UTC), by surface and outcome.",
            labels=["surface", "outcome"])
        hedges = CounterMetricFamily(
            PREFIX + "payer_hedged_copies", "Extra copies of slow payer calls sent today (UTC), by surface.",
            labels=["surface"])
        by_label: dict[tuple[str, str], int] = {}
        seconds = 0.0
        for name, label, count, total in minutes:
            if name == PAYER_HEDGE:
                hedges.add_metric([label or "unknown"], float(count), created=day.timestamp())
                continue
            surface, _, outcome = (label or "").rpartition(":")
            outcome = outcome if outcome in OUTCOME_CLASSES else "client_error"
            key = (surface or "unknown", outcome)
            by_label[key] = by_label.get(key, 0) + int(count)
            seconds += float(total or 0.0)
        for (surface, outcome), count in sorted(by_label.items()):
            calls.add_metric([surface, outcome], float(count), created=day.timestamp())
        yield calls
        yield hedges
        latency = HistogramMetricFamily(
            PREFIX + "payer_call_duration_seconds", "Payer call latency today (UTC), from the per-minute buckets.")
        latency.add_metric([], _histogram(((bucket_value(b), int(c)) for b, c in buckets), LATENCY_BUCKETS), seconds)
        yield latency
        yield GaugeMetricFamily(
            PREFIX + "payer_rate_limit_per_second", "The shared payer limiter's configured rate.",
            value=self.settings.payer_rate_per_second)
        yield GaugeMetricFamily(
            PREFIX + "payer_concurrency_limit", "The shared payer limiter's configured calls in flight.",
            value=self.settings.payer_concurrency)
        yield GaugeMetricFamily(
            PREFIX + "payer_achieved_rate_per_second", "Payer calls per second in the last whole minute.",
            value=int(achieved) / 60.0)
        yield from self._limiter()

    def _limiter(self) -> Iterator[Metric]:
        in_flight = GaugeMetricFamily(
            PREFIX + "payer_calls_in_flight", "Payer calls holding a slot of the shared limiter (Redis mode).")
        until = GaugeMetricFamily(
            PREFIX + "payer_throttled_until_timestamp_seconds",
            "Until when a 429 paused every payer call (Unix time; 0: not paused; Redis mode).")
        state = self.limiter() if self.limiter is not None else None
        if state is not None:
            in_flight.add_metric([], state.in_flight)
            until.add_metric([], state.throttled_until)
        yield from (in_flight, until)

    def _job_durations(self, now: datetime) -> Iterator[Metric]:
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with self.db.read() as session:
            rows = session.execute(
                select(MetricRow.label, MetricRow.value)
                .where(MetricRow.name == JOB_DURATION, MetricRow.at >= day)).all()
        durations = HistogramMetricFamily(
            PREFIX + "job_duration_seconds", "Durations of the jobs finished today (UTC), by final status.",
            labels=["status"])
        by_status: dict[str, list[float]] = {}
        for status, value in rows:
            by_status.setdefault(status or "unknown", []).append(float(value))
        for status, values in sorted(by_status.items()):
            durations.add_metric([status], _histogram(((v, 1) for v in values), DURATION_BUCKETS), sum(values))
        yield durations

    def _workers(self, now: datetime) -> Iterator[Metric]:
        with self.db.read() as session:
            live = select(Worker).where(Worker.last_seen_at >= now - ALIVE_WITHIN, Worker.stopped_at.is_(None)).subquery()
            alive, busy = session.execute(
                select(func.count(), func.count(live.c.current_job_id)).select_from(live)).one()
            queue = session.scalar(
                select(MetricRow.value).where(MetricRow.name == QUEUE_LENGTH, MetricRow.at >= now - QUEUE_FRESH)
                .order_by(MetricRow.at.desc()).limit(1))
        yield GaugeMetricFamily(PREFIX + "workers_alive", "Worker processes seen in the last 15 s.", value=int(alive))
        yield GaugeMetricFamily(PREFIX + "workers_busy", "Alive workers running a job.", value=int(busy or 0))
        queue_length = GaugeMetricFamily(
            PREFIX + "queue_length", "Messages waiting on the broker (absent when no worker reported it lately).")
        if queue is not None:
            queue_length.add_metric([], float(queue))
        yield queue_length

    def _stalled(self) -> Iterator[Metric]:
        stalled, pending, any_alive = stalled_jobs(self.db)
        yield GaugeMetricFamily(
            PREFIX + "jobs_stalled", "Running jobs whose worker is gone (lease expired, no heartbeat).",
            value=len(stalled))
        yield GaugeMetricFamily(
            PREFIX + "jobs_unattended", "Pending jobs while no worker is alive.", value=0 if any_alive else pending)

    def _tasks(self, now: datetime) -> Iterator[Metric]:
        statuses = list_tasks(self.db, self.settings, now=now)
        with self.db.read() as session:
            successes = {s.name: latest_run(session, s.name, OK) for s in statuses}
        last_success = GaugeMetricFamily(
            PREFIX + "task_last_success_timestamp_seconds", "When each maintenance task last ended ok (Unix time).",
            labels=["task"])
        outcome = GaugeMetricFamily(
            PREFIX + "task_last_run_outcome", "1 for the outcome of each task's last run.", labels=["task", "outcome"])
        paused = GaugeMetricFamily(PREFIX + "task_paused", "1 while a task is paused.", labels=["task"])
        late = GaugeMetricFamily(PREFIX + "task_late", "1 while a task missed its schedule.", labels=["task"])
        for status in statuses:
            run = successes[status.name]
            if run is not None:
                last_success.add_metric([status.name], (run.finished_at or run.started_at).timestamp())
            last = status.last_run.outcome if status.last_run is not None else None
            for name in (*OUTCOMES, RUNNING):
                outcome.add_metric([status.name, name], 1.0 if last == name else 0.0)
            paused.add_metric([status.name], 1.0 if status.paused else 0.0)
            late.add_metric([status.name], 1.0 if status.state == LATE else 0.0)
        yield from (last_success, outcome, paused, late)

    def _followup(self, now: datetime) -> Iterator[Metric]:
        """The claim follow-up: claims by state (open: re-checked by recheck_open_claims; stale:
        open past the stale age, needs a person; closed), those due now, and closed this week."""
        from engine.followup.finality import CLOSED, OPEN, STALE
        from engine.followup.queries import ClaimQuery, count_claims, follow_up_stats
        from engine.followup.recheck import rules_from

        rules = rules_from(self.settings)
        stats = follow_up_stats(self.db, now=now, rules=rules)
        claims = GaugeMetricFamily(PREFIX + "followup_claims", "Claims the follow-up knows, by state.",
                                   labels=["state"])
        claims.add_metric([OPEN], stats.open_claims)
        claims.add_metric([STALE], stats.stale_claims)
        claims.add_metric([CLOSED], count_claims(self.db, ClaimQuery(state=CLOSED), now=now, rules=rules))
        yield claims
        yield GaugeMetricFamily(PREFIX + "followup_claims_due", "Open claims due to be asked again now.",
                                value=stats.due_now)
        yield GaugeMetricFamily(PREFIX + "followup_closed_this_week",
                                "Claims closed (final status) since Monday 00:00 UTC.", value=stats.closed_this_week)

    def _alerts(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(PREFIX + "alerts_active", "Open alerts, by health check.", labels=["check"])
        by_check: dict[str, int] = {}
        for alert in open_alerts(self.db):
            by_check[alert.check] = by_check.get(alert.check, 0) + 1
        for check, count in sorted(by_check.items()):
            active.add_metric([check], count)
        yield active


def registry_for(db: Database, settings: Settings, limiter: LimiterReader | None = None) -> CollectorRegistry:
    """A private registry holding only the claimsops collector (no process or GC metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db, settings, limiter))
    return registry
