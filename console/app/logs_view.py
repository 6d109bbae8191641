"""Logs: a live tail of the logs table.

Following, new lines are fetched twice per refresh period and appended; not following, the
window stays still and a marker counts the new lines. Filters (service, level, job, text)
belong to the view and stay set while the operator moves around. Memory is bounded: the
window holds the chosen number of lines (100 / 500 / 1000), or with "all" a window of
`ALL_WINDOW` lines that pages back through the database as the operator scrolls up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Static

from console.app.detail_screen import Field
from console.app.host import context, host, in_worker, mark_stale
from console.app.inputs import SafeInput
from console.app.keys import field_opener, step_aside_while_typing
from console.app.live import LiveWidget
from console.app.log_pane import LogEntry, LogPane
from console.app.prompt import Picker, pick_read
from console.app.render import full_time, level_text, untrusted
from console.app.requests import OpenRecord
from console.app.tone import tone
from engine import logsink
from engine.logsink import LogFilter, LogTail, count_lines_after, last_lines
from engine.models import LogRecord

LINE_CHOICES = (100, 500, 1000, 0)  # 0 = all
ALL_WINDOW = 2000
OLDER_PAGE = 500
NEW_CAP = 10_000
LEVEL_CHOICES: tuple[tuple[str, int], ...] = (
    ("all levels", 0), ("DEBUG and above", 10), ("INFO and above", 20), ("WARNING and above", 30),
    ("ERROR and above", 40), ("CRITICAL", 50),
)


HIGHLIGHT = "bold reverse"  # a match of the text filter (reverse reads in every theme and without colour)
MESSAGE_MAX = 20_000  # a record's detail shows this much of one message


def without_job_prefix(message: str, job_id: int | None) -> str:
    """The message without a leading "job N" (or "job N:") that the job column already shows."""
    if job_id is None:
        return message
    match = re.match(rf"job {job_id}(?![0-9])[:,]?\s*", message)
    return message[match.end():] if match and match.end() < len(message) else message


def log_entry(record: LogRecord, tz: ZoneInfo, *, highlight: str = "") -> LogEntry:
    """One log line as literal, sanitised Text, coloured by level; matches of `highlight` (the
    text filter) are marked."""
    name, style = level_text(record.level)
    text = Text(end="")
    text.append(record.at.astimezone(tz).strftime("%m-%d %H:%M:%S"), style="dim")
    text.append(" ")
    text.append(f"{name:<5}", style=style or "")
    text.append(" ")
    service = untrusted(record.service, max_len=12, style="tone.accent")
    service.pad_right(max(0, 9 - service.cell_len))
    text.append_text(service)
    if record.job_id is not None:
        text.append(f" job {record.job_id}", style="tone.special")
    text.append(" ")
    indent = text.cell_len
    message_style = style if record.level >= 30 else ("tone.muted" if record.level < 20 else "")
    message = untrusted(without_job_prefix(record.message, record.job_id), keep_newlines=True, style=message_style)
    if highlight:
        message.highlight_words([highlight], HIGHLIGHT, case_sensitive=False)
    text.append_text(message)
    return LogEntry(record.id, text, indent, record)


def log_fields(record: LogRecord, tz: ZoneInfo) -> list[Field]:
    """Everything a log record stores, the message in full."""
    name, style = level_text(record.level)
    return [
        ("time", full_time(record.at, tz)),
        ("level", Text(f"{name} ({record.level})", style=style, end="")),
        ("service", untrusted(record.service, style="tone.accent")),
        ("host", Text.assemble(untrusted(record.host), (f"  pid {record.pid}", "dim"), end="")),
        ("logger", untrusted(record.logger or "—")),
        ("job", Text("—" if record.job_id is None else str(record.job_id), style="tone.special", end="")),
        ("run", Text("—" if record.run_id is None else str(record.run_id), end="")),
        ("message", untrusted(record.message, max_len=MESSAGE_MAX, keep_newlines=True)),
    ]


def open_log_line(node: Widget, entry: LogEntry) -> None:
    """`enter` on a log line: its whole record on a screen of its own."""
    record = entry.record
    if not isinstance(record, LogRecord):
        return
    title = Text(f"Log line {record.id}", style="bold", end="")
    node.post_message(OpenRecord(title, log_fields(record, context(node).tz), help_name=title.plain))


@dataclass(frozen=True)
class LogsRequest:
    flt: LogFilter
    mode: str  # reload | tail | count
    window: int
    after_id: int = 0
    tail: LogTail | None = None


@dataclass
class LogsData:
    records: list[LogRecord] = field(default_factory=list)
    newest_id: int = 0
    new_count: int = 0
    tail: LogTail | None = None


class LogsView(LiveWidget):
    """Tab 2."""

    POLL = "tail"
    BINDINGS = [
        Binding("f", "toggle_follow", "Follow", tooltip="follow new lines on/off", id="logs.follow"),
        Binding("w", "toggle_wrap", "Wrap", tooltip="wrap long lines on/off", id="logs.wrap"),
        Binding("s", "pick_service", "Service", tooltip="only one service's lines", id="logs.service"),
        Binding("v", "pick_level", "Level", tooltip="only lines at or above a level", id="logs.level"),
        field_opener("slash", "filter", "Filter", tooltip="filter by text and job", id="logs.filter"),
        Binding("m", "cycle_lines", "Lines", tooltip="lines kept: 100, 500, 1000, all", id="logs.lines"),
        Binding("z", "toggle_maximize", "Zoom", tooltip="the lines fill the screen, or back (esc too)", id="logs.toggle-maximize"),
        Binding("escape", "clear_filters", "Clear filters", show=False, id="logs.clear-filters"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flt = LogFilter()
        self.lines = 100
        self.following = True
        self.new_count = 0
        self.last_id = 0
        self.tail: LogTail | None = None
        self.more_older = False
        self._loading_older = False

    def compose(self) -> ComposeResult:
        yield Static(id="logs-status", classes="status-line")
        with Horizontal(id="logs-filter", classes="filter-bar"):
            yield SafeInput(placeholder="text in the message", id="logs-filter-text")
            yield SafeInput(placeholder="job id", id="logs-filter-job", restrict=r"[0-9]*", max_length=12)
        self.pane = LogPane(id="logs-pane")
        yield self.pane

    def on_mount(self) -> None:
        self._show_status()

    @property
    def window(self) -> int:
        return self.lines or ALL_WINDOW

    # -- live --

    def build_request(self) -> LogsRequest:
        if self._reload or self.tail is None or (self.following and not self.pane.entries and not self.last_id):
            return LogsRequest(self.flt, "reload", self.window)
        if self.following:
            return LogsRequest(self.flt, "tail", self.window, self.last_id, self.tail)
        return LogsRequest(self.flt, "count", self.window, self.last_id)

    def fetch(self, request: LogsRequest) -> LogsData:
        db = context(self).db
        if request.mode == "reload":
            records = last_lines(db, request.flt, limit=request.window)
            tail = LogTail.following(db, request.flt, records, request.window)
            return LogsData(records=records, newest_id=tail.last_id, tail=tail)
        if request.mode == "tail":
            assert request.tail is not None
            # polls run one at a time (LivePoller), so the tail is never polled twice at once
            records = request.tail.poll(limit=request.window + 1)
            return LogsData(records=records, newest_id=request.tail.last_id)
        return LogsData(new_count=count_lines_after(db, request.flt, request.after_id, cap=NEW_CAP))

    def render_data(self, request: LogsRequest, data: LogsData) -> None:
        tz = context(self).tz
        pane = self.pane
        if request.mode == "reload":
            self._reload = False
            pane.set_entries([log_entry(r, tz, highlight=request.flt.text) for r in data.records])
            self.tail = data.tail
            self.last_id = data.newest_id
            self.more_older = len(data.records) >= request.window
            self.new_count = 0
            if self.following:
                self._scroll_to_newest()
        elif request.mode == "tail":
            if len(data.records) > request.window:  # far behind: start from the newest lines
                self.start_over(drop_in_flight=False)
            elif data.records:
                before = len(pane.entries)
                pane.append([log_entry(r, tz, highlight=request.flt.text) for r in data.records], keep=self.window)
                if before + len(data.records) > self.window:
                    self.more_older = True
                self.last_id = data.newest_id
                if self.following:
                    self._scroll_to_newest()
        else:
            self.new_count = data.new_count
        self._show_status()

    def _scroll_to_newest(self) -> None:
        self.pane.scroll_end(animate=False, immediate=True, x_axis=False)
        # Lines fetched as the tab is shown arrive before the pane has been laid out: it has no
        # height to scroll by yet, and would show the oldest lines. Again once it has one.
        self.pane.scroll_end(animate=False, immediate=False, x_axis=False)

    def render_failure(self, error: BaseException) -> None:
        self._show_status()

    def _show_status(self) -> None:
        text = Text(end="")
        if self.following:
            text.append("▶ following", style=tone(self, "ok"))
        else:
            text.append("⏸ paused", style=tone(self, "warning"))
            if self.new_count:
                more = "+" if self.new_count >= NEW_CAP else ""
                text.append(f" · {self.new_count:,}{more} new lines (f follows)", style=tone(self, "warning"))
        text.append(f" · lines {self.lines or 'all'}")
        text.append(" · service ")
        text.append_text(untrusted(self.flt.service or "all", max_len=24))
        text.append(" · level ")
        text.append(f"≥{level_text(self.flt.level)[0]}" if self.flt.level else "all")
        if self.flt.job_id is not None:
            text.append(f" · job {self.flt.job_id}", style="tone.special")
        if self.flt.text:
            text.append(" · text ")
            text.append_text(untrusted(repr(self.flt.text), max_len=40))
        if self.pane.wrap:
            text.append(" · wrap")
        mark_stale(self, text)
        self.query_one("#logs-status", Static).update(text)
        self._show_placeholder()

    def _show_placeholder(self) -> None:
        flt = self.flt
        if self.tail is None:
            hint = Text("loading…", style="dim")
        elif flt != LogFilter():
            hint = Text("no line matches the filters — / changes the text and job, s the service, v the level;"
                        " esc clears them", style="dim")
        else:
            hint = Text("no log lines yet — every claimsops process (up, worker, scheduler, console) writes here"
                        " as it runs; start one with `claimsops up`", style="dim")
        if hint != self.pane.placeholder:
            self.pane.placeholder = hint
            self.pane.refresh()

    # -- filters --

    def set_filter(self, flt: LogFilter) -> None:
        if flt == self.flt:
            return
        self.flt = flt
        self.following = True
        self.new_count = 0
        self._show_status()
        self.start_over()

    def set_job(self, job_id: int | None) -> None:
        with self.prevent(Input.Changed):
            self.query_one("#logs-filter-job", Input).value = "" if job_id is None else str(job_id)
        self.set_filter(replace(self.flt, job_id=job_id))

    def action_filter(self) -> None:
        step_aside_while_typing(self)
        self.query_one("#logs-filter").display = True
        # at once, not after the queued keys: "/arch" typed fast must all land in the field
        self.screen.set_focus(self.query_one("#logs-filter-text", Input))

    @on(Input.Changed, "#logs-filter-text")
    @on(Input.Changed, "#logs-filter-job")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        text = self.query_one("#logs-filter-text", Input).value.strip()
        job = self.query_one("#logs-filter-job", Input).value.strip()
        self.set_filter(replace(self.flt, text=text, job_id=int(job) if job.isdigit() else None))

    @on(Input.Submitted)
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.pane.focus()

    def action_clear_filters(self) -> None:
        with self.prevent(Input.Changed):
            for field_ in self.query(Input):
                field_.value = ""
        self.query_one("#logs-filter").display = False
        self.pane.focus()
        self.set_filter(LogFilter())

    def action_pick_level(self) -> None:
        choices = [(Text(label), str(value)) for label, value in LEVEL_CHOICES]

        def picked(value: str | None) -> None:
            if value is not None:
                self.set_filter(replace(self.flt, level=int(value)))

        self.app.push_screen(Picker("Level", choices, str(self.flt.level)), picked)

    def action_pick_service(self) -> None:
        pick_read(self, "Service", "all services", lambda: logsink.log_services(context(self).db), self.flt.service,
                  lambda service: self.set_filter(replace(self.flt, service=service)))

    def action_cycle_lines(self) -> None:
        index = LINE_CHOICES.index(self.lines) if self.lines in LINE_CHOICES else 0
        self.set_lines(LINE_CHOICES[(index + 1) % len(LINE_CHOICES)])

    def set_lines(self, lines: int) -> None:
        if lines not in LINE_CHOICES:
            raise ValueError(f"lines must be one of {LINE_CHOICES}")
        self.lines = lines
        self.following = True
        self._show_status()
        self.start_over()

    # -- follow, wrap, paging back --

    def action_toggle_follow(self) -> None:
        self.set_following(not self.following)

    def set_following(self, following: bool) -> None:
        if following == self.following:
            return
        self.following = following
        if following:
            self.new_count = 0
            self.start_over()
        self._show_status()

    def action_toggle_wrap(self) -> None:
        self.pane.set_wrap(not self.pane.wrap)
        if self.following:
            self._scroll_to_newest()
        self._show_status()

    @on(LogPane.ScrolledUp)
    def _scrolled_up(self, event: LogPane.ScrolledUp) -> None:
        event.stop()
        # not `not at_end`: the pane moves after the next refresh, so it is still at the end here
        if self.following and self.pane.max_scroll_y > 0:
            self.set_following(False)

    @on(LogPane.ScrolledToTop)
    def _scrolled_to_top(self, event: LogPane.ScrolledToTop) -> None:
        event.stop()
        if self.lines or not self.more_older or self._loading_older or not self.pane.entries:
            return
        self._loading_older = True
        flt, before_id = self.flt, self.pane.entries[0].id
        in_worker(self, lambda: last_lines(context(self).db, flt, limit=OLDER_PAGE, before_id=before_id),
                  lambda records: self._older_lines(flt, before_id, records), self._older_failed,
                  group="log-older", exclusive=True)

    def _older_failed(self, error: BaseException) -> None:
        self._loading_older = False
        host(self).report_error(error)

    def _older_lines(self, flt: LogFilter, before_id: int, records: list[LogRecord]) -> None:
        """Lines older than `before_id` for filter `flt`."""
        self._loading_older = False
        entries = self.pane.entries
        if flt != self.flt or not entries or entries[0].id != before_id:
            return  # the window changed meanwhile (another filter, a reload)
        tz = context(self).tz
        self.more_older = len(records) >= OLDER_PAGE
        dropped = self.pane.prepend([log_entry(r, tz, highlight=flt.text) for r in records], keep=ALL_WINDOW)
        if dropped:
            self.following = False
            self.last_id = max((e.id for e in self.pane.entries), default=self.last_id)
        self._show_status()

    @on(LogPane.Selected)
    def _line_selected(self, event: LogPane.Selected) -> None:
        event.stop()
        open_log_line(self, event.entry)

    def action_toggle_maximize(self) -> None:
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        else:
            screen.maximize(self.pane, container=False)
            self.pane.focus()

    def focus_main(self) -> None:
        self.pane.focus()

