"""Health checks: database, broker, live workers, disk space, payer reachability and latency.

Each check returns a `CheckResult` (state ok, degraded or failing; a one-line detail; the
latency in ms where one was measured) and never raises. Details never carry secrets: URLs are
shown without credentials and the payer's token never leaves the check.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from engine.config import Settings
from engine.db import Database, DatabaseError
from engine.jobs.liveness import START_WORKERS, stalled_jobs
from engine.models import HealthState, utcnow
from engine.text import safe_text
from engine.workers_registry import count_live

OK, DEGRADED, FAILING = "ok", "degraded", "failing"
STATES = (OK, DEGRADED, FAILING)
CHECKS = ("database", "broker", "workers", "progress", "disk", "payer")

DB_SLOW_MS = 500.0
BROKER_TIMEOUT_S = 2.0
PAYER_TIMEOUT_S = 5.0
PAYER_SLOW_MS = 2000.0
TOKEN_PATH = "/v1/oauthtoken"
# free space: degraded under 10 % or 2 GiB; failing under 500 MiB, or under 2 % and 5 GiB
DISK_DEGRADED_FRACTION, DISK_DEGRADED_BYTES = 0.10, 2 * 1024**3
DISK_FAILING_FRACTION, DISK_FAILING_BYTES, DISK_FLOOR_BYTES = 0.02, 5 * 1024**3, 500 * 1024**2

# overall health and the exit code of `claimsops health`
HEALTHY, UNHEALTHY = "healthy", "unhealthy"
EXIT_CODES = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}


@dataclass(frozen=True)
class CheckResult:
    name: str
    state: str
    detail: str
    latency_ms: float | None = None


def display_url(url: str) -> str:
    """scheme://host:port/path without user name or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_database(db: Database) -> CheckResult:
    try:
        latency = round(db.ping() * 1000, 1)
    except DatabaseError as exc:
        return CheckResult("database", FAILING, safe_text(str(exc), max_len=200))
    state = DEGRADED if latency > DB_SLOW_MS else OK
    slow = f" (slow: over {DB_SLOW_MS:.0f} ms)" if state == DEGRADED else ""
    return CheckResult("database", state, f"{db.backend} answered in {latency:.0f} ms{slow}", latency)


