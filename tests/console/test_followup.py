"""Follow-up (tab 8): open claims by age and status, stale ones, changes since a chosen time,
paging, a claim's timeline (enter, esc back); the follow-up's figures on Stats, the follow-up
jobs marked on Jobs, and its task on Schedulers."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from console.app.claim_timeline import TimelineScreen, TimelineView
from console.app.followup_view import FollowupView
from console.app.jobs_view import JobsView
from console.app.prompt import PathPrompt, Picker
from console.app.stats_view import StatsView
from console.app.tasks_view import SchedulersView
from engine.audit import audit_page
from engine.db import Database
from engine.tasks import registry
from tests.console.conftest import AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.data import NOW, found_result, observe, seed_followup
from tests.console.screens import open_with, shown


async def open_followup(pilot: Pilot, rows: int | None = None) -> FollowupView:
    await pilot.press("8")
    view = pilot.app.main.query_one(FollowupView)
    await wait_for(pilot, lambda: view.loaded and (rows is None or len(view.table.order) == rows),
                   what="the follow-up list")
    return view


def column(view: FollowupView, name: str) -> list[str]:
    table = view.table
    return [table.get_cell(key, name).plain for key in table.order]


async def pick_since(pilot: Pilot, choice: int) -> None:
    await open_with(pilot, "c", Picker)
    pilot.app.screen.query_one(OptionList).highlighted = choice
    await pilot.press("enter")


async def test_open_claims_by_age_and_status_the_stale_ones_and_a_timeline(make_app: AppFactory,
                                                                          sqlite_db: Database) -> None:
    jobs = seed_followup(sqlite_db)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_followup(pilot, rows=2)
        assert column(view, "claim") == ["PN10000001", "NF50000005"]  # oldest first
        assert column(view, "age") == ["20 d", "5 d"]
        assert column(view, "status") == ["P1 Pending", "— Not Found"]
        assert column(view, "since") == ["09-28", "09-26"]
        await on_screen(pilot, "Open claims, oldest first · 2 open · 1 stale")
        await pilot.press("s")
        await wait_for(pilot, lambda: column(view, "claim") == ["ST40000004"], what="the stale list")
        assert column(view, "age") == ["200 d"] and column(view, "next") == ["a person"]
        await on_screen(pilot, "Stale, needs a person")
        await pilot.press("escape")
        await wait_for(pilot, lambda: column(view, "claim") == ["PN10000001", "NF50000005"], what="back to open")
        await open_with(pilot, "slash", Picker)  # one status group: P*
        pilot.app.screen.query_one(OptionList).highlighted = 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.loaded and column(view, "claim") == ["PN10000001"], what="P* only")
        await on_screen(pilot, "P* pending")
        await pilot.press("enter")  # the claim's timeline
        await shown(pilot, TimelineScreen)
        timeline = app.screen.query_one(TimelineView)
        await wait_for(pilot, lambda: timeline.timeline is not None, what="the timeline")
        text = screen_text(app)
        assert "PN10000001  ◷ open" in text
        assert "Timeline · 2 observations, oldest first" in text
        assert f"job {jobs['upload']}" in text and "A2 Acknowledged" in text
        assert f"job {jobs['recheck']}" in text and "changed A2 → P1 pending" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back on the list")
        assert app.main.active_tab() == "followup" and column(view, "claim") == ["PN10000001"]


async def test_changed_since_today_a_week_and_a_typed_date(make_app: AppFactory, sqlite_db: Database) -> None:
    jobs = seed_followup(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_followup(pilot)
        await pick_since(pilot, 0)  # today
        await wait_for(pilot, lambda: view.loaded and column(view, "claim") == ["DN30000003"], what="today")
        assert column(view, "change") == ["A2 → F2 denied (CARC 50)"]
        await on_screen(pilot, "Changed today, newest first")
        await pick_since(pilot, 1)  # the last 7 days
        await wait_for(pilot, lambda: view.loaded and len(view.table.order) == 3, what="a week")
        assert column(view, "claim") == ["DN30000003", "FP20000002", "PN10000001"]
        assert column(view, "change")[1:] == ["P1 → F1 paid $812.40", "A2 → P1 pending"]
        view.table.move_cursor(row=1)
        observe(sqlite_db, NOW - timedelta(minutes=5), jobs["today"],
                [("PN10000001", found_result("F1", "Finalized", "finalized", "99.00"))], first_row=2)
        view.refresh_data()  # a new change comes in on top; the cursor stays on its change
        await wait_for(pilot, lambda: len(view.table.order) == 4, what="the new change")
        assert column(view, "change")[0] == "P1 → F1 paid $99.00" and view.table.cursor_key == view.table.order[2]
        await pick_since(pilot, 3)  # a typed date
        await shown(pilot, PathPrompt)
        field = pilot.app.screen.query_one(Input)
        field.value = "2025-10-02"
        await pilot.press("enter")
        await on_screen(pilot, "2025-10-02 is after today (2025-10-01)")
        field.value = "09/29/2025"
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.loaded and len(view.table.order) == 3, what="since Monday")
        assert column(view, "claim") == ["PN10000001", "DN30000003", "FP20000002"]
        await on_screen(pilot, "Changed since 2025-09-29, newest first")
        await pilot.press("home", "enter")  # the newest change's claim: its timeline
        await shown(pilot, TimelineScreen)
        await on_screen(pilot, "PN10000001  ✓ closed")
        await on_screen(pilot, "changed P1 → F1 paid $99.00")


async def test_paging_through_many_open_claims(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_followup(sqlite_db, many_open=450)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_followup(pilot, rows=200)
        assert view.table.more_after
        await on_screen(pilot, "1/200+")
        for _ in range(2):
            edge = view.table.order[-1]
            await pilot.press("end")
            await wait_for(pilot, lambda edge=edge: view.table.order[-1] != edge and view.table.loading is None,
                           what="the next page")
        assert len(view.table.order) == 452 and not view.table.more_after
        assert column(view, "claim")[-1] == "NF50000005"


async def test_empty_states_say_what_to_do(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_followup(pilot)
        await on_screen(pilot, "No open claim.")
        await on_screen(pilot, "upload a CSV on 1 Jobs (u)")
        await pilot.press("s")
        await on_screen(pilot, "No stale claim")
        await pick_since(pilot, 1)
        await on_screen(pilot, "No claim changed status in the last 7 days.")
        await on_screen(pilot, "recheck_open_claims")


async def test_follow_up_jobs_stats_and_the_task(make_app: AppFactory, sqlite_db: Database) -> None:
    jobs = seed_followup(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        table = app.main.query_one(JobsView).table
        await wait_for(pilot, lambda: str(jobs["today"]) in table.order, what="the jobs")
        assert table.get_cell(str(jobs["today"]), "file").plain.startswith("↻ follow-up 2025-10-01")
        assert table.get_cell(str(jobs["upload"]), "file").plain == "september.csv"
        app.open_job(jobs["today"])  # its detail says so too
        await on_screen(pilot, "↻ follow-up 2025-10-01 11:00 (1 claims due)  follow-up: open claims asked again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back on the jobs")
        await pilot.press("3")
        view = app.main.query_one(StatsView)
        await wait_for(pilot, lambda: view.followup is not None, what="the figures")
        for expected in ("open      2 claims", "stale     1 need a person", "closed    2 this week (since Monday)",
                         "to close  14.0 days median"):
            await on_screen(pilot, expected)
        await pilot.press("4")
        tasks = app.main.query_one(SchedulersView)
        await wait_for(pilot, lambda: len(tasks.table.order) == len(registry.TASKS), what="the tasks")
        assert "recheck_open_claims" in tasks.table.order and len(registry.TASKS) == 6


async def test_the_changes_export_through_the_export_dialog(make_app: AppFactory, sqlite_db: Database,
                                                             workdir: Path) -> None:
    seed_followup(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_followup(pilot)
        await pilot.press("e")
        await notified(pilot, "e exports the changes: c shows them first")
        await pick_since(pilot, 1)
        await wait_for(pilot, lambda: view.loaded and len(view.table.order) == 3, what="a week")
        await open_with(pilot, "e", PathPrompt)
        pilot.app.screen.query_one(Input).value = "week.csv"
        await pilot.press("enter")
        await notified(pilot, "exported 3 changes to")
    out = workdir / "week.csv"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text().splitlines()
    assert lines[0].startswith("observed_at,claim_number,tin,payer_id,job_id,old_status")
    assert [line.split(",")[1] for line in lines[1:]] == ["DN30000003", "FP20000002", "PN10000001"]
    assert "A2 → F2 denied (CARC 50)" in lines[1]
    audit = audit_page(sqlite_db)[0]
    assert (audit.action, audit.target, audit.outcome) == ("export", "changes in the last 7 days", "ok")
