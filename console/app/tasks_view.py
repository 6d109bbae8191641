"""Schedulers: the maintenance tasks with their schedule in words, state, last run and next run,
and the controls of the original "Scheduled Tasks" page.

`r` run now (asks first; "already running" is said at once when the task runs), `p` pause or
resume, `S` change the schedule (checked as typed), `enter` the run history with each run's
log lines. Every control goes through engine.tasks, which checks the role and writes the audit
row (refusals included); the console then waits briefly for the scheduler to act on it and
says what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from console.app.confirm import ConfirmDialog
from console.app.live import LiveWidget, console_app, context
from console.app.ops import Outcome
from console.app.paged_table import Cells, PagedTable
from console.app.render import ago, seconds_text, until, untrusted
from console.app.schedule_form import SchedulePrompt
from engine import leases
from engine.tasks import controls, status, store

if TYPE_CHECKING:
    from console.app.app import ConsoleApp

APPLY_WAIT_S = 3.0  # how long to wait for the scheduler to act on a command

STATE_STYLE: dict[str, tuple[str, str]] = {
    status.OK: ("✓", "bold green"),
    status.RUNNING: ("⟳", "bold dodger_blue1"),
    status.PAUSED: ("⏸", "bold yellow"),
    status.LATE: ("◷", "bold magenta"),
    status.FAILING: ("✕", "bold red"),
}
OUTCOME_STYLE: dict[str, str] = {
    "ok": "green", "warn": "yellow", "error": "bold red", "running": "dodger_blue1", "missed": "magenta",
}

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("task", "Task", 20),
    ("state", "State", 9),
    ("next", "Next run", 11),
    ("last", "Last run", 9),
    ("outcome", "Result", 7),
    ("took", "Took", 6),
    ("trigger", "Trigger", 16),
    ("schedule", "Schedule", 20),
    ("summary", "Summary", 20),
)


def state_cell(state: str) -> Text:
    icon, style = STATE_STYLE.get(state, ("?", ""))
    return Text.assemble((icon, style), " ", (state, style), end="")


def trigger_text(run: store.RunInfo) -> Text:
    if run.trigger == store.TRIGGER_MANUAL:
        text = Text("manual", style="cyan", end="")
        if run.requested_by:
            text.append(" by ")
            text.append_text(untrusted(run.requested_by, max_len=24))
        return text
    return untrusted(run.trigger, max_len=16)


def outcome_text(outcome: str) -> Text:
    return untrusted(outcome, max_len=12, style=OUTCOME_STYLE.get(outcome, ""))


def next_text(task: status.TaskStatus, now: datetime) -> Text:
    if task.paused:
        return Text("paused", style="yellow", end="")
    if task.next_run_at is None:
        return Text("—", style="dim", end="")
    style = "magenta" if task.next_run_at < now else ""
    return Text(until(task.next_run_at, now), style=style, end="")


def task_cells(task: status.TaskStatus, now: datetime) -> Cells:
    run = task.last_run
    right = "right"
    return (
        untrusted(task.name, max_len=40, style="bold"),
        state_cell(task.state),
        next_text(task, now),
        Text(ago(run.started_at, now) if run else "never", style="" if run else "dim", end=""),
        outcome_text(run.outcome) if run else Text("", end=""),
        Text(seconds_text(run.duration_s) if run and run.duration_s is not None else "", justify=right, end=""),
        trigger_text(run) if run else Text("", end=""),
        untrusted(task.schedule_words, max_len=60),
        untrusted(run.summary if run else "", max_len=300),
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
        text.append("none while paused", style="yellow")
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


def leader_text(leader: leases.LeaseInfo | None, tz: ZoneInfo) -> Text:
    text = Text(end="")
    if leader is None:
        text.append("scheduler not running", style="bold yellow")
        text.append(" — run now, pause and schedule changes wait until one starts", style="yellow")
        return text
    text.append("scheduler ")
    text.append_text(untrusted(leader.owner, max_len=60, style="bold"))
    text.append(f" leads (lease until {leader.expires_at.astimezone(tz).strftime('%H:%M:%S')})", style="dim")
    return text


@dataclass
class TasksData:
    tasks: list[status.TaskStatus] = field(default_factory=list)
    leader: leases.LeaseInfo | None = None


@dataclass(frozen=True)
class RunRequested:
    """What run now achieved: the request, and the scheduler's answer if it came in time."""

    request: controls.Request
    applied: str | None
    leader: bool


class TasksTable(PagedTable):
    BINDINGS = [Binding("enter", "select_cursor", "History", show=False, tooltip="the task's runs and their log lines")]


