"""SVG snapshots of the console at 80×24 and 160×48, with fixed data and a fixed clock (no
spinner, no pulse, no cursor blink). Update with `--snapshot-update` after reading the diff
report."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import actions
from console.app.audit_view import AuditView
from console.app.claims_view import ClaimsView
from console.app.confirm import ConfirmDialog
from console.app.followup_view import FollowupView
from console.app.health_view import HealthView
from console.app.help import HelpScreen
from console.app.job_detail import JobDetailScreen, JobDetailView
from console.app.prompt import PathPrompt
from console.app.row_detail import RowScreen
from console.app.schedule_form import SchedulePrompt
from console.app.stats_view import StatsView
from console.app.task_history import RunHistoryScreen, RunHistoryView
from console.app.tasks_view import SchedulersView
from console.app.upload import UploadForm
from engine import stats as statslib
from engine.claim_lookup import ClaimLookup, check_request
from engine.db import Database
from engine.results import ClaimResult
from engine.tasks.registry import TASKS
from tests.console.conftest import AppFactory, wait_for
from tests.console.data import (
    seed_audit,
    seed_followup,
    seed_health,
    seed_jobs,
    seed_logs,
    seed_metrics,
    seed_tasks,
)
from tests.console.screens import shown

SnapCompare = Callable[..., bool]
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


async def settled(pilot: Pilot) -> None:
    """The first data is on screen: jobs, header status, and the footer."""
    app = pilot.app

    def jobs_loaded() -> bool:
        try:
            view = app.jobs_view
        except NoMatches:  # not composed yet
            return False
        return view.total is not None and not view._reload

    await wait_for(pilot, jobs_loaded, what="jobs")
    await wait_for(pilot, lambda: app.header_state.site is not None, what="the header status")
    await pilot.pause()


def scenario(*steps: Callable[[Pilot], object]) -> Callable[[Pilot], object]:
    async def run(pilot: Pilot) -> None:
        await settled(pilot)
        for step in steps:
            result = step(pilot)
            if result is not None:
                await result
        await pilot.pause()

    return run


async def select_job(pilot: Pilot, job_id: int) -> None:
    table = pilot.app.jobs_view.table
    table.move_cursor(row=table.order.index(str(job_id)))
    await pilot.pause()


async def press(pilot: Pilot, *keys: str) -> None:
    await pilot.press(*keys)


@pytest.fixture
def seeded(sqlite_db: Database) -> dict[str, int]:
    ids = seed_jobs(sqlite_db)
    seed_logs(sqlite_db)
    return ids


@pytest.mark.parametrize("size", SIZES)
def test_jobs(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=scenario())


@pytest.mark.parametrize("size", SIZES)
def test_job_detail(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def open_detail(pilot: Pilot) -> None:
        await select_job(pilot, seeded["completed"])
        await pilot.press("enter")
        app = pilot.app
        await shown(pilot, JobDetailScreen, "the detail")
        view = app.screen.query_one(JobDetailView)
        await wait_for(pilot, lambda: view.job is not None and len(view.table.order) == 5, what="the rows")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_detail))


@pytest.mark.parametrize("size", SIZES)
def test_upload_form(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def open_form(pilot: Pilot) -> None:
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, UploadForm), what="the form")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_form))


@pytest.mark.parametrize("size", SIZES)
def test_confirm_cancel(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def ask(pilot: Pilot) -> None:
        await select_job(pilot, seeded["processing"])
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="the dialog")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(ask))


@pytest.mark.parametrize("size", SIZES)
def test_logs(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def open_logs(pilot: Pilot) -> None:
        await pilot.press("2")
        view = pilot.app.logs_view
        await wait_for(pilot, lambda: len(view.pane.entries) == 12, what="the log lines")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_logs))


# ---- part 2 ----


@pytest.fixture
def fixed_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.stats.collect as it is, but with the figures of the machine (database file size,
    disk space) fixed, so that the snapshot does not depend on where it runs."""
    real = statslib.collect

    def collect(*args: object, **kwargs: object) -> statslib.Stats:
        figures = real(*args, **kwargs)  # type: ignore[arg-type]
        return dataclasses.replace(
            figures, database={"backend": "sqlite", "size_bytes": 48_234_496, "wal_bytes": 4_194_304},
            disk_free_bytes=23_622_320_128,
        )

    monkeypatch.setattr(statslib, "collect", collect)


async def show_tab(pilot: Pilot, key: str, ready: Callable[[], bool]) -> None:
    await pilot.press(key)
    await wait_for(pilot, ready, what=f"tab {key}")


@pytest.mark.parametrize("size", SIZES)
def test_stats(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    fixed_stats: None, size: tuple[int, int],
) -> None:
    seed_metrics(sqlite_db)

    async def open_stats(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(StatsView)
        await show_tab(pilot, "3", lambda: view.stats is not None)

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_stats))


@pytest.mark.parametrize("size", SIZES)
def test_schedulers(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    size: tuple[int, int],
) -> None:
    seed_tasks(sqlite_db)

    async def open_tasks(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(SchedulersView)
        await show_tab(pilot, "4", lambda: len(view.table.order) == len(TASKS))
        view.select("cleanup_stuck_jobs")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_tasks))


