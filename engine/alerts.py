"""Alerts on health changes, not on every run: when a check leaves `ok` (or changes between
degraded and failing) an alert is raised; when it returns to `ok`, a recovery. Each is an
`alerts` row, a log line (ERROR for an alert), a message to every Apprise URL in
CLAIMSOPS_ALERT_URLS and, when CLAIMSOPS_ALERT_WEBHOOK is set, a JSON POST with a
Slack-compatible `text` field. A failed destination is logged, never raised, and never holds
a health run up for long; no URL's path, query or credentials (where tokens live) is logged.
After each health run the CLAIMSOPS_HEARTBEAT_URL is pinged (a dead man's switch).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Select, func, select, update

from engine.config import Settings
from engine.db import Database, by_key
from engine.health import OK, CheckResult
from engine.jobs.liveness import stalled_jobs
from engine.models import Alert, HealthState, utcnow

ALERT, RECOVERY = "alert", "recovery"
WEBHOOK_TIMEOUT_S = 5.0
DESTINATIONS_BOUND_S = 10.0  # the longest a health run waits for its Apprise destinations
HEARTBEAT_TIMEOUT_S = 5.0
# Schemes whose host is a real host name; for the others (slack://TokenA/…, pagerduty://key@…)
# the "host" part of the URL is itself a token, so only the scheme is named.
_HOST_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms", "http", "https", "mailto", "mailtos"})
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
    import httpx  # on the first alert: the console imports this module before its first paint

    try:
        response = httpx.post(url, json=payload, timeout=timeout, follow_redirects=False)
    except Exception as exc:  # unreachable, timeout, malformed URL: never fatal
        log.warning("alert webhook failed: %s", type(exc).__name__)
        return False
    if not 200 <= response.status_code < 300:
        log.warning("alert webhook answered HTTP %d", response.status_code)
        return False
    return True


def destination_name(url: str) -> str:
    """What a log line may say of an alert or heartbeat URL: its scheme, and its host where the
    host is not itself a token."""
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname or ""
    except ValueError:
        return "a malformed URL"
    if not scheme:
        return "a malformed URL"
    return f"{scheme}://{host}" if host and scheme in _HOST_SCHEMES else f"{scheme}://"


def _quiet_apprise() -> None:
    # Apprise's own lines quote URLs (tokens) and server answers; ours say what failed.
    quiet = logging.getLogger("apprise")
    quiet.setLevel(logging.CRITICAL + 1)
    quiet.propagate = False


def _send_all(url: str, site: str, events: Sequence[AlertEvent]) -> None:
    import apprise  # ~0.1 s and a plugin scan: only a process that sends alerts pays for it

    name = destination_name(url)
    try:
        destination = apprise.Apprise()
        if not destination.add(url):
            log.warning("alert destination %s is not a URL Apprise knows", name)
            return
        for event in events:
            kind = apprise.NotifyType.FAILURE if event.kind == ALERT else apprise.NotifyType.SUCCESS
            title = f"[{site}] {event.check} {event.state}"
            if not destination.notify(body=event.message, title=title, notify_type=kind):
                log.warning("alert destination %s failed: %s %s not delivered", name, event.check, event.kind)
    except Exception as exc:  # a plugin's own failure: never fatal, never its text (it may quote the URL)
        log.warning("alert destination %s failed: %s", name, type(exc).__name__)


def send_to_destinations(
    urls: Sequence[str], site: str, events: Sequence[AlertEvent], *, bound: float = DESTINATIONS_BOUND_S
) -> None:
    """Send every event to every Apprise URL, each destination on its own thread; wait at most
    `bound` seconds in all. A destination still sending then carries on in the background."""
    if not urls or not events:
        return
    _quiet_apprise()
    threads = [
        threading.Thread(target=_send_all, args=(url, site, events), name="alert-destination", daemon=True)
        for url in urls
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + bound
    for url, thread in zip(urls, threads, strict=True):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("alert destination %s did not answer within %.0f s", destination_name(url), bound)


def notify(settings: Settings, events: Iterable[AlertEvent]) -> int:
    """Log each change, send it to the Apprise destinations and POST it to the webhook when one
    is configured; returns webhook posts sent."""
    events = list(events)
    send_to_destinations(settings.alert_urls, settings.site_name, events)
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


def ping_heartbeat(settings: Settings, *, healthy: bool, timeout: float = HEARTBEAT_TIMEOUT_S) -> bool:
    """Tell the dead man's switch this host ran its health checks: GET the heartbeat URL, or
    its `/fail` when the run was unhealthy. True when it answered 2xx; failures are logged."""
    if not settings.heartbeat_url:
        return False
    import httpx

    url = settings.heartbeat_url.rstrip("/") + ("" if healthy else "/fail")
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
    except Exception as exc:  # unreachable, timeout, malformed URL: never fatal
        log.warning("heartbeat %s failed: %s", destination_name(url), type(exc).__name__)
        return False
    if not 200 <= response.status_code < 300:
        log.warning("heartbeat %s answered HTTP %d", destination_name(url), response.status_code)
        return False
    return True


def open_alerts(db: Database) -> list[Alert]:
    with db.read() as session:
        return list(session.scalars(
            select(Alert).where(Alert.kind == ALERT, Alert.resolved_at.is_(None)).order_by(Alert.id)
        ))


def _containing(query: Select, text: str) -> Select:
    """Only the alerts with `text` in their check or message, case ignored ("" keeps all)."""
    if not text:
        return query
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query.where(Alert.check.ilike(like, escape="\\") | Alert.message.ilike(like, escape="\\"))


def recent_alerts(db: Database, *, limit: int = 50, before_id: int | None = None, text: str = "") -> list[Alert]:
    """Newest first, one page; `text` in the check or the message, if given."""
    query = _containing(select(Alert).order_by(Alert.id.desc()).limit(limit), text)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    with db.read() as session:
        return list(session.scalars(query))


def alerts_after(db: Database, after_id: int, *, limit: int = 50, text: str = "") -> list[Alert]:
    """Alerts and recoveries recorded after `after_id`, oldest first (at most `limit`); `text` in
    the check or the message, if given."""
    query = _containing(select(Alert).where(Alert.id > after_id).order_by(Alert.id).limit(limit), text)
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
    stalled, pending, alive = stalled_jobs(db)  # one look at the workers serves both counts
    return SiteStatus(db_latency_ms=latency, open_alerts=alerts, live_workers=alive, newest_alert_id=newest,
                      stalled_jobs=len(stalled), unattended_jobs=0 if alive else pending)


def health_states(db: Database) -> list[HealthState]:
    with db.read() as session:
        return list(session.scalars(select(HealthState).order_by(HealthState.check)))
