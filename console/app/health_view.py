"""Health: the state of every check (database, broker, workers, disk, payer) as the scheduler's
health task last recorded it — state, detail, latency, since when — and the alert history,
newest first, paged from the database.

`c` runs the checks now in a worker thread and shows their results in the checks table until
the scheduler records newer ones (nothing is recorded: alerts stay the scheduler's, so two
consoles never raise one twice). `/` filters the checks and the alerts by text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from console.app.feed import Feed, FeedData, FeedRequest
from console.app.filter_bar import FilterBar, no_match, rows_matching
from console.app.host import context, host, in_worker, mark_stale
from console.app.keys import field_opener, step_aside_while_typing
from console.app.live import LiveWidget
from console.app.paged_table import Cells, Column, PagedTable, cells_of
from console.app.render import At, ago, millis, right, stamp, untrusted
from console.app.tone import Tones, tone
from engine import alerts as alertlib
from engine import health
from engine.models import Alert, HealthState
from engine.tasks import store

PAGE = 100
MAX_ROWS = 400
# The health task runs every 5 minutes by default: older records than this are called stale.
STALE_AFTER = timedelta(minutes=15)

STATE_STYLE: dict[str, tuple[str, str]] = {
    health.OK: ("✓", "tone.ok.strong"),
    health.DEGRADED: ("◭", "tone.warn.strong"),
    health.FAILING: ("✕", "tone.error.strong"),
}
OVERALL_TONE = {health.HEALTHY: "ok", health.DEGRADED: "warning", health.UNHEALTHY: "error"}

def short_span(delta: timedelta) -> str:
    """12m, 3h, 2d: how long a state has lasted, in one unit."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def state_cell(state: str) -> Text:
    icon, style = STATE_STYLE.get(state, ("?", ""))
    return Text.assemble((icon, style), " ", untrusted(state, max_len=12, style=style), end="")


def order_checks(rows: list[HealthState]) -> list[HealthState]:
    known = {name: i for i, name in enumerate(health.CHECKS)}
    return sorted(rows, key=lambda r: (known.get(r.check, len(known)), r.check))


def _alert_kind(alert: Alert) -> Text:
    if alert.kind == alertlib.ALERT:
        return Text("⚠ alert", style="tone.warn.strong", end="")
    return Text("✓ recovery", style="tone.ok", end="")


def _alert_open(alert: Alert, at: At) -> Text:
    if alert.kind != alertlib.ALERT:
        return Text("", end="")
    if alert.resolved_at is None:
        still = Text("open", style="tone.error.strong", end="")
        still.append(f" {short_span(at.now - alert.raised_at)}", style="dim")
        return still
    return Text(f"ended {alert.resolved_at.astimezone(at.tz).strftime('%H:%M')}", style="dim", end="")


CHECK_COLUMNS: tuple[Column[HealthState], ...] = (
    Column("check", "Check", 9, lambda row, at: untrusted(row.check, max_len=16, style="bold")),
    Column("state", "State", 11, lambda row, at: state_cell(row.state)),
    Column("latency", "Latency", 8,
           lambda row, at: right(millis(row.latency_ms) if row.latency_ms is not None else "")),
    Column("since", "Since", 17, lambda row, at: Text(
        f"{row.since.astimezone(at.tz).strftime('%m-%d %H:%M')} ({short_span(at.now - row.since)})", end="")),
    Column("detail", "Detail", 30, lambda row, at: untrusted(row.detail, max_len=300), stretch=1),
)
ALERT_COLUMNS: tuple[Column[Alert], ...] = (
    Column("id", "#", 5, lambda alert, at: right(str(alert.id))),
    Column("raised", "Raised", 14, lambda alert, at: stamp(alert.raised_at, at.tz)),
    Column("check", "Check", 9, lambda alert, at: untrusted(alert.check, max_len=16)),
    Column("kind", "Kind", 10, lambda alert, at: _alert_kind(alert)),
    Column("open", "Open", 14, _alert_open),
    Column("message", "Message", 30, lambda alert, at: untrusted(alert.message, max_len=500), stretch=1),
)