@pytest.mark.parametrize("size", SIZES)
def test_run_history(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    size: tuple[int, int],
) -> None:
    runs = seed_tasks(sqlite_db)

    async def open_history(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(SchedulersView)
        await show_tab(pilot, "4", lambda: len(view.table.order) == len(TASKS))
        view.select("cleanup_stuck_jobs")
        await pilot.press("enter")
        app = pilot.app
        await shown(pilot, RunHistoryScreen, "the history")
        history = app.screen.query_one(RunHistoryView)
        await wait_for(pilot, lambda: history.shown_run == runs["stuck"], what="the run's lines")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_history))


@pytest.mark.parametrize("size", SIZES[:1])
def test_schedule_form(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    size: tuple[int, int],
) -> None:
    seed_tasks(sqlite_db)

    async def open_form(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(SchedulersView)
        await show_tab(pilot, "4", lambda: len(view.table.order) == len(TASKS))
        view.select("cleanup_stuck_jobs")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SchedulePrompt), what="the form")
        pilot.app.screen.query_one("#schedule-input", Input).value = "every 15 parsecs"

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_form))


@pytest.mark.parametrize("size", SIZES)
def test_health(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    size: tuple[int, int],
) -> None:
    seed_health(sqlite_db)

    async def open_health(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(HealthView)
        await show_tab(pilot, "5", lambda: len(view.alerts_table.order) == 4)

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_health))


@pytest.mark.parametrize("size", SIZES)
def test_claims(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    def lookup_claim(payer: object, claim_number: str, *, cancel: object = None, window_limit: object = None,
                     **kwargs: object) -> ClaimLookup:
        """The payer's answer for FG53171076 (payer-api.md's example), with a fixed cost."""
        request = check_request(claim_number, **kwargs)  # type: ignore[arg-type]
        result = ClaimResult(
            status="Finalized", status_class="finalized", success=True, patient_first_name="SKYLER",
            patient_last_name="SMITH", total_charged=Decimal("1500.00"), total_paid=Decimal("1200.00"),
            allowed_amount=Decimal("1260.00"), patient_responsibility=Decimal("60.00"),
            processed_date=date(2025, 5, 19), status_category="F1", status_code="65", check_number="EFT7732019",
            first_service_date=date(2025, 5, 1), last_service_date=date(2025, 5, 2), matched_by="window",
        )
        return ClaimLookup(request, result, payer_calls=3, seconds=0.4)

    monkeypatch.setattr(actions, "lookup_claim", lookup_claim)

    async def look_up(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(ClaimsView)
        await show_tab(pilot, "6", lambda: pilot.app.focused is view.query_one("#claims-result-box"))
        await pilot.press("i")
        await pilot.press(*"FG53171076")
        view.query_one("#claims-start", Input).value = "2025-01-01"
        view.query_one("#claims-end", Input).value = "2025-12-31"
        await pilot.press("ctrl+l")  # ask the payer now
        await wait_for(pilot, lambda: view.lookup is not None, what="the result")

    app = make_app(payer_url="https://payer.example.com")
    assert snap_compare(app, terminal_size=size, run_before=scenario(look_up))


@pytest.mark.parametrize("size", SIZES)
def test_audit(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    size: tuple[int, int],
) -> None:
    seed_audit(sqlite_db)

    async def open_audit(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(AuditView)
        await show_tab(pilot, "7", lambda: len(view.table.order) == 8)

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_audit))


# ---- issue 14: the row detail, the export dialog, help; issue 16: the Follow-up tab ----


@pytest.mark.parametrize("size", SIZES)
def test_row_detail(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def open_row(pilot: Pilot) -> None:
        await select_job(pilot, seeded["completed"])
        await pilot.press("enter")
        await shown(pilot, JobDetailScreen, "the detail")
        view = pilot.app.screen.query_one(JobDetailView)
        await wait_for(pilot, lambda: view.job is not None and len(view.table.order) == 5, what="the rows")
        await pilot.press("enter")  # the first row: FG53171076, found
        await shown(pilot, RowScreen, "the row")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_row))


@pytest.mark.parametrize("size", SIZES)
def test_export_dialog(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def ask_where(pilot: Pilot) -> None:
        await select_job(pilot, seeded["completed"])
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PathPrompt), what="the export dialog")
        # the default lies under the test's own home: a fixed path keeps the picture the same
        pilot.app.screen.query_one("#prompt-input", Input).value = "/home/ops/exports/original-basic.results.csv"

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(ask_where))


@pytest.mark.parametrize("size", SIZES)
def test_help(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], size: tuple[int, int]
) -> None:
    async def open_help(pilot: Pilot) -> None:
        await pilot.press("question_mark")
        await shown(pilot, HelpScreen, "help")

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_help))


@pytest.mark.parametrize("size", SIZES)
def test_followup(
    snap_compare: SnapCompare, make_app: AppFactory, seeded: dict[str, int], sqlite_db: Database,
    size: tuple[int, int],
) -> None:
    seed_followup(sqlite_db)

    async def open_followup(pilot: Pilot) -> None:
        view = pilot.app.main.query_one(FollowupView)
        await show_tab(pilot, "8", lambda: len(view.table.order) > 0)

    assert snap_compare(make_app(), terminal_size=size, run_before=scenario(open_followup))
