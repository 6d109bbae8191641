"""Keeping every observation: a job's freshly written results become observations of their
claims, in the transaction that writes the results (so a redelivered batch, which writes no
row twice, records nothing twice), and each claim's follow-up state moves with them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from engine.db import conflict_insert
from engine.followup.finality import CLOSED, OPEN, next_check, status_key, stored_state
from engine.models import ClaimObservation, TrackedClaim
from engine.results import ClaimResult

KEY_CHUNK = 500


@dataclass(frozen=True)
class Seen:
    """One written row result, with the claim it is about."""

    job_id: int
    row_number: int
    payer_id: str
    tin: str
    claim_number: str
    result: ClaimResult
    row_first_service_date: date | None = None  # the input file's dates, for a claim not found
    row_last_service_date: date | None = None


def observable(result: ClaimResult) -> bool:
    """A payer's answer about the claim (found, or not found); not our own Error or Invalid."""
    return result.success or result.status_class == "not_found"


def codes_text(codes: Sequence[str]) -> str | None:
    """The adjudication codes as stored ("CARC 50,RARC N115"), whole codes only, 255 at most."""
    out = ""
    for code in codes:
        candidate = f"{out},{code}" if out else code
        if len(candidate) > 255:
            break
        out = candidate
    return out or None


def codes_of(text: str | None) -> tuple[str, ...]:
    return tuple(c for c in (text or "").split(",") if c)


_TABLE = TrackedClaim.__table__
_WRITTEN = ("state", "status", "status_class", "status_category", "status_code", "total_paid",
            "first_service_date", "last_service_date", "last_observed_at", "status_since", "next_check_at",
            "closed_at", "days_to_close", "last_job_id", "observations")
# one executemany (Core, not the ORM's bulk update: a third of the cost per row)
_UPDATE = _TABLE.update().where(_TABLE.c.id == bindparam("claim_id_")).values(
    {name: bindparam(name) for name in _WRITTEN})


def _insert_ignoring(conn: Connection, rows: list[dict[str, Any]]) -> None:
    stmt = conflict_insert(conn, _TABLE).on_conflict_do_nothing(index_elements=["payer_id", "tin", "claim_number"])
    conn.execute(stmt, rows)


def _claims(conn: Connection, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The claims' rows as plain dicts (changed here, written back in one bulk update). On
    PostgreSQL they are locked (two jobs seeing one claim at once: one waits for the other's
    observation), in one order for every writer — by id, in ascending chunks — whatever the
    make-up of the batch: locked chunk by chunk of claim numbers, two jobs writing overlapping
    claims in batches of different make-up took their locks in different orders and deadlocked."""
    table = _TABLE
    numbers = sorted({k[2] for k in keys})
    if conn.dialect.name != "postgresql":
        return _rows(conn, select(table), table.c.claim_number, numbers, keys)
    ids = sorted(r.id for r in _matching(conn, select(table.c.id, table.c.payer_id, table.c.tin, table.c.claim_number),
                                         table.c.claim_number, numbers, keys))
    return _rows(conn, select(table).with_for_update(), table.c.id, ids, keys)


def _matching(conn: Connection, query: Select, column: Any, values: list, keys: set[tuple[str, str, str]]) -> Iterator[Any]:
    """The rows of `query` whose `column` is among `values` (in chunks, by id) and whose key is in `keys`."""
    for start in range(0, len(values), KEY_CHUNK):
        for row in conn.execute(query.where(column.in_(values[start:start + KEY_CHUNK])).order_by(_TABLE.c.id)):
            if (row.payer_id, row.tin, row.claim_number) in keys:
                yield row


def _rows(conn: Connection, query: Select, column: Any, values: list,
          keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r.payer_id, r.tin, r.claim_number): dict(r._mapping) for r in _matching(conn, query, column, values, keys)}


def record_observations(session: Session, seen: Sequence[Seen], now: datetime) -> int:
    """Add an observation per entry of `seen` (only rows just written), update each claim's
    follow-up state; returns how many observations were added."""
    items = [s for s in seen if s.claim_number and observable(s.result)]
    if not items:
        return 0
    keys = {(s.payer_id, s.tin, s.claim_number) for s in items}
    first = {}
    for s in items:
        first.setdefault((s.payer_id, s.tin, s.claim_number), s)
    conn = session.connection()
    claims = _claims(conn, keys)
    missing = keys - claims.keys()
    if missing:  # first seen (a claim another job adds meanwhile is left to it)
        _insert_ignoring(conn, [
            {"payer_id": k[0], "tin": k[1], "claim_number": k[2], "state": OPEN, "status": s.result.status,
             "status_class": s.result.status_class, "first_seen_at": now, "last_observed_at": now,
             "status_since": now, "last_job_id": s.job_id, "observations": 0}
            for k, s in sorted(first.items()) if k in missing
        ])
        claims.update(_claims(conn, missing))
    observations: list[dict[str, Any]] = []
    for s in items:
        claim = claims[(s.payer_id, s.tin, s.claim_number)]
        observations.append(_observe(claim, s, now))
    conn.execute(ClaimObservation.__table__.insert(), observations)
    conn.execute(_UPDATE, [{"claim_id_": c["id"], **{k: c[k] for k in _WRITTEN}} for c in claims.values()])
    return len(observations)


def _observe(claim: dict[str, Any], s: Seen, now: datetime) -> dict[str, Any]:
    """The observation's row; `claim` takes the new status."""
    r = s.result
    seen_before = claim["observations"] > 0
    changed = seen_before and status_key(claim["status_category"], claim["status"]) != status_key(
        r.status_category, r.status)
    row = {
        "claim_id": claim["id"], "job_id": s.job_id, "row_number": s.row_number, "observed_at": now,
        "status": r.status, "status_class": r.status_class, "status_category": r.status_category or None,
        "status_code": r.status_code or None, "total_charged": r.total_charged, "total_paid": r.total_paid,
        "allowed_amount": r.allowed_amount, "patient_responsibility": r.patient_responsibility,
        "check_number": r.check_number or None, "processed_date": r.processed_date,
        "first_service_date": r.first_service_date, "last_service_date": r.last_service_date,
        "adjudication_codes": codes_text(r.adjudication_codes), "matched_by": r.matched_by or None,
        "changed": changed,
        "previous_status": claim["status"] if changed else None,
        "previous_category": claim["status_category"] if changed else None,
    }
    if changed or not seen_before:
        claim["status_since"] = now
    was_open = seen_before and claim["state"] == OPEN
    claim.update(
        status=r.status, status_class=r.status_class, status_category=r.status_category or None,
        status_code=r.status_code or None, total_paid=r.total_paid, last_observed_at=now, last_job_id=s.job_id,
        observations=claim["observations"] + 1,
        first_service_date=r.first_service_date or s.row_first_service_date or claim["first_service_date"],
        last_service_date=r.last_service_date or s.row_last_service_date or claim["last_service_date"],
        state=stored_state(r.status_category, r.status_class),
    )
    if claim["state"] == CLOSED:
        if was_open or not seen_before or claim["closed_at"] is None:
            claim["closed_at"] = now
            claim["days_to_close"] = (now - claim["first_seen_at"]).total_seconds() / 86400
        claim["next_check_at"] = None
    else:
        claim["closed_at"] = claim["days_to_close"] = None
        claim["next_check_at"] = next_check(claim["status_since"], now)
    return row
