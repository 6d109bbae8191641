"""A task's run history (`enter` on a task): its runs, newest first, paged from the database,
and the log lines of the selected run (tagged with its id by the scheduler). Live: a new run
appears at the top, a running run's outcome and lines come in as it goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.app.detail_screen import DetailScreen, Field
from console.app.feed import Feed, FeedData, FeedRequest
from console.app.host import context, host, mark_stale
from console.app.live import LiveWidget
from console.app.log_pane import LogEntry, LogPane
from console.app.logs_view import log_entry, open_log_line
from console.app.paged_table import Cells, Column, PagedTable, cells_of
from console.app.render import At, ago, full_time, right, seconds_text, stamp, untrusted
from console.app.requests import OpenRecord
from console.app.tasks_view import outcome_text, trigger_text
from engine.models import LogRecord
from engine.tasks import store

PAGE = 100
MAX_ROWS = 400
LOG_LINES = 500

RUN_COLUMNS: tuple[Column[store.RunInfo], ...] = (
    Column("id", "Run", 6, lambda run, at: right(str(run.id))),
    Column("started", "Started", 14, lambda run, at: stamp(run.started_at, at.tz)),
    Column("ago", "", 9, lambda run, at: Text(ago(run.started_at, at.now), style="dim", end="")),
    Column("trigger", "Trigger", 16, lambda run, at: trigger_text(run)),
    Column("outcome", "Result", 8, lambda run, at: outcome_text(run.outcome)),
    Column("took", "Took", 7, lambda run, at: right(seconds_text(run.duration_s) if run.duration_s is not None else "")),
    Column("summary", "Summary", 20, lambda run, at: untrusted(run.summary, max_len=500), stretch=1),
)


def run_fields(run: store.RunInfo, tz: ZoneInfo, lines: list[LogEntry] | None) -> list[Field]:
    """Everything recorded of a run, its summary (what it did, its counts) in full, then its
    log lines when they are at hand (`None`: not fetched for this run)."""
    fields: list[Field] = [
        ("task", untrusted(run.task, style="bold")),
        ("outcome", outcome_text(run.outcome)),
        ("trigger", trigger_text(run)),
        ("started", full_time(run.started_at, tz)),
        ("ended", full_time(run.finished_at, tz) if run.finished_at else Text("still running", style="dim", end="")),
        ("took", seconds_text(run.duration_s) if run.duration_s is not None else "—"),
        ("summary", untrusted(run.summary or "—", max_len=20_000, keep_newlines=True)),
    ]
    if lines is not None:
        label = f"log lines ({len(lines):,}{'+' if len(lines) >= LOG_LINES else ''})"
        if not lines:
            fields.append((label, Text("none", style="dim", end="")))
        for n, entry in enumerate(lines):
            fields.append((label if n == 0 else "", entry.text))
    return fields


RUNS: Feed[store.RunInfo] = Feed(store.list_runs, store.runs_newer, store.runs_by_ids, page=PAGE)  # stamp: the task


@dataclass(frozen=True)
class HistoryRequest:
    runs: FeedRequest
    run_id: int | None  # the selected run, whose lines are shown


@dataclass
class HistoryData:
    runs: FeedData[store.RunInfo]
    lines: list[LogRecord] = field(default_factory=list)


class RunsTable(PagedTable):
    BINDINGS = [Binding("enter", "select_cursor", "Run", show=False, tooltip="the whole run: times, outcome, summary", id="runs.open")]


class RunHistoryView(LiveWidget):
    def __init__(self, task: str) -> None:
        super().__init__(id="history")
        self.task_name = task
        self.runs: dict[str, store.RunInfo] = {}  # of the rows in the window
        self.shown_run: int | None = None
        self.shown_last_line = 0
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Runs of {self.task_name}", style="bold"), id="history-title", classes="status-line")
        self.table = RunsTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="runs-table", columns=RUN_COLUMNS,
            source=RUNS.source(lambda: context(self).db, self._rows, host(self).report_error,
                               stamp=lambda: self.task_name, added=self._show_titles))
        yield self.table
        yield Static(id="history-lines-title", classes="status-line")
        self.pane = LogPane(id="history-lines")
        yield self.pane

    def on_mount(self) -> None:
        self._show_titles()

    def selected_run(self) -> int | None:
        key = self.table.cursor_key
        return int(key) if key else None

    # -- live --

    def build_request(self) -> HistoryRequest:
        return HistoryRequest(RUNS.request(self.table, self.task_name, self._reload), self.selected_run())

    def fetch(self, request: HistoryRequest) -> HistoryData:
        db = context(self).db
        data = HistoryData(RUNS.fetch(db, request.runs))
        run_id = (data.runs.first[0].id if data.runs.first else None) if request.runs.reload else request.run_id
        if run_id is not None:
            data.lines = store.run_logs(db, run_id, limit=LOG_LINES)
        return data

    def render_data(self, request: HistoryRequest, data: HistoryData) -> None:
        self.loaded = True
        self._reload = not RUNS.show(self.table, request.runs, data.runs, self._rows)
        if self._reload:
            self.refresh_data()
        if request.runs.reload:
            shown = data.runs.first[0].id if data.runs.first else None
        else:
            shown = request.run_id
        if shown == self.selected_run():
            self._show_lines(shown, data.lines)
        self._show_titles()

    def render_failure(self, error: BaseException) -> None:
        self._show_titles()

    def _rows(self, runs: list[store.RunInfo]) -> list[tuple[str, Cells]]:
        ctx = context(self)
        at = At(ctx.now(), ctx.tz)
        if len(self.runs) > 2 * self.table.max_rows:
            self.runs = {k: v for k, v in self.runs.items() if k in self.table.cells}
        self.runs.update((str(r.id), r) for r in runs)
        return [(str(r.id), cells_of(RUN_COLUMNS, r, at)) for r in runs]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = self.table.cursor_key
        run = self.runs.get(key) if key else None
        if run is None:
            return
        lines = self.pane.entries if run.id == self.shown_run else None
        title = Text(f"Run {run.id} of {run.task}", style="bold", end="")
        self.post_message(OpenRecord(title, run_fields(run, context(self).tz, lines), help_name=title.plain))

    @on(LogPane.Selected)
    def _line_selected(self, event: LogPane.Selected) -> None:
        event.stop()
        open_log_line(self, event.entry)

    def _show_lines(self, run_id: int | None, lines: list[LogRecord]) -> None:
        last = lines[-1].id if lines else 0
        if run_id == self.shown_run and last == self.shown_last_line:
            return
        tz = context(self).tz
        self.pane.placeholder = Text("this run wrote no log lines", style="dim")
        self.pane.set_entries([log_entry(r, tz) for r in lines])
        self.pane.scroll_end(animate=False, immediate=True, x_axis=False)
        self.shown_run, self.shown_last_line = run_id, last

    def _show_titles(self) -> None:
        table = self.table
        title = Text(f"Runs of {self.task_name}", style="bold", end="")
        if self.loaded:
            more = "+" if table.more_after else ""
            title.append(f" · {len(table.order):,}{more} loaded", style="dim")
            if not table.order:
                title.append(" · no runs yet — esc, then r runs the task now", style="dim")
        mark_stale(self, title)
        self.query_one("#history-title", Static).update(title)
        lines = Text(end="")
        if self.shown_run is None:
            lines.append("log lines: select a run", style="dim")
        else:
            count = len(self.pane.entries)
            lines.append(f"Run {self.shown_run}", style="bold")
            lines.append(f" · {count:,} log line{'s' if count != 1 else ''}")
            if count >= LOG_LINES:
                lines.append(f" (the last {LOG_LINES})", style="dim")
        self.query_one("#history-lines-title", Static).update(lines)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.selected_run() != self.shown_run:
            self.refresh_data()

    def focus_main(self) -> None:
        self.table.focus()


class RunHistoryScreen(DetailScreen[RunHistoryView]):
    AUTO_FOCUS = "#runs-table"

    def __init__(self, task: str) -> None:
        super().__init__(RunHistoryView(task), help_name=f"Runs of {task}", id=f"history-{task}")
        self.task_name = task
