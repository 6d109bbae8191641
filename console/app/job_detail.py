"""A job's detail: a header of at most four lines (the job, its rows, its parameters, what
needs reading first; `i` shows the whole job: every parameter, warning and history entry) and
its rows with results, paged from the database, filterable by outcome (`o`), searchable by
claim number or row number anywhere in the job (`/`); `enter` shows one row whole.

Member ids, names and birth dates are masked until the operator reveals them with ctrl+r
(role-checked and audited through engine.actions.perform).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Static

from console.app.columns import shorten_path
from console.app.detail_screen import DetailScreen, Field
from console.app.host import context, host, in_worker, mark_stale
from console.app.inputs import SafeInput
from console.app.jobs_view import FOLLOW_UP_MARK, job_timing
from console.app.keys import field_opener, step_aside_while_typing
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, End, PagedTable, PageSource, Side, cells_of
from console.app.prompt import Picker
from console.app.render import duration, masked, money, plain, right, status_cell, untrusted, when
from console.app.requests import (
    CancelJob,
    ExportJob,
    JobSummary,
    OpenRecord,
    RetryJob,
    Reveal,
    Revealed,
    ShowJobLogs,
)
from console.app.row_detail import RowScreen
from console.app.tone import tone
from engine.followup.recheck import FOLLOWUP
from engine.jobs.lifecycle import ACTIVE, CANCELLED, FAILED, JobNotFound
from engine.jobs.liveness import ATTENDED, START_WORKERS, Liveness, liveness_of
from engine.jobs.queries import (
    count_rows,
    find_row,
    get_job,
    rows_around,
    rows_by_numbers,
    rows_page,
)
from engine.models import Job, JobRow
from engine.text import safe_text

PAGE = 200
MAX_ROWS = 600

OUTCOME_CHOICES: tuple[tuple[str, str], ...] = (
    ("all rows", ""),
    ("found (any payer status)", "found"),
    ("finalized", "finalized"),
    ("denied", "denied"),
    ("rejected", "rejected"),
    ("pending at the payer", "pending"),
    ("not found", "not_found"),
    ("error", "error"),
    ("invalid", "invalid"),
    ("not looked up yet", "unresolved"),
)
OUTCOME_LABEL = {value: label for label, value in OUTCOME_CHOICES}

RESULT_STYLE = {
    "finalized": "tone.ok", "denied": "tone.error", "rejected": "tone.error", "pending": "tone.info",
    "not_found": "tone.warn", "error": "tone.error.strong", "invalid": "tone.special",
}


def _name(first: str | None, last: str | None, revealed: bool) -> Text:
    parts = [p for p in (first, last) if p]
    text = Text(end="")
    for i, part in enumerate(parts):
        if i:
            text.append(" ")
        text.append_text(masked(part, "name", revealed=revealed, max_len=40))
    return text


def _result(row: JobRow) -> Text:
    if row.status is None:
        return Text("…", style="dim", end="")
    return untrusted(row.status, max_len=32, style=RESULT_STYLE.get(row.status_class or "", ""))


def _patient(row: JobRow, revealed: bool) -> Text:
    return _name(row.patient_first_name or row.first_name, row.patient_last_name or row.last_name, revealed)


# the cells of a row are drawn for whether PHI is revealed; at 80 columns: Row, Claim #,
# Result and Message (which takes most of what is left); the rest as the terminal widens
ROW_COLUMNS: tuple[Column[JobRow], ...] = (
    Column("row", "Row", 6, lambda row, revealed: right(str(row.row_number))),
    Column("claim", "Claim #", 15, lambda row, revealed: untrusted(row.claim_number, max_len=64)),
    Column("status", "Result", 12, lambda row, revealed: _result(row)),
    Column("patient", "Patient", 16, _patient, stretch=1, priority=2),
    Column("dob", "DOB", 10, lambda row, revealed: masked(row.date_of_birth, "dob", revealed=revealed),
           priority=7),
    Column("member", "Member ID", 12,
           lambda row, revealed: masked(row.subscriber_id, "member_id", revealed=revealed, max_len=64),
           priority=6),
    Column("charged", "Charged", 10, lambda row, revealed: right(money(row.total_charged)), priority=3),
    Column("paid", "Paid", 10, lambda row, revealed: right(money(row.total_paid)), priority=1),
    Column("processed", "Processed", 10,
           lambda row, revealed: plain(row.processed_date.isoformat() if row.processed_date else ""), priority=4),
    Column("matched", "Matched by", 14, lambda row, revealed: untrusted(row.matched_by or "", max_len=16),
           priority=5),
    Column("message", "Message", 30,
           lambda row, revealed: untrusted(row.error_message or row.invalid_reason or "", max_len=500), stretch=2),
)


def row_cells(row: JobRow, revealed: bool) -> Cells:
    return cells_of(ROW_COLUMNS, row, revealed)


def _history_line(entry: Any, tz: ZoneInfo) -> Text:
    if not isinstance(entry, dict):
        return untrusted(entry, max_len=200)
    at = entry.get("at")
    try:
        stamp = datetime.fromisoformat(str(at)).astimezone(tz).strftime("%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        stamp = str(at or "")
    event = str(entry.get("event", ""))
    style = "tone.warn" if "cancel" in event else ""
    text = Text(end="")
    text.append_text(untrusted(stamp, max_len=20, style="dim"))
    text.append(" ")
    text.append_text(untrusted(event, max_len=40, style=style))
    if entry.get("by"):
        text.append(" by ")
        text.append_text(untrusted(entry["by"], max_len=40))
    extras = {k: v for k, v in entry.items() if k not in ("at", "event", "by")}
    for key, value in extras.items():
        text.append(f" · {key} ", style="dim")
        text.append_text(untrusted(value, max_len=200))
    return text


def job_summary(job: Job, now: datetime, tz: ZoneInfo, *, frame: int = 0, animate: bool = False,
                live: Liveness = ATTENDED, width: int = 0) -> Text:
    """At most four lines (each cut with "…" where the screen is narrow): the job, its rows,
    its parameters and times, and what most needs reading (a stall, the payer, a failure, a
    cancel, warnings — or the latest event). `i` shows the whole job. In `width` cells, the
    file's path keeps its file name."""
    elapsed, _, _ = job_timing(job, now, live)
    text = Text(end="")
    text.append(f"Job {job.id}  ", style="bold")
    text.append_text(status_cell(live.status(job.status), frame=frame, animate=animate))
    text.append("  ")
    follow_up = job.kind == FOLLOWUP
    if follow_up:
        text.append(FOLLOW_UP_MARK, style="tone.info.strong")
    note = "  follow-up: open claims asked again" if follow_up else ""
    name = safe_text(job.file_name, max_len=255)
    if width:
        name = shorten_path(name, max(8, width - text.cell_len - len(note)))
    text.append(name, style="bold")
    text.append(note, style="tone.info")
    text.append("\nrows ")
    text.append(f"{job.done_rows:,}/{job.total_rows:,} done", style="bold")
    text.append(f" · {job.found_rows:,} found · {job.not_found_rows:,} not found · ")
    text.append(f"{job.error_rows:,} errors", style="tone.error" if job.error_rows else "")
    text.append(f" · {job.invalid_rows:,} invalid · payer calls {job.payer_calls:,}")
    text.append("\nby ")
    text.append_text(untrusted(job.submitted_by, max_len=40))
    text.append(f" · started {when(job.started_at, tz)} · {duration(elapsed)}")
    text.append(f" · window {job.start_date.isoformat()} … {job.end_date.isoformat()} · strategy ")
    text.append_text(untrusted(job.strategy, max_len=16))
    text.append(" · TIN ")
    text.append_text(untrusted(job.tin or "(per row)", max_len=16))
    text.append(" · payer ")
    text.append_text(untrusted(job.payer_id, max_len=16))
    text.append(f" · attempt {job.attempts}")
    notes = _notes(job, tz, live)
    if notes.plain:
        text.append("\n")
        text.append_text(notes)
    return text


