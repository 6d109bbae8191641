"""The audit trail: one row per operator action (done, refused or failed), and the queries
that page through it newest first. `engine.actions.perform` writes the rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Select, select

from engine.db import Database, newest_after, newest_before
from engine.models import AuditEntry, utcnow

if TYPE_CHECKING:
    from engine.actions import Operator


def record(db: Database, operator: Operator, action: str, target: str, outcome: str, detail: str = "") -> None:
    with db.write() as session:
        session.add(
            AuditEntry(
                at=utcnow(), user=operator.user, client_addr=operator.client_addr, action=action,
                target=target[:255], outcome=outcome, detail=detail[:2000],
            )
        )


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries a list shows: user and action exactly, text anywhere in the target
    or the detail."""

    user: str = ""
    action: str = ""
    text: str = ""

    def apply(self, query: Select) -> Select:
        if self.user:
            query = query.where(AuditEntry.user == self.user)
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.text:
            like = f"%{self.text}%"
            query = query.where(AuditEntry.target.ilike(like) | AuditEntry.detail.ilike(like))
        return query

    @property
    def active(self) -> bool:
        return bool(self.user or self.action or self.text)


ALL_ENTRIES = AuditQuery()


def audit_page(
    db: Database, flt: AuditQuery = ALL_ENTRIES, *, before_id: int | None = None, limit: int = 200
) -> list[AuditEntry]:
    """Newest first: the `limit` newest matching entries older than `before_id`."""
    return newest_before(db, flt.apply(select(AuditEntry)), AuditEntry.id, before_id, limit)


def audit_newer(db: Database, flt: AuditQuery, *, after_id: int, limit: int = 200) -> list[AuditEntry]:
    """The `limit` matching entries just newer than `after_id`, newest first."""
    return newest_after(db, flt.apply(select(AuditEntry)), AuditEntry.id, after_id, limit)


def audit_users(db: Database, *, limit: int = 200) -> list[str]:
    """The users who appear in the audit trail, sorted (an index scan)."""
    with db.read() as session:
        query = select(AuditEntry.user).distinct().order_by(AuditEntry.user).limit(limit)
        return [user for user in session.scalars(query) if user]
