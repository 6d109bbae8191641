"""Job detail: parameters, warnings, cancel history, rows paged and filtered, PHI masked until
revealed (audited), and hostile text shown literally with no escape sequence emitted."""

from __future__ import annotations

import time
import unicodedata
from datetime import date
from pathlib import Path

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input

from console.app.detail_screen import RecordScreen
from console.app.job_detail import MAX_ROWS, JobDetailScreen, JobDetailView
from console.app.prompt import Picker
from console.app.row_detail import RowScreen
from engine.audit import audit_page
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.jobs.rows import record_results
from engine.results import ClaimResult
from engine.submit import JobParams, submit_file
from tests.console.conftest import (
    READ_ONLY,
    AppFactory,
    notified,
    on_screen,
    screen_segments,
    screen_text,
    wait_for,
)
from tests.console.data import NOW, add_job, add_rows, found, seed_jobs
from tests.console.screens import open_with, shown
from tests.fixtures.csv_cases import HOSTILE_STRINGS, write_sample


async def open_detail(pilot: Pilot, job_id: int) -> JobDetailView:
    app = pilot.app
    app.call_later(app.open_job, job_id)  # in the app's context, as a key press would
    await shown(pilot, JobDetailScreen, "the detail screen")
    view = app.screen.query_one(JobDetailView)
    await wait_for(pilot, lambda: view.job is not None and not view._reload, what="the job and its rows")
    return view


def cell(view: JobDetailView, row: int, column: str) -> str:
    return view.table.get_cell(str(row), column).plain


