"""`claimsops up` paints the console before its workers are up: the header says "starting
workers…" (no worker count, no "stalled" or "no worker" alarm) until a site status read after
they started, and the console tells the startup when it has painted."""

from __future__ import annotations

import pytest

from console.app.payer_source import PayerSource
from engine.config import Settings
from engine.db import Database
from engine.payer.client import PayerSettings
from tests.console.conftest import AppFactory, on_screen, screen_text, wait_for
from tests.console.data import add_job


class FakeStartup:
    def __init__(self) -> None:
        self.begun = False
        self.done = False
        self.failure = ""

    def begin(self) -> None:
        self.begun = True

    @property
    def starting(self) -> bool:
        return not self.done


def header(app: object) -> str:
    return screen_text(app).splitlines()[0]


@pytest.mark.parametrize("size", [(160, 30), (80, 24)], ids=["160x30", "80x24"])
async def test_header_says_starting_workers_until_a_status_read_after_they_started(
    make_app: AppFactory, sqlite_db: Database, size: tuple[int, int]
) -> None:
    add_job(sqlite_db, status="PENDING")  # queued, and no worker has beaten yet
    startup = FakeStartup()
    app = make_app(embedded=True, startup=startup)
    async with app.run_test(size=size) as pilot:
        await on_screen(pilot, "0 alerts")  # the first site status is in
        await wait_for(pilot, lambda: startup.begun, what="the console to say it has painted")
        line = header(app)
        assert "starting workers…" in line
        assert "worker " not in line.replace("starting workers…", "") and "0 workers" not in line
        assert "queued, no worker" not in line and "stalled" not in line

        startup.done = True  # started; the status on screen was still read while starting
        app.refresh_headers()
        await pilot.pause()
        assert "starting workers…" in header(app) and "queued, no worker" not in header(app)

        app.main.query_one("#site-probe").refresh_data()  # a status read after they started
        await on_screen(pilot, "0 workers")
        line = header(app)
        assert "starting workers…" not in line and "queued, no worker" in line  # the truth, now


@pytest.mark.parametrize("size", [(160, 30), (80, 24)], ids=["160x30", "80x24"])
async def test_header_says_when_the_workers_did_not_start(make_app: AppFactory, size: tuple[int, int]) -> None:
    startup = FakeStartup()
    startup.done, startup.failure = True, "cannot start the broker"
    app = make_app(embedded=True, startup=startup)
    async with app.run_test(size=size) as pilot:
        await on_screen(pilot, "workers did not start (Logs tab: 2)")
        assert "starting workers…" not in header(app)


def test_the_claims_tab_asks_up_for_its_sandbox_only_when_it_looks_a_claim_up(settings: Settings) -> None:
    asked: list[int] = []
    given = PayerSettings("http://127.0.0.1:1/s", "http://127.0.0.1:1/i", "id", "secret")

    def later() -> PayerSettings:
        asked.append(1)
        return given

    source = PayerSource(settings, later)
    assert "claimsops up" in source.describe() and not source.uses_sandbox and asked == []
    assert source.get() is given and source.get() is given and asked == [1]
    source.close()
    assert not source.started_sandbox
