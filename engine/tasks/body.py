"""What every task body gets (a `TaskContext`) and returns (a `TaskResult`), and the outcomes
of a run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from engine.config import Settings
from engine.db import Database
from engine.models import utcnow

OK, WARN, ERROR, MISSED, RUNNING = "ok", "warn", "error", "missed", "running"
OUTCOMES = (OK, WARN, ERROR, MISSED)


class TaskResult(NamedTuple):
    """A run's outcome (ok, warn or error) and a one-line summary of what it did."""

    outcome: str
    summary: str


@dataclass(frozen=True)
class TaskContext:
    db: Database
    settings: Settings
    started_at: datetime = field(default_factory=utcnow)


TaskBody = Callable[[TaskContext], TaskResult]


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"
