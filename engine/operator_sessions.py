"""Operator sessions: one `operator_sessions` row per console run, with the OS user and client
address of the same `Operator` the audit rows name, and when it started and ended. A console
that crashes or is killed leaves its row without an end; `cleanup_old_sessions` deletes those
and ended ones once they are old."""

from __future__ import annotations

from sqlalchemy import update

from engine.actions import Operator
from engine.db import Database
from engine.models import OperatorSession, utcnow

USER_MAX = ADDR_MAX = 64  # the columns' lengths
CONSOLE = "console"


def start_session(db: Database, operator: Operator, interface: str = CONSOLE) -> int:
    """Record that `operator` opened a session now; returns the session's id."""
    now = utcnow()
    with db.write() as session:
        row = OperatorSession(user=operator.user[:USER_MAX], client_addr=operator.client_addr[:ADDR_MAX],
                              interface=interface, started_at=now, last_seen_at=now)
        session.add(row)
        session.flush()
        return row.id


def end_session(db: Database, session_id: int) -> None:
    """Record the session's end (a session already ended keeps its first end)."""
    now = utcnow()
    with db.write() as session:
        session.execute(
            update(OperatorSession)
            .where(OperatorSession.id == session_id, OperatorSession.ended_at.is_(None))
            .values(ended_at=now, last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
