"""Reading the follow-up: open claims by age and status, changes since a time, stale claims,
a claim's timeline and the Stats figures. Every list is paged by id (keyset) and returns plain
frozen dataclasses; nothing here writes a row or calls the payer. The console's Follow-up view
and the CLI (`claimsops changes`, `claimsops claim`) read through these functions only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select

from engine.db import Database
from engine.followup.finality import (
    CLOSED,
    DEFAULT_RULES,
    OPEN,
    STALE,
    Rules,
    not_found_open_after,
    stale_before,
)
from engine.followup.record import codes_of
from engine.followup.wording import change_summary
from engine.models import ClaimObservation, TrackedClaim, utcnow

_C = TrackedClaim
_O = ClaimObservation


@dataclass(frozen=True)
class ClaimState:
    """A claim as the follow-up knows it (one row of the open or stale list)."""

    claim_id: int
    payer_id: str
    tin: str
    claim_number: str
    state: str  # open | closed | stale
    status: str
    status_category: str
    status_code: str
    status_class: str
    total_paid: Decimal | None
    first_service_date: date | None
    last_service_date: date | None
    first_seen_at: datetime
    last_observed_at: datetime
    status_since: datetime
    next_check_at: datetime | None
    closed_at: datetime | None
    last_job_id: int
    observations: int
    age_days: int  # days since first seen, at the time of the query


@dataclass(frozen=True)
class Observation:
    """One observation of a claim (a step of its timeline)."""

    observation_id: int
    claim_id: int
    payer_id: str
    tin: str
    claim_number: str
    job_id: int
    row_number: int
    observed_at: datetime
    status: str
    status_class: str
    status_category: str
    status_code: str
    total_charged: Decimal | None
    total_paid: Decimal | None
    allowed_amount: Decimal | None
    patient_responsibility: Decimal | None
    check_number: str
    processed_date: date | None
    first_service_date: date | None
    last_service_date: date | None
    adjudication_codes: tuple[str, ...]
    matched_by: str
    changed: bool
    previous_status: str
    previous_category: str


@dataclass(frozen=True)
class Change:
    """A claim whose status changed in one job ("P1 → F1 paid $812.40")."""

    observation_id: int
    claim_id: int
    payer_id: str
    tin: str
    claim_number: str
    job_id: int
    observed_at: datetime
    old_status: str
    old_status_category: str
    new_status: str
    new_status_category: str
    new_status_code: str
    total_paid: Decimal | None
    adjudication_codes: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class ClaimQuery:
    """Which claims a list shows: `state` OPEN (re-checked by the follow-up), STALE (open too
    long: needs a person), CLOSED; `categories` (507 codes or their first letter, e.g. "P" or
    "P1"; any when empty); `min_age_days`; `text` (part of a claim number, or a TIN)."""

    state: str = OPEN
    categories: tuple[str, ...] = ()
    min_age_days: int = 0
    text: str = ""


@dataclass(frozen=True)
class FollowUpStats:
    """The Stats tab's follow-up figures."""

    open_claims: int
    stale_claims: int
    due_now: int
    closed_this_week: int  # since Monday 00:00 UTC
    median_days_to_close: float | None  # of the claims closed in the last 90 days


def state_condition(state: str, now: datetime, rules: Rules = DEFAULT_RULES) -> ColumnElement[bool]:
    """SQL for "the claim is in `state`" at `now` (the age rules of engine.followup.finality)."""
    stale_cut, nf_cut = stale_before(now, rules), not_found_open_after(now, rules)
    gave_up = and_(_C.status_class == "not_found", _C.first_seen_at <= nf_cut)
    if state == OPEN:
        return and_(_C.state == OPEN, _C.first_seen_at > stale_cut, not_(gave_up))
    if state == STALE:
        return and_(_C.state == OPEN, _C.first_seen_at <= stale_cut, _C.status_class != "not_found")
    if state == CLOSED:
        return or_(_C.state == CLOSED, and_(_C.state == OPEN, gave_up))
    raise ValueError(f"unknown claim state {state!r}")


def _claim_where(query: ClaimQuery, now: datetime, rules: Rules) -> list[ColumnElement[bool]]:
    where = [state_condition(query.state, now, rules)]
    cats = [c.strip().upper() for c in query.categories if c.strip()]
    if cats:
        where.append(or_(*(_C.status_category == c if len(c) > 1 else _C.status_category.like(f"{c}%")
                           for c in cats)))
    if query.min_age_days > 0:
        where.append(_C.first_seen_at <= now - timedelta(days=query.min_age_days))
    text = query.text.strip()
    if text:
        where.append(or_(_C.claim_number.ilike(f"%{text}%"), _C.tin == text))
    return where


