"""The original system's end-to-end scenario, in the console: upload a CSV, see PROCESSING,
press c, confirm, see CANCELLING then CANCELLED — each state live, without a manual refresh.

There is no worker process in tests: the test plays the worker's part with engine calls."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from console.app.upload import UploadForm
from engine.audit import audit_page
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job, jobs_page
from tests.console.conftest import AppFactory, on_screen, wait_for
from tests.console.screens import open_with
from tests.fixtures.csv_cases import write_sample


async def test_upload_process_cancel_live(make_app: AppFactory, sqlite_db: Database, workdir: Path) -> None:
    write_sample(workdir, "original-basic.csv")
    app = make_app(refresh=0.2)  # live: the console refreshes by itself
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, "no jobs yet — press u to upload a CSV, or run `claimsops submit FILE`")
        await open_with(pilot, "u", UploadForm, "the upload form")
        app.screen.query_one("#upload-path", Input).value = "original-basic.csv"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, UploadForm), what="the form to close")
        jobs = jobs_page(sqlite_db)
        assert len(jobs) == 1
        job_id = jobs[0].id
        assert jobs[0].status == "PENDING" and jobs[0].total_rows == 5
        await on_screen(pilot, "PENDING")
        assert app.jobs_view.selected() is not None and app.jobs_view.selected().id == job_id

        # the worker takes the job
        assert lifecycle.claim(sqlite_db, job_id, "w1", 30, 5) is not None
        await on_screen(pilot, "PROCESSING")

        await pilot.press("c")
        await wait_for(pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "confirm-no",
                       what="the confirm dialog with No focused")
        await pilot.press("y")
        await on_screen(pilot, "CANCELLING")
        assert get_job(sqlite_db, job_id).status == "CANCELLING"

        # the worker notices and stops
        lifecycle.finish_cancel(sqlite_db, job_id)
        await on_screen(pilot, "CANCELLED")
        assert "CANCELLING" not in app.jobs_view.table.get_cell(str(job_id), "status").plain

    actions = [(a.action, a.outcome, a.user) for a in audit_page(sqlite_db)]
    assert ("submit", "ok", "alice") in actions
    assert ("cancel", "ok", "alice") in actions
