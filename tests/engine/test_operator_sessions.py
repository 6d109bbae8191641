"""engine.operator_sessions: a console's session row from start to end."""

from __future__ import annotations

from sqlalchemy import select

from engine.actions import Operator
from engine.db import Database
from engine.models import OperatorSession
from engine.operator_sessions import end_session, start_session


def _rows(db: Database) -> list[OperatorSession]:
    with db.read() as session:
        return list(session.scalars(select(OperatorSession).order_by(OperatorSession.id)))


def test_a_session_records_who_from_where_and_when(db: Database) -> None:
    first = start_session(db, Operator("ann", "10.0.0.5", True))
    second = start_session(db, Operator("bob", "local", False, "read-only"))
    ann, bob = _rows(db)
    assert (ann.id, ann.user, ann.client_addr, ann.interface, ann.ended_at) == (first, "ann", "10.0.0.5", "console", None)
    assert ann.last_seen_at == ann.started_at
    assert (bob.id, bob.user, bob.client_addr) == (second, "bob", "local")
    end_session(db, first)
    ann, bob = _rows(db)
    assert ann.ended_at is not None and ann.ended_at >= ann.started_at and ann.last_seen_at == ann.ended_at
    assert bob.ended_at is None
    ended = ann.ended_at
    end_session(db, first)  # a second end keeps the first
    assert _rows(db)[0].ended_at == ended


def test_long_names_fit_their_columns(db: Database) -> None:
    start_session(db, Operator("u" * 80, "a" * 80, True))
    [row] = _rows(db)
    assert (len(row.user), len(row.client_addr)) == (64, 64)
