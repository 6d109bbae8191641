"""cleanup_old_sessions: operator sessions that ended more than 30 days ago, sessions left open
(a console that crashed or was killed never records its end) last seen more than 30 days ago,
and cached payer tokens created more than 30 days ago."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete

from engine.models import OperatorSession, PayerToken
from engine.tasks.body import OK, TaskContext, TaskResult, plural

SESSION_DAYS = 30
log = logging.getLogger("claimsops.maintenance")


def cleanup_old_sessions(ctx: TaskContext) -> TaskResult:
    cutoff = ctx.started_at - timedelta(days=SESSION_DAYS)
    with ctx.db.write() as session:
        ended = session.execute(
            delete(OperatorSession).where(OperatorSession.ended_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
        left_open = session.execute(
            delete(OperatorSession)
            .where(OperatorSession.ended_at.is_(None), OperatorSession.last_seen_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
        tokens = session.execute(
            delete(PayerToken).where(PayerToken.created_at < cutoff)
            .execution_options(synchronize_session=False)
        ).rowcount
    summary = (
        f"deleted {plural(ended + left_open, 'operator session')} ({ended:,} ended and {left_open:,} left "
        f"open more than {SESSION_DAYS} days ago) and {plural(tokens, 'cached payer token')} "
        f"older than {SESSION_DAYS} days"
    )
    log.info(summary)
    return TaskResult(OK, summary)
