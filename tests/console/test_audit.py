"""Audit (tab 7): who did what, when, from where, with what outcome; filtered by user, action
and text; paged from the database; and a row for every action taken in the console, live."""

from __future__ import annotations

from textual.pilot import Pilot

from console.app.audit_view import AuditView
from console.app.detail_screen import RecordScreen
from console.app.prompt import Picker
from console.app.tasks_view import SchedulersView
from engine.actions import Operator
from engine.audit import AuditQuery, audit_page, record
from engine.db import Database
from engine.models import AuditEntry
from engine.tasks import registry
from tests.console.conftest import (
    AppFactory,
    notified,
    on_screen,
    screen_segments,
    screen_text,
    wait_for,
)
from tests.console.data import NOW, seed_audit, seed_tasks
from tests.console.screens import open_with


async def open_audit(pilot: Pilot) -> AuditView:
    await pilot.press("7")
    view = pilot.app.main.query_one(AuditView)
    await wait_for(pilot, lambda: view.loaded and not view._reload, what="the audit entries")
    return view


async def test_who_what_when_where_outcome_filtered_and_safe(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_audit(sqlite_db)
    app = make_app()
    async with app.run_test(size=(200, 40)) as pilot:
        view = await open_audit(pilot)
        table = view.table
        assert table.order == [str(n) for n in range(8, 0, -1)]
        row = [table.get_cell("3", c).plain for c in ("at", "user", "from", "action", "outcome", "target", "detail")]
        assert row == ["10-01 11:30:00", "bob", "10.0.0.9", "cancel", "refused", "job 6",
                       "this session is read-only (--read-only)"]
        assert table.get_cell("8", "user").plain == "[b]mallory[/b]"
        assert table.get_cell("8", "from").plain == "␛]52;c;x␇"
        assert not any("\x1b" in seg.text for line in screen_segments(app) for seg in line)
        await open_with(pilot, "u", Picker, "the user picker")
        await pilot.press("down", "down", "enter")  # all users, [b]mallory[/b], alice
        await wait_for(pilot, lambda: view.flt.user == "alice" and not view._reload, what="alice's entries")
        assert len(table.order) == 5
        await open_with(pilot, "a", Picker, "the action picker")
        app.screen.dismiss("cancel")
        await wait_for(pilot, lambda: view.flt.action == "cancel" and not view._reload, what="alice's cancels")
        assert table.order == ["2"]
        await on_screen(pilot, "filter: user alice action cancel")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not view.flt.active and not view._reload, what="no filter")
        await pilot.press("slash")
        await pilot.press(*"cleanup")
        await wait_for(pilot, lambda: view.flt.text == "cleanup" and not view._reload, what="the text filter")
        assert table.order == ["6", "5"]
        await pilot.press("enter")
        assert app.focused is table


async def test_paged_from_the_database(make_app: AppFactory, sqlite_db: Database) -> None:
    operator = Operator("ops", "10.0.0.1", True)
    for n in range(650):
        record(sqlite_db, operator, "export", f"job {n}", "ok", "")
    first_id = audit_page(sqlite_db, AuditQuery(), before_id=None, limit=650)[-1].id
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_audit(pilot)
        assert len(view.table.order) == 200 and view.table.more_after
        view.table.move_cursor(row=199)  # near the window's edge: the next page comes
        await wait_for(pilot, lambda: len(view.table.order) == 400, what="the next page")
        await on_screen(pilot, "entry 200 of 400+, newest first")
        await pilot.press("end")  # the true end: the oldest entry, fetched from there
        await wait_for(pilot, lambda: view.table.cursor_key == str(first_id), what="the oldest entry")
        assert not view.table.more_after and view.table.more_before
        await on_screen(pilot, "loaded (newer above)")
        await pilot.press("home")
        await wait_for(pilot, lambda: view.table.cursor_key == str(first_id + 649), what="the newest entry")
        assert not view.table.more_before


async def test_an_audit_row_for_each_action_appears_live(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_tasks(sqlite_db)
    app = make_app(refresh=0.2)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await open_audit(pilot)
        assert view.table.order == []
        await pilot.press("4")
        tasks_view = app.main.query_one(SchedulersView)
        await wait_for(pilot, lambda: len(tasks_view.table.order) == len(registry.TASKS), what="the tasks")
        tasks_view.select("log_retention")
        await pilot.press("p")
        await notified(pilot, "log_retention paused")
        await pilot.press("p")
        await notified(pilot, "log_retention resumed")
        await pilot.press("7")
        await wait_for(pilot, lambda: len(view.table.order) == 2, what="two audit rows")
        assert [view.table.get_cell(k, "action").plain for k in view.table.order] == ["task.resume", "task.pause"]
        assert view.table.get_cell(view.table.order[0], "user").plain == "alice"
        assert view.table.get_cell(view.table.order[0], "from").plain == "10.0.0.5"
        # an action elsewhere (the CLI, another console) shows up while the tab is open
        record(sqlite_db, Operator("carol", "10.0.0.7", True), "cancel", "job 9", "ok", "CANCELLING")
        await wait_for(pilot, lambda: len(view.table.order) == 3, what="the new row")
        assert view.table.get_cell(view.table.order[0], "user").plain == "carol"


async def test_enter_opens_the_whole_entry_and_esc_goes_back(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_audit(sqlite_db)
    detail = "bad schedule 'every 15 parsecs': " + "the spec was read word by word; " * 8 + "END-OF-DETAIL"
    with sqlite_db.write() as session:
        session.add(AuditEntry(at=NOW, user="alice", client_addr="10.0.0.5", action="task.schedule",
                               target="/srv/claims/in/2025/october/a-very-long-folder-name/original-enhanced.csv",
                               outcome="failed", detail=detail))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_audit(pilot)
        assert view.table.cursor_key == "9"
        await open_with(pilot, "enter", RecordScreen, "the entry")
        text = "".join(screen_text(app).split())  # the values wrap: read them as one string
        for expected in ("Audit entry 9", "2025-10-01 12:00:00.000 UTC", "alice", "10.0.0.5", "task.schedule",
                         "failed", "/srv/claims/in/2025/october/a-very-long-folder-name/original-enhanced.csv",
                         "the spec was read word by word; END-OF-DETAIL"):
            assert "".join(expected.split()) in text, expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, what="back on the audit")
        assert app.focused is view.table
        view.table.move_cursor(row=view.table.order.index("8"))  # the hostile entry: shown literally
        await open_with(pilot, "enter", RecordScreen, "the hostile entry")
        await on_screen(pilot, "[@click=app.quit]x[/]")
        assert not any("\x1b" in seg.text for line in screen_segments(app) for seg in line)
