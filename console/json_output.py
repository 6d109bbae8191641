"""The objects of the CLI's `--json` output."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.jobs.liveness import ATTENDED, Liveness
from engine.models import AuditEntry, Job

if TYPE_CHECKING:  # engine.health imports httpx: not for the commands that list jobs
    from engine.followup.queries import Change, Observation
    from engine.health import CheckResult


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_to_dict(job: Job, live: Liveness = ATTENDED) -> dict[str, Any]:
    """The job object of every `--json` output. `status` is what an operator is shown
    (STALLED when nothing runs a PROCESSING or CANCELLING job); `stored_status` the job's own."""
    return {
        "id": job.id,
        "status": live.status(job.status),
        "stored_status": job.status,
        "stalled": live.stalled,
        "no_worker_since": _iso(live.since) if live.stalled else None,
        "waiting_for_worker": live.unattended,
        "waiting_for_payer_since": _iso(live.payer_down_since),
        "file_name": job.file_name,
        "kind": job.kind,
        "follow_up": job.kind == "followup",
        "strategy": job.strategy,
        "start_date": job.start_date.isoformat(),
        "end_date": job.end_date.isoformat(),
        "tin": job.tin,
        "payer_id": job.payer_id,
        "total_rows": job.total_rows,
        "done_rows": job.done_rows,
        "found_rows": job.found_rows,
        "not_found_rows": job.not_found_rows,
        "error_rows": job.error_rows,
        "invalid_rows": job.invalid_rows,
        "payer_calls": job.payer_calls,
        "warnings": list(job.warnings or []),
        "failure_reason": job.failure_reason,
        "attempts": job.attempts,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "submitted_by": job.submitted_by,
        "cancel_requested_at": _iso(job.cancel_requested_at),
        "cancel_requested_by": job.cancel_requested_by,
        "cancel_latency_ms": job.cancel_latency_ms,
        "archived": job.archived_at is not None,
    }


def audit_to_dict(entry: AuditEntry) -> dict[str, object]:
    """An entry of `claimsops audit --json`."""
    return {
        "id": entry.id, "user": entry.user, "from": entry.client_addr, "action": entry.action,
        "target": entry.target, "outcome": entry.outcome, "detail": entry.detail,
        "at": entry.at.isoformat(),
    }


def check_to_dict(result: CheckResult) -> dict[str, object]:
    """A check of `claimsops health --json`."""
    return {"name": result.name, "state": result.state, "detail": result.detail, "latency_ms": result.latency_ms}


def _money(value: object) -> str | None:
    return None if value is None else f"{value:.2f}"


def observation_to_dict(o: Observation) -> dict[str, object]:
    """A step of `claimsops claim NUMBER --json` (no patient data: observations keep none)."""
    return {
        "observed_at": o.observed_at.isoformat(), "job_id": o.job_id, "row": o.row_number,
        "claim_number": o.claim_number, "tin": o.tin, "payer_id": o.payer_id, "status": o.status,
        "status_class": o.status_class, "status_category": o.status_category, "status_code": o.status_code,
        "total_charged": _money(o.total_charged), "total_paid": _money(o.total_paid),
        "allowed_amount": _money(o.allowed_amount), "patient_responsibility": _money(o.patient_responsibility),
        "check_number": o.check_number, "processed_date": o.processed_date.isoformat() if o.processed_date else None,
        "first_service_date": o.first_service_date.isoformat() if o.first_service_date else None,
        "last_service_date": o.last_service_date.isoformat() if o.last_service_date else None,
        "adjudication_codes": list(o.adjudication_codes), "matched_by": o.matched_by, "changed": o.changed,
        "previous_status_category": o.previous_category if o.changed else None,
    }


def change_to_dict(c: Change) -> dict[str, object]:
    """An entry of `claimsops changes --json`."""
    return {
        "observed_at": c.observed_at.isoformat(), "claim_number": c.claim_number, "tin": c.tin,
        "payer_id": c.payer_id, "job_id": c.job_id, "old_status": c.old_status,
        "old_status_category": c.old_status_category, "new_status": c.new_status,
        "new_status_category": c.new_status_category, "new_status_code": c.new_status_code,
        "total_paid": _money(c.total_paid), "adjudication_codes": list(c.adjudication_codes), "summary": c.summary,
    }
