"""Tables that fit the terminal: the columns each list keeps at 80 columns and shows at 160,
text cut with "…" (paths keeping their file name), live relayout on resize, and the job
detail's header in four lines at 80×24."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text

from console.app.audit_view import AuditView
from console.app.columns import Column, fit_columns, shorten_path
from console.app.jobs_view import JobsView
from engine.actions import Operator
from engine.audit import record
from engine.db import Database
from tests.console.conftest import AppFactory, on_screen, screen_text, wait_for
from tests.console.data import NOW, add_job, add_rows, seed_audit, seed_jobs
from tests.console.test_detail import open_detail

LONG_REASON = ("service date 2025-13-01 is not a date; the member id is missing; the claim number has 31 "
               "characters (at most 30) — fix the file and submit it again")
LONG_CLAIM = "FG00000003-SUFFIX-LONG-CLAIM-NO"


def _col(key: str, width: int, priority: int = 0, stretch: int = 0) -> Column[object]:
    return Column(key, key, width, lambda record, at: Text(""), stretch=stretch, priority=priority)


def test_fit_columns_by_priority_and_slack() -> None:
    columns = [_col("id", 4), _col("name", 10, priority=1, stretch=1), _col("a", 6), _col("b", 6, priority=2)]
    assert fit_columns(columns, 80) == {"id": 4, "name": 10 + 80 - 34, "a": 6, "b": 6}  # name takes the slack
    assert fit_columns(columns, 28) == {"id": 4, "name": 10 + 2, "a": 6}  # b goes first
    assert fit_columns(columns, 14) == {"id": 4, "a": 6 + 0}  # then name; essential ones stay
    assert fit_columns([_col("x", 3), _col("y", 3, stretch=1)], 20) == {"x": 3, "y": 3 + 10}
    assert fit_columns([_col("x", 3), _col("y", 3)], 20) == {"x": 3, "y": 3}  # none stretches: left blank
    assert fit_columns([_col("x", 4), _col("y", 20)], 16) == {"x": 4, "y": 8}  # essential: squeezed, shown
    assert fit_columns([_col("x", 4), _col("y", 20)], 12) == {"x": 4}  # too few cells left: hidden


def test_paths_keep_their_file_name() -> None:
    path = "/home/ops/claimsops/samples/original-basic.csv"
    assert shorten_path(path, 60) == path
    assert shorten_path(path, 30) == "…/samples/original-basic.csv"
    assert shorten_path(path, 22) == "…/original-basic.csv"
    assert shorten_path(path, 12) == "original-ba…"
    assert shorten_path("job 3", 4) == "job…"


def table_lines(app: object, first_label: str) -> list[str]:
    """The lines of the screen from a table's header down."""
    lines = screen_text(app).splitlines()  # type: ignore[arg-type]
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_label])
    return lines[start:]


async def test_jobs_columns_at_80_and_160(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    long_name = "original-enhanced.csv"
    add_job(sqlite_db, file_name=long_name, status="COMPLETED", total_rows=12_000, done_rows=12_000,
            found_rows=11_000, error_rows=12, invalid_rows=340, started_at=NOW - timedelta(minutes=20),
            finished_at=NOW - timedelta(minutes=5))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(JobsView)
        await wait_for(pilot, lambda: len(view.table.order) == 8, what="the jobs")
        table = view.table
        assert table.shown_keys == ["id", "status", "file", "progress", "found", "err_inv", "eta"]
        header = table_lines(app, "ID")[0]
        for label in ("ID", "Status", "File", "Progress", "Found", "Err/Inv", "ETA"):
            assert label in header, label
        assert "Rows/s" not in header and "Done/Total" not in header
        await on_screen(pilot, "11,000")  # a count is never cut ("1," was)
        await on_screen(pilot, "12/340")
        shown_name = next(line for line in table_lines(app, "ID") if "original-e" in line)
        cut = shown_name.split()[3]
        assert cut.endswith("…") and long_name.startswith(cut[:-1]), shown_name
        await on_screen(pilot, "job 1 of 8")  # the cursor's place in the list, said as such

        await pilot.resize_terminal(160, 48)  # live relayout
        await wait_for(pilot, lambda: "by" in table.shown_keys, what="the wide layout")
        assert table.shown_keys == ["id", "status", "file", "progress", "done", "found", "not_found", "err_inv",
                                    "rate", "eta", "by", "started", "duration"]
        await on_screen(pilot, f" {long_name} ")  # whole when there is room (it was cut at 20)
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: "by" not in table.shown_keys, what="the narrow layout again")
        assert table.cursor_key == table.order[0]


