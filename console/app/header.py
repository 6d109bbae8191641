"""The header: site, mode, database and broker state, operator and role, open alerts, clock.

`SiteProbe` fetches the site status (database ping, open alerts, live workers) in a worker
on the refresh period; every `HeaderBar` (one per screen) renders the app's latest state. An
alert or recovery recorded while the console is open is also shown as a notification, on
whatever screen is on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from rich.text import Text
from sqlalchemy.engine import make_url
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static

from console.app.context import ConsoleContext
from console.app.host import HeaderState, host
from console.app.live import LiveWidget
from console.app.render import untrusted
from console.app.tone import TONES, Tones, tone
from engine import alerts
from engine.alerts import ALERT, SiteStatus
from engine.models import Alert

NOTIFY_AT_ONCE = 3  # more new alerts than this in one refresh are summed up
ALERT_TIMEOUT_S = 30.0


def broker_label(ctx: ConsoleContext) -> str:
    if not ctx.settings.broker_url:
        return "in-process"
    try:
        url = make_url(ctx.settings.broker_url)
        return f"{url.get_backend_name()} {url.host or ''}".strip()
    except Exception:  # an odd URL still gets a header
        return "external"


def header_left(ctx: ConsoleContext, state: HeaderState, tones: Tones, *, compact: bool = False) -> Text:
    """Site, mode, database, broker and the workers. `compact` (when the whole line does not fit,
    as at 80 columns) keeps what an operator acts on — the site, the database's state and the
    workers' — and leaves out the mode and the names of the database and the broker."""
    text = Text(end="")
    text.append_text(untrusted(ctx.settings.site_name or "claimsops", max_len=16 if compact else 32, style="bold"))
    if not compact:
        text.append("  ")
        text.append(ctx.settings.mode, style="tone.accent")
    text.append("  db")
    if not compact:
        text.append(f" {ctx.db.backend}")
    if state.stale_since is not None:
        stamp = state.stale_since.astimezone(ctx.tz).strftime("%H:%M:%S")
        text.append(f" stale since {stamp}", style=tones("error"))
    elif state.site is None:
        text.append(" …", style="dim")
    else:
        text.append(" ok", style="tone.ok")
    if compact:
        text.append("  ")
    else:
        text.append("  broker ")
        text.append(broker_label(ctx))
        text.append(" · ")
    if workers_starting(ctx, state):
        text.append("starting workers…", style="yellow")
    elif ctx.startup is not None and ctx.startup.failure:
        text.append("workers did not start (Logs tab: 2)", style=tones("error"))
    elif state.site is not None:
        workers = state.site.live_workers
        style = "" if workers else "tone.warn"
        text.append(f"{workers} worker{'s' if workers != 1 else ''}", style=style)
    elif not compact:
        text.right_crop(3)  # no " · " before nothing
    return text


def workers_starting(ctx: ConsoleContext, state: HeaderState) -> bool:
    """`claimsops up` is starting its workers, or the site status shown was read while it was:
    no worker count, and no "stalled" or "no worker" alarm, until one read after they started."""
    return ctx.startup is not None and (ctx.startup.starting or state.workers_starting)


def header_right(ctx: ConsoleContext, state: HeaderState, tones: Tones, *, compact: bool = False) -> Text:
    """Operator and role, the alarms, alerts and the clock. `compact` (when even the compact left
    part leaves too little room) leaves out the clock, and the role unless it is read-only."""
    op = ctx.operator
    text = Text(end="")
    text.append_text(untrusted(op.user, max_len=24))
    if not compact or not op.can_act:
        text.append(f" ({op.role})", style="tone.ok" if op.can_act else "tone.warn")
    text.append("  ")
    alarms = state.site if not workers_starting(ctx, state) else None
    if alarms is not None and alarms.stalled_jobs:
        text.append(f"! {alarms.stalled_jobs} stalled", style=tones("error"))
        text.append("  ")
    elif alarms is not None and alarms.unattended_jobs:
        text.append("queued, no worker", style=tones("warning"))
        text.append("  ")
    if state.site is None:
        text.append("alerts …", style="dim")
    elif state.site.open_alerts:
        count = state.site.open_alerts
        text.append(f"⚠ {count} alert{'s' if count != 1 else ''}", style=tones("warning"))
    else:
        text.append("0 alerts", style="dim")
    if not compact:
        text.append("  ")
        text.append(ctx.now().astimezone(ctx.tz).strftime("%H:%M:%S"), style="bold")
    return text


class HeaderBar(Widget):
    """Left: site, mode, database, broker. Right: operator, alerts, clock."""

    COMPONENT_CLASSES: ClassVar[set[str]] = TONES

    def compose(self) -> ComposeResult:
        yield Static(id="header-left")
        yield Static(id="header-right")

    def on_mount(self) -> None:
        self.update_state()

    def update_state(self) -> None:
        app = host(self)
        try:
            left = self.query_one("#header-left", Static)
            right = self.query_one("#header-right", Static)
        except NoMatches:  # not composed yet: on_mount will render it
            return
        tones = partial(tone, self)
        room = self.size.width - 2 - 2  # the bar's padding, the right part's
        # the whole line if it fits; else the compact left part, then the compact right part too
        for compact_left, compact_right in ((False, False), (True, False), (True, True)):
            line = header_left(app.ctx, app.header_state, tones, compact=compact_left)
            right_text = header_right(app.ctx, app.header_state, tones, compact=compact_right)
            if not self.size.width or line.cell_len + right_text.cell_len <= room:
                break
        left.update(line)
        right.update(right_text)

    def on_resize(self) -> None:
        self.update_state()


@dataclass
class SiteData:
    status: SiteStatus
    new_alerts: list[Alert] = field(default_factory=list)
    workers_starting: bool = False  # read while `claimsops up` was still starting its workers


def alert_notice(alert: Alert) -> tuple[str, str]:
    """(message, severity) of a notification for a new alert or recovery."""
    if alert.kind == ALERT:
        severity = "error" if " is failing" in alert.message else "warning"
        return f"{alert.message} (Health tab: 5)", severity
    return alert.message, "information"


class SiteProbe(LiveWidget):
    """Invisible: polls the site status for the header, whatever screen is on top, and
    announces alerts recorded since the console opened."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.seen_alert_id: int | None = None  # None until the first status: older alerts are history

    def is_shown(self) -> bool:
        return True

    def build_request(self) -> int | None:
        return self.seen_alert_id

    def fetch(self, request: int | None) -> SiteData:
        ctx = host(self).ctx
        starting = ctx.startup is not None and ctx.startup.starting  # asked before the workers are
        status = alerts.site_status(ctx.db)
        new = (alerts.alerts_after(ctx.db, request, limit=50)
               if request is not None and status.newest_alert_id > request else [])
        return SiteData(status, new, starting)

    def render_data(self, request: int | None, data: SiteData) -> None:
        app = host(self)
        app.set_site_status(data.status, workers_starting=data.workers_starting)
        if request is None:
            self.seen_alert_id = data.status.newest_alert_id
            return
        if data.new_alerts:
            self.seen_alert_id = max(request, data.new_alerts[-1].id)
            for alert in data.new_alerts[:NOTIFY_AT_ONCE]:
                message, severity = alert_notice(alert)
                app.say(message, severity, timeout=ALERT_TIMEOUT_S)
            extra = len(data.new_alerts) - NOTIFY_AT_ONCE
            if extra > 0:
                app.say(f"and {extra} more alert changes: see the Health tab (5)", "warning", timeout=ALERT_TIMEOUT_S)
