"""engine.audit: the audit trail's pages, newest first, filtered by user, action and text."""

from __future__ import annotations

from engine.audit import AuditQuery, audit_newer, audit_page, audit_users
from engine.db import Database
from tests.console.data import seed_audit


def test_audit_pages_filters_and_users(sqlite_db: Database) -> None:
    seed_audit(sqlite_db)
    expected = {
        AuditQuery(): [8, 7, 6, 5, 4, 3, 2, 1],
        AuditQuery(user="alice"): [7, 5, 4, 2, 1],
        AuditQuery(action="cancel"): [3, 2],
        AuditQuery(text="job 1"): [8, 4],
        AuditQuery(user="alice", text="cleanup"): [5],
    }
    for flt, wanted in expected.items():
        assert [e.id for e in audit_page(sqlite_db, flt)] == wanted, flt
    assert [e.id for e in audit_page(sqlite_db, AuditQuery(), before_id=5, limit=2)] == [4, 3]
    assert [e.id for e in audit_newer(sqlite_db, AuditQuery(), after_id=5, limit=2)] == [7, 6]
    assert audit_users(sqlite_db) == ["[b]mallory[/b]", "alice", "bob", "carol"]
