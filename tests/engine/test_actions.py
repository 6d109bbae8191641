"""Roles and audit: every action through one function; refusals audited too."""

from __future__ import annotations

import getpass
import os

import pytest

from engine.actions import Operator, PermissionDenied, current_operator, perform
from engine.audit import AuditQuery, audit_page
from engine.config import Settings


def test_operator_acts_and_is_audited(db, monkeypatch) -> None:
    monkeypatch.setenv("SSH_CLIENT", "203.0.113.9 50022 22")
    op = current_operator(Settings(operators=(getpass.getuser(),)))
    assert op.can_act and op.client_addr == "203.0.113.9" and op.role == "operator"
    assert perform(db, op, "cancel", "job 7", lambda: "CANCELLED") == "CANCELLED"
    entry = audit_page(db)[0]
    assert (entry.user, entry.client_addr, entry.action, entry.target, entry.outcome) == (
        getpass.getuser(), "203.0.113.9", "cancel", "job 7", "ok")


def test_others_are_read_only_and_refusals_are_audited(db) -> None:
    op = current_operator(Settings(operators=("someone-else",)))
    assert not op.can_act and "not in CLAIMSOPS_OPERATORS" in op.reason
    called = []
    with pytest.raises(PermissionDenied, match="task.pause refused") as refused:
        perform(db, op, "task.pause", "log_retention", lambda: called.append(1))
    assert called == []
    assert refused.value.hint == "only the users listed in CLAIMSOPS_OPERATORS may act"
    entry = audit_page(db)[0]
    assert (entry.action, entry.outcome) == ("task.pause", "refused")
    assert entry.detail == op.reason  # the audit keeps the reason, not the hint


def test_read_only_flag_wins_over_the_operator_list(db) -> None:
    op = current_operator(Settings(operators=(getpass.getuser(),)), read_only=True)
    assert not op.can_act and "--read-only" in op.reason


def test_unset_operators_means_the_data_directory_owner(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    op = current_operator(Settings(home=home))
    assert op.can_act == (os.stat(home).st_uid == os.getuid())


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
