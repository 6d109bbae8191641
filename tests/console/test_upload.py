"""Upload form: defaults, checks in the form, intake errors shown in the form, browsing."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, Select

from console.app.upload import SafeDirectoryTree, UploadForm
from engine.audit import audit_page
from engine.db import Database
from engine.jobs.queries import jobs_page
from tests.console.conftest import AppFactory, notified, on_screen, screen_text, wait_for
from tests.console.screens import open_with
from tests.fixtures.csv_cases import write_sample


async def open_form(pilot: Pilot) -> UploadForm:
    app = pilot.app
    await wait_for(pilot, lambda: app.jobs_view.total is not None, what="the jobs view")
    await open_with(pilot, "u", UploadForm, "the upload form")
    return app.screen


def fill(form: UploadForm, **values: str) -> None:
    for name, value in values.items():
        form.query_one(f"#upload-{name}", Input).value = value


def error_of(form: UploadForm) -> str:
    return str(form.query_one("#upload-error").render())


async def submit_and_expect(pilot: Pilot, form: UploadForm, message: str) -> None:
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: message in error_of(form), what=message)
    assert pilot.app.screen is form


async def test_defaults_and_checks_in_the_form(make_app: AppFactory, sqlite_db: Database, workdir: Path) -> None:
    write_sample(workdir, "original-basic.csv")
    (workdir / "folder").mkdir()
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_form(pilot)
        assert form.query_one("#upload-start", Input).value == "2025-07-03"  # 90 days before the clock's today
        assert form.query_one("#upload-end", Input).value == "2025-10-01"
        assert form.query_one("#upload-tin", Input).value == "123456789"
        assert form.query_one("#upload-strategy", Select).value == "auto"
        assert app.focused is form.query_one("#upload-path", Input)
        await submit_and_expect(pilot, form, "file: choose a CSV file")
        fill(form, path="missing.csv")
        await submit_and_expect(pilot, form, "missing.csv does not exist")
        fill(form, path="folder")
        await submit_and_expect(pilot, form, "is not a file")
        fill(form, path="original-basic.csv", start="2025-13-01")
        await submit_and_expect(pilot, form, "dates: '2025-13-01' is not a real date")
        fill(form, start="2025-09-01", end="2025-10-02")
        await submit_and_expect(pilot, form, "end date 2025-10-02 is in the future")
        fill(form, start="2025-09-30", end="2025-09-01")
        await submit_and_expect(pilot, form, "start date 2025-09-30 is after the end date 2025-09-01")
        fill(form, start="09/01/2025", end="9/30/2025", tin="12-345")
        await submit_and_expect(pilot, form, "TIN: 9 digits")
        assert jobs_page(sqlite_db) == []
        fill(form, tin="987-654-321")
        form.query_one("#upload-strategy", Select).value = "individual"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, UploadForm), what="the form to close")
        (job,) = jobs_page(sqlite_db)
        assert (job.start_date.isoformat(), job.end_date.isoformat(), job.tin, job.strategy) == (
            "2025-09-01", "2025-09-30", "987654321", "individual")
        assert job.submitted_by == "alice" and job.submitted_from == "10.0.0.5"
        await wait_for(pilot, lambda: app.jobs_view.table.cursor_key == str(job.id), what="the new job selected")
        await notified(pilot, f"job {job.id} submitted")


async def test_intake_errors_are_shown_in_the_form(make_app: AppFactory, sqlite_db: Database, workdir: Path) -> None:
    for name in ("empty.csv", "no-claim-column.csv", "not-a-csv.csv"):
        write_sample(workdir, name)
    hostile_name = workdir / "[@click=app.quit]x\x1b[2J.csv"
    hostile_name.write_bytes(b"")
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_form(pilot)
        for name in ("empty.csv", "no-claim-column.csv", "not-a-csv.csv"):
            fill(form, path=name)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda n=name: n in error_of(form) and "submitting" not in error_of(form),
                           what=f"the error for {name}")
            assert app.screen is form and app.is_running
        fill(form, path=hostile_name.name)  # the field shows the escape as a symbol
        assert form.query_one("#upload-path", Input).value == "[@click=app.quit]x␛[2J.csv"
        await submit_and_expect(pilot, form, "[@click=app.quit]x␛[2J.csv does not exist")
        # picked in the browser, the real file is submitted; its intake error names it safely
        await pilot.press("ctrl+o")
        tree = form.query_one(SafeDirectoryTree)
        await wait_for(pilot, lambda: len(tree.root.children) == 4, what="the listing")
        index = next(i for i, n in enumerate(tree.root.children) if "click" in n.label.plain)
        tree.move_cursor(tree.root.children[index])
        await pilot.press("enter")
        await wait_for(pilot, lambda: not tree.display, what="the pick")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "the file is empty" in error_of(form), what="the intake error")
        assert error_of(form) == "[@click=app.quit]x␛[2J.csv: the file is empty"
        await on_screen(pilot, "[@click=app.quit]x␛[2J.csv")
        assert "\x1b" not in screen_text(app)
    assert jobs_page(sqlite_db) == []
    assert {(a.action, a.outcome) for a in audit_page(sqlite_db)} == {("submit", "failed")}


async def test_browse_from_the_current_directory(make_app: AppFactory, sqlite_db: Database, workdir: Path) -> None:
    write_sample(workdir, "original-enhanced.csv")
    (workdir / "[b]odd\x1b]0;title\x07.csv").write_bytes(b"claim_number\nX1\n")
    (workdir / ".hidden.csv").write_bytes(b"claim_number\nX1\n")
    app = make_app()
    async with app.run_test(size=(100, 36)) as pilot:
        form = await open_form(pilot)
        await pilot.press("ctrl+o")
        tree = form.query_one(SafeDirectoryTree)
        await wait_for(pilot, lambda: tree.display and len(tree.root.children) == 2, what="the directory listing")
        labels = sorted(node.label.plain for node in tree.root.children)
        assert labels == ["[b]odd␛]0;title␇.csv", "original-enhanced.csv"]
        assert app.focused is tree
        index = next(i for i, n in enumerate(tree.root.children) if n.label.plain == "original-enhanced.csv")
        tree.move_cursor(tree.root.children[index])
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.query_one("#upload-path", Input).value == "original-enhanced.csv",
                       what="the picked path")
        assert not tree.display
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, UploadForm), what="the form to close")
    (job,) = jobs_page(sqlite_db)
    assert job.file_name == "original-enhanced.csv" and job.total_rows == 3


async def test_escape_closes_the_form(make_app: AppFactory, sqlite_db: Database) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_form(pilot)
        await pilot.press("ctrl+o")
        await pilot.press("escape")  # first closes the browser
        assert isinstance(app.screen, UploadForm)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, UploadForm), what="the form to close")
    assert jobs_page(sqlite_db) == []
