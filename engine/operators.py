"""Who may act: the operators table (user, role, who granted it, when). The first admin is the
OS user who created the database (migration 0003); admins add and remove the others.

The user is always the effective OS user (`os_user`), never an environment variable: the caller
controls USER and LOGNAME, not its uid."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import Database
from engine.errors import OperatorError
from engine.models import OperatorGrant, utcnow

ADMIN = "admin"
OPERATOR = "operator"


class LastAdmin(OperatorError):
    """Removing or demoting this user would leave nobody able to grant roles."""


@dataclass(frozen=True)
class Grant:
    user: str
    role: str
    granted_by: str
    granted_at: datetime


def os_user() -> str:
    """The effective OS user's name (uid<N> when the passwd database has no entry)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def role_of(db: Database, user: str) -> str | None:
    """`admin`, `operator`, or None for a user with no grant (read-only)."""
    with db.read() as session:
        return session.scalar(select(OperatorGrant.role).where(OperatorGrant.user == user))


def list_grants(db: Database) -> list[Grant]:
    with db.read() as session:
        rows = session.scalars(select(OperatorGrant).order_by(OperatorGrant.user))
        return [Grant(r.user, r.role, r.granted_by, r.granted_at) for r in rows]


def grant(db: Database, user: str, role: str, granted_by: str) -> str:
    """Give `user` the role (admin or operator), replacing any earlier one; says what changed."""
    if role not in (ADMIN, OPERATOR):
        raise ValueError(f"unknown role {role}")
    with db.write() as session:
        row = session.get(OperatorGrant, user)
        if row is not None and row.role == ADMIN and role != ADMIN:
            _keep_an_admin(session, user)
        before = row.role if row is not None else None
        if row is None:
            row = OperatorGrant(user=user)
            session.add(row)
        row.role, row.granted_by, row.granted_at = role, granted_by, utcnow()
    return f"{user} is {role}" + (f" (was {before})" if before and before != role else "")


def revoke(db: Database, user: str) -> str:
    """Take `user`'s role away (they can still read); refused for the last admin."""
    with db.write() as session:
        row = session.get(OperatorGrant, user)
        if row is None:
            raise OperatorError(f"{user} is not an operator", "claimsops operators list shows who is")
        if row.role == ADMIN:
            _keep_an_admin(session, user)
        session.delete(row)
    return f"{user} is read-only"


def _keep_an_admin(session: Session, user: str) -> None:
    others = session.scalar(
        select(func.count()).select_from(OperatorGrant)
        .where(OperatorGrant.role == ADMIN, OperatorGrant.user != user)
    )
    if not others:
        raise LastAdmin(f"{user} is the last admin", "add another admin first: claimsops operators add USER --admin")
