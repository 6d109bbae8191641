"""Schedulers (tab 4): every task with schedule in words, state, last and next run; run now
(asking first, and refused while running), pause/resume, reschedule with a checked spec, and the
run history with each run's log lines. Every control is audited."""

from __future__ import annotations

import threading

from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import Button, Input

from console.app.confirm import ConfirmDialog
from console.app.detail_screen import RecordScreen
from console.app.schedule_form import SchedulePrompt
from console.app.task_history import RunHistoryScreen, RunHistoryView
from console.app.tasks_view import SchedulersView
from engine.audit import audit_page
from engine.db import Database
from engine.models import Command, TaskState
from engine.tasks import registry
from engine.tasks.store import complete_command, pending_commands, start_run
from tests.console.conftest import AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.data import seed_tasks
from tests.console.screens import open_with, shown


async def open_tab(pilot: Pilot) -> SchedulersView:
    await pilot.press("4")
    view = pilot.app.main.query_one(SchedulersView)
    await wait_for(pilot, lambda: len(view.table.order) == len(registry.TASKS), what="the tasks")
    return view


async def select_task(pilot: Pilot, view: SchedulersView, name: str) -> None:
    view.select(name)
    await pilot.pause()
    assert view.selected() is not None and view.selected().name == name


async def open_stuck_jobs_history(pilot: Pilot, ids: dict[str, int]) -> RunHistoryView:
    """The runs of cleanup_stuck_jobs, the newest one's lines shown."""
    view = await open_tab(pilot)
    await select_task(pilot, view, "cleanup_stuck_jobs")
    await open_with(pilot, "enter", RunHistoryScreen, "the run history")
    history = pilot.app.screen.query_one(RunHistoryView)
    await wait_for(pilot, lambda: history.shown_run == ids["stuck"], what="the newest run's lines")
    return history


def audit_rows(db: Database) -> list[tuple[str, str, str, str]]:
    return [(a.user, a.action, a.target, a.outcome) for a in reversed(audit_page(db))]