def overall_text(rows: list[HealthState], now: datetime, tz: ZoneInfo, tones: Tones, *, led: bool = True) -> Text:
    text = Text(end="")
    if not rows:
        text.append("no checks recorded yet", style=tones("warning"))
        text.append(" — the scheduler's health_check_alert task records them (every 5 min by default);"
                    " c checks now", style="dim")
        return text
    results = [health.CheckResult(r.check, r.state, r.detail, r.latency_ms) for r in rows]
    status = health.overall(results)
    text.append("overall ")
    text.append(status, style=tones(OVERALL_TONE[status]) if status in OVERALL_TONE else "")
    if not led:  # nothing records the checks: workers and progress are this console's own
        text.append(" · no scheduler running", style=tones("warning"))
        text.append(": workers and progress checked live · c checks all", style="dim")
        return text
    checked = max(r.checked_at for r in rows)
    text.append(f" · recorded {checked.astimezone(tz).strftime('%H:%M:%S')} ({ago(checked, now)})", style="dim")
    if now - checked > STALE_AFTER:
        text.append(" · stale: is the scheduler running?", style=tones("warning"))
    text.append(" · c checks now", style="dim")
    return text


def checked_now_text(rows: list[HealthState], at: datetime, tz: ZoneInfo, tones: Tones, *, led: bool) -> Text:
    """The overall line while the table shows the checks run now (`c`)."""
    results = [health.CheckResult(r.check, r.state, r.detail, r.latency_ms) for r in rows]
    status = health.overall(results)
    text = Text("overall ", end="")
    text.append(status, style=tones(OVERALL_TONE[status]) if status in OVERALL_TONE else "")
    text.append(f" · checked now at {at.astimezone(tz).strftime('%H:%M:%S')}", style="bold")
    text.append(", not recorded", style="dim")  # alerts stay the scheduler's
    if not led:
        text.append(" · no scheduler running", style=tones("warning"))
    text.append(" · c checks again", style="dim")
    return text


ALERTS: Feed[Alert] = Feed(  # stamp: the text filter
    older=lambda db, text, **page: alertlib.recent_alerts(db, text=text, **page),
    newer=lambda db, text, *, after_id, limit: list(reversed(alertlib.alerts_after(db, after_id, limit=limit,
                                                                                    text=text))),
    by_ids=alertlib.alerts_by_ids,
    page=PAGE,
)


@dataclass
class HealthData:
    states: list[HealthState]
    alerts: FeedData[Alert]
    led: bool = True  # a scheduler leads (and records the checks)


