"""'Changed since': the choices of the Follow-up view (today, the last 7 or 30 days, a typed
date) and the moment each one stands for, midnight in the site's time zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, Static

from console.app.prompt import PathPrompt, Picker
from console.app.tone import tone
from engine.dates import parse_date

TYPED = "date"
CHOICES: tuple[tuple[str, str], ...] = (
    ("today", "today"),
    ("the last 7 days", "7"),
    ("the last 30 days", "30"),
    ("since a date… (type it)", TYPED),
)


@dataclass(frozen=True)
class Since:
    """A start of the changes shown: `day` at 00:00 in the site's zone; `label` says it after
    "changed" ("today", "in the last 7 days", "since 2025-09-01")."""

    day: date
    label: str

    def moment(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.day, time(), tzinfo=tz)


def since_choice(choice: str, today: date) -> Since:
    """"today", or a number of days back ("7": today and the six days before)."""
    if choice == "today":
        return Since(today, "today")
    days = int(choice)
    return Since(today - timedelta(days=days - 1), f"in the last {days} days")


def since_day(day: date) -> Since:
    return Since(day, f"since {day.isoformat()}")


class DatePrompt(PathPrompt):
    """A date typed as YYYY-MM-DD (or MM/DD/YYYY), not after today."""

    def __init__(self, today: date, value: str) -> None:
        super().__init__(Text("Changes since (a date)", style="bold"), value,
                         hint=Text("YYYY-MM-DD or MM/DD/YYYY · enter shows · esc cancels", style="dim"))
        self.today = today

    def accepted(self) -> str | None:
        typed = self.query_one("#prompt-input", Input).value.strip()
        try:
            day = parse_date(typed)
        except ValueError as exc:
            self._wrong(str(exc) if typed else "type a date")
            return None
        if day > self.today:
            self._wrong(f"{day.isoformat()} is after today ({self.today.isoformat()})")
            return None
        return day.isoformat()

    def _wrong(self, why: str) -> None:
        self.query_one("#prompt-hint", Static).update(Text(why, style=tone(self, "error")))


def pick_since(node: Widget, today: date, current: Since | None, picked: Callable[[Since], None]) -> None:
    """The picker, then (for a typed date) the date prompt; `picked` gets the choice."""
    values = [value for _, value in CHOICES]
    current_value = ""
    if current is not None:
        current_value = next((v for v in values[:-1] if since_choice(v, today) == current), TYPED)

    def typed(value: str | None) -> None:
        if value:
            picked(since_day(date.fromisoformat(value)))

    def chosen(value: str | None) -> None:
        if value is None:
            return
        if value == TYPED:
            shown = current.day.isoformat() if current is not None else today.isoformat()
            node.app.push_screen(DatePrompt(today, shown), typed)
            return
        picked(since_choice(value, today))

    node.app.push_screen(Picker("Changes since", [(Text(label), value) for label, value in CHOICES], current_value),
                         chosen)
