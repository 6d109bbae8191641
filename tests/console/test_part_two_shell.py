"""Part 2 across the views: read-only refusals (with a message, audited), the command palette
and `?` help offering each view's actions by name."""

from __future__ import annotations

from textual.pilot import Pilot

from console.app.confirm import ConfirmDialog
from console.app.help import HelpScreen
from console.app.schedule_form import SchedulePrompt
from console.app.tasks_view import SchedulersView
from engine.audit import audit_page
from engine.db import Database
from engine.models import TaskState
from engine.tasks import registry
from tests.console.conftest import READ_ONLY, AppFactory, on_screen, wait_for
from tests.console.data import seed_tasks
from tests.console.screens import open_with, shown


async def tasks_tab(pilot: Pilot) -> SchedulersView:
    await pilot.press("4")
    view = pilot.app.main.query_one(SchedulersView)
    await wait_for(pilot, lambda: len(view.table.order) == len(registry.TASKS), what="the tasks")
    return view


async def test_read_only_every_action_is_refused_with_a_message_and_audited(
    make_app: AppFactory, sqlite_db: Database
) -> None:
    seed_tasks(sqlite_db)
    app = make_app(operator=READ_ONLY)
    async with app.run_test(size=(160, 40)) as pilot:
        view = await tasks_tab(pilot)
        view.select("cleanup_stuck_jobs")
        for key in ("r", "p", "S"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmDialog | SchedulePrompt)
        view.select("archive_old_results")  # paused: p would resume it
        await pilot.press("p")
        await pilot.press("6")
        await pilot.pause()
        await pilot.press("i")  # into the claim form
        await pilot.press(*"FG53171076")
        await pilot.press("enter")  # what is stored: a read-only session may look
        await pilot.press("ctrl+l")  # the payer: refused
        await wait_for(pilot, lambda: len(app._notifications) >= 5, what="five refusals")
        messages = [n.message for n in app._notifications]
        assert all("refused: this session is read-only" in m for m in messages), messages
        assert app.is_running
    with sqlite_db.read() as session:
        assert not session.get(TaskState, "cleanup_stuck_jobs").paused
    audit = sorted((a.action, a.target, a.outcome, a.user) for a in audit_page(sqlite_db))
    assert audit == [
        ("claim.lookup", "claim FG53171076", "refused", "bob"),
        ("task.pause", "cleanup_stuck_jobs", "refused", "bob"),
        ("task.resume", "archive_old_results", "refused", "bob"),
        ("task.run", "cleanup_stuck_jobs", "refused", "bob"),
        ("task.schedule", "cleanup_stuck_jobs", "refused", "bob"),
    ]


async def test_the_palette_and_help_offer_each_views_actions(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_tasks(sqlite_db)
    app = make_app()
    expected = {
        "4": ({"Run now", "Pause/resume", "Schedule", "History"}, {"Check now", "Look up"}),
        "5": ({"Check now", "Filter"}, {"Run now", "Ask payer"}),
        "6": ({"Edit", "Search", "Ask payer", "Reveal"}, {"Check now", "Run now"}),  # out of the form
        "7": ({"Filter", "User", "Action", "Clear filters"}, {"Run now", "Ask payer"}),
        "8": ({"Open", "Stale", "Changed", "Status", "Export", "Timeline"}, {"Run now", "Ask payer"}),
    }
    async with app.run_test(size=(160, 40)) as pilot:
        await tasks_tab(pilot)
        for key, (present, absent) in expected.items():
            await pilot.press(key)
            await pilot.pause()
            names = {command.title for command in app.get_system_commands(app.screen)}
            assert present <= names, (key, present - names)
            assert not names & absent, (key, names & absent)
            assert "Go to Jobs" in names and "Quit" in names
        # the palette runs an action by name: run now on the Schedulers tab asks first
        await pilot.press("4")
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Run now"].callback()  # what the palette does with the command it runs
        await shown(pilot, ConfirmDialog, "the run-now question")
        await pilot.press("n")
        await open_with(pilot, "question_mark", HelpScreen, "help")
        await on_screen(pilot, "Schedulers: keys")
        await on_screen(pilot, "run the selected task now (asks first)")
        await pilot.press("escape")
        await pilot.press("6")
        await pilot.pause()
        await pilot.press("i")
        await pilot.press("question_mark")  # typed into the claim number: the field has the focus
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "question_mark")  # out of the form, ? is help again
        await on_screen(pilot, "Claims: keys")
        await on_screen(pilot, "look the claim up at the payer now (audited)")