class HealthView(LiveWidget):
    """Tab 5."""

    BINDINGS = [
        Binding("c", "check_now", "Check now", tooltip="run every check now (shown, not recorded)", id="health.check-now"),
        field_opener("slash", "filter", "Filter", tooltip="text in a check or an alert", id="health.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="health.clear-filter"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.states: list[HealthState] = []
        self.led = True
        self.loaded = False
        self.checking = False
        self.checked: tuple[list[health.CheckResult], datetime] | None = None  # by `c`, until recorded anew
        self.checked_shown = False  # the table shows them
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="health-overall", classes="status-line")
        yield FilterBar("text in a check or an alert", id="health-filter", changed=self._set_filter,
                        home=lambda: self.alerts_table)
        self.checks_table = PagedTable(page_size=20, max_rows=40, id="health-checks", columns=CHECK_COLUMNS)
        yield self.checks_table
        yield Static(id="health-alerts-title", classes="status-line")
        self.alerts_table = PagedTable(
            page_size=PAGE, max_rows=MAX_ROWS, id="health-alerts", columns=ALERT_COLUMNS,
            source=ALERTS.source(lambda: context(self).db, self._alert_rows, host(self).report_error,
                                 stamp=lambda: self.filter_text, added=self._show_titles))
        yield self.alerts_table

    def on_mount(self) -> None:
        self._show_titles()

    # -- live --

    def build_request(self) -> FeedRequest:
        return ALERTS.request(self.alerts_table, self.filter_text, self._reload)

    def fetch(self, request: FeedRequest) -> HealthData:
        db = context(self).db
        ctx = context(self)
        led = store.scheduler_leader(db) is not None
        states = health.live_states(db, ctx.settings, alertlib.health_states(db), led=led, now=ctx.now())
        return HealthData(order_checks(states), ALERTS.fetch(db, request), led)

    def render_data(self, request: FeedRequest, data: HealthData) -> None:
        ctx = context(self)
        at = At(ctx.now(), ctx.tz)
        self.states = data.states
        self.led = data.led
        self.loaded = True
        self._show_checks(at)
        self._reload = not ALERTS.show(self.alerts_table, request, data.alerts, self._alert_rows)
        if self._reload:
            self.refresh_data()
        self._show_titles()

    def render_failure(self, error: BaseException) -> None:
        self._show_titles()

    def _shown_states(self) -> list[HealthState]:
        """The recorded states, or the ones checked now until the scheduler records newer ones."""
        checked = self.checked
        if checked is not None and self.led and any(r.checked_at > checked[1] for r in self.states):
            checked = self.checked = None
        self.checked_shown = checked is not None
        if checked is None:
            return self.states
        return order_checks(health.states_of(checked[0], self.states, checked[1]))

    def _show_checks(self, at: At) -> None:
        rows = [(r.check, cells_of(CHECK_COLUMNS, r, at)) for r in self._shown_states()]
        self.checks_table.show_all(rows_matching(rows, self.filter_text))

    def _alert_rows(self, alerts: list[Alert]) -> list[tuple[str, Cells]]:
        ctx = context(self)
        at = At(ctx.now(), ctx.tz)
        return [(str(a.id), cells_of(ALERT_COLUMNS, a, at)) for a in alerts]

    def _show_titles(self) -> None:
        ctx = context(self)
        tones = partial(tone, self)
        if not self.loaded:
            overall = Text("loading…", style="dim")
        elif self.checked is not None and self.checked_shown:
            overall = checked_now_text(self._shown_states(), self.checked[1], ctx.tz, tones, led=self.led)
        else:
            overall = overall_text(self.states, ctx.now(), ctx.tz, tones, led=self.led)
        mark_stale(self, overall)
        self.query_one("#health-overall", Static).update(overall)
        table = self.alerts_table
        title = Text("Alert history", style="bold", end="")
        if self.loaded:
            more = "+" if table.more_after else ""
            title.append(f" · {len(table.order):,}{more} loaded, newest first", style="dim")
            if not table.order and self.filter_text:
                title.append(" · ")
                title.append_text(no_match("alert", self.filter_text))
            elif not table.order:
                title.append(" · no alert raised yet — one is raised (and sent) when a check starts failing",
                             style="dim")
        self.query_one("#health-alerts-title", Static).update(title)

    # -- check now --

    def action_check_now(self) -> None:
        if self.checking:
            host(self).say("the checks are already running")
            return
        self.checking = True
        self.query_one("#health-overall", Static).update(
            Text("checking database, broker, workers, disk and payer…", style="dim"))
        ctx = context(self)
        # run_checks never raises: a crashed check is failing
        in_worker(self, lambda: (health.run_checks(ctx.db, ctx.settings), ctx.now()), self._checked,
                  self._check_failed, group="health-check", exclusive=True)

    def _check_failed(self, error: BaseException) -> None:
        self.checking = False
        host(self).report_error(error)
        self._show_titles()

    def _checked(self, checked: tuple[list[health.CheckResult], datetime]) -> None:
        self.checking = False
        self.checked = checked
        ctx = context(self)
        self._show_checks(At(ctx.now(), ctx.tz))
        self._show_titles()

    # -- filter: the checks are held whole and filtered here, the alerts by the database --

    def action_filter(self) -> None:
        step_aside_while_typing(self)
        self.query_one("#health-filter", FilterBar).open()

    def action_clear_filter(self) -> None:
        self.query_one("#health-filter", FilterBar).clear()
        self._set_filter("")

    def _set_filter(self, text: str) -> None:
        if text == self.filter_text:
            return
        self.filter_text = text
        ctx = context(self)
        if self.loaded:
            self._show_checks(At(ctx.now(), ctx.tz))
        self.start_over()

    def focus_main(self) -> None:
        self.alerts_table.focus()