async def test_parameters_warnings_and_cancel_history(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await open_detail(pilot, ids["cancelled"])
        for expected in ("Job 3", "CANCELLED", "big-batch.csv", "400/1,000 done", "strategy auto",
                         "TIN 123456789", "payer 87726", "cancel asked 10-01 10:39:59 by alice",
                         "stopped after 340 ms"):
            await on_screen(pilot, expected)
        await pilot.press("i")  # the whole job: its history too
        await shown(pilot, RecordScreen, "the job's record")
        for expected in ("cancel requested by alice", "cancelled · latency_ms 340", "submitted", "10.0.0.5"):
            await on_screen(pilot, expected)
        await pilot.press("escape")
        await shown(pilot, JobDetailScreen, "the detail again")
        await pilot.press("escape")
        await open_detail(pilot, ids["completed"])
        await on_screen(pilot, "warning 2 rows share a claim number: looked up once")
        await pilot.press("i")
        await on_screen(pilot, "completed by w1")
        await pilot.press("escape", "escape")
        await open_detail(pilot, ids["failed"])
        await on_screen(pilot, "failure stopped after 5 attempts")


async def test_rows_with_results_masked_until_revealed(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        view = await open_detail(pilot, ids["completed"])
        assert view.table.order == ["1", "2", "3", "4", "5"]
        assert cell(view, 1, "claim") == "FG53171076"
        assert cell(view, 1, "status") == "Finalized"
        assert cell(view, 1, "charged") == "1,250.00" and cell(view, 1, "paid") == "980.40"
        assert cell(view, 1, "patient") == "S••• S•••"
        assert cell(view, 1, "dob") == "••/••/2002"
        assert cell(view, 1, "member") == "••••51"
        assert cell(view, 5, "message") == "missing claim number"
        await on_screen(pilot, "S••• S•••")
        text = screen_text(app)
        assert "SKYLER" not in text and "0490705351" not in text and "07/26/2002" not in text
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: view.revealed, what="the reveal")
        assert cell(view, 1, "patient") == "SKYLER SMITH"
        assert cell(view, 1, "dob") == "07/26/2002"
        assert cell(view, 1, "member") == "0490705351"
        await on_screen(pilot, "PHI revealed")
        await pilot.press("ctrl+r")
        assert not view.revealed and cell(view, 1, "patient") == "S••• S•••"
    reveal = [a for a in audit_page(sqlite_db) if a.action == "reveal"]
    assert [(a.user, a.target, a.outcome) for a in reveal] == [("alice", f"job {ids['completed']}", "ok")]


async def test_reveal_refused_in_read_only_mode(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app(operator=READ_ONLY)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_detail(pilot, ids["completed"])
        await pilot.press("ctrl+r")
        await notified(pilot, "reveal refused")
        assert not view.revealed and cell(view, 1, "patient") == "S••• S•••"
        assert app.is_running
    assert [(a.action, a.outcome) for a in audit_page(sqlite_db)] == [("reveal", "refused")]


async def test_rows_paged_and_filtered_by_outcome(make_app: AppFactory, sqlite_db: Database) -> None:
    job_id = add_job(sqlite_db, file_name="many.csv", status="PROCESSING", total_rows=450, started_at=NOW)
    classes = ["finalized", "denied", "not_found", None, "error"]
    rows = []
    for n in range(450):
        cls = classes[n % len(classes)]
        row = {"claim_number": f"FG{n:08d}", "first_name": "ANA", "last_name": "LEE"}
        if cls is not None:
            row.update(status=cls.title(), status_class=cls, success=cls in ("finalized", "denied"))
        rows.append(row)
    add_rows(sqlite_db, job_id, rows)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_detail(pilot, job_id)
        table = view.table
        assert len(table.order) == 200 and table.more_after
        await on_screen(pilot, "row 1 · 450 rows")
        table.move_cursor(row=199)  # near the window's edge: the next page comes
        await wait_for(pilot, lambda: len(table.order) == 400, what="the next page")
        table.move_cursor(row=399)
        await wait_for(pilot, lambda: len(table.order) == 450 and not table.more_after, what="the last page")
        await open_with(pilot, "o", Picker, "the outcome picker")
        picker = app.screen
        picker.query_one("OptionList").highlighted = [v for _, v in picker.choices].index("denied")
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.outcome == "denied" and not view._reload, what="the filter")
        assert len(table.order) == 90
        assert all(cell(view, int(k), "status") == "Denied" for k in table.order)
        await on_screen(pilot, "90 matching")
        view.set_outcome("unresolved")
        await wait_for(pilot, lambda: "4" in table.cells and cell(view, 4, "status") == "…", what="unresolved")
        assert len(table.order) == 90
        await pilot.press("escape")  # clears the outcome first
        await wait_for(pilot, lambda: view.outcome == "" and len(table.order) == 200, what="all rows")
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("escape")  # then goes back
        await wait_for(pilot, lambda: not isinstance(app.screen, JobDetailScreen), what="back to the list")


async def test_results_appear_live(make_app: AppFactory, sqlite_db: Database) -> None:
    job_id = add_job(sqlite_db, file_name="live.csv", status="PENDING", total_rows=3)
    add_rows(sqlite_db, job_id, [{"claim_number": f"FG0000000{n}"} for n in range(3)])
    app = make_app(refresh=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_detail(pilot, job_id)
        assert cell(view, 2, "status") == "…"
        lifecycle.claim(sqlite_db, job_id, "w1", 30, 5)
        record_results(sqlite_db, job_id, [(2, ClaimResult("Finalized", "finalized", True))], owner="w1")
        await wait_for(pilot, lambda: cell(view, 2, "status") == "Finalized", what="the result")
        await on_screen(pilot, "PROCESSING")
        await on_screen(pilot, "1/3 done")


def _control_characters(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf") and ch != "\n"]


async def test_hostile_text_is_shown_literally_and_never_reaches_the_terminal(
    make_app: AppFactory, sqlite_db: Database, settings: Settings, workdir: Path
) -> None:
    path = write_sample(workdir, "hostile-text.csv")
    job_id = submit_file(sqlite_db, settings, path, JobParams(today=NOW.date()), "alice")
    app = make_app()
    async with app.run_test(size=(400, 40)) as pilot:  # wide enough for whole cells
        view = await open_detail(pilot, job_id)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: view.revealed, what="the reveal")
        await on_screen(pilot, "[red]x")
        # every cell holds literal Text: nothing was parsed as markup
        patients = [cell(view, n, "patient") for n in range(1, 5)]
        assert patients[0] == "[@click=app.quit]quit[/] [link=http://example.invalid]x[/link]"
        assert patients[1] == "␛]52;c;cm0gLXJmIH4=␇Bob ␛[2J␛[HSmith"
        assert patients[2] == '=HYPERLINK("http://example.invalid") +1+1'
        assert patients[3] == "[/bold] [red]x"
        assert cell(view, 3, "member") == "@SUM(A1)"
        for n in range(1, 5):
            assert isinstance(view.table.get_cell(str(n), "patient"), Text)
        text = screen_text(app)
        for shown in ("[@click=app.quit]quit[/]", "[link=http://example.invalid]x[/link]", "␛]52;c;cm0gLXJmIH4=␇Bob",
                      "␛[2J␛[HSmith", '=HYPERLINK("http://example.invalid")', "[/bold]", "[red]x"):
            assert shown in text, shown
        assert set(HOSTILE_STRINGS) >= {"[/bold]", "[red]x"}
        # what would be written to the terminal: no control character, no link, no action
        for line in screen_segments(app):
            for segment in line:
                assert not _control_characters(segment.text), repr(segment.text)
                style = segment.style
                if style is not None:
                    assert not style.link, segment
                    assert "@click" not in str(style.meta or {}), segment
        # clicking the cell that held an action does not run it
        await pilot.click("#rows-table", offset=(40, 2))
        await pilot.pause()
        assert app.is_running and app.return_code is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, JobDetailScreen), what="back")
        assert app.is_running


