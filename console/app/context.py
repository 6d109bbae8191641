"""What every part of the console needs, handed to the App by its caller (tests inject it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.actions import Operator
from engine.config import Settings
from engine.db import Database

Clock = Callable[[], datetime]


class Startup(Protocol):
    """`claimsops up` starting its workers behind the console (workers/embedded.py)."""

    def begin(self) -> None:
        """The console has painted: start them now."""

    @property
    def starting(self) -> bool:
        """Not all started yet."""

    @property
    def failure(self) -> str:
        """Why they did not start, once that is known ("" otherwise)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleContext:
    """Settings, database, operator and clock of one console session.

    `still` turns off everything that moves by itself (spinner, pulse, cursor blink): the
    snapshot tests use it with a fixed clock. `cwd` roots the upload file browser and
    relative paths typed in forms.
    """

    settings: Settings
    db: Database
    operator: Operator
    clock: Clock = system_clock
    still: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    embedded: bool = False  # in front of `claimsops up`'s own workers: quitting stops them
    startup: Startup | None = None  # `claimsops up`'s workers, started once the console has painted

    @property
    def refresh_seconds(self) -> float:
        return max(0.1, float(self.settings.refresh_seconds))

    @property
    def tail_seconds(self) -> float:
        """The log tail polls twice per refresh period, so that at the default period (1 s) a
        new line is on screen within a second."""
        return max(0.1, self.refresh_seconds / 2)

    @property
    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.settings.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def now(self) -> datetime:
        return self.clock()

    def resolve_path(self, typed: str) -> Path:
        path = Path(typed.strip()).expanduser()
        return path if path.is_absolute() else self.cwd / path
