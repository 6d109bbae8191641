"""Jobs tab: the table, paging, in-place updates, filter, and the actions on a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, update
from textual.pilot import Pilot
from textual.widgets import Input, Select

from console.app.confirm import ConfirmDialog
from console.app.job_detail import JobDetailScreen
from console.app.jobs_view import JobsView
from console.app.paged_table import PagedTable
from console.app.prompt import PathPrompt
from engine.audit import audit_page
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.models import Job, Worker
from tests.console.conftest import AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.data import NOW, add_job, add_log, seed_jobs
from tests.console.screens import open_with
from tests.fixtures.jobs import make_job


def bulk_jobs(db: Database, count: int) -> None:
    rows = [
        {"file_name": f"bulk-{n:05d}.csv", "status": "COMPLETED", "strategy": "auto",
         "start_date": NOW.date(), "end_date": NOW.date(), "tin": "123456789", "payer_id": "87726",
         "submitted_by": "loader", "submitted_from": "", "created_at": NOW - timedelta(minutes=count - n),
         "updated_at": NOW, "total_rows": 10, "done_rows": 10, "found_rows": 10, "warnings": [],
         "extra_columns": [], "history": [], "attempts": 1}
        for n in range(count)
    ]
    with db.write() as session:
        session.execute(insert(Job), rows)


async def loaded(pilot: Pilot, view: JobsView, count: int | None = None) -> None:
    if count is None:
        await wait_for(pilot, lambda: view.total is not None and not view._reload, what="the first page")
    else:
        await wait_for(pilot, lambda: len(view.table.order) == count, what=f"{count} rows loaded")


def status_of(view: JobsView, job_id: int) -> str:
    return view.table.get_cell(str(job_id), "status").plain


async def test_newest_first_with_status_icons_and_colours(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(200, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        assert view.table.order == [str(i) for i in sorted(ids.values(), reverse=True)]
        expected = {
            "pending": ("◷ PENDING", "tone.muted"), "processing": ("⠋ PROCESSING", "tone.info"),
            "cancelling": ("◷ CANCELLING", "tone.warn"), "cancelled": ("✕ CANCELLED", "tone.muted"),
            "completed": ("✓ COMPLETED", "tone.ok"), "failed": ("✕ FAILED", "tone.error"),
        }
        for name, (label, colour) in expected.items():
            cell = view.table.get_cell(str(ids[name]), "status")
            assert cell.plain == label
            assert any(colour in str(span.style) for span in cell.spans), (name, cell.spans)
        row = {key: view.table.get_cell(str(ids["processing"]), key).plain for key in
               ("done", "found", "not_found", "err_inv", "rate", "eta", "by", "started", "duration")}
        assert row == {"done": "850/2,000", "found": "800", "not_found": "40", "err_inv": "5/5",
                       "rate": "2.8", "eta": "6m48s", "by": "alice", "started": "10-01 11:55", "duration": "5m00s"}
        assert "42%" in view.table.get_cell(str(ids["processing"]), "progress").plain
        hostile = str(ids["hostile"])
        assert view.table.get_cell(hostile, "file").plain == "[red]evil[/red][@click=app.quit]x[/].csv"
        await wait_for(pilot, lambda: "[red]evil[/red]" in screen_text(app), what="the literal file name")
        assert view.table.get_cell(hostile, "by").plain == "[b]mallory[/b]"  # literal, not markup


async def page(pilot: Pilot, table: PagedTable, key: str) -> None:
    """Walk to the window's last (`end`) or first (`home`) row and wait for the page it asks
    for, if any."""
    edges = (table.order[0], table.order[-1])
    more = table.more_after if key == "end" else table.more_before
    table.move_cursor(row=len(table.order) - 1 if key == "end" else 0)
    if more:
        await wait_for(pilot, lambda: table.loading is None and (table.order[0], table.order[-1]) != edges,
                       what=f"the page after {key}")


async def test_pages_from_the_database_and_keeps_a_bounded_window(make_app: AppFactory, sqlite_db: Database) -> None:
    bulk_jobs(sqlite_db, 1000)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = app.jobs_view
        table = view.table
        await loaded(pilot, view, 200)
        assert table.more_after and not table.more_before
        assert view.total == 1000
        await page(pilot, table, "end")
        assert len(table.order) == 400 and table.cursor_key == "801"
        await page(pilot, table, "end")
        assert len(table.order) == 600 and not table.more_before
        await page(pilot, table, "end")  # the window slides: the newest jobs leave memory
        assert len(table.order) == 600 and table.more_before and table.order[0] == "800"
        assert table.cursor_key == "401"
        while table.more_after:
            await page(pilot, table, "end")
            assert len(table.order) <= 600
        assert table.order[-1] == "1"
        # and back up: newer pages come back as the cursor nears the top
        while table.more_before:
            await page(pilot, table, "home")
            assert len(table.order) <= 600
        assert table.order[0] == "1000"
        await pilot.press("end")  # the true end, fetched from there, not walked to
        await wait_for(pilot, lambda: table.cursor_key == "1", what="the oldest job")
        assert table.more_before and not table.more_after
        await on_screen(pilot, "job 1,000 of 1,000")
        await pilot.press("home")
        await wait_for(pilot, lambda: table.cursor_key == "1000" and not table.more_before, what="the newest job")


async def test_rows_update_in_place_and_the_cursor_stays(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        view = app.jobs_view
        table = view.table
        await loaded(pilot, view, 7)
        target = str(ids["processing"])
        table.move_cursor(row=table.order.index(target))
        await pilot.pause()
        assert table.cursor_key == target
        with sqlite_db.write() as session:
            session.execute(update(Job).where(Job.id == ids["processing"]).values(done_rows=1500, found_rows=1400))
        new_id = add_job(sqlite_db, file_name="fresh.csv", created_at=NOW)
        app.refresh_active()
        await wait_for(pilot, lambda: str(new_id) in table.cells, what="the new job")
        assert table.order[0] == str(new_id)
        assert table.cursor_key == target
        assert table.get_cell(target, "done").plain == "1,500/2,000"
        lifecycle.cancel(sqlite_db, ids["processing"], "bob")
        app.refresh_active()
        await wait_for(pilot, lambda: "CANCELLING" in status_of(view, ids["processing"]), what="CANCELLING")
        assert table.cursor_key == target


async def test_filter_by_text_and_status(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        await pilot.press("slash")
        assert app.focused is not None and app.focused.id == "jobs-filter-text"
        await pilot.press(*"running")
        await wait_for(pilot, lambda: view.table.order == [str(ids["processing"])], what="text filter")
        await pilot.press("enter")
        assert app.focused is view.table
        await on_screen(pilot, "filter: 'running'")
        view.query_one("#jobs-filter-text", Input).value = ""
        view.query_one("#jobs-filter-status", Select).value = "COMPLETED"
        await wait_for(pilot, lambda: sorted(view.table.order) == sorted([str(ids["completed"]), str(ids["hostile"])]),
                       what="status filter")
        view.query_one("#jobs-filter-status", Select).value = "ACTIVE"
        await wait_for(pilot, lambda: len(view.table.order) == 3, what="active filter")
        # a job that leaves the filtered statuses leaves the table at the next refresh
        view.table.move_cursor(row=view.table.order.index(str(ids["processing"])))
        lifecycle.cancel(sqlite_db, ids["pending"], "alice")
        app.refresh_active()
        await wait_for(pilot, lambda: str(ids["pending"]) not in view.table.cells, what="the cancelled job to go")
        # and one that enters them joins it in its place
        lifecycle.retry(sqlite_db, ids["failed"], "alice")
        app.refresh_active()
        await wait_for(pilot, lambda: str(ids["failed"]) in view.table.cells, what="the retried job to come")
        assert view.table.order == [str(ids["cancelling"]), str(ids["processing"]), str(ids["failed"])]
        assert view.table.cursor_key == str(ids["processing"])
        view.table.focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(view.table.order) == 7, what="the filter cleared")
        assert view.table.cursor_key == str(ids["processing"])
        assert view.query_one("#jobs-filter").display is False


async def test_enter_opens_the_detail_and_esc_comes_back(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        view.table.move_cursor(row=view.table.order.index(str(ids["completed"])))
        await open_with(pilot, "enter", JobDetailScreen, "the detail")
        assert app.screen.job_id == ids["completed"]
        await on_screen(pilot, "original-basic.csv")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, JobDetailScreen), what="back")
        assert view.table.cursor_key == str(ids["completed"])


async def seeded_jobs_tab(pilot: Pilot) -> JobsView:
    """The Jobs tab with the seven jobs of seed_jobs loaded."""
    view = pilot.app.jobs_view
    await loaded(pilot, view, 7)
    return view


async def select(pilot: Pilot, view: JobsView, job_id: int) -> None:
    view.table.move_cursor(row=view.table.order.index(str(job_id)))
    await pilot.pause()


async def test_cancel_asks_first_with_no_focused(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        await select(pilot, view, ids["processing"])
        for refuse in ("n", "escape"):
            await open_with(pilot, "c", ConfirmDialog, "the dialog")
            assert app.screen.focused is not None and app.screen.focused.id == "confirm-no"
            await pilot.press(refuse)
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog to close")
            assert get_job(sqlite_db, ids["processing"]).status == "PROCESSING"
        # enter on the focused No refuses too
        await open_with(pilot, "c", ConfirmDialog, "the dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog to close")
        assert get_job(sqlite_db, ids["processing"]).status == "PROCESSING"
        await open_with(pilot, "c", ConfirmDialog, "the dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: "CANCELLING" in status_of(view, ids["processing"]), what="CANCELLING")
        assert get_job(sqlite_db, ids["processing"]).cancel_requested_by == "alice"
        # a pending job is cancelled at once
        await select(pilot, view, ids["pending"])
        await pilot.press("c", "y")
        await wait_for(pilot, lambda: "CANCELLED" in status_of(view, ids["pending"]), what="CANCELLED")
        # a finished job cannot be: a warning, no dialog
        await select(pilot, view, ids["completed"])
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        await notified(pilot, "only a PENDING or PROCESSING job")
    audit = [(a.action, a.target, a.outcome) for a in audit_page(sqlite_db)]
    assert ("cancel", f"job {ids['processing']}", "ok") in audit
    assert ("cancel", f"job {ids['pending']}", "ok") in audit


async def test_retry_a_failed_job_after_confirming(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        await select(pilot, view, ids["failed"])
        await open_with(pilot, "R", ConfirmDialog, "the dialog")
        assert app.screen.focused is not None and app.screen.focused.id == "confirm-no"
        await pilot.press("n")
        await pilot.pause()
        assert get_job(sqlite_db, ids["failed"]).status == "FAILED"
        await open_with(pilot, "R", ConfirmDialog, "the dialog")
        await pilot.press("y")
        await wait_for(pilot, lambda: "PENDING" in status_of(view, ids["failed"]), what="PENDING again")
        await notified(pilot, "queued again")
        await select(pilot, view, ids["processing"])
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
    assert ("retry", f"job {ids['failed']}", "ok") in [(a.action, a.target, a.outcome) for a in audit_page(sqlite_db)]


async def test_export_to_a_chosen_path(make_app: AppFactory, sqlite_db: Database, workdir: Path,
                                      settings: Settings) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        await select(pilot, view, ids["completed"])
        await open_with(pilot, "e", PathPrompt, "the path prompt")
        field = app.screen.query_one(Input)
        # never the current directory (often a checkout): the data directory's private exports/
        exports = settings.home / "exports"
        assert field.value == str(exports / f"original-basic-job{ids['completed']}-results.csv")
        assert exports.stat().st_mode & 0o777 == 0o700
        field.value = "out/results.csv"  # a directory that does not exist: an error, not a crash
        await pilot.press("enter")
        await notified(pilot, "out: no such directory")
        (workdir / "out").mkdir()
        await open_with(pilot, "e", PathPrompt, "the path prompt")
        app.screen.query_one(Input).value = "out/results.csv"
        await pilot.press("enter")
        await wait_for(pilot, lambda: (workdir / "out" / "results.csv").exists(), what="the file")
        await notified(pilot, "exported 5 rows")
        assert (workdir / "out" / "results.csv").stat().st_mode & 0o777 == 0o600
        # a directory gets the default name
        await open_with(pilot, "e", PathPrompt, "the path prompt")
        app.screen.query_one(Input).value = "out"
        await pilot.press("enter")
        default = workdir / "out" / f"original-basic-job{ids['completed']}-results.csv"
        await wait_for(pilot, default.exists, what="the default-named file")
    outcomes = [(a.action, a.outcome) for a in audit_page(sqlite_db)]
    assert outcomes.count(("export", "ok")) == 2 and ("export", "failed") in outcomes


async def test_l_shows_this_jobs_logs(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    add_log(sqlite_db, "line of the failed job", job_id=ids["failed"])
    add_log(sqlite_db, "line of another job", job_id=ids["completed"])
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        await select(pilot, view, ids["failed"])
        await pilot.press("l")
        await on_screen(pilot, "line of the failed job")
        assert "line of another job" not in screen_text(app)
        assert app.logs_view.flt.job_id == ids["failed"]
        assert f"job {ids['failed']}" in screen_text(app)



async def test_a_stalled_job_says_so_and_turns_back_when_its_worker_beats(make_app: AppFactory,
                                                                        sqlite_db: Database) -> None:
    """Nothing runs a job whose lease lapsed and whose worker is gone: STALLED, no spinner, no
    rate, no ETA, and the fix on the status line; PROCESSING again the moment a worker beats."""
    ids = seed_jobs(sqlite_db)
    gone = datetime.now(UTC) - timedelta(minutes=20)
    with sqlite_db.write() as session:
        session.execute(update(Worker).where(Worker.id == "w1").values(last_seen_at=gone))
    app = make_app()
    async with app.run_test(size=(200, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        job = str(ids["processing"])
        await wait_for(pilot, lambda: "STALLED" in status_of(view, ids["processing"]), what="STALLED")
        assert view.table.get_cell(job, "rate").plain.strip() == "—"
        assert view.table.get_cell(job, "eta").plain.strip() == "—"
        assert status_of(view, ids["cancelling"]) != "STALLED"  # w2 still beats
        await on_screen(pilot, f"! job {ids['processing']} stalled since")
        await on_screen(pilot, "start `claimsops up` or `claimsops worker`")
        with sqlite_db.write() as session:  # a worker takes the job again
            session.execute(update(Worker).where(Worker.id == "w1")
                            .values(last_seen_at=datetime.now(UTC) + timedelta(days=1)))
        app.refresh_active()
        await wait_for(pilot, lambda: "PROCESSING" in status_of(view, ids["processing"]), what="PROCESSING again")
        await wait_for(pilot, lambda: "stalled" not in screen_text(app), what="the header and status line to clear")


async def test_queued_jobs_with_no_worker_say_what_to_do(make_app: AppFactory, sqlite_db: Database) -> None:
    make_job(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app.jobs_view, 1)
        await on_screen(pilot, "queued — no worker running: start `claimsops up` or `claimsops worker`")
        await on_screen(pilot, "queued, no worker")  # the header says it on every tab
        await pilot.press("enter")
        await on_screen(pilot, "queued — no worker running — start `claimsops up`")


async def test_export_over_an_existing_file_asks_first(make_app: AppFactory, sqlite_db: Database,
                                                       workdir: Path) -> None:
    ids = seed_jobs(sqlite_db)
    kept = workdir / "important.txt"
    kept.write_text("keep me")
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await seeded_jobs_tab(pilot)
        await select(pilot, view, ids["completed"])
        await open_with(pilot, "e", PathPrompt, "the path prompt")
        app.screen.query_one(Input).value = str(kept)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the replace question")
        await on_screen(pilot, "important.txt already exists in")
        await on_screen(pilot, str(workdir)[:40])  # the directory below the name, however long
        await pilot.press("enter")  # No has the focus
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), what="the dialog to close")
        assert kept.read_text() == "keep me"
        await open_with(pilot, "e", PathPrompt, "the path prompt")
        app.screen.query_one(Input).value = str(kept)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the replace question")
        await pilot.press("y")
        await notified(pilot, "exported 5 rows")
        assert kept.read_text().startswith("row,claim_number,")


async def test_a_job_waiting_for_the_payer_says_since_when(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    since = datetime(2025, 10, 1, 11, 52, tzinfo=UTC)
    with sqlite_db.write() as session:
        job = session.get(Job, ids["processing"])
        job.history = [*job.history, {"at": since.isoformat(), "event": "waiting for the payer",
                                      "since": since.isoformat()}]
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await seeded_jobs_tab(pilot)
        await on_screen(pilot, f"job {ids['processing']}: waiting for the payer since 11:52")
        await select(pilot, app.jobs_view, ids["processing"])
        await pilot.press("enter")
        await on_screen(pilot, "waiting for the payer since 11:52 (the job waits, then ends)")
