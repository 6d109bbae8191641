"""Audit: who did what, when, from where, with what outcome — every operator action, refusals
included, newest first, paged from the database. Filter by user (`u`), action (`a`) and text
in the target or detail (`/`); `esc` clears the filters. New entries appear at the top live."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console.app.detail_screen import Field
from console.app.feed import Feed, FeedData, FeedRequest
from console.app.filter_bar import FilterBar
from console.app.host import context, host, mark_stale
from console.app.keys import field_opener, step_aside_while_typing
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, PagedTable, cells_of
from console.app.prompt import Picker, pick_read
from console.app.render import full_time, right, stamp, untrusted
from console.app.requests import OpenRecord
from engine import audit
from engine.actions import ACTIONS
from engine.audit import AuditQuery
from engine.models import AuditEntry

PAGE = 200
MAX_ROWS = 600
OUTCOME_STYLE = {"ok": "tone.ok", "refused": "tone.warn.strong", "failed": "tone.error.strong"}

# the cells of an entry are drawn for the site's zone; at 80 columns: When, User, Action,
# Outcome and Target (a path keeps its file name); Detail, From and # as the terminal widens
COLUMNS: tuple[Column[AuditEntry], ...] = (
    Column("id", "#", 6, lambda entry, tz: right(str(entry.id)), priority=3),
    Column("at", "When", 14, lambda entry, tz: stamp(entry.at, tz)),
    Column("user", "User", 10, lambda entry, tz: untrusted(entry.user, max_len=64, style="bold")),
    Column("from", "From", 13, lambda entry, tz: untrusted(entry.client_addr, max_len=64), priority=2),
    Column("action", "Action", 13, lambda entry, tz: untrusted(entry.action, max_len=32, style="tone.accent")),
    Column("outcome", "Outcome", 8,
           lambda entry, tz: untrusted(entry.outcome, max_len=16, style=OUTCOME_STYLE.get(entry.outcome, ""))),
    Column("target", "Target", 18, lambda entry, tz: untrusted(entry.target, max_len=255), stretch=1, cut="path"),
    Column("detail", "Detail", 20, lambda entry, tz: untrusted(entry.detail, max_len=500), stretch=2, priority=1),
)


DETAIL_MAX = 20_000  # an audit detail is short; a hostile one is still bounded on screen


def entry_fields(entry: AuditEntry, tz: ZoneInfo) -> list[Field]:
    """Every field of an audit entry, in full."""
    return [
        ("when", full_time(entry.at, tz)),
        ("operator", untrusted(entry.user, style="bold")),
        ("from", untrusted(entry.client_addr or "—")),
        ("action", untrusted(entry.action, style="tone.accent")),
        ("outcome", untrusted(entry.outcome, style=OUTCOME_STYLE.get(entry.outcome, ""))),
        ("target", untrusted(entry.target or "—")),
        ("detail", untrusted(entry.detail or "—", max_len=DETAIL_MAX, keep_newlines=True)),
    ]


FEED: Feed[AuditEntry] = Feed(audit.audit_page, audit.audit_newer, by_ids=None, page=PAGE)  # entries never change


class AuditView(LiveWidget):
    """Tab 7."""

    BINDINGS = [
        field_opener("slash", "filter", "Filter", tooltip="text in the target or the detail", id="audit.filter"),
        Binding("enter", "open_entry", "Entry", show=False, tooltip="the whole entry", id="audit.open-entry"),
        Binding("u", "pick_user", "User", tooltip="only one user's actions", id="audit.user"),
        Binding("a", "pick_action", "Action", tooltip="only one kind of action", id="audit.action"),
        Binding("escape", "clear_filters", "Clear filters", show=False, id="audit.clear-filters"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.flt = AuditQuery()
        self.loaded = False
        self.entries: dict[str, AuditEntry] = {}  # of the rows in the window

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="audit-status", classes="status-line")
        yield FilterBar("text in the target or the detail", id="audit-filter", home=lambda: self.table,
                        changed=lambda text: self.set_filter(replace(self.flt, text=text)))
        self.table = PagedTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="audit-table", columns=COLUMNS,
            source=FEED.source(lambda: context(self).db, self._rows, host(self).report_error,
                               stamp=lambda: self.flt, added=self._show_status))
        yield self.table

    def on_mount(self) -> None:
        self._show_status()

    # -- live --

    def build_request(self) -> FeedRequest:
        return FEED.request(self.table, self.flt, self._reload)

    def fetch(self, request: FeedRequest) -> FeedData[AuditEntry]:
        return FEED.fetch(context(self).db, request)

    def render_data(self, request: FeedRequest, data: FeedData[AuditEntry]) -> None:
        self.loaded = True
        self._reload = not FEED.show(self.table, request, data, self._rows)
        if self._reload:
            self.refresh_data()
        self._show_status()

    def render_failure(self, error: BaseException) -> None:
        self._show_status()

    def _rows(self, entries: list[AuditEntry]) -> list[tuple[str, Cells]]:
        tz = context(self).tz
        cells = self.table.cells
        if len(self.entries) > 2 * self.table.max_rows:
            self.entries = {k: v for k, v in self.entries.items() if k in cells}
        self.entries.update((str(e.id), e) for e in entries)
        return [(str(e.id), cells_of(COLUMNS, e, tz)) for e in entries]

    def selected(self) -> AuditEntry | None:
        key = self.table.cursor_key
        return self.entries.get(key) if key else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_entry()

    def action_open_entry(self) -> None:
        entry = self.selected()
        if entry is None:
            host(self).say("no audit entry selected", "warning")
            return
        title = Text(f"Audit entry {entry.id}", style="bold", end="")
        self.post_message(OpenRecord(title, entry_fields(entry, context(self).tz), help_name=title.plain))

    def _show_status(self) -> None:
        table = self.table
        text = Text(end="")
        if not self.loaded:
            text.append("loading…", style="dim")
        elif not table.order:
            if self.flt.active:
                text.append("no entry matches the filters — / changes the text, u the user, a the action;"
                            " esc clears them", style="dim")
            else:
                text.append("no action audited yet — every operator action (submit, cancel, run now, reveal…)"
                            " is recorded here as it happens", style="dim")
        else:
            more = "+" if table.more_after else ""
            if table.more_before:  # an older part of the list (after `end`): its place is not counted
                text.append(f"entry {table.cursor_row + 1:,} of {len(table.order):,} loaded (newer above)")
            else:
                text.append(f"entry {table.cursor_row + 1:,} of {len(table.order):,}{more}")
            text.append(", newest first")
        if self.flt.active:
            text.append("  filter:", style="dim")
            if self.flt.user:
                text.append(" user ")
                text.append_text(untrusted(self.flt.user, max_len=32, style="bold"))
            if self.flt.action:
                text.append(" action ")
                text.append_text(untrusted(self.flt.action, max_len=32, style="bold"))
            if self.flt.text:
                text.append(" text ")
                text.append_text(untrusted(repr(self.flt.text), max_len=40))
            text.append("  (esc clears)", style="dim")
        mark_stale(self, text)
        self.query_one("#audit-status", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_status()

    # -- filters --

    def set_filter(self, flt: AuditQuery) -> None:
        if flt == self.flt:
            return
        self.flt = flt
        self.loaded = False
        self._show_status()
        self.start_over()

    def action_filter(self) -> None:
        step_aside_while_typing(self)
        self.query_one("#audit-filter", FilterBar).open()

    def action_clear_filters(self) -> None:
        self.query_one("#audit-filter", FilterBar).clear()
        self.set_filter(AuditQuery())

    def action_pick_action(self) -> None:
        choices = [(Text("all actions"), "")] + [(Text(a), a) for a in sorted(ACTIONS)]

        def picked(value: str | None) -> None:
            if value is not None:
                self.set_filter(replace(self.flt, action=value))

        self.app.push_screen(Picker("Action", choices, self.flt.action), picked)

    def action_pick_user(self) -> None:
        pick_read(self, "User", "all users", lambda: audit.audit_users(context(self).db), self.flt.user,
                  lambda user: self.set_filter(replace(self.flt, user=user)))

    def focus_main(self) -> None:
        self.table.focus()
