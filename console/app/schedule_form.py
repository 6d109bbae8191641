"""`S` on a task: change its schedule. The spec is checked as it is typed (engine.tasks.schedules):
the words and the next three run times when it is good, the reason when it is not; `enter`
accepts only a good spec."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from console.app.dialog import FieldDialog
from console.app.host import context
from console.app.inputs import SafeInput
from console.app.render import untrusted
from engine.errors import describe
from engine.tasks import schedules

EXAMPLES = "every 15m · every 2h · daily 02:00 · cron: */10 * * * * · 0 3 * * mon-fri"


def check_spec(spec: str, tz_name: str, now: datetime) -> tuple[schedules.Schedule | None, Text]:
    """(the parsed schedule or None, what to show under the field)."""
    try:
        schedule = schedules.parse(spec)
        tz = schedules.zone(tz_name)
        words = schedules.describe(schedule, tz_name or "UTC")
        runs: list[datetime] = []
        at = now
        for _ in range(3):
            at = schedules.next_fire(schedule, at, tz)
            runs.append(at)
    except schedules.ScheduleError as exc:
        return None, untrusted(describe(exc), max_len=300, style="tone.error.strong")
    text = Text(end="")
    text.append("✓ ", style="tone.ok.strong")
    text.append(words, style="tone.ok")
    text.append(f" ({schedule.text})", style="dim")
    text.append("\nnext runs ")
    text.append(", ".join(r.strftime("%m-%d %H:%M") for r in runs))
    text.append(f" {runs[0].strftime('%Z')}", style="dim")
    return schedule, text


class SchedulePrompt(FieldDialog):
    """Dismisses with the normalised spec, or None."""

    AUTO_FOCUS = FIELD = "#schedule-input"
    OK = "#schedule-ok"

    def __init__(self, task: str, title: str, current: str, current_words: str) -> None:
        super().__init__()
        self.task_name = task
        self.task_title = title
        self.current = current
        self.current_words = current_words

    def compose(self) -> ComposeResult:
        heading = Text.assemble(("Schedule of ", "bold"), (self.task_name, "bold"), end="")
        now_text = Text.assemble(("now ", "dim"), self.current_words, (f" ({self.current})", "dim"), end="")
        with Vertical(id="schedule-box", classes="dialog"):
            yield Static(heading, id="schedule-title")
            yield Static(untrusted(self.task_title, max_len=120, style="dim"))
            yield Static(now_text, id="schedule-current")
            yield SafeInput(self.current, id="schedule-input", max_length=schedules.MAX_SPEC_LEN)
            yield Static(id="schedule-check")
            yield Static(Text(EXAMPLES, style="dim"), id="schedule-examples")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="schedule-cancel")
                yield Button("Change (enter)", id="schedule-ok", variant="primary")

    def on_mount(self) -> None:
        self._check()

    def _check(self) -> schedules.Schedule | None:
        ctx = context(self)
        schedule, text = check_spec(self.query_one("#schedule-input", Input).value, ctx.settings.timezone, ctx.now())
        self.query_one("#schedule-check", Static).update(text)
        self.query_one("#schedule-ok", Button).disabled = schedule is None
        return schedule

    @on(Input.Changed, "#schedule-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._check()

    def accepted(self) -> str | None:
        schedule = self._check()
        return schedule.text if schedule is not None else None
