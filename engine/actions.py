"""Operator actions: one entry point that checks the role and writes the audit row.

Every action (submit, cancel, retry, export, reveal, run now, pause, resume, reschedule) goes
through `perform`; refusals and failures are audited too.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.audit import record
from engine.config import Settings
from engine.db import Database
from engine.errors import OperatorError, describe

T = TypeVar("T")

ACTIONS = frozenset(
    {"submit", "cancel", "retry", "export", "reveal", "task.run", "task.pause", "task.resume",
     "task.schedule", "claim.lookup"}
)


class PermissionDenied(OperatorError):
    """The operator's role does not allow the action."""


@dataclass(frozen=True)
class Operator:
    user: str
    client_addr: str
    can_act: bool
    reason: str = ""  # why the operator cannot act
    hint: str = ""  # who may act instead, when the reason does not say

    @property
    def role(self) -> str:
        return "operator" if self.can_act else "read-only"


def current_operator(settings: Settings, *, read_only: bool = False) -> Operator:
    """Who is at the keyboard: the OS user and the SSH client address, with their role."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in a container
        user = os.environ.get("USER") or f"uid{os.getuid()}"
    client = (os.environ.get("SSH_CLIENT") or "").split(" ")[0] or "local"
    if read_only or settings.read_only:
        return Operator(user, client, False, "this session is read-only (--read-only)")
    allowed = settings.operators or _home_owner(settings)
    if user not in allowed:
        if settings.operators:
            why = f"{user} is not in CLAIMSOPS_OPERATORS"
            hint = "only the users listed in CLAIMSOPS_OPERATORS may act"
        else:
            why = f"CLAIMSOPS_OPERATORS is unset and {user} does not own {settings.home}"
            hint = f"the owner of {settings.home} may act, or the users listed in CLAIMSOPS_OPERATORS"
        return Operator(user, client, False, f"read-only: {why}", hint)
    return Operator(user, client, True)


def _home_owner(settings: Settings) -> tuple[str, ...]:
    """With no operators configured, the owner of the data directory may act (embedded mode:
    whoever can open the 0600 database file is already trusted with it)."""
    import pwd

    home = settings.home
    while not home.exists() and home != home.parent:
        home = home.parent
    try:
        return (pwd.getpwuid(home.stat().st_uid).pw_name,)
    except (KeyError, OSError):
        return ()


def perform(db: Database, operator: Operator, action: str, target: str, do: Callable[[], T]) -> T:
    """Run `do` if the operator may act; audit the outcome either way."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action}")
    if not operator.can_act:
        record(db, operator, action, target, "refused", operator.reason)
        raise PermissionDenied(f"{action} refused: {operator.reason}", operator.hint)
    try:
        result = do()
    except Exception as exc:
        record(db, operator, action, target, "failed", describe(exc))
        raise
    record(db, operator, action, target, "ok", _describe(result))
    return result


def _describe(result: object) -> str:
    if result is None:
        return ""
    if isinstance(result, str | int | float):
        return str(result)
    return type(result).__name__
