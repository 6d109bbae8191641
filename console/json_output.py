"""The objects of the CLI's `--json` output."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.jobs.liveness import ATTENDED, Liveness
from engine.models import AuditEntry, Job

if TYPE_CHECKING:  # engine.health imports httpx: not for the commands that list jobs
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
