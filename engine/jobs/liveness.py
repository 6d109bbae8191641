"""Whether a job's work can progress, derived from what is already stored — the job's lease and
the workers' heartbeats — so it can never disagree with them: a job the database calls
PROCESSING or CANCELLING whose lease has lapsed and whose worker no longer beats is *stalled*
(nothing runs it); a PENDING job while no worker at all is alive is *unattended* (nothing will
pick it up). A running job whose history's last word on the payer is "waiting for the payer"
waits for a payer that answers none of its calls (`payer_down_since`). The console, the CLI,
Stats and Health all ask here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from engine.db import Database
from engine.jobs.lifecycle import CANCELLING, PAYER_ANSWERED, PENDING, PROCESSING, WAITING_FOR_PAYER
from engine.models import Job, Worker, utcnow
from engine.workers_registry import ALIVE_WITHIN

RUNNING_STATUSES = (PROCESSING, CANCELLING)
STALLED = "STALLED"
START_WORKERS = "start `claimsops up` or `claimsops worker`"  # the fix, in every message
STALLED_LIMIT = 100  # stalled jobs named at most, newest first


@dataclass(frozen=True)
class Liveness:
    """`stalled`: nothing runs this PROCESSING/CANCELLING job; `since` is when its worker was
    last seen (or its last progress, when that worker never beat). `unattended`: this PENDING
    job waits while no worker is alive."""

    stalled: bool = False
    unattended: bool = False
    since: datetime | None = None
    payer_down_since: datetime | None = None  # the job waits for the payer (see payer_note)

    def status(self, stored: str) -> str:
        """The status an operator is shown: STALLED instead of a status nothing acts on."""
        return STALLED if self.stalled else stored

    def note(self, clock: str = "") -> str:
        """One short line saying what nobody does ("" when the job is attended), `clock` being
        `since` already formatted for the reader's time zone."""
        if self.stalled:
            return f"no worker since {clock}" if clock else "no worker"
        return "queued — no worker running" if self.unattended else ""

    def payer_note(self, clock: str) -> str:
        """"waiting for the payer since <clock>" while the job waits for the payer, else ""."""
        return f"waiting for the payer since {clock}" if self.payer_down_since else ""


ATTENDED = Liveness()
# history events after which a job no longer waits for the payer
_PAYER_WAIT_ENDS = frozenset({PAYER_ANSWERED, "started", "resumed", "released"})


def payer_down_since(job: Job) -> datetime | None:
    """Since when the running `job` has been waiting for a payer that answers none of its calls
    (None when it is not), from its history."""
    if job.status not in RUNNING_STATUSES:
        return None
    for entry in reversed(job.history or []):
        event = entry.get("event")
        if event == WAITING_FOR_PAYER:
            try:
                return datetime.fromisoformat(str(entry.get("since") or entry.get("at")))
            except ValueError:  # not written by note_payer_wait: nothing to show
                return None
        if event in _PAYER_WAIT_ENDS:
            return None
    return None


@dataclass(frozen=True)
class WorkerView:
    """Who is alive now (ids), and when each worker that ever held a lease was last seen."""

    live_ids: frozenset[str]
    last_seen: dict[str, datetime]
    now: datetime

    @property
    def any_alive(self) -> bool:
        return bool(self.live_ids)

    def of(self, job: Job) -> Liveness:
        if job.status in RUNNING_STATUSES:
            lease_held = job.lease_expires_at is not None and job.lease_expires_at > self.now
            if lease_held or (job.lease_owner is not None and job.lease_owner in self.live_ids):
                down_since = payer_down_since(job)
                return Liveness(payer_down_since=down_since) if down_since else ATTENDED
            since = self.last_seen.get(job.lease_owner or "") or job.updated_at
            return Liveness(stalled=True, since=since)
        if job.status == PENDING and not self.any_alive:
            return Liveness(unattended=True)
        return ATTENDED


def worker_view(db: Database, owners: Iterable[str] = ()) -> WorkerView:
    """The live workers, and the last heartbeat of each of `owners` (lease owners)."""
    now = utcnow()
    cutoff = now - ALIVE_WITHIN
    wanted = {o for o in owners if o}
    with db.read() as session:
        condition = Worker.last_seen_at >= cutoff
        if wanted:
            condition = or_(condition, Worker.id.in_(wanted))
        rows = session.execute(select(Worker.id, Worker.last_seen_at, Worker.stopped_at).where(condition)).all()
    live = frozenset(r.id for r in rows if r.last_seen_at >= cutoff and r.stopped_at is None)
    return WorkerView(live, {r.id: r.last_seen_at for r in rows}, now)


def liveness_of(db: Database, jobs: Iterable[Job]) -> dict[int, Liveness]:
    """Each job's liveness, with one query for the workers."""
    jobs = list(jobs)
    view = worker_view(db, (j.lease_owner for j in jobs if j.status in RUNNING_STATUSES))
    return {j.id: view.of(j) for j in jobs}


def stalled_jobs(db: Database) -> tuple[list[tuple[Job, Liveness]], int, int]:
    """(the stalled jobs, newest first, at most STALLED_LIMIT; how many PENDING jobs wait;
    how many workers are alive) — what Health, the header and the metrics report."""
    now = utcnow()
    with db.read() as session:
        candidates = list(session.scalars(
            select(Job).where(Job.status.in_(RUNNING_STATUSES),
                              or_(Job.lease_expires_at.is_(None), Job.lease_expires_at <= now))
            .order_by(Job.id.desc()).limit(STALLED_LIMIT * 4)
        ))
        pending = int(session.scalar(select(func.count()).select_from(Job).where(Job.status == PENDING)) or 0)
    view = worker_view(db, (j.lease_owner for j in candidates))
    stalled = [(j, live) for j in candidates if (live := view.of(j)).stalled][:STALLED_LIMIT]
    return stalled, pending, len(view.live_ids)
