"""console.app.render: untrusted text becomes literal, safe Text; cells and durations."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from rich.text import Text
from textual.color import Color

from console.app import render
from console.app.tone import tone
from tests.console.conftest import AppFactory
from tests.console.data import NOW
from tests.fixtures.csv_cases import HOSTILE_STRINGS


@pytest.mark.parametrize("value", HOSTILE_STRINGS)
def test_untrusted_is_literal_and_has_no_control_characters(value: str) -> None:
    text = render.untrusted(value)
    assert isinstance(text, Text) and not text.spans
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text.plain)
    assert text.plain.replace("␛", "\x1b").replace("␇", "\x07") == value


def test_untrusted_limits_and_newlines() -> None:
    assert render.untrusted(None).plain == ""
    assert render.untrusted("x" * 50, max_len=10).plain == "x" * 9 + "…"
    assert render.untrusted("a\nb").plain == "a␊b"
    assert render.untrusted("a\r\nb", keep_newlines=True).plain == "a\nb"


def test_masked_until_revealed() -> None:
    assert render.masked("SKYLER", "name", revealed=False).plain == "S•••"
    assert render.masked(date(2002, 7, 26), "dob", revealed=False).plain == "••/••/2002"
    assert render.masked("0490705351", "member_id", revealed=False).plain == "••••51"
    assert render.masked(date(2002, 7, 26), "dob", revealed=True).plain == "07/26/2002"
    assert render.masked("\x1b[2JBob", "name", revealed=True).plain == "␛[2JBob"
    assert render.masked("\x1b[2JBob", "name", revealed=False).plain == "␛•••"


def test_status_cells() -> None:
    assert render.status_cell("COMPLETED").plain == "✓ COMPLETED"
    assert render.status_cell("PROCESSING", frame=3, animate=False).plain == "⠋ PROCESSING"
    assert render.status_cell("PROCESSING", frame=3, animate=True).plain == "⠸ PROCESSING"
    pulse = {str(render.status_cell("CANCELLING", frame=f, animate=True).spans[0].style) for f in (0, 1)}
    assert pulse == {"tone.warn.strong", "tone.warn"}


def test_progress_and_numbers() -> None:
    assert render.progress_bar(0, 0, "PENDING").plain == "··········   0%"
    assert render.progress_bar(5, 10, "PROCESSING").plain == "█████·····  50%"
    assert render.progress_bar(10, 10, "COMPLETED").plain == "██████████ 100%"
    assert render.progress_bar(1, 20, "PROCESSING").plain.startswith("▌·")  # half a cell
    assert [render.duration(s) for s in (None, 5, 65, 3700, 200_000)] == ["—", "5s", "1m05s", "1h01m", "2d07h"]
    assert [render.rate(r) for r in (None, 2.5, 150, 2500)] == ["—", "2.5", "150", "2.5k"]
    assert render.when(NOW, ZoneInfo("America/New_York")) == "10-01 08:00"
    assert render.when(None, ZoneInfo("UTC")) == "—"
    assert render.money(None) == "" and render.money(1234.5) == "1,234.50"


async def test_the_tones_are_the_themes_colours(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)):
        view = app.jobs_view
        variables = app.get_css_variables()
        for name, variable in (("error", "text-error"), ("warning", "text-warning"), ("ok", "text-success")):
            style, named = tone(view, name), app.console.get_style(f"tone.{name.replace('warning', 'warn')}.strong")
            assert style.color == Color.parse(variables[variable]).rich_color == named.color, name
            assert style.bold and named.bold
