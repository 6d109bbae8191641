"""Follow-up: the claims the payer has not decided yet, what changed, and what needs a person.

Three lists, paged from the database like the others (a window of at most `MAX_ROWS`):
`o` the open claims, oldest first, with their age, status and next re-check (`/` one status
group); `s` the stale ones — open so long they are no longer re-checked by themselves; `c` the
claims whose status changed since a time (today, the last 7 or 30 days, a typed date), newest
first, which `e` exports as a CSV file through the export dialog (0600, asks before replacing a
file). `enter` opens the claim's timeline; `esc` goes back to the open claims.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.app.claim_timeline import CLASS_STYLE, ClaimKey, TimelineScreen
from console.app.host import context, host, in_worker, mark_stale
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, PagedTable, PageSource, Side, cells_of
from console.app.prompt import Picker
from console.app.render import money, plain, right, untrusted, when
from console.app.requests import ExportChanges
from console.app.since import Since, pick_since, since_choice
from engine.followup import queries as fq
from engine.followup.finality import OPEN, STALE
from engine.followup.recheck import rules_from

PAGE = 200
MAX_ROWS = 600
CHANGED = "changed"
REFRESH_FLOOR = 5.0  # s: claims change when a job or the daily re-check runs, not every second
COUNT_EVERY = 60.0  # s: the open and stale counts read every claim; the lists themselves are pages
TITLES = {OPEN: "Open claims, oldest first", STALE: "Stale, needs a person", CHANGED: "Changed"}

STATUS_GROUPS: tuple[tuple[str, str], ...] = (
    ("every open status", ""),
    ("A* acknowledged", "A"),
    ("P* pending", "P"),
    ("R* more information requested", "R"),
    ("E* payer error", "E"),
    ("D0 data search unsuccessful", "D0"),
)
GROUP_LABEL = {value: label for label, value in STATUS_GROUPS}


@dataclass(frozen=True)
class At:
    """What a list's cells are drawn for: the time now, the site's zone, and whether it is the
    stale list."""

    now: datetime
    tz: ZoneInfo
    stale: bool = False


def _age(claim: fq.ClaimState, at: At) -> Text:
    return right(f"{claim.age_days:,} d", "tone.warn.strong" if at.stale else "")


def _status(claim: fq.ClaimState, at: At) -> Text:
    text = untrusted(claim.status_category or "—", max_len=8, style="bold")
    text.append(" ")
    text.append_text(untrusted(claim.status, max_len=32, style=CLASS_STYLE.get(claim.status_class, "")))
    return text


def _next(claim: fq.ClaimState, at: At) -> Text:
    if at.stale:  # no longer asked by itself
        return plain("a person", "tone.warn")
    if claim.next_check_at is None:
        return plain("—", "dim")
    if claim.next_check_at <= at.now:
        return plain("due", "tone.info")
    return plain(when(claim.next_check_at, at.tz, "%m-%d"))


CLAIM_COLUMNS: tuple[Column[fq.ClaimState], ...] = (
    Column("claim", "Claim #", 12, lambda c, at: untrusted(c.claim_number, max_len=64, style="bold"), stretch=1),
    Column("age", "Age", 6, _age),
    Column("status", "Status", 18, _status, stretch=1),
    Column("since", "Since", 5, lambda c, at: plain(when(c.status_since, at.tz, "%m-%d"))),
    Column("next", "Next check", 10, _next),
    Column("checks", "Seen", 4, lambda c, at: right(f"{c.observations:,}")),
    Column("tin", "TIN", 9, lambda c, at: untrusted(c.tin, max_len=16)),
    Column("paid", "Paid", 9, lambda c, at: right(money(c.total_paid))),
    Column("job", "Last job", 8, lambda c, at: right(str(c.last_job_id))),
)

CHANGE_COLUMNS: tuple[Column[fq.Change], ...] = (
    Column("at", "When", 11, lambda c, at: plain(when(c.observed_at, at.tz, "%m-%d %H:%M"))),
    Column("claim", "Claim #", 12, lambda c, at: untrusted(c.claim_number, max_len=64, style="bold"), stretch=1),
    Column("change", "Change", 30,
           lambda c, at: untrusted(c.summary, max_len=200, style=CHANGE_STYLE.get(c.new_status_category[:1], "")),
           stretch=2),
    Column("tin", "TIN", 9, lambda c, at: untrusted(c.tin, max_len=16)),
    Column("job", "Job", 6, lambda c, at: right(str(c.job_id))),
)


CHANGE_STYLE = {"F": "tone.ok", "P": "tone.info", "A": "tone.info", "R": "tone.warn", "E": "tone.error"}


@dataclass(frozen=True)
class Listing:
    """What the window is fetched for."""

    mode: str = OPEN
    group: str = ""  # a status group of the open list
    since: Since | None = None  # the changes' start


@dataclass(frozen=True)
class Counts:
    open: int
    stale: int


@dataclass(frozen=True)
class FollowupRequest:
    listing: Listing
    since: datetime | None  # the changes' start, in the site's zone
    reload: bool
    visible: tuple[int, ...] = ()  # the claims on screen (open and stale lists)
    head: int | None = None  # the newest change in the window, when it is at the newest end


@dataclass
class FollowupData:
    first: list[Any] = field(default_factory=list)
    visible: dict[int, fq.ClaimState] = field(default_factory=dict)
    newer: list[fq.Change] = field(default_factory=list)


def claim_query(listing: Listing) -> fq.ClaimQuery:
    return fq.ClaimQuery(state=STALE if listing.mode == STALE else OPEN,
                         categories=(listing.group,) if listing.group else ())


class ClaimsTable(PagedTable):
    BINDINGS = [Binding("enter", "select_cursor", "Timeline", show=False, tooltip="every observation of the claim",
                        id="followup.timeline")]


class FollowupView(LiveWidget):
    """Tab 8."""

    MIN_INTERVAL: ClassVar[float] = REFRESH_FLOOR

    BINDINGS = [
        Binding("o", "show_open", "Open", tooltip="open claims, oldest first", id="followup.open"),
        Binding("s", "show_stale", "Stale", tooltip="open too long: they need a person", id="followup.stale"),
        Binding("c", "pick_since", "Changed", tooltip="claims whose status changed since a time",
                id="followup.changed"),
        Binding("slash", "pick_group", "Status", tooltip="only open claims in one status group", id="followup.group"),
        Binding("e", "export_changes", "Export", tooltip="the changes shown, as a CSV file", id="followup.export"),
        Binding("escape", "back_to_open", "Open claims", show=False, id="followup.back"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.listing = Listing()
        self.counts: Counts | None = None
        self._counted_at = 0.0
        self._counting = False
        self.records: dict[str, Any] = {}
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="followup-status", classes="status-line")
        self.claims_table = ClaimsTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="followup-claims", columns=CLAIM_COLUMNS,
            source=PageSource(self._fetch_page, self._rows, host(self).report_error, stamp=lambda: self.listing,
                              added=self._page_added))
        self.changes_table = ClaimsTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="followup-changes", columns=CHANGE_COLUMNS,
            source=PageSource(self._fetch_page, self._rows, host(self).report_error, stamp=lambda: self.listing,
                              added=self._page_added))
        yield self.claims_table
        yield self.changes_table
        yield Static(id="followup-empty")

    def on_mount(self) -> None:
        self.changes_table.display = False
        self.query_one("#followup-empty").display = False
        self._show_status()

    @property
    def table(self) -> PagedTable:
        return self.changes_table if self.listing.mode == CHANGED else self.claims_table

    # -- live --

    def build_request(self) -> FollowupRequest:
        table, listing = self.table, self.listing
        since = self._since().moment(context(self).tz) if listing.mode == CHANGED else None
        if self._reload or not table.order:
            return FollowupRequest(listing, since, True)
        if listing.mode == CHANGED:  # observations never change: only newer ones come in
            head = table.edge_key("before")
            return FollowupRequest(listing, since, False, head=int(head) if head and not table.more_before else None)
        return FollowupRequest(listing, since, False, visible=tuple(int(k) for k in table.visible_keys()))

    def fetch(self, request: FollowupRequest) -> FollowupData:
        ctx = context(self)
        db, now, listing = ctx.db, ctx.now(), request.listing
        query, rules = claim_query(listing), rules_from(ctx.settings)
        data = FollowupData()
        if listing.mode == CHANGED:
            if request.reload:
                data.first = fq.changes_page(db, since=request.since, limit=PAGE + 1)
            elif request.head is not None:
                data.newer = fq.changes_page(db, since=request.since, after_id=request.head, limit=PAGE + 1)
        elif request.reload:
            data.first = fq.claims_page(db, query, limit=PAGE + 1, now=now, rules=rules)
        elif request.visible:
            data.visible = fq.claims_by_ids(db, query, request.visible, now=now, rules=rules)
        return data

    def render_data(self, request: FollowupRequest, data: FollowupData) -> None:
        self.call_after_refresh(self._count_claims)  # once the list is painted: it does not wait for them
        self.loaded = True
        table = self.table
        if request.reload:
            self._reload = False
            self.records = {}
            table.replace_rows(self._rows(data.first[:PAGE]), more_before=False, more_after=len(data.first) > PAGE)
        elif request.listing.mode == CHANGED:
            if len(data.newer) > PAGE:  # far behind: start again from the newest
                self.start_over(drop_in_flight=False)
            elif data.newer:  # on top, the cursor staying on its change
                rows = self._rows(data.newer) + [(key, table.cells[key]) for key in table.order]
                table.replace_rows(rows[: table.max_rows], more_before=table.more_before,
                                   more_after=table.more_after or len(rows) > table.max_rows)
        else:
            for claim_id in request.visible:
                claim = data.visible.get(claim_id)
                if claim is None:  # closed meanwhile, or gone stale
                    table.remove_key(str(claim_id))
                    self.records.pop(str(claim_id), None)
                    continue
                table.update_row(*self._rows([claim])[0])
        self._prune()
        self._show_status()

    def render_failure(self, error: BaseException) -> None:
        self._show_status()

    def _count_claims(self) -> None:
        """The open and stale counts read every claim: in a worker of their own, so the list
        does not wait for them, and at most once a minute."""
        if self._counting or (self.counts is not None and time.monotonic() - self._counted_at < COUNT_EVERY):
            return
        ctx = context(self)
        db, now, rules = ctx.db, ctx.now(), rules_from(ctx.settings)
        self._counting = True

        def count() -> Counts:
            return Counts(fq.count_claims(db, fq.ClaimQuery(OPEN), now=now, rules=rules),
                          fq.count_claims(db, fq.ClaimQuery(STALE), now=now, rules=rules))

        in_worker(self, count, self._counted, self._count_failed, group="followup-count", exclusive=True)

    def _counted(self, counts: Counts) -> None:
        self._counting = False
        self.counts, self._counted_at = counts, time.monotonic()
        self._show_status()

    def _count_failed(self, error: BaseException) -> None:
        self._counting = False
        host(self).report_error(error)

    def _since(self) -> Since:
        """The changes' start: the one picked, else the last 7 days."""
        ctx = context(self)
        return self.listing.since or since_choice("7", ctx.now().astimezone(ctx.tz).date())

    def _rows(self, records: list[Any]) -> list[tuple[str, Cells]]:
        ctx = context(self)
        at = At(ctx.now(), ctx.tz, stale=self.listing.mode == STALE)
        columns: Any = CHANGE_COLUMNS if self.listing.mode == CHANGED else CLAIM_COLUMNS
        out = []
        for record in records:
            key = str(record.observation_id if self.listing.mode == CHANGED else record.claim_id)
            self.records[key] = record
            out.append((key, cells_of(columns, record, at)))
        return out

    def _prune(self) -> None:
        cells = self.table.cells
        if len(self.records) > len(cells):
            self.records = {k: v for k, v in self.records.items() if k in cells}

    def _page_added(self) -> None:
        self._prune()
        self._show_status()

    def _fetch_page(self, side: Side, edge: int, listing: Listing) -> list[Any]:
        ctx = context(self)
        db, now = ctx.db, ctx.now()
        edges = {"before_id": edge} if side == "after" else {"after_id": edge}
        if listing.mode == CHANGED:  # newest first
            since = (listing.since or since_choice("7", now.astimezone(ctx.tz).date())).moment(ctx.tz)
            return fq.changes_page(db, since=since, limit=PAGE + 1, **edges)
        edges = {"after_id": edge} if side == "after" else {"before_id": edge}  # oldest first
        return fq.claims_page(db, claim_query(listing), limit=PAGE + 1, now=now, rules=rules_from(ctx.settings),
                              **edges)

    # -- what the operator reads --

    def _show_status(self) -> None:
        listing, table = self.listing, self.table
        text = Text(TITLES[listing.mode], style="bold", end="")
        if listing.mode == CHANGED:
            text.append(f" {self._since_label()}, newest first", style="bold")
        if listing.group:
            text.append(f" · {GROUP_LABEL.get(listing.group, listing.group)}")
        counts = self.counts
        if counts is not None:
            text.append(f" · {counts.open:,} open · ", style="dim")
            text.append(f"{counts.stale:,} stale", style="tone.warn" if counts.stale else "dim")
        if not self.loaded:
            text.append(" · loading…", style="dim")
        elif table.order:
            more = "+" if table.more_after else ""
            text.append(f" · {table.cursor_row + 1:,}/{len(table.order):,}{more}", style="dim")
        mark_stale(self, text)
        self.query_one("#followup-status", Static).update(text)
        self._show_empty()

    def _since_label(self) -> str:
        return self._since().label

    def _show_empty(self) -> None:
        """An empty list keeps its header (and the focus: the keys still work) and says what
        to do below it."""
        empty = self.query_one("#followup-empty", Static)
        table = self.table
        is_empty = self.loaded and not table.order
        empty.display = is_empty
        table.display = True
        table.set_class(is_empty, "-empty")
        other = self.claims_table if table is self.changes_table else self.changes_table
        other.display = False
        if is_empty:
            empty.update(self._empty_text())

    def _empty_text(self) -> Text:
        listing, counts = self.listing, self.counts
        text = Text(end="")
        if listing.mode == CHANGED:
            text.append(f"No claim changed status {self._since_label()}.\n", style="bold")
            text.append("c picks another time. Open claims are asked again by the recheck_open_claims task "
                        "(4 Schedulers: r runs it now); what changes shows here.", style="dim")
        elif listing.mode == STALE:
            text.append("No stale claim: none has been open long enough to need a person.\n", style="bold")
            text.append("o shows the open claims.", style="dim")
        elif listing.group:
            text.append(f"No open claim in {GROUP_LABEL.get(listing.group, listing.group)}.\n", style="bold")
            text.append("/ picks another status group · esc shows every open claim.", style="dim")
        elif counts is not None and counts.stale:
            text.append("No open claim is waiting for a re-check.\n", style="bold")
            text.append(f"s shows the {counts.stale:,} stale ones, which need a person.", style="dim")
        else:
            text.append("No open claim.\n", style="bold")
            text.append("Claims come in with the results of every job: upload a CSV on 1 Jobs (u). Those the "
                        "payer has not decided yet are listed here and asked again by the recheck_open_claims "
                        "task.", style="dim")
        return text

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_status()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_timeline()

    def focus_main(self) -> None:
        self.table.focus()

    # -- choosing the list --

    def show(self, listing: Listing) -> None:
        if listing == self.listing and self.loaded:
            self.focus_main()
            return
        self.listing = listing
        self.loaded = False
        self.records = {}
        self._show_status()
        self.focus_main()
        self.start_over()

    def action_show_open(self) -> None:
        self.show(Listing(OPEN, group=self.listing.group if self.listing.mode == OPEN else ""))

    def action_show_stale(self) -> None:
        self.show(Listing(STALE))

    def action_back_to_open(self) -> None:
        if self.listing != Listing():
            self.show(Listing())

    def action_pick_since(self) -> None:
        ctx = context(self)
        today = ctx.now().astimezone(ctx.tz).date()
        current = self.listing.since if self.listing.mode == CHANGED else None
        pick_since(self, today, current, lambda since: self.show(Listing(CHANGED, since=since)))

    def action_pick_group(self) -> None:
        choices = [(Text(label), value) for label, value in STATUS_GROUPS]

        def picked(value: str | None) -> None:
            if value is not None:
                self.show(Listing(OPEN, group=value))

        self.app.push_screen(Picker("Open claims in", choices, self.listing.group), picked)

    # -- the selected claim --

    def selected_claim(self) -> ClaimKey | None:
        key = self.table.cursor_key
        record = self.records.get(key) if key else None
        if record is None:
            return None
        return ClaimKey(record.claim_id, record.claim_number, record.tin, record.payer_id)

    def action_open_timeline(self) -> None:
        selected = self.selected_claim()
        if selected is None:
            host(self).say("no claim selected", "warning")
            return
        self.app.push_screen(TimelineScreen(selected))

    def action_export_changes(self) -> None:
        listing = self.listing
        if listing.mode != CHANGED:
            host(self).say("e exports the changes: c shows them first", "warning")
            return
        since = self._since()
        self.post_message(ExportChanges(since.label, since.moment(context(self).tz)))
