"""The console shell: header, tabs, help, palette, read-only refusals, stale database, refresh
discipline (hidden tabs idle, no overlapping fetches), sizes and NO_COLOR."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from textual.command import CommandPalette

from console.app.confirm import ConfirmDialog
from console.app.help import HelpScreen
from console.app.job_detail import JobDetailScreen
from console.app.jobs_view import JobsView
from console.app.stats_view import STATS_MIN_INTERVAL, StatsView
from console.app.upload import UploadForm
from engine.audit import audit_page
from engine.db import Database
from engine.leases import process_owner
from engine.models import Job, Worker
from tests.console.conftest import READ_ONLY, AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.data import add_alert, seed_jobs, seed_logs
from tests.console.screens import open_with
from tests.fixtures.jobs import make_job


async def test_header_shows_site_mode_database_broker_role_alerts_and_clock(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    add_alert(sqlite_db)
    add_alert(sqlite_db, "disk 91% full")
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await on_screen(pilot, "⚠ 2 alerts  12:00:00")  # once the right side has its new width
        text = screen_text(app).splitlines()[0]
        for expected in ("acme-billing", "embedded", "db sqlite ok", "broker in-process · 0 workers",
                         "alice (operator)", "⚠ 2 alerts", "12:00:00"):
            assert expected in text, expected


async def test_at_80_columns_the_header_keeps_the_workers_the_stalled_jobs_and_the_alerts(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    seed_jobs(sqlite_db)
    gone = datetime.now(UTC) - timedelta(minutes=20)
    with sqlite_db.write() as session:  # the worker of the PROCESSING job is gone: it is stalled
        session.execute(update(Worker).where(Worker.id == "w1").values(last_seen_at=gone))
    add_alert(sqlite_db)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "! 1 stalled" in screen_text(app).splitlines()[0], what="the alarm in the header")
        line = screen_text(app).splitlines()[0]
        for expected in ("acme-billing", "db ok", "1 worker", "alice", "! 1 stalled", "⚠ 1 alert"):
            assert expected in line, (expected, line)
        assert "…" not in line, line  # nothing cut: what does not fit is left out whole
        await pilot.resize_terminal(160, 30)
        await on_screen(pilot, "broker in-process · 1 worker")  # wide again: the whole line
        assert "alice (operator)" in screen_text(app) and "12:00:00" in screen_text(app)


async def test_header_in_production_mode_and_read_only(make_app: AppFactory) -> None:
    app = make_app(operator=READ_ONLY, broker_url="redis://queue.internal:6379/0")
    async with app.run_test(size=(160, 30)) as pilot:
        await on_screen(pilot, "0 alerts")
        text = screen_text(app)
        assert "production" in text and "broker redis queue.internal" in text
        assert "bob (read-only)" in text


async def test_startup_objects_are_kept_out_of_collections_until_the_app_exits(make_app: AppFactory) -> None:
    import gc

    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(pilot, lambda: gc.get_freeze_count() > 0, what="the startup objects frozen")
    assert gc.get_freeze_count() == 0  # a process that starts another app does not keep this one


async def test_the_collector_paused_for_the_start_runs_again_once_painted(make_app: AppFactory) -> None:
    import gc

    app = make_app()
    app.collect_after_paint = True  # as run_console sets it, having turned the collector off
    gc.disable()
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            await wait_for(pilot, lambda: gc.get_freeze_count() > 0, what="the startup objects frozen")
            assert gc.isenabled()
    finally:
        gc.enable()


async def test_tabs_switch_and_each_view_takes_the_focus(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await on_screen(pilot, "running.csv")
        for key, expected, focused in (
            ("3", "submitted today", "#stats-scroll"), ("4", "cleanup_stuck_jobs", "#tasks-table"),
            ("5", "Alert history", "#health-alerts"), ("7", "no action audited yet", "#audit-table"),
            ("8", "No open claim.", "#followup-claims"), ("6", "Stored observations · ask the", "#claims-result-box"),  # out of the form
        ):
            await pilot.press(key)
            await on_screen(pilot, expected)
            assert app.focused is app.main.query_one(focused), key
        await pilot.press("2")
        await on_screen(pilot, "following")
        assert app.focused is app.logs_view.pane
        await pilot.press("1")
        await on_screen(pilot, "running.csv")
        assert app.focused is app.jobs_view.table


async def test_help_lists_the_keys_of_the_current_view(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await on_screen(pilot, "running.csv")
        await open_with(pilot, "question_mark", HelpScreen, "help")
        await on_screen(pilot, "Jobs: keys")
        text = screen_text(app)
        for expected in ("Upload", "Cancel", "Retry", "Export", "Detail", "Filter", "Logs", "Everywhere", "Quit"):
            assert expected in text, expected
        assert "follow new lines" not in text  # the Logs view's keys are not listed
        await pilot.press("escape")
        await pilot.press("2")
        await on_screen(pilot, "following")
        await pilot.press("question_mark")
        await on_screen(pilot, "Logs: keys")
        text = screen_text(app)
        for expected in ("Follow", "Wrap", "Service", "Level", "Lines"):
            assert expected in text, expected
        assert "Upload" not in text
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help to close")


async def test_palette_offers_the_current_views_actions(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await on_screen(pilot, "running.csv")
        names = [command.title for command in app.get_system_commands(app.screen)]
        for expected in ("Upload", "Cancel", "Retry", "Export", "Logs", "Filter", "Detail", "Go to Logs", "Quit"):
            assert expected in names, expected
        await open_with(pilot, "colon", CommandPalette, "the palette")
        await pilot.press(*"upload")
        await on_screen(pilot, "submit a CSV file")
        await open_with(pilot, "enter", UploadForm, "the upload form")
        await pilot.press("escape")
        await pilot.press("2")
        await on_screen(pilot, "following")
        names = [command.title for command in app.get_system_commands(app.screen)]
        assert "Follow" in names and "Upload" not in names


async def test_read_only_refuses_actions_visibly_and_audits(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app(operator=READ_ONLY)
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.jobs_view
        await wait_for(pilot, lambda: len(view.table.order) == 7, what="jobs")
        for key, job in (("c", "processing"), ("R", "failed"), ("e", "completed"), ("u", None)):
            if job:
                view.table.move_cursor(row=view.table.order.index(str(ids[job])))
                await pilot.pause()
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmDialog | UploadForm)
        await wait_for(pilot, lambda: len(app._notifications) >= 4, what="four refusals")
        messages = [n.message for n in app._notifications]
        assert all("refused: this session is read-only" in m for m in messages), messages
        assert app.is_running
    audit = sorted((a.action, a.outcome, a.user) for a in audit_page(sqlite_db))
    assert audit == [("cancel", "refused", "bob"), ("export", "refused", "bob"), ("retry", "refused", "bob"),
                     ("submit", "refused", "bob")]


class FlakyDatabase(Database):
    """A database that can be made unreachable: every session raises while `down` is set."""

    down = False

    @contextmanager
    def read(self) -> Iterator[Session]:
        if self.down:
            raise OperationalError("SELECT 1", {}, Exception("unable to open database file"))
        with super().read() as session:
            yield session

    def ping(self) -> float:
        if self.down:
            from engine.db import DatabaseError

            raise DatabaseError(f"database {self.display_url} unreachable")
        return super().ping()


async def test_stale_when_the_database_goes_away_and_recovers(make_app: AppFactory, tmp_path: Path) -> None:
    db = FlakyDatabase(f"sqlite:///{tmp_path / 'flaky.db'}")
    seed_jobs(db)
    seed_logs(db)
    app = make_app(db=db, refresh=0.1)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await on_screen(pilot, "db sqlite ok")
            await on_screen(pilot, "running.csv")
            db.down = True
            await on_screen(pilot, "stale since 12:00:00")
            await pilot.press("2")  # moving around while it is down is fine
            await pilot.pause(0.3)
            await pilot.press("1")
            assert "running.csv" in screen_text(app)  # the last data stays on screen
            assert app.is_running
            db.down = False
            await on_screen(pilot, "db sqlite ok")
            assert "stale" not in screen_text(app).splitlines()[0]
            await notified(pilot, "reachable again")
    finally:
        db.dispose()


async def test_hidden_tabs_are_not_refreshed(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app(refresh=0.05)
    async with app.run_test(size=(120, 30)) as pilot:
        jobs, logs = app.jobs_view, app.logs_view
        await wait_for(pilot, lambda: jobs.poller.fetches >= 3, what="the jobs view to poll")
        assert logs.poller.fetches == 0
        await pilot.press("2")
        await wait_for(pilot, lambda: not jobs.poller.in_flight, what="the last jobs fetch")
        settled = jobs.poller.fetches
        await wait_for(pilot, lambda: logs.poller.fetches >= 5, what="the logs view to poll")
        assert jobs.poller.fetches == settled and not jobs.poller.armed
        # the detail screen hides the list too
        await pilot.press("1")
        await wait_for(pilot, lambda: jobs.poller.fetches > settled, what="the jobs view to poll again")
        await open_with(pilot, "enter", JobDetailScreen, "detail")
        await wait_for(pilot, lambda: not jobs.poller.in_flight, what="the last jobs fetch")
        settled = jobs.poller.fetches
        await pilot.pause(0.3)
        assert jobs.poller.fetches == settled


async def test_refreshes_never_overlap(make_app: AppFactory, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_jobs(sqlite_db)
    active = 0
    peak = 0
    calls = 0
    lock = threading.Lock()
    original = JobsView.fetch

    def slow_fetch(self: JobsView, request: object) -> object:
        nonlocal active, peak, calls
        with lock:
            active += 1
            calls += 1
            peak = max(peak, active)
        try:
            time.sleep(0.05)
            return original(self, request)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(JobsView, "fetch", slow_fetch)
    app = make_app(refresh=0.01)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: calls >= 3, what="some refreshes")
        for _ in range(20):  # operators and timers asking at once
            app.jobs_view.refresh_data()
            app.jobs_view.refresh_data(invalidate=True)
            await pilot.pause(0.005)
        await wait_for(pilot, lambda: calls >= 8, what="more refreshes")
    assert peak == 1


async def test_refresh_period_comes_from_the_settings(make_app: AppFactory) -> None:
    app = make_app(refresh=2.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.jobs_view.poller is not None, what="mount")
        assert app.jobs_view.poller.interval == 2.5
        assert app.logs_view.poller.interval == 1.25  # the tail polls twice per period
        assert app.main.query_one(StatsView).poller.interval == STATS_MIN_INTERVAL  # a floor for costly figures


@pytest.mark.parametrize("size", [(80, 24), (160, 48), (250, 70)])
async def test_small_and_wide_terminals(make_app: AppFactory, sqlite_db: Database, size: tuple[int, int]) -> None:
    seed_jobs(sqlite_db)
    seed_logs(sqlite_db)
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await on_screen(pilot, "running.csv")
        await on_screen(pilot, "q Quit")
        lines = screen_text(app).splitlines()
        assert len(lines) == size[1]
        assert "acme-billing" in lines[0] and "12:00:00" in screen_text(app)
        assert "Upload" in lines[-1] and "Quit" in lines[-1]
        await pilot.press("2")
        await on_screen(pilot, "following")
        await pilot.press("enter", "1", "enter")
        await wait_for(pilot, lambda: app.screen.id and app.screen.id.startswith("job-detail"), what="detail")
        await on_screen(pilot, "Rows")


async def test_no_color_is_respected(make_app: AppFactory, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    seed_jobs(sqlite_db)
    app = make_app()
    assert app.no_color
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, "running.csv")
        text = screen_text(app)
        # statuses stay distinguishable without colour: each has its own icon and word
        for label in ("◷ PENDING", "⠋ PROCESSING", "◷ CANCELLING", "✕ CANCELLED", "✓ COMPLETED", "✕ FAILED"):
            assert label in text


async def test_a_render_bug_does_not_take_the_console_down(
    make_app: AppFactory, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_jobs(sqlite_db)
    original = JobsView.render_data
    failures = iter([True, False])

    def flaky_render(self: JobsView, request: object, data: object) -> None:
        if next(failures, False):
            raise KeyError("unexpected data")
        original(self, request, data)

    monkeypatch.setattr(JobsView, "render_data", flaky_render)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: app.render_errors == ["JobsView"], what="the failed render")
        await notified(pilot, "JobsView could not show its data")
        app.refresh_active()
        await on_screen(pilot, "running.csv")
        assert app.is_running
        app.render_errors.clear()


async def test_quitting_up_with_its_jobs_running_asks_first(make_app: AppFactory, sqlite_db: Database) -> None:
    """In front of `claimsops up`'s own workers, q says what happens to the running jobs and
    defaults to No; with nothing running here, or in a plain console, q quits at once."""
    job_id = make_job(sqlite_db, status="PROCESSING")
    with sqlite_db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_owner=process_owner("embedded")))
    app = make_app(embedded=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the quit question")
        await on_screen(pilot, "1 job is running here. Quit claimsops up?")
        await on_screen(pilot, "It will be released and resume at the next start")
        await pilot.press("enter")  # No has the focus
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog to close")
        assert app.is_running
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the quit question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
    plain = make_app()
    async with plain.run_test(size=(100, 30)) as pilot:
        await pilot.press("q")
        await wait_for(pilot, lambda: not plain.is_running, what="a plain console to quit at once")