def _notes(job: Job, tz: ZoneInfo, live: Liveness) -> Text:
    """One line: what needs reading first."""
    parts: list[Text] = []
    note = live.note(when(live.since, tz, "%H:%M") if live.since else "")
    if note:
        parts.append(Text(f"{note} — {START_WORKERS}", style="tone.error.strong" if live.stalled else "tone.warn"))
    payer_wait = live.payer_note(when(live.payer_down_since, tz, "%H:%M"))
    if payer_wait:
        parts.append(Text(f"{payer_wait} (the job waits, then ends)", style="tone.warn"))
    if job.failure_reason:
        failure = Text("failure ", style="tone.error.strong")
        failure.append_text(untrusted(job.failure_reason, max_len=500))
        parts.append(failure)
    if job.cancel_requested_at is not None:
        cancel = Text("cancel ", style="tone.warn")
        cancel.append(f"asked {when(job.cancel_requested_at, tz, '%m-%d %H:%M:%S')} by ")
        cancel.append_text(untrusted(job.cancel_requested_by or "?", max_len=40))
        if job.cancel_latency_ms is not None:
            cancel.append(f" · stopped after {job.cancel_latency_ms:,} ms")
        parts.append(cancel)
    warnings = list(job.warnings or [])
    if warnings:
        warning = Text("warning ", style="tone.warn")
        warning.append_text(untrusted(warnings[0], max_len=500))
        if len(warnings) > 1:
            warning.append(f" (+{len(warnings) - 1} more: i)", style="dim")
        parts.append(warning)
    history = list(job.history or [])
    if not parts and history:
        last = Text("last ", style="dim")
        last.append_text(_history_line(history[-1], tz))
        parts.append(last)
    line = Text(end="")
    for i, part in enumerate(parts):
        if i:
            line.append(" · ", style="dim")
        line.append_text(part)
    return line


