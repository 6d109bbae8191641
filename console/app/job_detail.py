"""A job's detail: parameters, counters, warnings, the history (cancel requests included) and
its rows with results, paged from the database and filterable by outcome.

Member ids, names and birth dates are masked until the operator reveals them with ctrl+r
(role-checked and audited through engine.actions.perform).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.app.detail_screen import DetailScreen
from console.app.host import context, host, mark_stale
from console.app.jobs_view import job_timing
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, PagedTable, PageSource, Side, cells_of
from console.app.prompt import Picker
from console.app.render import duration, masked, money, plain, right, status_cell, untrusted, when
from console.app.requests import (
    CancelJob,
    ExportJob,
    JobSummary,
    RetryJob,
    Reveal,
    Revealed,
    ShowJobLogs,
)
from console.app.tone import tone
from engine.jobs.lifecycle import JobNotFound
from engine.jobs.liveness import ATTENDED, START_WORKERS, Liveness, liveness_of
from engine.jobs.queries import count_rows, get_job, rows_by_numbers, rows_page
from engine.models import Job, JobRow

PAGE = 200
MAX_ROWS = 600
HISTORY_SHOWN = 8

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
    return untrusted(row.status, max_len=20, style=RESULT_STYLE.get(row.status_class or "", ""))


def _patient(row: JobRow, revealed: bool) -> Text:
    return _name(row.patient_first_name or row.first_name, row.patient_last_name or row.last_name, revealed)


# the cells of a row are drawn for whether PHI is revealed
ROW_COLUMNS: tuple[Column[JobRow], ...] = (
    Column("row", "Row", 6, lambda row, revealed: right(str(row.row_number))),
    Column("claim", "Claim #", 12, lambda row, revealed: untrusted(row.claim_number, max_len=40), stretch=1),
    Column("status", "Result", 11, lambda row, revealed: _result(row)),
    Column("patient", "Patient", 20, _patient, stretch=1),
    Column("dob", "DOB", 10, lambda row, revealed: masked(row.date_of_birth, "dob", revealed=revealed)),
    Column("member", "Member ID", 12,
           lambda row, revealed: masked(row.subscriber_id, "member_id", revealed=revealed, max_len=40)),
    Column("charged", "Charged", 10, lambda row, revealed: right(money(row.total_charged))),
    Column("paid", "Paid", 10, lambda row, revealed: right(money(row.total_paid))),
    Column("processed", "Processed", 10,
           lambda row, revealed: plain(row.processed_date.isoformat() if row.processed_date else "")),
    Column("matched", "Matched by", 10, lambda row, revealed: untrusted(row.matched_by or "", max_len=16)),
    Column("message", "Message", 24,
           lambda row, revealed: untrusted(row.error_message or row.invalid_reason or "", max_len=300), stretch=2),
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
                live: Liveness = ATTENDED) -> Text:
    elapsed, _, _ = job_timing(job, now, live)
    text = Text(end="")
    text.append(f"Job {job.id}  ", style="bold")
    text.append_text(status_cell(live.status(job.status), frame=frame, animate=animate))
    text.append("  ")
    text.append_text(untrusted(job.file_name, max_len=120, style="bold"))
    note = live.note(when(live.since, tz, "%H:%M") if live.since else "")
    if note:
        text.append(f"\n{note} — {START_WORKERS}", style="tone.error.strong" if live.stalled else "tone.warn")
    payer_wait = live.payer_note(when(live.payer_down_since, tz, "%H:%M"))
    if payer_wait:
        text.append(f"\n{payer_wait} (it answers none of this job's calls; the job waits, then ends)",
                    style="tone.warn")
    text.append("\nrows ")
    text.append(f"{job.done_rows:,}/{job.total_rows:,} done", style="bold")
    text.append(f" · {job.found_rows:,} found · {job.not_found_rows:,} not found · ")
    text.append(f"{job.error_rows:,} errors", style="tone.error" if job.error_rows else "")
    text.append(f" · {job.invalid_rows:,} invalid · payer calls {job.payer_calls:,}")
    text.append(f"\nwindow {job.start_date.isoformat()} … {job.end_date.isoformat()} · strategy ")
    text.append_text(untrusted(job.strategy, max_len=16))
    text.append(" · TIN ")
    text.append_text(untrusted(job.tin or "(per row)", max_len=16))
    text.append(" · payer ")
    text.append_text(untrusted(job.payer_id, max_len=16))
    text.append(f"\nsubmitted {when(job.created_at, tz)} by ")
    text.append_text(untrusted(job.submitted_by, max_len=40))
    if job.submitted_from:
        text.append(" from ")
        text.append_text(untrusted(job.submitted_from, max_len=40))
    text.append(f" · started {when(job.started_at, tz)} · finished {when(job.finished_at, tz)}")
    text.append(f" · {duration(elapsed)} · attempt {job.attempts}")
    if job.cancel_requested_at is not None:
        text.append("\ncancel ", style="tone.warn")
        text.append(f"asked {when(job.cancel_requested_at, tz, '%m-%d %H:%M:%S')} by ")
        text.append_text(untrusted(job.cancel_requested_by or "?", max_len=40))
        if job.cancel_latency_ms is not None:
            text.append(f" · stopped after {job.cancel_latency_ms:,} ms")
    if job.failure_reason:
        text.append("\nfailure ", style="tone.error.strong")
        text.append_text(untrusted(job.failure_reason, max_len=500))
    for warning in job.warnings or []:
        text.append("\nwarning ", style="tone.warn")
        text.append_text(untrusted(warning, max_len=500))
    history = list(job.history or [])
    if history:
        hidden = len(history) - HISTORY_SHOWN
        text.append("\nhistory", style="bold")
        if hidden > 0:
            text.append(f" ({hidden} earlier not shown)", style="dim")
        for entry in history[-HISTORY_SHOWN:]:
            text.append("\n  ")
            text.append_text(_history_line(entry, tz))
    return text


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

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-top"):
            yield Static(Text("loading…", style="dim"), id="detail-summary")
        yield Static(id="detail-rows-title", classes="status-line")
        self.table = PagedTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="rows-table", columns=ROW_COLUMNS,
            source=PageSource(self._fetch_page, lambda rows: [self._row(r) for r in rows],
                              host(self).report_error, stamp=lambda: self.outcome, added=self._page_added),
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
        ctx = context(self)
        self.frame += 1
        if data.job is None:
            self.query_one("#detail-summary", Static).update(
                Text(f"Job {self.job_id} does not exist.", style=tone(self, "error"))
            )
            return
        self.job = data.job
        self.matching = data.matching
        self.query_one("#detail-summary", Static).update(
            job_summary(data.job, ctx.now(), ctx.tz, frame=self.frame, animate=not ctx.still, live=data.live)
        )
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
        if self.matching is not None:
            text.append(f" · {self.matching:,} matching · {len(self.table.order):,} loaded")
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

    def _page_added(self) -> None:
        self._prune()
        self._show_title()

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

    def set_revealed(self, revealed: bool) -> None:
        self.revealed = revealed
        table = self.table
        for key, row in self.rows.items():
            table.update_row(key, row_cells(row, revealed))
        self._show_title()


class JobDetailScreen(DetailScreen[JobDetailView]):
    BINDINGS = [
        Binding("slash", "outcome", "Outcome", tooltip="show only rows with one outcome", id="job.outcome"),
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
        if view.outcome:
            view.set_outcome("")
            return
        super().action_back()

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

    def action_cancel_job(self) -> None:
        self.post_message(CancelJob(self._job()))

    def action_retry_job(self) -> None:
        self.post_message(RetryJob(self._job()))

    def action_export_job(self) -> None:
        self.post_message(ExportJob(self._job()))

    def action_job_logs(self) -> None:
        self.post_message(ShowJobLogs(self.job_id))
