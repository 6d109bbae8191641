"""Live views: fetch in a worker thread, render on the UI thread, then re-arm a one-shot timer.

The dolphie pattern: a refresh never overlaps the previous one (a request made while a fetch
is in flight runs right after it), a hidden view is not refreshed (its timer is not re-armed
until it is shown again), and a failed fetch never raises into the app: it is reported as a
stale database and the next refresh is armed as usual, so the view recovers by itself.

Data access happens only in `fetch` (a thread), through engine functions; the result comes
back as a typed message (harlequin style).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import get_current_worker

from console.app.host import context, host
from console.app.tone import TONES


class Fetched(Message, bubble=False):
    """A fetch's data, or the error that stopped it."""

    def __init__(self, generation: int, request: Any, data: Any, error: BaseException | None = None) -> None:
        super().__init__()
        self.generation = generation
        self.request = request
        self.data = data
        self.error = error


class LivePoller:
    """The refresh loop of one widget. The owner implements `build_request` (UI thread: a
    snapshot of what to fetch), `fetch` (worker thread: engine calls only), `render_data`
    (UI thread) and `is_shown`."""

    def __init__(self, owner: LiveWidget, interval: float) -> None:
        self.owner = owner
        self.interval = interval
        self.generation = 0
        self.fetches = 0
        self.in_flight = False
        self._again = False
        self._timer: Timer | None = None

    def invalidate(self) -> None:
        """What is on screen no longer matches the request (a filter changed): results of a
        fetch already in flight are dropped."""
        self.generation += 1

    def request(self) -> None:
        """Refresh now, or right after the fetch in flight."""
        if self.in_flight:
            self._again = True
            return
        self._stop_timer()
        if not self.owner.is_shown():
            return
        self.in_flight = True
        self.fetches += 1
        self.owner.start_fetch(self.generation, self.owner.build_request())

    def finished(self) -> None:
        self.in_flight = False
        if self._again:
            self._again = False
            self.request()
        elif self.owner.is_shown():
            self._arm()

    def stop(self) -> None:
        self._stop_timer()

    def _arm(self) -> None:
        self._stop_timer()
        self._timer = self.owner.set_timer(self.interval, self._on_timer, name="live-refresh")

    def _on_timer(self) -> None:
        self._timer = None
        self.request()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    @property
    def armed(self) -> bool:
        return self._timer is not None


class TabView(Protocol):
    """What the app asks of the view in a tab (or on a detail screen): a live view has a
    poller; a form (Claims) has none."""

    poller: LivePoller | None

    def refresh_data(self, *, invalidate: bool = False) -> None: ...

    def focus_main(self) -> None: ...


class LiveWidget(Widget):
    """A widget with a LivePoller. Subclasses set POLL ("refresh" or "tail") and may set
    MIN_INTERVAL."""

    COMPONENT_CLASSES: ClassVar[set[str]] = TONES
    POLL: ClassVar[str] = "refresh"
    MIN_INTERVAL: ClassVar[float] = 0.0  # a floor under the refresh period for costly views

    def __init__(self, *children: Widget, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(*children, id=id, classes=classes)
        self.poller: LivePoller | None = None
        self._reload = True  # the next refresh loads the view from scratch

    def on_mount(self) -> None:
        ctx = context(self)
        interval = ctx.tail_seconds if self.POLL == "tail" else ctx.refresh_seconds
        self.poller = LivePoller(self, max(interval, self.MIN_INTERVAL))
        self.call_after_refresh(self.refresh_data)

    def on_unmount(self) -> None:
        if self.poller is not None:
            self.poller.stop()

    @property
    def shows_data(self) -> bool:
        """The view shows data it fetched (false until its first page is rendered, and while it
        loads from scratch)."""
        return not self._reload

    # -- what subclasses provide --

    def is_shown(self) -> bool:
        return host(self).is_shown(self)

    def build_request(self) -> Any:
        return None

    def fetch(self, request: Any) -> Any:  # runs in a worker thread
        raise NotImplementedError

    def render_data(self, request: Any, data: Any) -> None:
        raise NotImplementedError

    def render_failure(self, error: BaseException) -> None:
        """Show that the data on screen is stale (the header says so already)."""

    def focus_main(self) -> None:
        """Focus the view's main widget (its table or pane) when it is shown."""
        self.focus()

    # -- the loop --

    def refresh_data(self, *, invalidate: bool = False) -> None:
        if self.poller is None:
            return
        if invalidate:
            self.poller.invalidate()
        self.poller.request()

    def start_over(self, *, drop_in_flight: bool = True) -> None:
        """Load the view from scratch now (a new filter; far behind the newest records)."""
        self._reload = True
        self.refresh_data(invalidate=drop_in_flight)

    def start_fetch(self, generation: int, request: Any) -> None:
        self._fetch_worker(generation, request)

    @work(thread=True, exclusive=True, exit_on_error=False, group="live-fetch")
    def _fetch_worker(self, generation: int, request: Any) -> None:
        worker = get_current_worker()
        try:
            message = Fetched(generation, request, self.fetch(request))
        except Exception as exc:  # any refresh error: stale, never a crash
            message = Fetched(generation, request, None, exc)
        if not worker.is_cancelled:
            self.post_message(message)

    def on_fetched(self, message: Fetched) -> None:
        message.stop()
        poller = self.poller
        if poller is None:
            return
        try:
            if message.error is not None:
                host(self).report_error(message.error)
                self.render_failure(message.error)
            elif message.generation == poller.generation:
                host(self).report_ok()
                self.render_data(message.request, message.data)
        except Exception as exc:  # a bug in rendering must not take the console down
            host(self).report_render_error(self, exc)
        finally:
            poller.finished()
