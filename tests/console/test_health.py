"""Health (tab 5): every check's recorded state, detail, latency and since when; the alert
history; checks run now on request; and an alert raised while the console is open shows as a
notification and in the header count, whatever screen is on top."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from textual.pilot import Pilot
from textual.widgets import DataTable

from console.app.health_view import HealthView
from engine import alerts, health
from engine.db import Database
from engine.models import HealthState, Job
from tests.console.conftest import AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.data import NOW, seed_health, seed_jobs
from tests.fixtures.jobs import make_job


async def open_health(pilot: Pilot) -> HealthView:
    await pilot.press("5")
    view = pilot.app.main.query_one(HealthView)
    await wait_for(pilot, lambda: len(view.alerts_table.order) == 4, what="the alert history")
    return view


async def test_checks_and_alert_history(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_health(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_health(pilot)
        assert view.checks_table.order == list(health.CHECKS)
        assert view.checks_table.get_cell("workers", "state").plain == "✕ failing"
        assert view.checks_table.get_cell("disk", "state").plain == "◭ degraded"
        assert view.checks_table.get_cell("payer", "latency").plain == "420 ms"
        assert view.checks_table.get_cell("workers", "since").plain == "10-01 11:48 (12m)"
        await on_screen(pilot, "overall unhealthy · recorded 11:58:00 (2m ago)")
        assert view.alerts_table.order == ["4", "3", "2", "1"]  # newest first
        assert view.alerts_table.get_cell("4", "open").plain == "open 12m"
        assert view.alerts_table.get_cell("2", "open").plain == "ended 10:05"
        assert view.alerts_table.get_cell("3", "kind").plain == "✓ recovery"
        # hostile text in a message stays literal
        assert "[red]queued[/red]" in view.alerts_table.get_cell("4", "message").plain
        assert "3 alerts" not in screen_text(app).splitlines()[0]
        await on_screen(pilot, "⚠ 2 alerts")


async def test_check_now_shows_fresh_results_without_recording(make_app: AppFactory, sqlite_db: Database) -> None:
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("5")
        # nothing recorded and no scheduler: never an empty tab, the live checks stand in
        await on_screen(pilot, "no scheduler running")
        await on_screen(pilot, "no stalled jobs")
        await pilot.press("c")
        await on_screen(pilot, "checked now at 12:00:00, not recorded")
        for expected in ("sqlite answered in", "embedded (in-process broker)", "sandbox simulator"):
            await on_screen(pilot, expected)
        assert "no scheduler running" in screen_text(app)
    assert alerts.health_states(sqlite_db) == []


@pytest.mark.parametrize("where", ["jobs", "health"])
async def test_an_alert_raised_while_open_is_notified_and_counted(
    make_app: AppFactory, sqlite_db: Database, where: str
) -> None:
    seed_jobs(sqlite_db)
    alerts.record(sqlite_db, [health.CheckResult("disk", health.DEGRADED, "1.9 GiB free (5%)")])  # history
    app = make_app(refresh=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        await on_screen(pilot, "⚠ 1 alert")
        if where == "health":
            await pilot.press("5")
            await on_screen(pilot, "Alert history · 1 loaded")
        else:
            await pilot.press("enter")  # on a detail screen: the header there counts too
            await on_screen(pilot, "Rows")
        assert not any("disk" in n.message for n in app._notifications)
        alerts.record(sqlite_db, [health.CheckResult("workers", health.FAILING, "no live workers")])
        await notified(pilot, "ALERT: workers is failing: no live workers (Health tab: 5)")
        await on_screen(pilot, "⚠ 2 alerts")
        if where == "health":
            await on_screen(pilot, "Alert history · 2 loaded")
        alerts.record(sqlite_db, [health.CheckResult("workers", health.OK, "1 live worker")])
        await notified(pilot, "RECOVERED: workers is ok again")
        await on_screen(pilot, "⚠ 1 alert")
    messages = [n.message for n in app._notifications]
    assert not any("disk" in m for m in messages)  # what was there before is history, not news


async def test_with_no_scheduler_the_console_checks_work_in_progress_itself(make_app: AppFactory,
                                                                          sqlite_db: Database) -> None:
    """Nothing records health while no scheduler runs: the Health tab computes the workers and
    progress checks itself, so a stalled job shows at once — and so does the header."""
    job_id = make_job(sqlite_db, status="PROCESSING")
    with sqlite_db.write() as session:  # its worker died: the lease lapsed long ago
        session.execute(update(Job).where(Job.id == job_id).values(lease_owner="gone", lease_expires_at=NOW))
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("5")
        view = app.main.query_one(HealthView)
        await wait_for(pilot, lambda: "progress" in view.checks_table.order, what="the live progress check")
        assert view.checks_table.get_cell("progress", "state").plain == "◭ degraded"
        detail = view.checks_table.get_cell("progress", "detail").plain
        assert detail.startswith(f"job {job_id} stalled") and "start `claimsops up` or `claimsops worker`" in detail
        await on_screen(pilot, "! 1 stalled")


async def test_check_now_updates_the_one_table_until_newer_checks_are_recorded(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    seed_health(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("5")
        view = app.main.query_one(HealthView)
        table = view.checks_table
        await wait_for(pilot, lambda: "payer.example.com" in table.get_cell("payer", "detail").plain
                       if "payer" in table.cells else False, what="the recorded checks")
        await pilot.press("c")
        await wait_for(pilot, lambda: "sandbox simulator" in table.get_cell("payer", "detail").plain,
                       what="the checks run now, in the table")
        assert len(view.query(DataTable)) == 2  # the checks and the alerts: no second checks table
        await on_screen(pilot, "checked now at 12:00:00, not recorded")
        fetches = view.poller.fetches
        app.refresh_active()  # a refresh brings the recorded ones (older) back: they stay away
        await wait_for(pilot, lambda: view.poller.fetches > fetches and not view.poller.in_flight, what="a refresh")
        assert "sandbox simulator" in table.get_cell("payer", "detail").plain
        with sqlite_db.write() as session:  # the scheduler records newer checks
            session.execute(update(HealthState).values(checked_at=NOW + timedelta(minutes=1)))
        app.refresh_active()
        await wait_for(pilot, lambda: "payer.example.com" in table.get_cell("payer", "detail").plain,
                       what="the newer recorded checks")
        assert "checked now" not in screen_text(app)


async def test_slash_filters_the_checks_and_the_alerts(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_health(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_health(pilot)
        await pilot.press("slash", *"payer")
        await wait_for(pilot, lambda: view.checks_table.order == ["payer"] and len(view.alerts_table.order) == 2,
                       what="only the payer's")
        await pilot.press(*"zz")
        await on_screen(pilot, "no alert matches 'payerzz' — / changes the filter, esc clears it")
        assert view.checks_table.order == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(view.checks_table.order) == 6 and len(view.alerts_table.order) == 4,
                       what="everything again")