async def test_actions_from_the_detail(make_app: AppFactory, sqlite_db: Database, workdir: Path) -> None:
    ids = seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await open_detail(pilot, ids["processing"])
        names = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Cancel", "Export", "Logs", "Reveal", "Find", "Outcome", "Job", "Back"} <= set(names)
        assert "Retry" not in names  # a running job can be cancelled, not retried
        await pilot.press("c")
        await wait_for(pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "confirm-no",
                       what="the dialog")
        await pilot.press("y")
        await on_screen(pilot, "CANCELLING")
        await on_screen(pilot, "cancel asked")
        assert isinstance(app.screen, JobDetailScreen)
        await pilot.press("escape")
        await open_detail(pilot, ids["failed"])
        names = [command.title for command in app.get_system_commands(app.screen)]
        assert "Retry" in names and "Cancel" not in names  # a failed one the other way round
        await pilot.press("R", "y")
        await wait_for(pilot, lambda: get_job(sqlite_db, ids["failed"]).status == "PENDING", what="retry")
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.query("#prompt-input"), what="the export prompt")
        await pilot.press("enter")
        exports = app.ctx.settings.home / "exports"  # the default: the data directory's private exports/
        await wait_for(pilot, lambda: (exports / f"march-claims-job{ids['failed']}-results.csv").exists(),
                       what="the export")
        await pilot.press("l")
        await wait_for(pilot, lambda: app.logs_view.flt.job_id == ids["failed"], what="the job's logs")
        assert not isinstance(app.screen, JobDetailScreen)
        await pilot.press("1")
        await on_screen(pilot, "Done/Total")


async def test_a_job_that_does_not_exist(make_app: AppFactory, sqlite_db: Database) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        app.call_later(app.open_job, 999)
        await on_screen(pilot, "Job 999 does not exist.")
        assert app.header_state.stale_since is None and app.is_running


def many_rows(db: Database, count: int) -> int:
    """A job of `count` rows, every seventh one invalid with a long reason."""
    job_id = add_job(db, file_name="many.csv", status="COMPLETED", total_rows=count, done_rows=count)
    rows = []
    for n in range(count):
        if n % 7 == 3:
            rows.append({"claim_number": f"FG{n:08d}", "status": "Invalid", "status_class": "invalid",
                         "success": False, "invalid_reason": f"row {n + 1}: {LONG_REASON}"})
        else:
            rows.append({"claim_number": f"FG{n:08d}", "first_name": "SKYLER", "last_name": "SMITH",
                         "date_of_birth": date(2002, 7, 26), "subscriber_id": "0490705351",
                         **found("Finalized", "finalized", "1250.00", "980.40", "SKYLER", "SMITH")})
    add_rows(db, job_id, rows)
    return job_id


LONG_REASON = ("service date 2025-13-01 is not a date; the member id is missing; the claim number has 31 "
               "characters (at most 30) — fix the file and submit it again")


