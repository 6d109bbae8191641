"""Operator actions from the console: every one goes through `engine.actions.perform`, which
checks the role and writes the audit row (refusals included). `attempt` runs in a worker
thread and turns every outcome into a value the UI can show; nothing raises into the app.
`guarded` does the same for engine functions that call perform() themselves (the task
controls of engine.tasks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from console.app.context import ConsoleContext
from engine.actions import PermissionDenied, perform
from engine.db import DatabaseError
from engine.intake import IntakeError
from engine.jobs.lifecycle import JobError
from engine.payer.errors import PayerError
from engine.submit import SubmitError
from engine.tasks import TaskError
from engine.text import safe_text


@dataclass(frozen=True)
class Outcome:
    ok: bool
    value: Any = None
    message: str = ""
    refused: bool = False


def describe(exc: BaseException) -> str:
    """One safe line an operator can act on."""
    if isinstance(exc, PermissionDenied | JobError | IntakeError | SubmitError | DatabaseError | ValueError | TaskError):
        return safe_text(str(exc), max_len=500)
    if isinstance(exc, PayerError):
        return safe_text(f"payer: {exc}", max_len=500)
    if isinstance(exc, FileNotFoundError):
        return safe_text(f"{exc.filename}: no such file or directory", max_len=500)
    if isinstance(exc, IsADirectoryError):
        return safe_text(f"{exc.filename}: is a directory", max_len=500)
    if isinstance(exc, PermissionError):
        return safe_text(f"{exc.filename}: permission denied", max_len=500)
    if isinstance(exc, OSError):
        return safe_text(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), max_len=500)
    if isinstance(exc, SQLAlchemyError):
        return safe_text(f"database unavailable: {type(exc).__name__}", max_len=500)
    return safe_text(f"unexpected {type(exc).__name__}: {exc}", max_len=500)


def is_database_error(exc: BaseException) -> bool:
    """The database could not be reached or queried (as opposed to a refusal or a bug)."""
    return isinstance(exc, DatabaseError | SQLAlchemyError)


def guarded(do: Callable[[], Any]) -> Outcome:
    """Run an engine action that checks the role and audits by itself; a refusal or a failure
    becomes an Outcome with the reason."""
    try:
        value = do()
    except PermissionDenied as exc:
        return Outcome(False, message=describe(exc), refused=True)
    except Exception as exc:  # every failure is shown, none crashes the console
        return Outcome(False, message=describe(exc))
    return Outcome(True, value=value)


def attempt(ctx: ConsoleContext, action: str, target: str, do: Callable[[], Any]) -> Outcome:
    """perform(); a refusal or a failure becomes an Outcome with the reason."""
    return guarded(lambda: perform(ctx.db, ctx.operator, action, target, do))


def refuse(ctx: ConsoleContext, action: str, target: str) -> Outcome:
    """For a read-only operator: let perform() refuse (and audit) without opening a form."""

    def never() -> None:
        raise AssertionError("perform() ran an action for an operator who cannot act")

    return attempt(ctx, action, target, never)