async def test_job_detail_columns_and_header_at_80x24(make_app: AppFactory, sqlite_db: Database) -> None:
    ids = seed_jobs(sqlite_db)
    path = "/srv/claims/incoming/2025-10/from-the-billing-office/original-enhanced.csv"
    job_id = add_job(sqlite_db, file_name=path, status="COMPLETED",
                     total_rows=3, done_rows=3, invalid_rows=1, warnings=["a warning", "another"],
                     cancel_requested_at=NOW, cancel_requested_by="alice", failure_reason="it failed")
    add_rows(sqlite_db, job_id, [
        {"claim_number": "FG1", "status": "Acknowledged", "status_class": "pending", "success": True},
        {"claim_number": LONG_CLAIM, "status": "Invalid", "status_class": "invalid", "success": False,
         "invalid_reason": LONG_REASON},
        {"claim_number": "FG3", "status": "Finalized", "status_class": "finalized", "success": True,
         "matched_by": "widened_window"},
    ])
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_detail(pilot, job_id)
        summary = app.screen.query_one("#detail-summary")
        await wait_for(pilot, lambda: "Job " in screen_text(app), what="the header")
        assert summary.outer_size.height <= 4
        assert view.table.region.y <= 1 + 4 + 1  # the header bar, four lines, the rows' title line
        title = next(line for line in screen_text(app).splitlines() if line.startswith(" Job "))
        assert "…/" in title and title.rstrip().endswith("/original-enhanced.csv")  # the file name stays
        assert view.table.shown_keys == ["row", "claim", "status", "message"]
        lines = table_lines(app, "Row")
        assert "Claim #" in lines[0] and "Result" in lines[0] and "Message" in lines[0]
        assert "Acknowledged" in lines[1]  # whole (it was "Acknowledge")
        invalid = lines[2]
        assert f"{LONG_CLAIM[:12]}" in invalid and invalid.split()[1].endswith("…")  # a claim number: cut visibly
        assert invalid.rstrip(" ▁▂▃▄▅▆▇█▎▊").endswith("…")  # the reason: cut visibly

        await pilot.resize_terminal(200, 40)
        await wait_for(pilot, lambda: "matched" in view.table.shown_keys, what="the wide layout")
        await on_screen(pilot, "widened_window")  # whole (it was "widened_wi")
        await on_screen(pilot, LONG_REASON[:45])  # the message takes the slack
        await on_screen(pilot, path)
    assert ids  # the other jobs are there too: the detail shows this one


async def test_audit_target_readable_at_80(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_audit(sqlite_db)
    record(sqlite_db, Operator("alice", "10.0.0.5", True), "submit",
           "/home/alice/claims/incoming/2025/samples/original-basic.csv", "ok", "9")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        view = app.query_one(AuditView)
        await wait_for(pilot, lambda: view.loaded and len(view.table.order) == 9, what="the audit entries")
        assert view.table.shown_keys == ["at", "user", "action", "outcome", "target"]
        target = view.table.columns[next(k for k in view.table.columns if k.value == "target")]
        assert target.width >= 18
        await on_screen(pilot, "…/original-basic.csv")  # cut from the left: the file name stays
        await on_screen(pilot, "claim FG53171076")
        await pilot.resize_terminal(160, 48)
        await wait_for(pilot, lambda: "detail" in view.table.shown_keys, what="the wide layout")
        await on_screen(pilot, "…/samples/original-basic.csv")  # more of the path as the column widens
