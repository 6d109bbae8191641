"""Keys that arrive together (fast typing, a paste, one SSH packet): the key that opens a field
and the text after it are queued at once, and every character must land in the field, none in
the list behind it (where `c` would be a cancel)."""

from __future__ import annotations

import pytest
from textual import events
from textual.widgets import Input

from engine.db import Database
from tests.console.conftest import AppFactory, wait_for
from tests.console.data import seed_jobs
from tests.console.test_detail import open_detail
from tests.console.test_jobs import seeded_jobs_tab

TYPED = "cab12"


def burst(app: object, opener: str) -> None:
    """The opener and TYPED as the driver posts them from one read: all queued before any runs."""
    for key, character in [(opener, None), *((c, c) for c in TYPED)]:
        app.post_message(events.Key(key, character))


@pytest.mark.parametrize(("tab", "opener", "field"), [
    ("1", "slash", "#jobs-filter-text"),
    ("2", "slash", "#logs-filter-text"),
    ("6", "i", "#claims-number"),
    ("7", "slash", "#audit-filter-text"),
])
async def test_keys_typed_right_after_the_opener_land_in_the_field(
    make_app: AppFactory, sqlite_db: Database, tab: str, opener: str, field: str,
) -> None:
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await seeded_jobs_tab(pilot)
        await pilot.press(tab)
        await pilot.pause()
        burst(app, opener)
        target = app.screen.query_one(field, Input)
        await wait_for(pilot, lambda: target.value == TYPED, what=f"{TYPED!r} in {field}, got {target.value!r}")
        assert app.focused is target


async def test_a_claim_number_typed_right_after_find_lands_in_the_find_field(
    make_app: AppFactory, sqlite_db: Database,
) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await open_detail(pilot, ids["completed"])
        burst(app, "slash")
        target = app.screen.query_one("#detail-find-text", Input)
        await wait_for(pilot, lambda: target.value == TYPED, what=f"{TYPED!r} in the find field, got {target.value!r}")
