"""Operator actions: one entry point that checks the role and writes the audit row.

Every action (submit, cancel, retry, export, reveal, run now, pause, resume, reschedule, recheck) goes
through `perform`; refusals and failures are audited too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.audit import record
from engine.config import Settings
from engine.db import Database
from engine.errors import OperatorError, describe
from engine.operators import ADMIN, os_user, role_of

T = TypeVar("T")

ADMIN_ACTIONS = frozenset({"role.grant", "role.revoke"})
ACTIONS = frozenset(
    {"submit", "cancel", "retry", "export", "reveal", "task.run", "task.pause", "task.resume",
     "task.schedule", "claim.lookup", "db.upgrade", "recheck"}
) | ADMIN_ACTIONS


class PermissionDenied(OperatorError):
    """The operator's role does not allow the action."""


@dataclass(frozen=True)
class Operator:
    user: str
    client_addr: str  # what the SSH client claims (SSH_CONNECTION); "local" without one
    can_act: bool
    reason: str = ""  # why the operator cannot act
    hint: str = ""  # who may act instead, when the reason does not say
    admin: bool = False

    @property
    def role(self) -> str:
        if not self.can_act:
            return "read-only"
        return ADMIN if self.admin else "operator"


def claimed_client() -> str:
    """The client address the SSH session claims (the caller can set these variables, so it is
    recorded as a claim, never used to decide anything); "local" without one."""
    for name in ("SSH_CONNECTION", "SSH_CLIENT"):
        addr = (os.environ.get(name) or "").split(" ")[0]
        if addr:
            return addr
    return "local"


def current_operator(settings: Settings, db: Database, *, read_only: bool = False) -> Operator:
    """Who is at the keyboard: the effective OS user, with the role the database grants it.
    `read_only` and CLAIMSOPS_READ_ONLY can only take rights away."""
    user, client = os_user(), claimed_client()
    if read_only or settings.read_only:
        return Operator(user, client, False, "this session is read-only (--read-only)")
    try:
        role = role_of(db, user)
    except Exception as exc:  # an unreadable database grants nothing
        return Operator(user, client, False, f"read-only: the operators list cannot be read ({describe(exc)})")
    if role is None:
        return Operator(user, client, False, f"read-only: {user} is not an operator",
                        f"an admin can grant it: claimsops operators add {user}")
    return Operator(user, client, True, admin=role == ADMIN)


def perform(db: Database, operator: Operator, action: str, target: str, do: Callable[[], T]) -> T:
    """Run `do` if the operator may act; audit the outcome either way. When the audit of a
    refusal or failure cannot be written, the raised error says so in `unaudited`."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action}")
    if not operator.can_act or (action in ADMIN_ACTIONS and not operator.admin):
        reason = operator.reason or f"{operator.user} is not an admin"
        hint = operator.hint if not operator.can_act else "only an admin may change who acts"
        refusal = PermissionDenied(f"{action} refused: {reason}", hint)
        _audit_outcome(db, operator, action, target, "refused", reason, refusal)
        raise refusal
    try:
        result = do()
    except Exception as exc:
        _audit_outcome(db, operator, action, target, "failed", describe(exc), exc)
        raise
    record(db, operator, action, target, "ok", _describe(result))
    return result


def unaudited(exc: BaseException) -> str:
    """Why the refusal or failure `exc` is not in the audit trail ("" when it is)."""
    return getattr(exc, "claimsops_unaudited", "")


def _audit_outcome(
    db: Database, operator: Operator, action: str, target: str, outcome: str, detail: str,
    exc: BaseException,
) -> None:
    try:
        record(db, operator, action, target, outcome, detail)
    except Exception as audit_exc:  # the original error still reaches the operator
        exc.claimsops_unaudited = describe(audit_exc)  # type: ignore[attr-defined]


def _describe(result: object) -> str:
    if result is None:
        return ""
    if isinstance(result, str | int | float):
        return str(result)
    summary = getattr(result, "summary", None)
    if callable(summary):
        return str(summary())
    return type(result).__name__
