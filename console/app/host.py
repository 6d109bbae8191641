"""What the views ask of the App, as a protocol: they never import the concrete ConsoleApp.

A view reads the session (`context`), reports how its fetches went, says things to the operator
and marks stale data; operator actions and navigation are typed messages (requests.py) that the
App performs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from rich.text import Text
from textual.dom import DOMNode
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from console.app.context import ConsoleContext
from console.app.payer_source import PayerSource
from console.app.tone import tone
from engine import alerts

T = TypeVar("T")


@dataclass(frozen=True)
class HeaderState:
    site: alerts.SiteStatus | None = None
    workers_starting: bool = False  # `site` was read while `claimsops up` was starting its workers
    stale_since: datetime | None = None
    last_error: str = ""


class ConsoleHost(Protocol):
    ctx: ConsoleContext
    payer: PayerSource
    header_state: HeaderState

    def say(self, message: str, severity: str = "information", *, timeout: float | None = None) -> None: ...

    def is_shown(self, widget: Widget) -> bool: ...

    def set_site_status(self, site: alerts.SiteStatus, *, workers_starting: bool = False) -> None: ...

    def report_ok(self) -> None: ...

    def report_error(self, error: BaseException) -> None: ...

    def report_render_error(self, widget: Widget, error: BaseException) -> None: ...


def host(node: DOMNode) -> ConsoleHost:
    return cast(ConsoleHost, node.app)


def context(node: DOMNode) -> ConsoleContext:
    return host(node).ctx


class WorkDone(Message, bubble=False):
    """A worker's result, handed to the App, which calls `callback(value)` on the UI thread."""

    def __init__(self, callback: Callable[[Any], None], value: Any) -> None:
        super().__init__()
        self.callback = callback
        self.value = value


def in_worker(
    node: DOMNode, fn: Callable[[], T], done: Callable[[T], None], failed: Callable[[BaseException], None], *,
    group: str, exclusive: bool = False,
) -> None:
    """Run `fn` in a worker thread of `node`; then, on the UI thread, `done(value)` or
    `failed(error)`: nothing when the worker was cancelled (the node went away)."""

    def run() -> None:
        worker = get_current_worker()
        try:
            value = fn()
        except Exception as exc:
            callback, result = failed, exc
        else:
            callback, result = done, value  # type: ignore[assignment]
        if not worker.is_cancelled:
            node.app.post_message(WorkDone(callback, result))

    node.run_worker(run, thread=True, group=group, exclusive=exclusive, exit_on_error=False)


def ask_about(node: Widget, selected: T | None, noun: str, request: Callable[[T], Message]) -> None:
    """Post the request about the selected record, or say that none is selected."""
    if selected is None:
        host(node).say(f"no {noun} selected", "warning")
        return
    node.post_message(request(selected))


def mark_stale(node: Widget, text: Text) -> Text:
    """Add the stale marker to a status line while the database cannot be read (`node` has
    the tones among its component classes)."""
    if host(node).header_state.stale_since is not None:
        text.append("  stale", style=tone(node, "error"))
    return text