def job_fields(job: Job, now: datetime, tz: ZoneInfo, live: Liveness = ATTENDED) -> list[Field]:
    """The whole job, for its record screen (`i`): every parameter, warning and history entry."""
    elapsed, _, _ = job_timing(job, now, live)
    fields: list[Field] = [
        ("status", status_cell(live.status(job.status))),
        ("file", job.file_name),
        ("rows", f"{job.done_rows:,}/{job.total_rows:,} done · {job.found_rows:,} found · "
                 f"{job.not_found_rows:,} not found · {job.error_rows:,} errors · {job.invalid_rows:,} invalid"),
        ("payer calls", f"{job.payer_calls:,}"),
        ("window", f"{job.start_date.isoformat()} … {job.end_date.isoformat()}"),
        ("strategy", job.strategy),
        ("TIN", job.tin or "(per row)"),
        ("payer", job.payer_id),
        ("submitted", f"{when(job.created_at, tz)} by {job.submitted_by}"
                      + (f" from {job.submitted_from}" if job.submitted_from else "")),
        ("started", when(job.started_at, tz)),
        ("finished", when(job.finished_at, tz)),
        ("took", duration(elapsed)),
        ("attempt", str(job.attempts)),
    ]
    notes = _notes(job, tz, live)
    if notes.plain:
        fields.append(("now", notes))
    for i, warning in enumerate(job.warnings or []):
        fields.append(("warnings" if i == 0 else "", warning))
    for i, entry in enumerate(job.history or []):
        fields.append(("history" if i == 0 else "", _history_line(entry, tz)))
    return fields


@dataclass(frozen=True)
class DetailRequest:
    job_id: int
    outcome: str
    reload: bool
    visible: tuple[int, ...] = ()


