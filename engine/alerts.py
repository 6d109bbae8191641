"""Alerts on health changes, not on every run: when a check leaves `ok` (or changes between
degraded and failing) an alert is raised; when it returns to `ok`, a recovery. Each is an
`alerts` row, a log line (ERROR for an alert) and, when CLAIMSOPS_ALERT_WEBHOOK is set, a JSON
POST with a Slack-compatible `text` field. A webhook failure is logged, never raised; the
webhook URL (it is a secret in Slack) is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select, update

from engine.config import Settings
from engine.db import Database, by_key
from engine.health import OK, CheckResult
from engine.jobs.liveness import stalled_jobs
from engine.models import Alert, HealthState, utcnow
from engine.workers_registry import count_live

ALERT, RECOVERY = "alert", "recovery"
WEBHOOK_TIMEOUT_S = 5.0
log = logging.getLogger("claimsops.alerts")


@dataclass(frozen=True)
class AlertEvent:
    check: str
    kind: str
    state: str
    previous: str | None
    message: str


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _event(result: CheckResult, previous: str | None, since: datetime | None, now: datetime) -> AlertEvent | None:
    if previous == result.state or (previous is None and result.state == OK):
        return None
    if result.state == OK:
        after = f" after {_duration(now - since)}" if since else ""
        message = f"RECOVERED: {result.name} is ok again{after}: {result.detail}"
        return AlertEvent(result.name, RECOVERY, OK, previous, message)
    was = f" (was {previous})" if previous and previous != OK else ""
    message = f"ALERT: {result.name} is {result.state}{was}: {result.detail}"
    return AlertEvent(result.name, ALERT, result.state, previous, message)


def record(db: Database, results: Iterable[CheckResult]) -> list[AlertEvent]:
    """Store each check's state in `health_state`; raise and resolve `alerts` rows on changes.
    Returns the changes, for `notify` (called after the transaction, never inside it)."""
    now = utcnow()
    events: list[AlertEvent] = []
    with db.write() as session:
        for result in results:
            row = session.get(HealthState, result.name)
            previous, since = (row.state, row.since) if row is not None else (None, None)
            if row is None:
                row = HealthState(check=result.name, state=result.state, since=now)
                session.add(row)
            elif row.state != result.state:
                row.state, row.since = result.state, now
            row.detail, row.latency_ms, row.checked_at = result.detail, result.latency_ms, now
            event = _event(result, previous, since, now)
            if event is None:
                continue
            session.execute(
                update(Alert)
                .where(Alert.check == result.name, Alert.kind == ALERT, Alert.resolved_at.is_(None))
                .values(resolved_at=now)
                .execution_options(synchronize_session=False)
            )
            session.add(Alert(
                check=result.name, kind=event.kind, message=event.message[:2000], raised_at=now,
                resolved_at=now if event.kind == RECOVERY else None,
            ))
            events.append(event)
    return events


def post_webhook(url: str, payload: dict[str, object], *, timeout: float = WEBHOOK_TIMEOUT_S) -> bool:
    """POST JSON; True on a 2xx answer. Failures are logged (without the URL), never raised."""
    try:
        response = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
    except Exception as exc:  # unreachable, timeout, malformed URL: never fatal
        log.warning("alert webhook failed: %s", type(exc).__name__)
        return False
    if not 200 <= response.status_code < 300:
        log.warning("alert webhook answered HTTP %d", response.status_code)
        return False
    return True


def notify(settings: Settings, events: Iterable[AlertEvent]) -> int:
    """Log each change and POST it to the webhook when one is configured; returns posts sent."""
    sent = 0
    for event in events:
        if event.kind == ALERT:
            log.error(event.message)
        else:
            log.warning(event.message)
        if settings.alert_webhook:
            payload: dict[str, object] = {
                "text": f"[{settings.site_name}] {event.message}",
                "site": settings.site_name, "check": event.check, "kind": event.kind, "state": event.state,
            }
            sent += post_webhook(settings.alert_webhook, payload)
    return sent


def open_alerts(db: Database) -> list[Alert]:
    with db.read() as session:
        return list(session.scalars(
            select(Alert).where(Alert.kind == ALERT, Alert.resolved_at.is_(None)).order_by(Alert.id)
        ))


def recent_alerts(db: Database, *, limit: int = 50, before_id: int | None = None) -> list[Alert]:
    """Newest first, one page."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    with db.read() as session:
        return list(session.scalars(query))


def alerts_after(db: Database, after_id: int, *, limit: int = 50) -> list[Alert]:
    """Alerts and recoveries recorded after `after_id`, oldest first (at most `limit`)."""
    query = select(Alert).where(Alert.id > after_id).order_by(Alert.id).limit(limit)
    with db.read() as session:
        return list(session.scalars(query))


def alerts_by_ids(db: Database, ids: Iterable[int]) -> dict[int, Alert]:
    """These alerts as they are now (an open alert may have been resolved), by id."""
    return by_key(db, Alert.id, ids)


@dataclass(frozen=True)
class SiteStatus:
    """What the console header shows besides the configuration."""

    db_latency_ms: float
    open_alerts: int
    live_workers: int
    newest_alert_id: int = 0
    stalled_jobs: int = 0  # PROCESSING or CANCELLING with nothing running them
    unattended_jobs: int = 0  # PENDING while no worker is alive


def site_status(db: Database) -> SiteStatus:
    """Ping the database, count open alerts and live workers. Raises DatabaseError (or the
    driver's error) when the database cannot be reached."""
    latency = db.ping() * 1000
    with db.read() as session:
        alerts = int(
            session.scalar(
                select(func.count()).select_from(Alert).where(Alert.kind == ALERT, Alert.resolved_at.is_(None))
            )
            or 0
        )
        newest = int(session.scalar(select(func.max(Alert.id))) or 0)
    stalled, pending, alive = stalled_jobs(db)
    return SiteStatus(db_latency_ms=latency, open_alerts=alerts, live_workers=count_live(db), newest_alert_id=newest,
                      stalled_jobs=len(stalled), unattended_jobs=0 if alive else pending)


def health_states(db: Database) -> list[HealthState]:
    with db.read() as session:
        return list(session.scalars(select(HealthState).order_by(HealthState.check)))