async def test_enter_shows_the_whole_row_masked_until_revealed(make_app: AppFactory, sqlite_db: Database) -> None:
    job_id = many_rows(sqlite_db, 10)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_detail(pilot, job_id)
        view.table.move_cursor(row=3)  # row 4: invalid, its reason far wider than the screen
        await open_with(pilot, "enter", RowScreen, "the row's detail")
        await on_screen(pilot, f"Job {job_id} · row 4 · claim FG00000003")
        text = " ".join(screen_text(app).split())
        assert f"row 4: {LONG_REASON}" in text  # the whole reason, wrapped
        await pilot.press("escape")
        await shown(pilot, JobDetailScreen, "the rows again")
        assert view.table.cursor_key == "4"

        view.table.move_cursor(row=0)  # a found row: codes with their meanings, amounts, dates
        await open_with(pilot, "enter", RowScreen, "the row's detail")
        for expected in ("F1  Finalized/Payment", "65  Claim/line has been paid", "1,250.00", "980.40",
                         "2025-09-12", "window — found in the date range searched", "S••• S•••", "••/••/2002",
                         "••••51"):
            await on_screen(pilot, expected)
        assert "SKYLER" not in screen_text(app) and "0490705351" not in screen_text(app)
        await pilot.press("ctrl+r")  # audited, and the job's rows are revealed too
        await on_screen(pilot, "SKYLER SMITH")
        await on_screen(pilot, "07/26/2002")
        assert view.revealed
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "SKYLER" not in screen_text(app), what="masked again")
        assert not view.revealed
        await pilot.press("escape")
        await shown(pilot, JobDetailScreen, "the rows again")
    reveal = [a for a in audit_page(sqlite_db) if a.action == "reveal"]
    assert [(a.target, a.outcome) for a in reveal] == [(f"job {job_id}", "ok")]


async def test_find_a_claim_number_beyond_the_loaded_window(make_app: AppFactory, sqlite_db: Database) -> None:
    job_id = many_rows(sqlite_db, 1000)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_detail(pilot, job_id)
        table = view.table
        assert "522" not in table.cells and table.more_after
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input), what="the find field")
        field = app.focused
        assert isinstance(field, Input)

        async def find(text: str) -> None:
            field.value = text
            await pilot.press("enter")

        await find("fg00000521")  # case does not matter
        await wait_for(pilot, lambda: table.cursor_key == "522", what="the row of that claim")
        assert table.more_before and table.more_after  # a window around it, fetched from the database
        await on_screen(pilot, "found row 522")
        await find("FG0000001")
        await wait_for(pilot, lambda: table.cursor_key == "11", what="the first claim holding it")
        await pilot.press("enter")  # the same text again: the next row holding it
        await wait_for(pilot, lambda: table.cursor_key == "12", what="the next one")
        await find("750")  # a row number
        await wait_for(pilot, lambda: table.cursor_key == "750", what="row 750")
        await find("nothing")
        await on_screen(pilot, "no row matches 'nothing'")
        assert table.cursor_key == "750"
        await pilot.press("escape")  # closes the find bar; the outcome filter is still at hand
        await wait_for(pilot, lambda: app.focused is table, what="the rows focused")
        await open_with(pilot, "o", Picker, "the outcome picker")
        await pilot.press("escape")
        view.set_outcome("invalid")  # a search keeps to the outcome shown
        await wait_for(pilot, lambda: not view._reload and table.cursor_key == "4", what="invalid rows")
        view.find("FG00000921")  # row 922 is not invalid
        await on_screen(pilot, "no row matches 'FG00000921'")
        view.find("FG00000920")
        await wait_for(pilot, lambda: table.cursor_key == "921", what="an invalid row")


async def test_end_and_home_reach_the_true_last_and_first_rows(make_app: AppFactory, sqlite_db: Database) -> None:
    job_id = many_rows(sqlite_db, 5000)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_detail(pilot, job_id)
        table = view.table
        started = time.monotonic()
        await pilot.press("end")
        await wait_for(pilot, lambda: table.cursor_key == "5000", what="the last row", timeout=2)
        assert time.monotonic() - started < 2
        assert len(table.order) <= MAX_ROWS and table.more_before and not table.more_after
        await on_screen(pilot, "row 5,000 · 5,000 rows")
        await pilot.press("home")
        await wait_for(pilot, lambda: table.cursor_key == "1", what="the first row", timeout=2)
        assert not table.more_before and table.more_after
