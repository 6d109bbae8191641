"""Every list, empty, says what to do next: with nothing in it yet, and with a filter that
matches nothing."""

from __future__ import annotations

from textual.pilot import Pilot

from console.app.audit_view import AuditView
from console.app.job_detail import JobDetailScreen, JobDetailView
from console.app.prompt import Picker
from engine.db import Database
from tests.console.conftest import AppFactory, on_screen, wait_for
from tests.console.data import add_job
from tests.console.screens import open_with


async def filter_for(pilot: Pilot, text: str) -> None:
    await pilot.press("slash", *text)


async def test_empty_lists_say_what_to_do_next(make_app: AppFactory, sqlite_db: Database) -> None:
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await on_screen(pilot, "no jobs yet — press u to upload a CSV, or run `claimsops submit FILE`")
        await filter_for(pilot, "nothing-like-this")
        await on_screen(pilot, "no job matches the filter — / changes it, esc clears it")
        await pilot.press("escape")
        await pilot.press("2")
        await on_screen(pilot, "no log lines yet — every claimsops process (up, worker, scheduler, console) writes here")
        await filter_for(pilot, "nothing")
        await on_screen(pilot, "no line matches the filters — / changes the text and job, s the service, v the level;"
                               " esc clears them")
        await pilot.press("escape")
        await pilot.press("4")
        await filter_for(pilot, "nothing")
        await on_screen(pilot, "no task matches 'nothing' — / changes the filter, esc clears it")
        await pilot.press("escape")
        await pilot.press("5")
        await on_screen(pilot, "no alert raised yet — one is raised (and sent) when a check starts failing")
        await pilot.press("7")
        await on_screen(pilot, "no action audited yet — every operator action (submit, cancel, run now, reveal…)")
        view = app.main.query_one(AuditView)
        await filter_for(pilot, "nothing")
        await wait_for(pilot, lambda: view.flt.text == "nothing" and not view._reload, what="the filter")
        await on_screen(pilot, "no entry matches the filters — / changes the text, u the user, a the action;")


async def test_job_detail_with_an_outcome_that_matches_no_row(make_app: AppFactory, sqlite_db: Database) -> None:
    job_id = add_job(sqlite_db, status="COMPLETED", total_rows=0)
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        app.open_job(job_id)
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.query(JobDetailView)
                       and app.screen.query_one(JobDetailView).matching is not None, what="the job")
        view = app.screen.query_one(JobDetailView)
        await open_with(pilot, "o", Picker, "the outcome picker")
        app.screen.dismiss("error")
        await wait_for(pilot, lambda: view.outcome == "error" and view.matching == 0, what="no error rows")
        await on_screen(pilot, "no rows match — press o to change the outcome, esc to show all")

