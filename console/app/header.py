"""The header: site, mode, database and broker state, operator and role, open alerts, clock.

`SiteProbe` fetches the site status (database ping, open alerts, live workers) in a worker
on the refresh period; every `HeaderBar` (one per screen) renders the app's latest state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from sqlalchemy.engine import make_url
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Static

from console.app.context import ConsoleContext
from console.app.live import LiveWidget, console_app
from console.app.render import untrusted
from engine import views


@dataclass(frozen=True)
class HeaderState:
    site: views.SiteStatus | None = None
    stale_since: datetime | None = None
    last_error: str = ""


def broker_label(ctx: ConsoleContext) -> str:
    if not ctx.settings.broker_url:
        return "in-process"
    try:
        url = make_url(ctx.settings.broker_url)
        return f"{url.get_backend_name()} {url.host or ''}".strip()
    except Exception:  # an odd URL still gets a header
        return "external"


def header_left(ctx: ConsoleContext, state: HeaderState) -> Text:
    text = Text(end="")
    text.append_text(untrusted(ctx.settings.site_name or "claimsops", max_len=32, style="bold"))
    text.append("  ")
    text.append(ctx.settings.mode, style="cyan")
    text.append("  db ")
    text.append(ctx.db.backend)
    if state.stale_since is not None:
        stamp = state.stale_since.astimezone(ctx.tz).strftime("%H:%M:%S")
        text.append(f" stale since {stamp}", style="bold red")
    elif state.site is None:
        text.append(" …", style="dim")
    else:
        text.append(" ok", style="green")
    text.append("  broker ")
    text.append(broker_label(ctx))
    if state.site is not None:
        workers = state.site.live_workers
        style = "" if workers else "yellow"
        text.append(f" · {workers} worker{'s' if workers != 1 else ''}", style=style)
    return text


def header_right(ctx: ConsoleContext, state: HeaderState) -> Text:
    op = ctx.operator
    text = Text(end="")
    text.append_text(untrusted(op.user, max_len=24))
    text.append(f" ({op.role})", style="green" if op.can_act else "yellow")
    text.append("  ")
    if state.site is None:
        text.append("alerts …", style="dim")
    elif state.site.open_alerts:
        count = state.site.open_alerts
        text.append(f"⚠ {count} alert{'s' if count != 1 else ''}", style="bold yellow")
    else:
        text.append("0 alerts", style="dim")
    text.append("  ")
    text.append(ctx.now().astimezone(ctx.tz).strftime("%H:%M:%S"), style="bold")
    return text


class HeaderBar(Widget):
    """Left: site, mode, database, broker. Right: operator, alerts, clock."""

    def compose(self) -> ComposeResult:
        yield Static(id="header-left")
        yield Static(id="header-right")

    def on_mount(self) -> None:
        self.update_state()

    def update_state(self) -> None:
        app = console_app(self)
        try:
            left = self.query_one("#header-left", Static)
            right = self.query_one("#header-right", Static)
        except NoMatches:  # not composed yet: on_mount will render it
            return
        left.update(header_left(app.ctx, app.header_state))
        right.update(header_right(app.ctx, app.header_state))


class SiteProbe(LiveWidget):
    """Invisible: polls the site status for the header, whatever screen is on top."""

    def is_shown(self) -> bool:
        return True

    def fetch(self, request: Any) -> views.SiteStatus:
        return views.site_status(console_app(self).ctx.db)

    def render_data(self, request: Any, data: Any) -> None:
        console_app(self).set_site_status(data)
