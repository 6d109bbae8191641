"""Jobs: a windowed table of jobs, newest first, updated in place.

The table holds a page of the newest jobs and fetches more as the cursor nears the end (at
most `MAX_ROWS` in memory, whatever the history). Each refresh fetches the jobs on screen by
id and any newer job, and updates the changed cells; the cursor stays on its job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static

from console.app.feed import Feed, FeedData, FeedRequest
from console.app.host import ask_about, context, host, mark_stale
from console.app.inputs import SafeInput
from console.app.keys import field_opener, step_aside_while_typing
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, PagedTable, cells_of
from console.app.render import (
    At,
    count,
    duration,
    plain,
    progress_bar,
    rate,
    right,
    status_cell,
    untrusted,
    when,
)
from console.app.requests import (
    CancelJob,
    ExportJob,
    JobSummary,
    OpenJob,
    RetryJob,
    ShowJobLogs,
    UploadJob,
)
from console.app.tone import tone
from engine.followup.recheck import FOLLOWUP
from engine.jobs import queries
from engine.jobs.lifecycle import ACTIVE, STATUSES
from engine.jobs.liveness import ATTENDED, START_WORKERS, Liveness, liveness_of
from engine.jobs.queries import JobQuery, jobs_by_ids
from engine.models import Job

PAGE = 200
MAX_ROWS = 600

STATUS_CHOICES: tuple[tuple[str, str], ...] = (
    ("any status", ""),
    ("active", "ACTIVE"),
    *((s.title(), s) for s in STATUSES),
)


def job_timing(job: Job, now: datetime, live: Liveness = ATTENDED) -> tuple[float | None, float | None, float | None]:
    """(duration seconds, rows per second, ETA seconds) at `now`; a stalled job has neither a
    rate nor an ETA (nothing runs it), and its time stops when its worker was last seen."""
    if job.started_at is None:
        return None, None, None
    end = job.finished_at or (live.since if live.stalled and live.since else now)
    elapsed = max(0.0, (end - job.started_at).total_seconds())
    if live.stalled:
        return elapsed, None, None
    done = max(0, job.done_rows - job.invalid_rows)
    speed = done / elapsed if elapsed >= 1 and done else None
    eta = None
    if job.status == "PROCESSING" and speed:
        eta = max(0, job.total_rows - job.done_rows) / speed
    return elapsed, speed, eta


def _rate(job: Job, at: At) -> Text:
    _, speed, _ = job_timing(job, at.now, at.live)
    return right(rate(speed) if job.status == "PROCESSING" and not at.live.stalled or speed else "—")


def _eta(job: Job, at: At) -> Text:
    _, _, eta = job_timing(job, at.now, at.live)
    return right(duration(eta) if eta is not None else "—")


def _status(job: Job, at: At) -> Text:
    return status_cell(at.live.status(job.status), frame=at.frame, animate=at.animate)


def _err_inv(job: Job, at: At) -> Text:
    text = Text(justify="right", end="")
    text.append(f"{job.error_rows:,}", style="tone.error" if job.error_rows else "")
    text.append("/", style="dim")
    text.append(f"{job.invalid_rows:,}", style="tone.warn" if job.invalid_rows else "")
    return text


FOLLOW_UP_MARK = "↻ "  # a follow-up job: the recheck_open_claims task (or `claimsops recheck`) made it


def file_cell(job: Job, max_len: int = 255) -> Text:
    """The file name; a follow-up job's is marked."""
    if job.kind != FOLLOWUP:
        return untrusted(job.file_name, max_len=max_len)
    text = Text(FOLLOW_UP_MARK, style="tone.info.strong", end="")
    text.append_text(untrusted(job.file_name, max_len=max_len))
    return text


