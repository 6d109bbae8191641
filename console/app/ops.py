"""Operator actions from the console: every one goes through `engine.actions.perform`, which
checks the role and writes the audit row (refusals included). `attempt` runs in a worker
thread and turns every outcome into a value the UI can show; nothing raises into the app.
`guarded` does the same for engine functions that call perform() themselves (the task
controls of engine.tasks)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.app.context import ConsoleContext
from engine.actions import PermissionDenied, perform
from engine.errors import describe


@dataclass(frozen=True)
class Outcome:
    ok: bool
    value: Any = None
    message: str = ""
    refused: bool = False


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