def _state(row: Any, now: datetime, rules: Rules) -> ClaimState:
    from engine.followup.finality import state_of

    return ClaimState(
        claim_id=row.id, payer_id=row.payer_id, tin=row.tin, claim_number=row.claim_number,
        state=state_of(row.status_category, row.status_class, row.first_seen_at, now, rules)
        if row.state == OPEN else CLOSED,
        status=row.status, status_category=row.status_category or "", status_code=row.status_code or "",
        status_class=row.status_class, total_paid=row.total_paid, first_service_date=row.first_service_date,
        last_service_date=row.last_service_date, first_seen_at=row.first_seen_at,
        last_observed_at=row.last_observed_at, status_since=row.status_since, next_check_at=row.next_check_at,
        closed_at=row.closed_at, last_job_id=row.last_job_id, observations=row.observations,
        age_days=max(0, (now - row.first_seen_at).days),
    )


def claims_page(
    db: Database, query: ClaimQuery = ClaimQuery(), *, after_id: int | None = None, before_id: int | None = None,
    limit: int = 100, now: datetime | None = None, rules: Rules = DEFAULT_RULES,
) -> list[ClaimState]:
    """Oldest first (claims are numbered as they are first seen, so id order is age order):
    the `limit` matching claims after `after_id` (the next page), or, with `before_id`, the
    `limit` just before it (the previous page, still oldest first)."""
    now = now or utcnow()
    q = select(_C).where(*_claim_where(query, now, rules))
    with db.read() as session:
        if before_id is not None:
            rows = list(session.scalars(q.where(_C.id < before_id).order_by(_C.id.desc()).limit(limit)))
            rows.reverse()
        else:
            if after_id is not None:
                q = q.where(_C.id > after_id)
            rows = list(session.scalars(q.order_by(_C.id).limit(limit)))
    return [_state(r, now, rules) for r in rows]


def count_claims(db: Database, query: ClaimQuery = ClaimQuery(), *, now: datetime | None = None,
                 rules: Rules = DEFAULT_RULES) -> int:
    now = now or utcnow()
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(_C).where(*_claim_where(query, now, rules))) or 0)


def stale_claims(db: Database, *, after_id: int | None = None, before_id: int | None = None, limit: int = 100,
                 now: datetime | None = None, rules: Rules = DEFAULT_RULES) -> list[ClaimState]:
    """Open claims older than the stale age (`Rules.stale_days`): they need a person; the
    follow-up no longer asks the payer about them by itself. Oldest first, paged like
    `claims_page`."""
    return claims_page(db, ClaimQuery(state=STALE), after_id=after_id, before_id=before_id, limit=limit,
                       now=now, rules=rules)


def claims_by_ids(db: Database, query: ClaimQuery, ids: Sequence[int], *, now: datetime | None = None,
                  rules: Rules = DEFAULT_RULES) -> dict[int, ClaimState]:
    """The claims of `ids` that still match `query` (the rows a list shows, read again by
    primary key: a claim closed or gone stale meanwhile is left out)."""
    if not ids:
        return {}
    now = now or utcnow()
    # the match wrapped so that no planner reads it as an index key: a few primary-key look-ups
    # beat a walk of every open claim through ix_claims_due
    matches = func.coalesce(and_(*_claim_where(query, now, rules)), False)
    q = select(_C).where(_C.id.in_(list(ids)), matches.is_(True))
    with db.read() as session:
        return {r.id: _state(r, now, rules) for r in session.scalars(q)}


def _change(obs: Any, claim: Any) -> Change:
    codes = codes_of(obs.adjudication_codes)
    return Change(
        observation_id=obs.id, claim_id=claim.id, payer_id=claim.payer_id, tin=claim.tin,
        claim_number=claim.claim_number, job_id=obs.job_id, observed_at=obs.observed_at,
        old_status=obs.previous_status or "", old_status_category=obs.previous_category or "",
        new_status=obs.status, new_status_category=obs.status_category or "",
        new_status_code=obs.status_code or "", total_paid=obs.total_paid, adjudication_codes=codes,
        summary=change_summary(obs.previous_category or obs.previous_status or "",
                               obs.status_category or obs.status, obs.status_class, obs.total_paid, codes),
    )