class SchedulersView(LiveWidget):
    """Tab 4."""

    BINDINGS = [
        Binding("r", "run_task", "Run now", tooltip="run the selected task now (asks first)"),
        Binding("p", "pause_task", "Pause/resume", tooltip="pause the selected task, or resume it"),
        Binding("S", "schedule_task", "Schedule", tooltip="change the selected task's schedule"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: TasksData | None = None
        self.by_name: dict[str, status.TaskStatus] = {}

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="tasks-leader", classes="status-line")
        yield TasksTable(page_size=20, max_rows=40, id="tasks-table", stretch={"summary": 3, "schedule": 1})
        with VerticalScroll(id="tasks-detail-box"):
            yield Static(id="tasks-detail")

    def on_mount(self) -> None:
        self.table.add_fixed_columns(COLUMNS)

    @property
    def table(self) -> PagedTable:
        return self.query_one("#tasks-table", PagedTable)

    # -- live --

    def fetch(self, request: Any) -> TasksData:
        ctx = context(self)
        return TasksData(status.list_tasks(ctx.db, ctx.settings, now=ctx.now()), store.scheduler_leader(ctx.db))

    def render_data(self, request: Any, data: TasksData) -> None:
        ctx = context(self)
        now = ctx.now()
        self.data = data
        self.by_name = {t.name: t for t in data.tasks}
        table = self.table
        rows = [(t.name, task_cells(t, now)) for t in data.tasks]
        if table.order != [key for key, _ in rows]:
            table.replace_rows(rows, more_before=False, more_after=False)
        else:
            for key, cells in rows:
                table.update_row(key, cells)
        self._show_leader()
        self._show_detail()

    def render_failure(self, error: BaseException) -> None:
        self._show_leader()

    def _show_leader(self) -> None:
        ctx = context(self)
        text = leader_text(self.data.leader if self.data else None, ctx.tz) if self.data else Text("loading…", style="dim")
        if console_app(self).header_state.stale_since is not None:
            text.append("  stale", style="bold red")
        self.query_one("#tasks-leader", Static).update(text)

    def _show_detail(self) -> None:
        task = self.selected()
        ctx = context(self)
        text = task_detail(task, ctx.now(), ctx.tz) if task else Text("", end="")
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

    # -- actions --

    def _need_selection(self) -> status.TaskStatus | None:
        task = self.selected()
        if task is None:
            console_app(self).say("no task selected", "warning")
        return task

    def action_open_history(self) -> None:
        task = self._need_selection()
        if task is not None:
            console_app(self).open_task_history(task.name)

    def action_run_task(self) -> None:
        task = self._need_selection()
        if task is not None:
            TaskActions(console_app(self)).run_now(task)

    def action_pause_task(self) -> None:
        task = self._need_selection()
        if task is not None:
            TaskActions(console_app(self)).pause_or_resume(task)

    def action_schedule_task(self) -> None:
        task = self._need_selection()
        if task is not None:
            TaskActions(console_app(self)).reschedule(task)


class TaskActions:
    """The task controls, from the Schedulers tab and the run history."""

    def __init__(self, app: ConsoleApp) -> None:
        self.app = app

    def _refresh(self) -> Callable[[Outcome], None]:
        def done(outcome: Outcome) -> None:
            if outcome.ok:
                self.app.say(str(outcome.value))
            self.app.refresh_active()

        return done

    def run_now(self, task: status.TaskStatus) -> None:
        app = self.app
        name = task.name
        if task.state == status.RUNNING and task.last_run is not None:
            run = task.last_run
            by = f" by {run.requested_by}" if run.requested_by else ""
            started = run.started_at.astimezone(app.ctx.tz).strftime("%H:%M:%S")
            app.say(f"{name} is already running (run {run.id}, {run.trigger}{by}, started {started})", "warning")
            return
        if not app.ctx.operator.can_act:
            app.refuse_op("task.run", name)
            return
        ctx = app.ctx

        def request() -> RunRequested:
            req = controls.request_run(ctx.db, ctx.settings, ctx.operator, name)
            leader = store.scheduler_leader(ctx.db) is not None
            command = store.wait_for_command(ctx.db, req.command_id, APPLY_WAIT_S) if leader and req.command_id else None
            return RunRequested(req, command.outcome if command is not None else None, leader)

        def done(outcome: Outcome) -> None:
            if outcome.ok:
                result: RunRequested = outcome.value
                if result.applied and result.applied.startswith("started run"):
                    app.say(f"{name}: {result.applied}")
                elif result.applied:
                    app.say(f"run of {name} {result.applied}", "warning")
                elif not result.leader:
                    app.say(result.request.message, "warning")
                else:
                    app.say(f"{result.request.message}; the scheduler has not started it yet")
            app.refresh_active()

        def answered(yes: bool | None) -> None:
            if yes:
                app.run_guarded(request, done)

        question = Text.assemble(("Run ", "bold"), (name, "bold"), (" now?", "bold"))
        detail = untrusted(task.title, max_len=120)
        if task.paused:
            detail.append("\nthe task is paused: this runs it once, and it stays paused.")
        app.push_screen(ConfirmDialog(question, detail, yes_label="Run now"), answered)

    def pause_or_resume(self, task: status.TaskStatus) -> None:
        app = self.app
        ctx = app.ctx
        name = task.name
        action = "task.resume" if task.paused else "task.pause"
        if not ctx.operator.can_act:
            app.refuse_op(action, name)
            return
        control = controls.request_resume if task.paused else controls.request_pause
        app.run_guarded(lambda: control(ctx.db, ctx.settings, ctx.operator, name).message, self._refresh())

    def reschedule(self, task: status.TaskStatus) -> None:
        app = self.app
        ctx = app.ctx
        name = task.name
        if not ctx.operator.can_act:
            app.refuse_op("task.schedule", name)
            return

        def chosen(spec: str | None) -> None:
            if spec is None:
                return
            if spec == task.schedule:
                app.say(f"{name} already runs {task.schedule_words} ({spec}): nothing changed")
                return
            app.run_guarded(
                lambda: controls.request_schedule(ctx.db, ctx.settings, ctx.operator, name, spec).message,
                self._refresh(),
            )

        app.push_screen(SchedulePrompt(name, task.title, task.schedule, task.schedule_words), chosen)

