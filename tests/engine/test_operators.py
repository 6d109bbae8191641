"""Who may act is stored in the database: the creator is the first admin, admins grant and
revoke (audited), the last admin stays, and settings only ever take rights away."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.actions import PermissionDenied, current_operator, perform, unaudited
from engine.audit import audit_page
from engine.config import Settings, load_settings
from engine.operators import (
    ADMIN,
    OPERATOR,
    LastAdmin,
    grant,
    list_grants,
    os_user,
    revoke,
    role_of,
)


def test_the_creator_of_the_database_is_its_first_admin(db) -> None:
    [first] = list_grants(db)
    assert (first.user, first.role, first.granted_by) == (os_user(), ADMIN, os_user())
    assert current_operator(Settings(), db).role == ADMIN


def test_granting_and_revoking_is_admin_only_and_audited(db) -> None:
    admin = current_operator(Settings(), db)
    perform(db, admin, "role.grant", "ann as operator", lambda: grant(db, "ann", OPERATOR, admin.user))
    assert role_of(db, "ann") == OPERATOR
    grant(db, "someone-else", ADMIN, admin.user)
    revoke(db, admin.user)
    plain = current_operator(Settings(), db)
    assert not plain.can_act
    grant(db, admin.user, OPERATOR, "someone-else")  # an operator, not an admin
    operator = current_operator(Settings(), db)
    assert operator.can_act and operator.role == "operator"
    with pytest.raises(PermissionDenied, match="role.revoke refused: .* is not an admin") as refused:
        perform(db, operator, "role.revoke", "ann", lambda: revoke(db, "ann"))
    assert refused.value.hint == "only an admin may change who acts"
    assert role_of(db, "ann") == OPERATOR
    assert [(e.action, e.outcome, e.user) for e in audit_page(db)] == [
        ("role.revoke", "refused", admin.user), ("role.grant", "ok", admin.user)]


def test_the_last_admin_can_be_neither_removed_nor_demoted(db) -> None:
    me = os_user()
    with pytest.raises(LastAdmin, match=f"{me} is the last admin"):
        revoke(db, me)
    with pytest.raises(LastAdmin):
        grant(db, me, OPERATOR, me)
    assert role_of(db, me) == ADMIN
    grant(db, "bea", ADMIN, me)
    assert revoke(db, me) == f"{me} is read-only"


def test_read_only_settings_only_take_rights_away(db) -> None:
    assert not current_operator(load_settings({"CLAIMSOPS_READ_ONLY": "1"}), db).can_act
    grant(db, "bea", ADMIN, os_user())
    revoke(db, os_user())
    nobody_grants = load_settings({"CLAIMSOPS_READ_ONLY": "0", "CLAIMSOPS_OPERATORS": os_user()})
    assert not current_operator(nobody_grants, db).can_act


def test_identity_ignores_the_environment(db, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "alice")
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.7 4022 10.0.0.1 22")
    op = current_operator(Settings(), db)
    assert op.user == os_user() != "alice" and op.client_addr == "198.51.100.7"


def test_a_failed_action_is_audited_and_an_unwritable_audit_is_said(db) -> None:
    op = current_operator(Settings(), db)

    def disk_full() -> None:
        raise OSError(28, "No space left on device", "/data/home/uploads/x.csv")

    with pytest.raises(OSError) as failed:
        perform(db, op, "submit", "x.csv", disk_full)
    assert unaudited(failed.value) == ""
    entry = audit_page(db)[0]
    assert (entry.action, entry.outcome) == ("submit", "failed")
    assert entry.detail == "/data/home/uploads/x.csv: no space left on device"

    def fails_and_takes_the_audit_with_it() -> None:
        with db.write() as session:
            session.execute(text("DROP TABLE audit"))
        raise OSError(28, "No space left on device", "x.csv")

    with pytest.raises(OSError) as lost:
        perform(db, op, "submit", "x.csv", fails_and_takes_the_audit_with_it)
    assert lost.value.errno == 28  # the operator still hears the real cause
    assert unaudited(lost.value).startswith("database unavailable:")