def changes_page(
    db: Database, *, since: datetime | None = None, job_id: int | None = None, before_id: int | None = None,
    after_id: int | None = None, limit: int = 100,
) -> list[Change]:
    """Newest first: the status changes observed at or after `since` (all when None; only
    `job_id`'s when given), older than `before_id` (the next page) or, with `after_id`, the
    `limit` just newer than it (new arrivals, still newest first)."""
    where: list[ColumnElement[bool]] = [_O.changed.is_(True)]
    if since is not None:
        where.append(_O.observed_at >= since)
    if job_id is not None:
        where.append(_O.job_id == job_id)
    q = select(_O, _C).join(_C, _C.id == _O.claim_id).where(*where)
    with db.read() as session:
        if after_id is not None:
            rows = list(session.execute(q.where(_O.id > after_id).order_by(_O.id).limit(limit)))
            rows.reverse()
        else:
            if before_id is not None:
                q = q.where(_O.id < before_id)
            rows = list(session.execute(q.order_by(_O.id.desc()).limit(limit)))
    return [_change(o, c) for o, c in rows]


def _observation(obs: Any, claim: Any) -> Observation:
    return Observation(
        observation_id=obs.id, claim_id=claim.id, payer_id=claim.payer_id, tin=claim.tin,
        claim_number=claim.claim_number, job_id=obs.job_id, row_number=obs.row_number,
        observed_at=obs.observed_at, status=obs.status, status_class=obs.status_class,
        status_category=obs.status_category or "", status_code=obs.status_code or "",
        total_charged=obs.total_charged, total_paid=obs.total_paid, allowed_amount=obs.allowed_amount,
        patient_responsibility=obs.patient_responsibility, check_number=obs.check_number or "",
        processed_date=obs.processed_date, first_service_date=obs.first_service_date,
        last_service_date=obs.last_service_date, adjudication_codes=codes_of(obs.adjudication_codes),
        matched_by=obs.matched_by or "", changed=bool(obs.changed), previous_status=obs.previous_status or "",
        previous_category=obs.previous_category or "",
    )


def timeline(db: Database, claim_number: str, *, tin: str = "", payer_id: str = "",
             limit: int = 1000) -> list[Observation]:
    """Every observation of the claim number (under `tin` / `payer_id` when given), oldest
    first; claims of several TINs come one after the other. [] when it was never seen."""
    where = [_C.claim_number == claim_number.strip()]
    if tin:
        where.append(_C.tin == tin.strip())
    if payer_id:
        where.append(_C.payer_id == payer_id.strip())
    q = (select(_O, _C).join(_C, _C.id == _O.claim_id).where(*where)
         .order_by(_C.id, _O.observed_at, _O.id).limit(limit))
    with db.read() as session:
        return [_observation(o, c) for o, c in session.execute(q)]


def find_claims(db: Database, claim_number: str, *, tin: str = "", now: datetime | None = None,
                rules: Rules = DEFAULT_RULES, limit: int = 20) -> list[ClaimState]:
    """The stored claims with this exact number (one per TIN and payer), no payer call."""
    now = now or utcnow()
    q = select(_C).where(_C.claim_number == claim_number.strip())
    if tin:
        q = q.where(_C.tin == tin.strip())
    with db.read() as session:
        return [_state(r, now, rules) for r in session.scalars(q.order_by(_C.id).limit(limit))]


def week_start(now: datetime) -> datetime:
    """Monday 00:00 UTC of `now`'s week."""
    day = now.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), tzinfo=UTC)


MEDIAN_DAYS = 90


def follow_up_stats(db: Database, *, now: datetime | None = None, rules: Rules = DEFAULT_RULES) -> FollowUpStats:
    """Open, stale and due claims, claims closed this week, and the median days from first
    sight to close of the claims closed in the last 90 days."""
    now = now or utcnow()
    with db.read() as session:
        def count(*where: ColumnElement[bool]) -> int:
            return int(session.scalar(select(func.count()).select_from(_C).where(*where)) or 0)

        open_now = state_condition(OPEN, now, rules)
        opened = count(open_now)
        stale = count(state_condition(STALE, now, rules))
        due = count(open_now, _C.next_check_at <= now)
        closed_week = count(_C.state == CLOSED, _C.closed_at >= week_start(now))
        recent = (_C.state == CLOSED, _C.closed_at >= now - timedelta(days=MEDIAN_DAYS),
                  _C.days_to_close.is_not(None))
        n = count(*recent)
        median = None
        if n:
            ordered = select(_C.days_to_close).where(*recent).order_by(_C.days_to_close)
            middle = list(session.scalars(ordered.offset((n - 1) // 2).limit(2 - n % 2)))
            median = sum(middle) / len(middle)
    return FollowUpStats(opened, stale, due, closed_week, median)
