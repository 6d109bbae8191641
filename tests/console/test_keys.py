"""Keys that are the same everywhere, the keymap, the read-only console's keys, themes and NO_COLOR."""

from __future__ import annotations

from collections import Counter

import pytest
from rich.style import Style
from textual.command import CommandPalette
from textual.filter import Monochrome, NoColor
from textual.widgets import Input, Static, TabbedContent

from console.app.help import HelpScreen, read_only_note
from console.app.keys import OPERATOR_ACTION_IDS, declared_bindings
from console.app.themes import THEMES
from console.app.tone import PALETTE
from engine.actions import Operator
from engine.config import ConfigError
from engine.db import Database
from tests.console.conftest import (
    READ_ONLY,
    AppFactory,
    on_screen,
    screen_segments,
    screen_text,
    wait_for,
)
from tests.console.data import seed_jobs
from tests.console.screens import open_with

NOT_AN_OPERATOR = Operator("carol", "local", False, "read-only: carol is not an operator",
                           "an admin can grant it: claimsops operators add carol")


def active_tab(app: object) -> str:
    return str(app.main.query_one("#tabs", TabbedContent).active)  # type: ignore[attr-defined]


def footer_actions(app: object) -> set[str]:
    return {item.binding.description for item in app.screen.active_bindings.values() if item.binding.show}  # type: ignore[attr-defined]


def test_every_binding_has_a_unique_id() -> None:
    entries = list(declared_bindings())
    assert len(entries) > 40  # the walk found our classes
    assert [e for e in entries if not e.id] == []
    twice = [binding_id for binding_id, n in Counter(e.id for e in entries).items() if n > 1]
    assert twice == []
    assert {e.id for e in entries} >= OPERATOR_ACTION_IDS


async def test_alt_digits_switch_tabs_from_inside_a_form_while_digits_type(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        await wait_for(pilot, lambda: active_tab(app) == "claims", what="the Claims tab")
        field = app.main.query_one("#claims-number", Input)
        field.focus()
        await pilot.press("F", "G", "1", "2")
        assert field.value == "FG12" and active_tab(app) == "claims"  # digits are typed in a form
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: active_tab(app) == "logs", what="the Logs tab")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input), what="the logs filter")
        await pilot.press("7")
        assert active_tab(app) == "logs" and app.focused.value == "7"  # type: ignore[union-attr]
        await pilot.press("alt+7")
        await wait_for(pilot, lambda: active_tab(app) == "audit", what="the Audit tab")


@pytest.mark.parametrize("key", ["ctrl+p", "colon"])
async def test_ctrl_p_and_colon_open_the_palette_with_textuals_own_commands(make_app: AppFactory, key: str) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await on_screen(pilot, "no jobs")
        names = [command.title for command in app.get_system_commands(app.screen)]
        for expected in ("Upload", "Go to Logs", "Refresh now", "Theme", "Keys", "Screenshot", "Quit"):
            assert expected in names, expected
        assert names.count("Quit") == 1
        await open_with(pilot, key, CommandPalette, "the palette")
        await pilot.press(*"them")
        await on_screen(pilot, "Change the current theme")