# at 80 columns: ID, Status, File, Progress, Found, Err/Inv, ETA; the rest as the terminal widens
COLUMNS: tuple[Column[Job], ...] = (
    Column("id", "ID", 6, lambda job, at: right(str(job.id))),
    Column("status", "Status", 12, _status),
    Column("file", "File", 11, lambda job, at: file_cell(job), stretch=1, priority=1),
    Column("progress", "Progress", 15,
           lambda job, at: progress_bar(job.done_rows, job.total_rows, at.live.status(job.status))),
    Column("done", "Done/Total", 13, lambda job, at: right(f"{job.done_rows:,}/{job.total_rows:,}"), priority=2),
    Column("found", "Found", 6, lambda job, at: count(job.found_rows, "tone.ok")),
    Column("not_found", "NotFd", 6, lambda job, at: count(job.not_found_rows), priority=3),
    Column("err_inv", "Err/Inv", 7, _err_inv),
    Column("rate", "Rows/s", 6, _rate, priority=3),
    Column("eta", "ETA", 7, _eta),
    Column("by", "By", 10, lambda job, at: untrusted(job.submitted_by, max_len=64), priority=4),
    Column("started", "Started", 11, lambda job, at: plain(when(job.started_at, at.tz)), priority=5),
    Column("duration", "Duration", 8, lambda job, at: right(duration(job_timing(job, at.now, at.live)[0])),
           priority=5),
)


JOBS: Feed[Job] = Feed(queries.jobs_page, queries.jobs_newer, queries.jobs_by_ids, page=PAGE)


@dataclass(frozen=True)
class JobsRequest:
    feed: FeedRequest  # its stamp is the filter
    span: tuple[int, int] | None = None  # the window's id range, when a status filter is set
    shown: frozenset[int] = frozenset()  # the ids in the window then


@dataclass
class JobsData:
    feed: FeedData[Job]
    total: int = 0
    entered: list[Job] = field(default_factory=list)  # jobs that now match the status filter
    live: dict[int, Liveness] = field(default_factory=dict)  # of every job fetched


class JobsTable(PagedTable):
    BINDINGS = [Binding("enter", "select_cursor", "Detail", show=False, tooltip="the job's parameters, history and rows", id="jobs.detail")]


