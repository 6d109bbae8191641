"""Roles and audit: every action through one function; refusals audited too."""

from __future__ import annotations

import getpass

import pytest

from engine.actions import Operator, PermissionDenied, current_operator, perform
from engine.audit import AuditQuery, audit_page
from engine.config import Settings
from engine.operators import ADMIN, grant, revoke


def test_operator_acts_and_is_audited(db, monkeypatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 50022 10.0.0.1 22")
    op = current_operator(Settings(), db)  # the database's creator is its first admin
    assert op.can_act and op.client_addr == "203.0.113.9" and op.role == "admin"
    assert perform(db, op, "cancel", "job 7", lambda: "CANCELLED") == "CANCELLED"
    entry = audit_page(db)[0]
    assert (entry.user, entry.client_addr, entry.action, entry.target, entry.outcome) == (
        getpass.getuser(), "203.0.113.9", "cancel", "job 7", "ok")


def test_others_are_read_only_and_refusals_are_audited(db) -> None:
    grant(db, "someone-else", ADMIN, getpass.getuser())
    revoke(db, getpass.getuser())
    op = current_operator(Settings(), db)
    assert not op.can_act and op.reason == f"read-only: {getpass.getuser()} is not an operator"
    called = []
    with pytest.raises(PermissionDenied, match="task.pause refused") as refused:
        perform(db, op, "task.pause", "log_retention", lambda: called.append(1))
    assert called == []
    assert refused.value.hint == f"an admin can grant it: claimsops operators add {getpass.getuser()}"
    entry = audit_page(db)[0]
    assert (entry.action, entry.outcome) == ("task.pause", "refused")
    assert entry.detail == op.reason  # the audit keeps the reason, not the hint


def test_read_only_flag_wins_over_the_operator_list(db) -> None:
    op = current_operator(Settings(), db, read_only=True)
    assert not op.can_act and "--read-only" in op.reason


def test_failures_are_audited_with_the_reason(db) -> None:
    op = Operator("ann", "local", True)

    def boom() -> None:
        raise ValueError("job 3 is COMPLETED and cannot be cancelled")

    with pytest.raises(ValueError):
        perform(db, op, "cancel", "job 3", boom)
    entry = audit_page(db)[0]
    assert entry.outcome == "failed" and "cannot be cancelled" in entry.detail
    assert [e.outcome for e in audit_page(db, AuditQuery(user="ann", action="cancel"))] == ["failed"]


def test_a_failure_is_audited_in_claimsops_words_never_the_database_text(db) -> None:
    from sqlalchemy import text

    from engine.models import JobRow

    op = Operator("ann", "local", True)

    def insert_a_bad_row() -> None:
        with db.write() as session:  # job 999 does not exist: the foreign key refuses the row
            session.execute(JobRow.__table__.insert(), [{"job_id": 999, "row_number": 1,
                                                         "first_name": "SKYLER", "subscriber_id": "0490705351"}])
            session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception) as failed:
        perform(db, op, "submit", "claims.csv", insert_a_bad_row)
    assert "SKYLER" not in str(failed.value) and "0490705351" not in str(failed.value)
    entry = audit_page(db)[0]
    assert entry.outcome == "failed"
    assert entry.detail in ("database unavailable: IntegrityError", "database unavailable: OperationalError",
                            "database unavailable: ProgrammingError")