async def test_ctrl_p_opens_the_palette_from_inside_a_form(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        await wait_for(pilot, lambda: active_tab(app) == "claims", what="the Claims tab")
        app.main.query_one("#claims-number", Input).focus()
        await pilot.press("colon")
        assert app.main.query_one("#claims-number", Input).value == ":"  # typed, not the palette
        await open_with(pilot, "ctrl+p", CommandPalette, "the palette")


async def test_a_keymap_from_the_configuration_rebinds_keys(make_app: AppFactory) -> None:
    app = make_app(keys=(("app.help", "f1"), ("tab.logs", "ctrl+l,L")))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        await open_with(pilot, "f1", HelpScreen, "help on f1")
        assert "f1" in screen_text(app)  # help shows the key as mapped
        await pilot.press("escape")
        await pilot.press("L")
        await wait_for(pilot, lambda: active_tab(app) == "logs", what="the Logs tab on L")
        await pilot.press("1", "ctrl+l")
        await wait_for(pilot, lambda: active_tab(app) == "logs", what="the Logs tab on ctrl+l")


def test_a_keymap_naming_an_unknown_binding_is_refused(make_app: AppFactory) -> None:
    with pytest.raises(ConfigError, match="no key binding is called 'jobs.uplod'"):
        make_app(keys=(("jobs.uplod", "U"),))


async def test_read_only_console_hides_action_keys_and_help_says_why(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app(operator=NOT_AN_OPERATOR)
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, "running.csv")
        shown = footer_actions(app)
        assert {"Filter", "Logs", "Help", "Quit"} <= shown
        assert not shown & {"Upload", "Cancel", "Retry", "Export"}
        names = [command.title for command in app.get_system_commands(app.screen)]
        assert "Filter" in names and "Upload" not in names and "Cancel" not in names
        await open_with(pilot, "question_mark", HelpScreen, "help")
        await on_screen(pilot, "Jobs: keys")
        note = str(app.screen.query_one("#help-read-only", Static).content)
        assert "read-only: carol is not an operator; an admin can grant it: claimsops operators add carol" in note
        text = screen_text(app)
        for greyed in ("Upload — read-only", "Cancel — read-only", "Retry — read-only", "Export — read-only"):
            assert greyed in text, greyed
        upload_line = next(line for line in screen_segments(app) if "Upload — read-only" in "".join(s.text for s in line))
        off = app.console.get_style("tone.off")
        assert any(s.style and s.style.color == off.color for s in upload_line if "Upload" in s.text)


async def test_an_operator_sees_the_action_keys_and_no_read_only_note(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, "running.csv")
        assert {"Upload", "Cancel", "Retry", "Export"} <= footer_actions(app)
        await open_with(pilot, "question_mark", HelpScreen, "help")
        await on_screen(pilot, "Jobs: keys")
        assert "read-only" not in screen_text(app)


def test_a_read_only_session_says_why_in_help() -> None:
    note = read_only_note(READ_ONLY)
    assert note is not None and note.plain.startswith("this session is read-only (--read-only).")
    assert read_only_note(Operator("alice", "local", True)) is None


def _colour_of(app: object, text: str) -> object:
    for line in screen_segments(app):  # type: ignore[arg-type]
        for segment in line:
            if text in segment.text and segment.style is not None and segment.style.color is not None:
                return segment.style.color
    raise AssertionError(f"{text!r} is not on screen in colour")


async def test_a_theme_change_recolours_the_console(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, "COMPLETED")
        assert app.theme == "claimsops-dark"
        before = app.console.get_style("tone.ok.strong")
        completed = _colour_of(app, "COMPLETED")
        app.theme = THEMES["light"].name
        await wait_for(pilot, lambda: app.console.get_style("tone.ok.strong") != before, what="the new palette")
        await wait_for(pilot, lambda: _colour_of(app, "COMPLETED") != completed, what="the recoloured status")
        assert app.console.get_style("tone.ok.strong").bold


async def test_the_theme_setting_picks_the_theme(make_app: AppFactory) -> None:
    app = make_app(theme="high-contrast")
    async with app.run_test(size=(100, 30)):
        assert app.theme == "claimsops-high-contrast" and app.current_theme.background == "#000000"
        for name in PALETTE:
            app.console.get_style(name)  # every named style resolves


async def test_no_color_leaves_our_styles_without_colour(
    make_app: AppFactory, sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    seed_jobs(sqlite_db)
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await on_screen(pilot, "COMPLETED")
        for name in PALETTE:
            style: Style = app.console.get_style(name)
            assert style.color is None and style.bgcolor is None, name
        assert app.console.get_style("tone.error.strong").bold
        assert any(isinstance(f, Monochrome | NoColor) for f in app.get_line_filters())
