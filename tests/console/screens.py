"""Waiting for a screen (a dialog, a form, the detail) to come up."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.console.conftest import wait_for


async def shown(pilot: Pilot, screen: type, what: str = "") -> None:
    """Wait until a screen of this kind is on top."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen), what=what or screen.__name__)


async def open_with(pilot: Pilot, key: str, screen: type, what: str = "") -> None:
    """Press `key` and wait until a screen of this kind is on top."""
    await pilot.press(key)
    await shown(pilot, screen, what)
