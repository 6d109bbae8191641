"""Console test helpers: an app factory with injected database, operator and fixed clock, a
bounded condition wait, and the text/segments actually rendered on screen."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.segment import Segment
from textual.pilot import Pilot

from console.app import ConsoleApp
from console.app.context import Startup
from engine.actions import Operator
from engine.config import Settings
from engine.db import Database
from engine.payer.client import PayerSettings
from tests.console.data import fixed_clock

OPERATOR = Operator("alice", "10.0.0.5", True)
READ_ONLY = Operator("bob", "10.0.0.9", False, "this session is read-only (--read-only)")
LONG = 3600.0  # refresh period for tests that trigger refreshes themselves


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


AppFactory = Callable[..., ConsoleApp]


@pytest.fixture
def make_app(sqlite_db: Database, settings: Settings, workdir: Path) -> Iterator[AppFactory]:
    """Apps with the test database, operator alice, a fixed clock and no animation. After the
    test, no view may have failed to render its data."""
    made: list[ConsoleApp] = []

    def make(
        *, operator: Operator = OPERATOR, refresh: float = LONG, still: bool = True, db: Database | None = None,
        clock: Callable = fixed_clock, payer: PayerSettings | None = None, embedded: bool = False,
        startup: Startup | None = None, **overrides: object,
    ) -> ConsoleApp:
        configured = dataclasses.replace(settings, refresh_seconds=refresh, site_name="acme-billing", **overrides)
        app = ConsoleApp(configured, db or sqlite_db, operator, clock=clock, still=still, cwd=workdir, payer=payer,
                         embedded=embedded, startup=startup)
        made.append(app)
        return app

    yield make
    for app in made:
        app.payer.close()
        assert not app.payer.started_sandbox
        assert app.render_errors == [], f"views failed to render: {app.render_errors}"


async def wait_for(pilot: Pilot, condition: Callable[[], object], *, timeout: float = 5.0, what: str = "") -> None:
    """Poll `condition` between short pauses of the app, up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(0.02)


def screen_segments(app: ConsoleApp) -> list[list[Segment]]:
    """The segments of every line the current screen would send to the terminal."""
    return [list(strip) for strip in app.screen._compositor.render_strips()]


def screen_text(app: ConsoleApp) -> str:
    return "\n".join("".join(seg.text for seg in line) for line in screen_segments(app))


async def on_screen(pilot: Pilot, text: str, *, timeout: float = 5.0) -> None:
    await wait_for(pilot, lambda: text in screen_text(pilot.app), timeout=timeout, what=f"{text!r} on screen")


async def notified(pilot: Pilot, text: str, *, timeout: float = 5.0) -> None:
    """Wait for a notification containing `text` (notifications arrive as messages)."""
    app = pilot.app
    await wait_for(pilot, lambda: any(text in n.message for n in app._notifications), timeout=timeout,
                   what=f"a notification with {text!r}")