async def test_tasks_with_schedule_state_last_and_next_run(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_tasks(sqlite_db)
    app = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        view = await open_tab(pilot)
        await on_screen(pilot, "scheduler sched-host:4242 leads")
        assert view.table.order == list(registry.TASKS)
        def cell(name: str, column: str) -> str:
            return view.table.get_cell(name, column).plain

        assert cell("cleanup_stuck_jobs", "schedule") == "every 15 minutes"
        assert cell("cleanup_stuck_jobs", "state") == "✓ ok"
        assert cell("cleanup_stuck_jobs", "next") == "in 15m"
        assert cell("cleanup_stuck_jobs", "last") == "5m ago"
        assert cell("cleanup_stuck_jobs", "outcome") == "warn"
        assert cell("cleanup_stuck_jobs", "took") == "1.6 s"
        assert cell("cleanup_stuck_jobs", "trigger") == "manual by alice"
        assert cell("archive_old_results", "state") == "⏸ paused"
        assert cell("archive_old_results", "next") == "paused"
        assert cell("cleanup_old_sessions", "schedule") == "daily at 02:00 UTC"
        assert cell("cleanup_old_sessions", "next") == "in 14h"
        await select_task(pilot, view, "archive_old_results")
        for expected in ("state     ⏸ paused by alice", "No space left on device", "run 4 · 10-01 03:00:00 (9h ago)"):
            await on_screen(pilot, expected)


async def test_run_now_asks_then_the_scheduler_starts_it_and_a_second_run_now_is_refused(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    seed_tasks(sqlite_db)  # the scheduler lease is held: the console waits for the scheduler's answer
    started: list[int] = []
    stop = threading.Event()

    def scheduler() -> None:  # plays the scheduler leader: starts the run a command asks for
        while not stop.wait(0.05):
            for command in pending_commands(sqlite_db):
                run_id = start_run(sqlite_db, command.target, "manual", command.requested_by)
                started.append(run_id)
                complete_command(sqlite_db, command.id, f"started run {run_id}")

    thread = threading.Thread(target=scheduler, daemon=True)
    thread.start()
    app = make_app()
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            view = await open_tab(pilot)
            await select_task(pilot, view, "health_check_alert")
            await open_with(pilot, "r", ConfirmDialog, "the confirmation")
            assert app.screen.focused is not None and app.screen.focused.id == "confirm-no"
            await on_screen(pilot, "Run health_check_alert now?")
            await pilot.press("n")  # refused: nothing asked of the scheduler
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog to close")
            await open_with(pilot, "r", ConfirmDialog, "the confirmation")
            await pilot.press("y")
            await notified(pilot, "health_check_alert: started run")
            await wait_for(pilot, lambda: view.table.get_cell("health_check_alert", "state").plain == "⟳ running",
                           what="the running state")
            # the console knows it runs: refused at once, without asking
            await pilot.press("r")
            await notified(pilot, f"health_check_alert is already running (run {started[0]}, manual by alice")
            assert not isinstance(app.screen, ConfirmDialog)
            # the console has not seen the run yet (a run started elsewhere): the engine refuses it
            await select_task(pilot, view, "log_retention")
            other = start_run(sqlite_db, "log_retention", "scheduled")
            await open_with(pilot, "r", ConfirmDialog, "the confirmation")
            await pilot.press("y")
            await notified(pilot, f"log_retention is already running (run {other}, scheduled")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert len(started) == 1
    assert audit_rows(sqlite_db) == [
        ("alice", "task.run", "health_check_alert", "ok"),
        ("alice", "task.run", "log_retention", "failed"),
    ]


async def test_pause_and_resume(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_tasks(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_tab(pilot)
        await select_task(pilot, view, "cleanup_stuck_jobs")
        await pilot.press("p")
        await notified(pilot, "cleanup_stuck_jobs paused")
        await wait_for(pilot, lambda: view.table.get_cell("cleanup_stuck_jobs", "state").plain == "⏸ paused",
                       what="paused")
        await on_screen(pilot, "state     ⏸ paused by alice")
        await pilot.press("p")
        await notified(pilot, "cleanup_stuck_jobs resumed; next run")
        await wait_for(pilot, lambda: view.table.get_cell("cleanup_stuck_jobs", "state").plain != "⏸ paused",
                       what="resumed")
    with sqlite_db.read() as session:
        state = session.get(TaskState, "cleanup_stuck_jobs")
        kinds = [c.kind for c in session.scalars(select(Command).order_by(Command.id))]
    assert not state.paused and kinds == ["task.pause", "task.resume"]
    assert audit_rows(sqlite_db) == [
        ("alice", "task.pause", "cleanup_stuck_jobs", "ok"), ("alice", "task.resume", "cleanup_stuck_jobs", "ok"),
    ]


async def test_reschedule_checks_the_spec_as_typed(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_tasks(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_tab(pilot)
        await select_task(pilot, view, "cleanup_stuck_jobs")
        await open_with(pilot, "S", SchedulePrompt, "the schedule form")
        field = app.screen.query_one("#schedule-input", Input)
        assert field.value == "every 15m"
        await on_screen(pilot, "✓ every 15 minutes (every 15m)")
        await on_screen(pilot, "next runs 10-01 12:15, 10-01 12:30, 10-01 12:45 UTC")
        field.value = "every 15 parsecs"
        await on_screen(pilot, "bad schedule 'every 15 parsecs'")
        assert app.screen.query_one("#schedule-ok", Button).disabled
        await pilot.press("enter")  # a bad spec is not accepted: the form stays
        await pilot.pause()
        assert isinstance(app.screen, SchedulePrompt)
        field.value = "*/10 8-18 * * mon-fri"
        await on_screen(pilot, "✓ cron */10 8-18 * * mon-fri (UTC)")
        field.value = "every 10 minutes"
        await on_screen(pilot, "✓ every 10 minutes (every 10m)")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, SchedulePrompt), what="the form to close")
        await notified(pilot, "cleanup_stuck_jobs now runs every 10 minutes (every 10m); next run")
        await wait_for(pilot, lambda: view.table.get_cell("cleanup_stuck_jobs", "schedule").plain
                       == "every 10 minutes", what="the new schedule")
        await pilot.press("S")  # unchanged: nothing is written
        await shown(pilot, SchedulePrompt, "the schedule form")
        await pilot.press("enter")
        await notified(pilot, "nothing changed")
    with sqlite_db.read() as session:
        assert session.get(TaskState, "cleanup_stuck_jobs").schedule == "every 10m"
    assert audit_rows(sqlite_db) == [("alice", "task.schedule", "cleanup_stuck_jobs", "ok")]


async def test_run_history_with_each_runs_log_lines(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_tasks(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        history = await open_stuck_jobs_history(pilot, ids)
        assert history.table.order == [str(ids["stuck"]), str(ids["stuck_old"])]
        await on_screen(pilot, "Runs of cleanup_stuck_jobs · 2 loaded")
        await on_screen(pilot, f"Run {ids['stuck']} · 4 log lines")
        await on_screen(pilot, "job 2 resumed from row 61 by another worker")
        await pilot.press("down")
        await wait_for(pilot, lambda: history.shown_run == ids["stuck_old"], what="the older run's lines")
        await on_screen(pilot, "0 jobs stuck")
        assert "resumed from row 61" not in screen_text(app)
        # a new run appears at the top live
        new_run = start_run(sqlite_db, "cleanup_stuck_jobs", "scheduled")
        app.refresh_active()
        await wait_for(pilot, lambda: history.table.order[0] == str(new_run), what="the new run")
        assert history.table.get_cell(str(new_run), "outcome").plain == "running"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RunHistoryScreen), what="back")


async def test_slash_filters_the_tasks_and_a_task_that_never_ran_says_how_to_run_it(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_tasks(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_tab(pilot)
        await pilot.press("slash", *"CLEANUP")  # the name, schedule or last result; case ignored
        await wait_for(pilot, lambda: view.table.order == ["cleanup_old_sessions", "cleanup_stuck_jobs"],
                       what="the cleanup tasks")
        await pilot.press(*"_s", "t")
        await wait_for(pilot, lambda: view.table.order == ["cleanup_stuck_jobs"], what="one task")
        await pilot.press("enter")
        assert app.focused is view.table and view.selected().name == "cleanup_stuck_jobs"
        await pilot.press("slash", "x")  # the filter is selected when the bar opens again: typing replaces it
        await on_screen(pilot, "no task matches 'x' — / changes the filter, esc clears it")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(view.table.order) == len(registry.TASKS), what="every task again")
        assert app.focused is view.table and not view.query_one("#tasks-filter").display
        await select_task(pilot, view, "log_retention")  # never ran: its history says how to run it
        await open_with(pilot, "enter", RunHistoryScreen, "its runs")
        await on_screen(pilot, "Runs of log_retention · 0 loaded · no runs yet — esc, then r runs the task now")


async def test_enter_on_a_run_opens_its_whole_record(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_tasks(sqlite_db)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_stuck_jobs_history(pilot, ids)
        await open_with(pilot, "enter", RecordScreen, "the run")
        text = " ".join(screen_text(app).split())
        for expected in (f"Run {ids['stuck']} of cleanup_stuck_jobs", "outcome warn", "manual by alice",
                         "started 2025-10-01 11:55:00.000 UTC", "ended 2025-10-01 11:55:02.000 UTC", "took 1.6 s",
                         "job 2 had no live worker for 3 min: resumed on another worker", "log lines (4)",
                         "job 2 resumed from row 61 by another worker"):
            assert expected in text, expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunHistoryScreen), what="back on the runs")