class JobsView(LiveWidget):
    """Tab 1."""

    BINDINGS = [
        field_opener("slash", "filter", "Filter", tooltip="filter by text and status", id="jobs.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="jobs.clear-filter"),
        Binding("u", "upload", "Upload", tooltip="submit a CSV file as a new job", id="jobs.upload"),
        Binding("c", "cancel_job", "Cancel", tooltip="cancel the selected job (asks first)", id="jobs.cancel"),
        Binding("R", "retry_job", "Retry", tooltip="process a FAILED or CANCELLED job again (asks first)", id="jobs.retry"),
        Binding("e", "export_job", "Export", tooltip="write the job's results to a file", id="jobs.export"),
        Binding("l", "job_logs", "Logs", tooltip="this job's log lines", id="jobs.logs"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flt = JobQuery()
        self.summaries: dict[str, JobSummary] = {}
        self.frame = 0
        self.total: int | None = None
        self.live: dict[int, Liveness] = {}  # of the jobs in the window
        self._select_when_seen: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="jobs-filter", classes="filter-bar"):
            yield SafeInput(placeholder="file, user or job id", id="jobs-filter-text")
            yield Select(STATUS_CHOICES, allow_blank=False, value="", id="jobs-filter-status", compact=True)
        self.table = JobsTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="jobs-table", columns=COLUMNS,
            source=JOBS.source(lambda: context(self).db, self._page_rows, host(self).report_error,
                               stamp=lambda: self.flt, added=self._page_added))
        yield self.table
        yield Static(id="jobs-status", classes="status-line")

    def on_mount(self) -> None:
        self._show_status()

    # -- live refresh --

    def build_request(self) -> JobsRequest:
        table = self.table
        head = table.edge_key("before")
        tail = table.edge_key("after")
        # the id range the window covers: down to the first job when nothing older is left out
        low = int(tail) if tail and table.more_after else 0
        span = (low, int(head)) if self.flt.statuses and head else None
        shown = frozenset(int(k) for k in table.order) if span else frozenset()
        return JobsRequest(JOBS.request(table, self.flt, self._reload), span=span, shown=shown)

    def fetch(self, request: JobsRequest) -> JobsData:
        db = context(self).db
        flt = request.feed.stamp
        data = JobsData(JOBS.fetch(db, request.feed), total=queries.count_jobs(db, flt))
        if not request.feed.reload and request.span is not None:
            # a job whose status changed into the filter: it joins the window where it belongs
            ids = queries.job_ids_between(db, flt, *request.span)
            entered = [i for i in ids if i not in request.shown]
            if entered:
                data.entered = list(jobs_by_ids(db, entered[:PAGE]).values())
        feed = data.feed
        data.live = liveness_of(db, [*feed.first, *feed.newer, *feed.visible.values(), *data.entered])
        return data

    def render_data(self, request: JobsRequest, data: JobsData) -> None:
        ctx = context(self)
        now = ctx.now()
        animate = not ctx.still
        self.frame += 1
        table = self.table
        self.total = data.total
        self.live = data.live if request.feed.reload else {**self.live, **data.live}
        feed = data.feed
        if request.feed.reload:
            self._reload = False
            more = len(feed.first) > PAGE
            jobs = feed.first[:PAGE]
            self.summaries = {}
            table.replace_rows(
                [self._row(job, now, animate) for job in jobs], more_before=False, more_after=more,
                keep=self._select_when_seen,
            )
        else:
            for job_id in request.feed.visible:
                key = str(job_id)
                job = feed.visible.get(job_id)
                if job is None or not request.feed.stamp.matches_status(job.status):
                    table.remove_key(key)
                    self.summaries.pop(key, None)
                    continue
                key, cells = self._row(job, now, animate)
                table.update_row(key, cells)
            if data.entered:
                self._merge(data.entered, now, animate)
            if len(feed.newer) > PAGE:  # far behind: start again from the newest
                self.start_over(drop_in_flight=False)
            elif feed.newer:
                table.add_head([self._row(job, now, animate) for job in feed.newer])
        self._prune()
        if self._select_when_seen and self._select_when_seen in table.cells:
            table.move_cursor(row=table.order.index(self._select_when_seen))
            self._select_when_seen = None
        self._show_status()

    def render_failure(self, error: BaseException) -> None:
        self._show_status()

    def _merge(self, jobs: list[Job], now: datetime, animate: bool) -> None:
        """Put jobs into the window at their place (newest first), keeping the cursor."""
        table = self.table
        rows = {key: table.cells[key] for key in table.order}
        for job in jobs:
            key, cells = self._row(job, now, animate)
            rows[key] = cells
        ordered = sorted(rows.items(), key=lambda item: -int(item[0]))
        more_after = table.more_after or len(ordered) > table.max_rows
        table.replace_rows(ordered[: table.max_rows], more_before=table.more_before, more_after=more_after)

    def _row(self, job: Job, now: datetime, animate: bool) -> tuple[str, Cells]:
        key = str(job.id)
        self.summaries[key] = JobSummary(job.id, job.status, job.file_name)
        live = self.live.get(job.id, ATTENDED)
        return key, cells_of(COLUMNS, job, At(now, context(self).tz, frame=self.frame, animate=animate, live=live))

    def _prune(self) -> None:
        cells = self.table.cells
        if len(self.summaries) > len(cells):
            self.summaries = {k: v for k, v in self.summaries.items() if k in cells}
        if len(self.live) > len(cells):
            self.live = {k: v for k, v in self.live.items() if str(k) in cells}

    def _unattended(self) -> Text | None:
        """The warning for stalled jobs (or queued ones no worker will take) in the window:
        first on the status line, so that the fix is what an operator reads."""
        stalled = sorted((i for i, live in self.live.items() if live.stalled), reverse=True)
        if stalled:
            since = min((self.live[i].since for i in stalled if self.live[i].since), default=None)
            jobs = "job " + str(stalled[0]) if len(stalled) == 1 else f"{len(stalled)} jobs"
            clock = f" since {when(since, context(self).tz, '%H:%M')}" if since else ""
            return Text(f"! {jobs} stalled{clock} — {START_WORKERS}  ", style=tone(self, "error"), end="")
        if any(live.unattended for live in self.live.values()):
            return Text(f"queued — no worker running: {START_WORKERS}  ", style=tone(self, "warning"), end="")
        waiting = sorted(i for i, live in self.live.items() if live.payer_down_since)
        if waiting:
            since = min(self.live[i].payer_down_since for i in waiting)
            jobs = f"job {waiting[0]}" if len(waiting) == 1 else f"{len(waiting)} jobs"
            clock = when(since, context(self).tz, "%H:%M")
            return Text(f"{jobs}: waiting for the payer since {clock}  ", style=tone(self, "warning"), end="")
        return None

    def _show_status(self) -> None:
        table = self.table
        text = self._unattended() or Text(end="")
        if self.total is None:
            text.append("loading…", style="dim")
        elif not table.order:
            if self._filtered:
                text.append("no job matches the filter — / changes it, esc clears it", style="dim")
            else:
                text.append("no jobs yet — press u to upload a CSV, or run `claimsops submit FILE`", style="dim")
        else:
            text.append(self._position())
        if self._filtered:
            text.append("  filter: ", style="dim")
            if self.flt.text:
                text.append_text(untrusted(repr(self.flt.text), max_len=40))
                text.append(" ")
            if self.flt.statuses:
                text.append(",".join(self.flt.statuses))
            text.append("  (esc clears)", style="dim")
        mark_stale(self, text)
        self.query_one("#jobs-status", Static).update(text)

    def _position(self) -> str:
        """Where the cursor is in the whole list ("job 2 of 5"): the window's place in it is
        known when it holds the list's start (or its end)."""
        table = self.table
        total = self.total or 0
        matching = " matching" if self._filtered else ""
        at: int | None = None
        if not table.more_before:
            at = table.cursor_row + 1
        elif not table.more_after:
            at = total - (len(table.order) - 1 - table.cursor_row)
        if at is None or not 0 < at <= total:
            return f"{total:,} job{'s' if total != 1 else ''}{matching}"
        return f"job {at:,} of {total:,}{matching}"

    @property
    def _filtered(self) -> bool:
        return bool(self.flt.text or self.flt.statuses)

    # -- paging --

    def _page_rows(self, jobs: list[Job]) -> list[tuple[str, Cells]]:
        ctx = context(self)
        now = ctx.now()
        return [self._row(job, now, not ctx.still) for job in jobs]

    def _page_added(self) -> None:
        self._prune()
        self._show_status()

    # -- the selected job --

    def selected(self) -> JobSummary | None:
        key = self.table.cursor_key
        return self.summaries.get(key) if key else None

    def select_when_seen(self, job_id: int) -> None:
        """Put the cursor on this job as soon as a refresh brings it in (after an upload)."""
        self._select_when_seen = str(job_id)
        if self._filtered:
            self.flt = JobQuery()
            self._reset_filter_widgets()
        self.start_over()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_status()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_job()

    # -- filter --

    def action_filter(self) -> None:
        step_aside_while_typing(self)
        bar = self.query_one("#jobs-filter")
        bar.display = True
        # at once, not after the queued keys: "/arch" typed fast must all land in the field
        self.screen.set_focus(self.query_one("#jobs-filter-text", Input))

    def action_clear_filter(self) -> None:
        bar = self.query_one("#jobs-filter")
        if not self._filtered and not bar.display:
            return
        self.flt = JobQuery()
        self._reset_filter_widgets()
        bar.display = False
        self.table.focus()
        self._apply_filter()

    def _reset_filter_widgets(self) -> None:
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#jobs-filter-text", Input).value = ""
            self.query_one("#jobs-filter-status", Select).value = ""

    @on(Input.Changed, "#jobs-filter-text")
    @on(Select.Changed, "#jobs-filter-status")
    def _filter_changed(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        text = self.query_one("#jobs-filter-text", Input).value
        choice = self.query_one("#jobs-filter-status", Select).value
        statuses: tuple[str, ...] = ()
        if choice == "ACTIVE":
            statuses = ACTIVE
        elif isinstance(choice, str) and choice:
            statuses = (choice,)
        flt = JobQuery(statuses=statuses, text=text.strip())
        if flt != self.flt:
            self.flt = flt
            self._apply_filter()

    @on(Input.Submitted, "#jobs-filter-text")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def _apply_filter(self) -> None:
        self.total = None
        self._show_status()
        self.start_over()

    # -- actions on the selected job --

    def action_open_job(self) -> None:
        ask_about(self, self.selected(), "job", lambda job: OpenJob(job.id))

    def action_upload(self) -> None:
        self.post_message(UploadJob())

    def action_cancel_job(self) -> None:
        ask_about(self, self.selected(), "job", CancelJob)

    def action_retry_job(self) -> None:
        ask_about(self, self.selected(), "job", RetryJob)

    def action_export_job(self) -> None:
        ask_about(self, self.selected(), "job", ExportJob)

    def action_job_logs(self) -> None:
        ask_about(self, self.selected(), "job", lambda job: ShowJobLogs(job.id))

    def focus_main(self) -> None:
        self.table.focus()
