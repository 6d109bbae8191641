"""SVG snapshots of the console at 80×24 and 160×48, with fixed data and a fixed clock (no
spinner, no pulse, no cursor blink). Update with `--snapshot-update` after reading the diff
report."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot

from console.app.confirm import ConfirmDialog
from console.app.job_detail import JobDetailScreen, JobDetailView
from console.app.upload import UploadForm
from engine.db import Database
from tests.console.conftest import AppFactory, wait_for
from tests.console.data import seed_jobs, seed_logs

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
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen), what="the detail")
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
