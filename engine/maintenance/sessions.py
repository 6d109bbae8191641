"""cleanup_old_sessions: operator sessions and cached payer tokens older than 30 days."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete

from engine.maintenance.base import OK, TaskContext, TaskResult, plural
from engine.models import OperatorSession, PayerToken

SESSION_DAYS = 30
log = logging.getLogger("claimsops.maintenance")


def cleanup_old_sessions(ctx: TaskContext) -> TaskResult:
    cutoff = ctx.started_at - timedelta(days=SESSION_DAYS)
    with ctx.db.write() as session:
        sessions = session.execute(
            delete(OperatorSession).where(OperatorSession.last_seen_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
        tokens = session.execute(
            delete(PayerToken).where(PayerToken.created_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
    summary = (
        f"deleted {plural(sessions, 'operator session')} and {plural(tokens, 'cached payer token')} "
        f"older than {SESSION_DAYS} days"
    )
    log.info(summary)
    return TaskResult(OK, summary)
