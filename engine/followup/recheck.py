"""Follow-up jobs: the open claims that are due (or every open claim), as an ordinary job whose
rows carry each claim's own service dates from its last observation, so the planner finds most
of them with window searches of those dates instead of one inquiry each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from engine.config import Settings
from engine.db import Database
from engine.followup.finality import DEFAULT_RULES, OPEN, Rules
from engine.followup.queries import state_condition
from engine.jobs.lifecycle import PENDING, history_entry
from engine.models import Job, JobRow, TrackedClaim, utcnow

FOLLOWUP = "followup"
UPLOAD = "upload"
DEFAULT_WINDOW_DAYS = 90
# A claim put in a follow-up job is not due again for a day, so a second run (or the task and
# `claimsops recheck` one after the other) does not ask twice; its observation sets the next
# check, and a job cancelled before it asked gives the claim back the day after.
IN_JOB_GRACE = timedelta(days=1)
BATCH = 1000
_C = TrackedClaim


def rules_from(settings: Settings) -> Rules:
    return Rules(stale_days=settings.followup_stale_days, not_found_days=settings.followup_not_found_days)


@dataclass(frozen=True)
class Recheck:
    """What a follow-up run did: the job it created (None when nothing was due), how many
    claims it holds, and how many more were due beyond the cap."""

    job_id: int | None
    claims: int
    left_over: int
    everything: bool = False

    def summary(self) -> str:
        what = "open claims" if self.everything else "open claims due"
        if self.job_id is None:
            return f"no {what} to re-check"
        text = f"follow-up job {self.job_id}: {self.claims:,} {what}"
        if self.left_over:
            text += f"; {self.left_over:,} more wait for the next run (cap per run)"
        return text


def _selection(now: datetime, rules: Rules, everything: bool):  # noqa: ANN202 - a Select
    query = select(_C.id, _C.claim_number, _C.tin, _C.payer_id, _C.first_service_date, _C.last_service_date)
    if everything:
        return query.where(_C.state == OPEN)
    return query.where(state_condition(OPEN, now, rules), _C.next_check_at <= now)


def due_claims(db: Database, *, now: datetime | None = None, rules: Rules = DEFAULT_RULES, limit: int = 5000,
               everything: bool = False) -> list:
    """The open claims due at `now`, the longest-waiting first, at most `limit` (with
    `everything`: every open claim, stale ones too)."""
    now = now or utcnow()
    query = _selection(now, rules, everything).order_by(_C.next_check_at, _C.id).limit(limit)
    with db.read() as session:
        return list(session.execute(query))


def create_followup_job(
    db: Database, settings: Settings, *, requested_by: str, requested_from: str = "",
    everything: bool = False, now: datetime | None = None,
) -> Recheck:
    """Create a PENDING follow-up job of the claims due (every open claim with `everything`),
    at most `settings.followup_max_claims`; nothing when none is due."""
    now = now or utcnow()
    rules = rules_from(settings)
    cap = settings.followup_max_claims
    with db.write() as session:
        selection = _selection(now, rules, everything)
        order = (_C.id,) if everything else (_C.next_check_at, _C.id)
        claims = list(session.execute(selection.order_by(*order).limit(cap + 1)))
        left_over = 0
        if len(claims) > cap:
            total = session.scalar(select(func.count()).select_from(selection.subquery()))
            left_over = int(total or 0) - cap
            claims = claims[:cap]
        if not claims:
            return Recheck(None, 0, 0, everything)
        today = now.date()
        starts = [c.first_service_date for c in claims if c.first_service_date]
        tins = {c.tin for c in claims}
        payers = {c.payer_id for c in claims}
        kind = "all open claims" if everything else "claims due"
        job = Job(
            file_name=f"follow-up {now:%Y-%m-%d %H:%M} ({len(claims):,} {kind})", kind=FOLLOWUP,
            submitted_by=requested_by[:64], submitted_from=requested_from[:64], status=PENDING, strategy="auto",
            start_date=min(starts) if starts else today - timedelta(days=DEFAULT_WINDOW_DAYS),
            end_date=today, tin=next(iter(tins)) if len(tins) == 1 else "",
            payer_id=next(iter(payers)) if len(payers) == 1 else settings.payer_id,
            extra_columns=[], warnings=[], total_rows=len(claims),
            history=[history_entry("submitted", requested_by, follow_up=True)],
        )
        session.add(job)
        session.flush()
        for start in range(0, len(claims), BATCH):
            chunk = claims[start:start + BATCH]
            session.execute(insert(JobRow), [
                {"job_id": job.id, "row_number": start + i + 1, "claim_number": c.claim_number, "tin": c.tin,
                 "payer_id": c.payer_id, "first_service_date": c.first_service_date,
                 "last_service_date": c.last_service_date, "first_name": "", "last_name": "",
                 "subscriber_id": "", "patient_account_number": "", "extra": {}, "raw": {}, "attempts": 0}
                for i, c in enumerate(chunk)
            ])
            session.execute(
                update(_C).where(_C.id.in_([c.id for c in chunk])).values(next_check_at=now + IN_JOB_GRACE)
                .execution_options(synchronize_session=False)
            )
        return Recheck(job.id, len(claims), max(0, left_over), everything)