@dataclass
class DetailData:
    job: Job | None  # None: the job does not exist (any more)
    live: Liveness = ATTENDED
    rows: list[JobRow] = field(default_factory=list)
    visible: dict[int, JobRow] = field(default_factory=dict)
    matching: int = 0


class JobDetailView(LiveWidget):
    def __init__(self, job_id: int) -> None:
        super().__init__(id="detail")
        self.job_id = job_id
        self.job: Job | None = None
        self.outcome = ""
        self.revealed = False
        self.frame = 0
        self.rows: dict[str, JobRow] = {}
        self.matching: int | None = None
        self.live: Liveness = ATTENDED
        self.found: Text | None = None  # what the last search found, for the title line
        self._searched: tuple[str, str] | None = None  # (text, outcome) of the last search

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="detail-summary")
        with Horizontal(id="detail-find", classes="filter-bar"):
            yield SafeInput(placeholder="claim number or row number — enter finds, enter again the next",
                            id="detail-find-text")
        yield Static(id="detail-rows-title", classes="status-line")
        self.table = PagedTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="rows-table", columns=ROW_COLUMNS,
            source=PageSource(self._fetch_page, lambda rows: [self._row(r) for r in rows],
                              host(self).report_error, stamp=lambda: self.outcome, added=self._page_added,
                              end=self._fetch_end),
        )
        yield self.table

    def on_mount(self) -> None:
        self._show_title()

    def build_request(self) -> DetailRequest:
        table = self.table
        reload = self._reload or not table.order
        return DetailRequest(
            self.job_id, self.outcome, reload, tuple(int(k) for k in table.visible_keys()) if not reload else ()
        )

    def fetch(self, request: DetailRequest) -> DetailData:
        db = context(self).db
        try:
            job = get_job(db, request.job_id)
        except JobNotFound:
            return DetailData(job=None)
        data = DetailData(job=job, live=liveness_of(db, [job])[job.id])
        data.matching = count_rows(db, request.job_id, request.outcome)
        if request.reload:
            data.rows = rows_page(db, request.job_id, outcome=request.outcome, limit=PAGE + 1)
        else:
            data.visible = rows_by_numbers(db, request.job_id, request.visible)
        return data

    def render_data(self, request: DetailRequest, data: DetailData) -> None:
        self.frame += 1
        if data.job is None:
            self.query_one("#detail-summary", Static).update(
                Text(f"Job {self.job_id} does not exist.", style=tone(self, "error"))
            )
            return
        if self.job is None or self.job.status != data.job.status:
            self.screen.refresh_bindings()  # cancel and retry come and go with the status
        self.job = data.job
        self.live = data.live
        self.matching = data.matching
        self._show_summary()
        table = self.table
        if request.reload:
            self._reload = False
            more = len(data.rows) > PAGE
            self.rows = {}
            table.replace_rows([self._row(r) for r in data.rows[:PAGE]], more_before=False, more_after=more)
        else:
            for number in request.visible:
                row = data.visible.get(number)
                key = str(number)
                if row is None:
                    continue
                key, cells = self._row(row)
                table.update_row(key, cells)
        self._prune()
        self._show_title()

    def render_failure(self, error: BaseException) -> None:
        self._show_title()

    def on_resize(self) -> None:
        self._show_summary()

    def _show_summary(self) -> None:
        if self.job is None:
            return
        ctx = context(self)
        width = self.query_one("#detail-summary", Static).content_region.width or self.size.width - 2
        self.query_one("#detail-summary", Static).update(
            job_summary(self.job, ctx.now(), ctx.tz, frame=self.frame, animate=not ctx.still, live=self.live,
                        width=width)
        )

    def _row(self, row: JobRow) -> tuple[str, Cells]:
        key = str(row.row_number)
        self.rows[key] = row
        return key, row_cells(row, self.revealed)

    def _prune(self) -> None:
        cells = self.table.cells
        if len(self.rows) > len(cells):
            self.rows = {k: v for k, v in self.rows.items() if k in cells}

    def _show_title(self) -> None:
        text = Text("Rows", style="bold", end="")
        text.append(f" · {OUTCOME_LABEL.get(self.outcome, self.outcome)}")
        table = self.table
        if self.matching is not None:
            at = table.cursor_key
            if at is not None:
                text.append(f" · row {int(at):,} · ")
            text.append(f"{self.matching:,} {'row' if self.matching == 1 else 'rows'}" if self.outcome == ""
                        else f"{self.matching:,} matching")
        if self.matching == 0 and self.outcome:
            text.append(" · no rows match — press o to change the outcome, esc to show all", style="dim")
        if self.found is not None:
            text.append("  ")
            text.append_text(self.found)
        if self.revealed:
            text.append(" · PHI revealed (ctrl+r hides)", style=tone(self, "warning"))
        else:
            text.append(" · PHI masked (ctrl+r reveals)", style="dim")
        self.query_one("#detail-rows-title", Static).update(mark_stale(self, text))

    # -- paging --

    def _fetch_page(self, side: Side, edge: int, outcome: str) -> list[JobRow]:
        db = context(self).db
        if side == "after":
            return rows_page(db, self.job_id, outcome=outcome, after_row=edge, limit=PAGE + 1)
        return rows_page(db, self.job_id, outcome=outcome, before_row=edge, limit=PAGE + 1)

    def _fetch_end(self, which: End, outcome: str) -> list[JobRow]:
        db = context(self).db
        if which == "start":
            return rows_page(db, self.job_id, outcome=outcome, limit=PAGE + 1)
        return rows_page(db, self.job_id, outcome=outcome, last=True, limit=PAGE + 1)

    def _page_added(self) -> None:
        self._prune()
        self._show_title()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_title()

    # -- the whole row (enter) --

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = self.table.cursor_key
        row = self.rows.get(key) if key is not None else None
        if row is None:
            return
        self.app.push_screen(RowScreen(self.job_id, row, revealed=self.revealed, tz=context(self).tz,
                                       on_reveal=self.set_revealed))

    # -- find a row: a claim number or a row number, anywhere in the job --

    def show_find(self) -> None:
        self.query_one("#detail-find").display = True
        # at once, not after the queued keys: a claim number typed fast must all land in the field
        self.screen.set_focus(self.query_one("#detail-find-text", Input))

    def hide_find(self) -> bool:
        """Close the find bar; False when it was not open."""
        bar = self.query_one("#detail-find")
        if not bar.display:
            return False
        bar.display = False
        self.found = None
        self._show_title()
        self.table.focus()
        return True

    @on(Input.Submitted, "#detail-find-text")
    def _find_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.find(event.value)

    def find(self, text: str) -> None:
        """Jump to the row: a new text finds its first match, the same text again the next."""
        text = text.strip()
        if not text:
            return
        outcome = self.outcome
        key = self.table.cursor_key
        after = int(key) if self._searched == (text, outcome) and key is not None else None
        self._searched = (text, outcome)
        job_id = self.job_id

        def look() -> tuple[int | None, list[JobRow], bool, bool]:
            db = context(self).db
            number = find_row(db, job_id, text, outcome=outcome, after_row=after)
            if number is None:
                return None, [], False, False
            return (number, *rows_around(db, job_id, number, outcome=outcome, limit=PAGE))

        def found(answer: tuple[int | None, list[JobRow], bool, bool]) -> None:
            number, rows, more_before, more_after = answer
            if outcome != self.outcome:
                return  # the outcome changed meanwhile
            shown = untrusted(repr(text), max_len=40)
            if number is None:
                self.found = Text("no row matches ", style=tone(self, "warning"), end="").append_text(shown)
                self._show_title()
                return
            self.found = Text(f"found row {number:,} for ", style="dim", end="").append_text(shown)
            table = self.table
            if str(number) not in table.cells:
                self.rows = {}
                table.replace_rows([self._row(r) for r in rows], more_before=more_before, more_after=more_after,
                                   keep=str(number))
            table.move_cursor(row=table.order.index(str(number)))
            self._show_title()

        in_worker(self, look, found, host(self).report_error, group="find", exclusive=True)

    # -- outcome filter and reveal --

    def set_outcome(self, outcome: str) -> None:
        if outcome == self.outcome:
            return
        self.outcome = outcome
        self.matching = None
        self._show_title()
        self.start_over()

    def on_revealed(self, message: Revealed) -> None:
        message.stop()
        self.set_revealed(True)

    def job_record(self) -> OpenRecord | None:
        job = self.job
        if job is None:
            return None
        ctx = context(self)
        return OpenRecord(Text(f"Job {job.id}", style="bold"), job_fields(job, ctx.now(), ctx.tz, self.live),
                          help_name=f"Job {job.id} (whole)")

    def set_revealed(self, revealed: bool) -> None:
        self.revealed = revealed
        table = self.table
        for key, row in self.rows.items():
            table.update_row(key, row_cells(row, revealed))
        self._show_title()