def check_broker(settings: Settings) -> CheckResult:
    if not settings.broker_url:
        return CheckResult("broker", OK, "embedded (in-process broker)")
    import redis

    where = display_url(settings.broker_url)
    started = time.perf_counter()
    client = redis.Redis.from_url(
        settings.broker_url, socket_timeout=BROKER_TIMEOUT_S, socket_connect_timeout=BROKER_TIMEOUT_S
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return CheckResult("broker", FAILING, f"{where} unreachable: {type(exc).__name__}", _ms(started))
    finally:
        client.close()
    latency = _ms(started)
    return CheckResult("broker", OK, f"{where} answered PING in {latency:.0f} ms", latency)


def check_workers(db: Database, settings: Settings) -> CheckResult:
    live = count_live(db)
    if live:
        return CheckResult("workers", OK, f"{live} live worker{'s' if live != 1 else ''}")
    if settings.broker_url:
        return CheckResult("workers", FAILING, "no live workers: queued jobs wait until one starts")
    return CheckResult("workers", OK, "no worker heartbeats (embedded: jobs run under claimsops up)")


def check_progress(db: Database) -> CheckResult:
    """Work that cannot progress: stalled jobs (nothing runs them), or queued jobs while no
    worker is alive. Degraded, naming the jobs and the fix."""
    stalled, pending, alive = stalled_jobs(db)
    if stalled:
        ids = ", ".join(str(job.id) for job, _ in stalled[:5]) + (" …" if len(stalled) > 5 else "")
        since = min((live.since for _, live in stalled if live.since), default=None)
        when = f" (no worker since {since:%H:%M} UTC)" if since else ""
        noun = "job" if len(stalled) == 1 else "jobs"
        return CheckResult("progress", DEGRADED, f"{noun} {ids} stalled{when}: {START_WORKERS}")
    if pending and not alive:
        noun = "job is" if pending == 1 else "jobs are"
        return CheckResult("progress", DEGRADED, f"{pending} {noun} queued and no worker is running: {START_WORKERS}")
    return CheckResult("progress", OK, "no stalled jobs" + (f"; {pending} queued" if pending else ""))


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(settings: Settings) -> CheckResult:
    usage = shutil.disk_usage(_existing(settings.home))
    fraction = usage.free / usage.total if usage.total else 0.0
    detail = f"{usage.free / 1024**3:.1f} GiB free ({fraction:.0%}) where {settings.home.name or '/'} lives"
    if usage.free < DISK_FLOOR_BYTES or (fraction < DISK_FAILING_FRACTION and usage.free < DISK_FAILING_BYTES):
        return CheckResult("disk", FAILING, detail)
    if fraction < DISK_DEGRADED_FRACTION or usage.free < DISK_DEGRADED_BYTES:
        return CheckResult("disk", DEGRADED, detail)
    return CheckResult("disk", OK, detail)


def check_payer(settings: Settings) -> CheckResult:
    """A token request: proves reachability, the credentials, and measures latency."""
    if settings.sandbox:
        return CheckResult("payer", OK, "sandbox simulator (no payer configured)")
    where = display_url(settings.payer_url)
    data = {
        "grant_type": "client_credentials",
        "client_id": settings.payer_client_id,
        "client_secret": settings.payer_client_secret,
    }
    import httpx  # here, not at import: the console imports this module before its first paint

    started = time.perf_counter()
    try:
        with httpx.Client(timeout=PAYER_TIMEOUT_S, follow_redirects=False) as client:
            response = client.post(settings.payer_url + TOKEN_PATH, data=data)
    except httpx.TimeoutException:
        return CheckResult("payer", FAILING, f"{where} did not answer within {PAYER_TIMEOUT_S:.0f} s", _ms(started))
    except httpx.HTTPError as exc:
        return CheckResult("payer", FAILING, f"{where} unreachable: {type(exc).__name__}", _ms(started))
    latency = _ms(started)
    code = response.status_code
    if code in (400, 401, 403):
        return CheckResult("payer", FAILING, f"{where} refused the client credentials (HTTP {code})", latency)
    if code == 429:
        return CheckResult("payer", DEGRADED, f"{where} is throttling us (HTTP 429)", latency)
    if code != 200:
        return CheckResult("payer", FAILING, f"{where} token request failed (HTTP {code})", latency)
    if latency > PAYER_SLOW_MS:
        return CheckResult("payer", DEGRADED, f"{where} slow: token in {latency:.0f} ms", latency)
    return CheckResult("payer", OK, f"{where} issued a token in {latency:.0f} ms", latency)


def run_checks(db: Database, settings: Settings) -> list[CheckResult]:
    """Every check, in CHECKS order; a check that crashes is reported failing, never raised."""
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("database", lambda: check_database(db)),
        ("broker", lambda: check_broker(settings)),
        ("workers", lambda: check_workers(db, settings)),
        ("progress", lambda: check_progress(db)),
        ("disk", lambda: check_disk(settings)),
        ("payer", lambda: check_payer(settings)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(check())
        except Exception as exc:
            results.append(CheckResult(name, FAILING, safe_text(f"check crashed: {type(exc).__name__}: {exc}", max_len=200)))
    return results


def live_states(db: Database, settings: Settings, recorded: list[HealthState], *, led: bool,
                now: datetime | None = None) -> list[HealthState]:
    """The recorded check states, with the checks of work in progress (workers, progress)
    computed now when no scheduler leads (`led` False) — nothing else would run them, and the
    Health tab must show stuck work the moment it is stuck. The states made here are not stored."""
    if led:
        return recorded
    return states_of([check_workers(db, settings), check_progress(db)], recorded, now or utcnow())


def states_of(results: list[CheckResult], recorded: list[HealthState], now: datetime) -> list[HealthState]:
    """Results checked at `now` as states over the recorded ones (not stored): a check whose
    state did not change keeps the time it has been in it."""
    by_check = {row.check: row for row in recorded}
    for result in results:
        before = by_check.get(result.name)
        since = before.since if before is not None and before.state == result.state else now
        by_check[result.name] = HealthState(check=result.name, state=result.state, detail=result.detail,
                                            latency_ms=result.latency_ms, since=since, checked_at=now)
    return list(by_check.values())


def overall(results: list[CheckResult]) -> str:
    """healthy, degraded or unhealthy (any check failing)."""
    states = {r.state for r in results}
    if FAILING in states:
        return UNHEALTHY
    return DEGRADED if DEGRADED in states else HEALTHY

