"""Schedulers: the maintenance tasks with their schedule in words, state, last run and next run,
and the controls of the original "Scheduled Tasks" page.

`r` run now (asks first; "already running" is said at once when the task runs), `p` pause or
resume, `S` change the schedule (checked as typed), `enter` the run history with each run's
log lines. Every control goes through engine.tasks, which checks the role and writes the audit
row (refusals included); the console then waits briefly for the scheduler to act on it and
says what it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from console.app.filter_bar import FilterBar, no_match, rows_matching
from console.app.host import ask_about, context, mark_stale
from console.app.keys import field_opener, step_aside_while_typing
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, PagedTable, cells_of
from console.app.render import ago, right, seconds_text, until, untrusted
from console.app.requests import OpenTaskHistory, PauseTask, Reschedule, ResumeTask, RunTaskNow
from console.app.tone import Tones, tone
from engine import leases
from engine.tasks import status, store

STATE_STYLE: dict[str, tuple[str, str]] = {
    status.OK: ("✓", "tone.ok.strong"),
    status.RUNNING: ("⟳", "tone.info.strong"),
    status.PAUSED: ("⏸", "tone.warn.strong"),
    status.LATE: ("◷", "tone.special.strong"),
    status.FAILING: ("✕", "tone.error.strong"),
}
OUTCOME_STYLE: dict[str, str] = {
    "ok": "tone.ok", "warn": "tone.warn", "error": "tone.error.strong", "running": "tone.info", "missed": "tone.special",
}

def state_cell(state: str) -> Text:
    icon, style = STATE_STYLE.get(state, ("?", ""))
    return Text.assemble((icon, style), " ", (state, style), end="")


def trigger_text(run: store.RunInfo) -> Text:
    if run.trigger == store.TRIGGER_MANUAL:
        text = Text("manual", style="tone.accent", end="")
        if run.requested_by:
            text.append(" by ")
            text.append_text(untrusted(run.requested_by, max_len=24))
        return text
    return untrusted(run.trigger, max_len=16)


def outcome_text(outcome: str) -> Text:
    return untrusted(outcome, max_len=12, style=OUTCOME_STYLE.get(outcome, ""))


def next_text(task: status.TaskStatus, now: datetime) -> Text:
    if task.paused:
        return Text("paused", style="tone.warn", end="")
    if task.next_run_at is None:
        return Text("—", style="dim", end="")
    style = "tone.special" if task.next_run_at < now else ""
    return Text(until(task.next_run_at, now), style=style, end="")


# the cells of a task are drawn for the time now
COLUMNS: tuple[Column[status.TaskStatus], ...] = (
    Column("task", "Task", 20, lambda task, now: untrusted(task.name, max_len=40, style="bold")),
    Column("state", "State", 9, lambda task, now: state_cell(task.state)),
    Column("next", "Next run", 11, next_text),
    Column("last", "Last run", 9, lambda task, now: Text(
        ago(task.last_run.started_at, now), end="") if task.last_run else Text("never", style="dim", end="")),
    Column("outcome", "Result", 7,
           lambda task, now: outcome_text(task.last_run.outcome) if task.last_run else Text("", end="")),
    Column("took", "Took", 6, lambda task, now: right(
        seconds_text(task.last_run.duration_s) if task.last_run and task.last_run.duration_s is not None else "")),
    Column("trigger", "Trigger", 16,
           lambda task, now: trigger_text(task.last_run) if task.last_run else Text("", end="")),
    Column("schedule", "Schedule", 20, lambda task, now: untrusted(task.schedule_words, max_len=60), stretch=1),
    Column("summary", "Summary", 20,
           lambda task, now: untrusted(task.last_run.summary if task.last_run else "", max_len=300), stretch=3),
)


def task_detail(task: status.TaskStatus, now: datetime, tz: ZoneInfo) -> Text:
    text = Text(end="")
    text.append_text(untrusted(task.name, max_len=40, style="bold"))
    text.append(" — ")
    text.append_text(untrusted(task.title, max_len=120))
    text.append("\nstate     ")
    text.append_text(state_cell(task.state))
    if task.paused:
        text.append(" by ")
        text.append_text(untrusted(task.paused_by or "unknown", max_len=40))
        text.append(" — no scheduled run until resumed (p)", style="dim")
    text.append("\nschedule  ")
    text.append_text(untrusted(task.schedule_words, max_len=80))
    text.append(" (")
    text.append_text(untrusted(task.schedule, max_len=64))
    text.append(")")
    text.append(" · next run ")
    if task.paused:
        text.append("none while paused", style="tone.warn")
    elif task.next_run_at is None:
        text.append("not published yet (no scheduler has scheduled it)", style="dim")
    else:
        text.append(task.next_run_at.astimezone(tz).strftime("%m-%d %H:%M:%S"))
        text.append(f" ({until(task.next_run_at, now)})", style="dim")
    run = task.last_run
    text.append("\nlast run  ")
    if run is None:
        text.append("never", style="dim")
        return text
    text.append(f"run {run.id} · {run.started_at.astimezone(tz).strftime('%m-%d %H:%M:%S')}")
    text.append(f" ({ago(run.started_at, now)}) · ", style="")
    text.append_text(outcome_text(run.outcome))
    if run.duration_s is not None:
        text.append(f" in {seconds_text(run.duration_s)}")
    text.append(" · ")
    text.append_text(trigger_text(run))
    if run.summary:
        text.append("\n          ")
        text.append_text(untrusted(run.summary, max_len=500))
    return text


def leader_text(leader: leases.LeaseInfo | None, tz: ZoneInfo, tones: Tones) -> Text:
    text = Text(end="")
    if leader is None:
        text.append("scheduler not running", style=tones("warning"))
        text.append(" — run now, pause and schedule changes wait until one starts", style="tone.warn")
        return text
    text.append("scheduler ")
    text.append_text(untrusted(leader.owner, max_len=60, style="bold"))
    text.append(f" leads (lease until {leader.expires_at.astimezone(tz).strftime('%H:%M:%S')})", style="dim")
    return text


@dataclass
class TasksData:
    tasks: list[status.TaskStatus] = field(default_factory=list)
    leader: leases.LeaseInfo | None = None


class TasksTable(PagedTable):
    BINDINGS = [Binding("enter", "select_cursor", "History", show=False, tooltip="the task's runs and their log lines", id="schedulers.history")]


class SchedulersView(LiveWidget):
    """Tab 4."""

    BINDINGS = [
        field_opener("slash", "filter", "Filter", tooltip="text in the task, its schedule or its last result", id="schedulers.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="schedulers.clear-filter"),
        Binding("r", "run_task", "Run now", tooltip="run the selected task now (asks first)", id="schedulers.run-now"),
        Binding("p", "pause_task", "Pause/resume", tooltip="pause the selected task, or resume it", id="schedulers.pause-resume"),
        Binding("S", "schedule_task", "Schedule", tooltip="change the selected task's schedule", id="schedulers.schedule"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: TasksData | None = None
        self._task_rows: list[tuple[str, Cells]] = []
        self.by_name: dict[str, status.TaskStatus] = {}
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="tasks-leader", classes="status-line")
        yield FilterBar("text in the task, its schedule or its last result", id="tasks-filter",
                        changed=self._set_filter, home=lambda: self.table)
        self.table = TasksTable(page_size=20, max_rows=40, id="tasks-table", columns=COLUMNS)
        yield self.table
        with VerticalScroll(id="tasks-detail-box"):
            yield Static(id="tasks-detail")

    # -- live --

    def fetch(self, request: Any) -> TasksData:
        ctx = context(self)
        return TasksData(status.list_tasks(ctx.db, ctx.settings, now=ctx.now()), store.scheduler_leader(ctx.db))

    def render_data(self, request: Any, data: TasksData) -> None:
        now = context(self).now()
        self.data = data
        self.by_name = {t.name: t for t in data.tasks}
        self._task_rows = [(t.name, cells_of(COLUMNS, t, now)) for t in data.tasks]
        self._show_rows()
        self._show_leader()

    def _show_rows(self) -> None:
        self.table.show_all(rows_matching(self._task_rows, self.filter_text))
        self._show_detail()

    def render_failure(self, error: BaseException) -> None:
        self._show_leader()

    def _show_leader(self) -> None:
        ctx = context(self)
        text = leader_text(self.data.leader, ctx.tz, partial(tone, self)) if self.data else Text("loading…", style="dim")
        mark_stale(self, text)
        self.query_one("#tasks-leader", Static).update(text)

    def _show_detail(self) -> None:
        task = self.selected()
        ctx = context(self)
        if task is not None:
            text = task_detail(task, ctx.now(), ctx.tz)
        elif self.filter_text and self.data is not None:
            text = no_match("task", self.filter_text)
        else:
            text = Text("", end="")
        self.query_one("#tasks-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_history()

    def selected(self) -> status.TaskStatus | None:
        key = self.table.cursor_key
        return self.by_name.get(key) if key else None

    def select(self, name: str) -> None:
        if name in self.table.order:
            self.table.move_cursor(row=self.table.order.index(name))

    def focus_main(self) -> None:
        self.table.focus()

    # -- filter: the list is short and held whole, so it is filtered here --

    def action_filter(self) -> None:
        step_aside_while_typing(self)
        self.query_one("#tasks-filter", FilterBar).open()

    def action_clear_filter(self) -> None:
        self.query_one("#tasks-filter", FilterBar).clear()
        self._set_filter("")

    def _set_filter(self, text: str) -> None:
        if text != self.filter_text:
            self.filter_text = text
            self._show_rows()

    # -- actions --

    def action_open_history(self) -> None:
        ask_about(self, self.selected(), "task", lambda task: OpenTaskHistory(task.name))

    def action_run_task(self) -> None:
        ask_about(self, self.selected(), "task", RunTaskNow)

    def action_pause_task(self) -> None:
        ask_about(self, self.selected(), "task", lambda task: ResumeTask(task) if task.paused else PauseTask(task))

    def action_schedule_task(self) -> None:
        ask_about(self, self.selected(), "task", Reschedule)