class JobDetailScreen(DetailScreen[JobDetailView]):
    BINDINGS = [
        field_opener("slash", "find", "Find", tooltip="go to a claim number or a row number (enter again: the next)", id="job.find"),
        Binding("o", "outcome", "Outcome", tooltip="show only rows with one outcome", id="job.outcome"),
        Binding("i", "job_record", "Job", tooltip="the whole job: every parameter, warning and history entry", id="job.job-record"),
        Binding("ctrl+r", "reveal", "Reveal", tooltip="show names, birth dates and member ids (audited)", id="job.reveal"),
        Binding("c", "cancel_job", "Cancel", id="job.cancel"),
        Binding("R", "retry_job", "Retry", id="job.retry"),
        Binding("e", "export_job", "Export", id="job.export"),
        Binding("l", "job_logs", "Logs", id="job.logs"),
    ]
    AUTO_FOCUS = "#rows-table"

    def __init__(self, job_id: int) -> None:
        super().__init__(JobDetailView(job_id), help_name=f"Job {job_id}", id=f"job-detail-{job_id}")
        self.job_id = job_id

    def action_back(self) -> None:
        view = self.view
        if view.hide_find():
            return
        if view.outcome:
            view.set_outcome("")
            return
        super().action_back()

    def action_find(self) -> None:
        step_aside_while_typing(self)
        self.view.show_find()

    def action_job_record(self) -> None:
        record = self.view.job_record()
        if record is not None:
            self.post_message(record)

    def action_outcome(self) -> None:
        choices = [(Text(label), value) for label, value in OUTCOME_CHOICES]

        def picked(value: str | None) -> None:
            if value is not None:
                self.view.set_outcome(value)

        self.app.push_screen(Picker("Show rows", choices, self.view.outcome), picked)

    def action_reveal(self) -> None:
        view = self.view
        if view.revealed:
            view.set_revealed(False)
            return
        self.post_message(Reveal(view, f"job {self.job_id}", "names, birth dates and member ids"))

    def _job(self) -> JobSummary:
        job = self.view.job
        return JobSummary(self.job_id, job.status, job.file_name) if job is not None else JobSummary(self.job_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel while the job is active, retry once it failed or was cancelled: the footer
        offers what this job can do now (at 80 columns there is no room for the rest)."""
        job = self.view.job
        if job is not None and action == "cancel_job":
            return job.status in ACTIVE
        if job is not None and action == "retry_job":
            return job.status in (FAILED, CANCELLED)
        return True

    def action_cancel_job(self) -> None:
        self.post_message(CancelJob(self._job()))

    def action_retry_job(self) -> None:
        self.post_message(RetryJob(self._job()))

    def action_export_job(self) -> None:
        self.post_message(ExportJob(self._job()))

    def action_job_logs(self) -> None:
        self.post_message(ShowJobLogs(self.job_id))
