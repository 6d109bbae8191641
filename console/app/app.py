"""The claimsops console: header, tabs 1–8, footer; operator actions behind confirmations.

The App takes its dependencies (settings, database, operator, clock, payer) in its constructor,
so tests inject a database, an operator, a fixed clock and a payer simulator. Data is read only
in worker threads (see live.py); the views ask for operator actions and navigation with typed
messages (requests.py), and operator actions go through one handler (actions.py).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from console.app import requests as rq
from console.app.actions import OperatorActions
from console.app.audit_view import AuditView
from console.app.claims_view import ClaimsView
from console.app.confirm import ConfirmDialog
from console.app.context import Clock, ConsoleContext, Startup, system_clock
from console.app.detail_screen import DetailScreen, RecordScreen
from console.app.exit_signals import exit_on_signals
from console.app.followup_view import FollowupView
from console.app.header import HeaderBar, SiteProbe
from console.app.health_view import HealthView
from console.app.help import HelpScreen, read_only_note
from console.app.host import HeaderState, WorkDone, in_worker
from console.app.job_detail import JobDetailScreen
from console.app.jobs_view import JobsView
from console.app.keys import ReadOnlyKeys, checked_keymap
from console.app.live import TabView
from console.app.logs_view import LogsView
from console.app.palette import palette_commands, view_keys
from console.app.payer_source import PayerSource
from console.app.session_record import SessionRecord
from console.app.stats_view import StatsView
from console.app.task_history import RunHistoryScreen
from console.app.tasks_view import SchedulersView
from console.app.themes import THEMES, theme_name
from console.app.tone import rich_theme
from engine.actions import Operator
from engine.alerts import SiteStatus
from engine.config import Settings
from engine.db import Database
from engine.errors import describe
from engine.jobs.queries import jobs_run_here
from engine.text import safe_text

if TYPE_CHECKING:
    from engine.payer.client import PayerSettings

log = logging.getLogger("claimsops.console")
STARTUP_WAIT_S = 2.0  # `claimsops up` starts its workers by then, painted or not

TABS: tuple[tuple[str, str], ...] = (
    ("jobs", "Jobs"),
    ("logs", "Logs"),
    ("stats", "Stats"),
    ("schedulers", "Schedulers"),
    ("health", "Health"),
    ("claims", "Claims"),
    ("audit", "Audit"),
    ("followup", "Follow-up"),
)
VIEWS: dict[str, Callable[[], Widget]] = {
    "jobs": lambda: JobsView(id="jobs-view"),
    "logs": lambda: LogsView(id="logs-view"),
    "stats": lambda: StatsView(id="stats-view"),
    "schedulers": lambda: SchedulersView(id="schedulers-view"),
    "health": lambda: HealthView(id="health-view"),
    "claims": lambda: ClaimsView(id="claims-view"),
    "audit": lambda: AuditView(id="audit-view"),
    "followup": lambda: FollowupView(id="followup-view"),
}


class MainScreen(ReadOnlyKeys, Screen[None]):
    """Header, the eight tabs, footer."""

    AUTO_FOCUS = "#jobs-table"
    # the Stats panels sit side by side from 80 columns on
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (80, "-wide")]

    def compose(self) -> ComposeResult:
        yield HeaderBar()
        with TabbedContent(initial="jobs", id="tabs"):
            for number, (tab_id, name) in enumerate(TABS, start=1):
                with TabPane(f"{number} {name}", id=tab_id):
                    yield VIEWS[tab_id]()
        yield Footer(compact=True, show_command_palette=False)
        yield SiteProbe(id="site-probe")

    def on_screen_resume(self) -> None:
        view = self.active_view()
        if view is not None and view.poller is not None:
            view.refresh_data()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        view = self.active_view()
        if view is not None:
            view.focus_main()
            if view.poller is not None:
                view.refresh_data()

    def active_tab(self) -> str:
        try:
            return str(self.query_one("#tabs", TabbedContent).active)
        except NoMatches:  # not composed yet
            return ""

    def active_view(self) -> TabView | None:
        pane_id = self.active_tab()
        if not pane_id:
            return None
        try:
            view = self.query_one(f"#{pane_id}-view")
        except NoMatches:
            return None
        return cast(TabView, view)


class ConsoleApp(App[int]):
    CSS_PATH = "console.tcss"
    TITLE = "claimsops console"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(n), f"tab('{tab_id}')", name, show=False, tooltip=f"the {name} tab", id=f"tab.{tab_id}")
            for n, (tab_id, name) in enumerate(TABS, start=1)
        ),
        # In a form the digits are typed; alt+1…8 (or esc, then the digit) leave it for a tab.
        *(
            Binding(f"alt+{n}", f"tab('{tab_id}')", name, show=False, priority=True,
                    tooltip=f"the {name} tab, from inside a form too", id=f"tab.{tab_id}.from-form")
            for n, (tab_id, name) in enumerate(TABS, start=1)
        ),
        Binding("question_mark", "help", "Help", tooltip="the keys of this view", id="app.help"),
        Binding("colon", "command_palette", "Palette", show=False, tooltip="this view's actions by name (also ctrl+p)",
                id="app.palette"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, priority=True,
                tooltip="this view's actions by name, from inside a form too", id="app.palette.from-form"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        db: Database,
        operator: Operator,
        *,
        clock: Clock = system_clock,
        still: bool = False,
        cwd: Path | None = None,
        payer: PayerSettings | Callable[[], PayerSettings] | None = None,
        embedded: bool = False,
        startup: Startup | None = None,
    ) -> None:
        self.ctx = ConsoleContext(
            settings=settings, db=db, operator=operator, clock=clock, still=still, cwd=cwd or Path.cwd(),
            embedded=embedded, startup=startup,
        )
        self.payer = PayerSource(settings, payer)
        self.session_record = SessionRecord(self.ctx)
        super().__init__()
        self.set_keymap(checked_keymap(dict(settings.keys)))
        for theme in THEMES.values():
            self.register_theme(theme)
        self.theme = theme_name(settings.theme)
        self._tones_pushed = False
        self._use_theme_tones()
        self.title = safe_text(f"{settings.site_name or 'claimsops'} console", max_len=60)
        self.header_state = HeaderState()
        self.render_errors: list[str] = []
        self.actions = OperatorActions(self)
        self.collect_after_paint = False
        if still:
            self.animation_level = "none"

    # -- screens --

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(id="main")

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise RuntimeError("the main screen is not on the stack")

    @property
    def jobs_view(self) -> JobsView:
        return self.main.query_one(JobsView)

    @property
    def logs_view(self) -> LogsView:
        return self.main.query_one(LogsView)

    def _use_theme_tones(self) -> None:
        """The console's named styles (tone.py) in the current theme's colours."""
        if self._tones_pushed:
            self.console.pop_theme()
        self.console.push_theme(rich_theme(self.get_css_variables(), no_color=self.no_color))
        self._tones_pushed = True

    def _theme_changed(self, _theme: object) -> None:
        self._use_theme_tones()
        # text already turned into content holds the old colours: make it again
        for screen in self.screen_stack:
            for static in screen.query(Static):
                if isinstance(static.content, Text):
                    static.content = static.content
        if any(isinstance(screen, MainScreen) for screen in self.screen_stack):
            self.refresh_active()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._restore_signals = exit_on_signals(self)
        self.session_record.start()
        if not self.ctx.still:  # the clock ticks once a second, or once a refresh on slow links
            self.set_interval(max(1.0, self.ctx.refresh_seconds), self.refresh_headers, name="clock")
        self.call_after_refresh(self._freeze_startup_objects)
        if self.ctx.startup is not None:  # `claimsops up`: its workers start once the jobs are on screen
            self.call_after_refresh(self._begin_startup, self.ctx.startup, time.monotonic() + STARTUP_WAIT_S)

    def _begin_startup(self, startup: Startup, deadline: float) -> None:
        # Starting the workers takes the CPU for a while (imports, the sandbox's data set): not
        # before the first page of jobs is painted, unless that takes too long.
        if not any(isinstance(screen, MainScreen) for screen in self.screen_stack):
            return  # the console is closing before its first page: nothing to start for
        if self.jobs_view.shows_data or time.monotonic() > deadline:
            startup.begin()
        else:
            self.set_timer(0.02, lambda: self._begin_startup(startup, deadline))

    def _freeze_startup_objects(self) -> None:
        # A full garbage collection walks every object the process holds, some 120,000 once the
        # console is up (modules, widgets, styles), and took 70-90 ms: landing in a tab switch, it
        # made the switch slow. What exists after the first paint lives as long as the console,
        # so it is left out of collections; unfrozen on exit, for processes that start another app.
        gc.freeze()
        if self.collect_after_paint:  # run_console paused the collector until now
            gc.enable()

    def on_unmount(self) -> None:
        self._restore_signals()
        gc.unfreeze()
        self.session_record.end()
        self.payer.close()  # the sandbox payer, if the Claims tab started one

    async def action_quit(self) -> None:
        """`q`: in front of `claimsops up`'s own workers, running jobs would be released, so ask
        first (default No); elsewhere, quit at once."""
        if not self.ctx.embedded:
            self.exit()
            return
        in_worker(self, lambda: jobs_run_here(self.ctx.db), self._confirm_quit, lambda _: self.exit(),
                  group="quit", exclusive=True)

    def _confirm_quit(self, running: list[int]) -> None:
        if not running:
            self.exit()
            return
        jobs = "1 job is" if len(running) == 1 else f"{len(running)} jobs are"
        question = Text(f"{jobs} running here. Quit claimsops up?", style="bold")
        detail = Text(f"{'It' if len(running) == 1 else 'They'} will be released and resume at the next start "
                      "(or on another worker).")

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmDialog(question, detail, yes_label="Quit"), answered)

    def top_screen(self) -> Screen[Any]:
        """The topmost screen that is not a dialog (what is behind a dialog stays live)."""
        for screen in reversed(self.screen_stack):
            if not isinstance(screen, ModalScreen):
                return screen
        return self.screen_stack[0]

    def is_shown(self, widget: Widget) -> bool:
        """On the top screen and, if in a tab, in the active tab."""
        if not widget.is_mounted:
            return False
        try:
            screen = widget.screen
        except Exception:  # unmounted meanwhile
            return False
        if screen is not self.top_screen():
            return False
        pane = next((node for node in widget.ancestors if isinstance(node, TabPane)), None)
        if pane is None or not isinstance(screen, MainScreen):
            return True
        return screen.active_tab() == pane.id

    def active_view(self) -> TabView | None:
        top = self.top_screen()
        if isinstance(top, DetailScreen):
            return top.view
        if isinstance(top, MainScreen):
            return top.active_view()
        return None

    def refresh_active(self) -> None:
        """Refresh what is on screen now (the palette's "Refresh now"; tests)."""
        view = self.active_view()
        if view is not None:
            view.refresh_data()
        self.main.query_one(SiteProbe).refresh_data()

    def _back_to_main(self) -> MainScreen:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen | ModalScreen):
            self.pop_screen()
        return self.main

    # -- header state --

    def set_site_status(self, site: SiteStatus, *, workers_starting: bool = False) -> None:
        self.header_state = HeaderState(site=site, stale_since=self.header_state.stale_since,
                                        workers_starting=workers_starting)
        self.refresh_headers()

    def report_ok(self) -> None:
        if self.header_state.stale_since is not None:
            log.info("database reachable again")
            self.header_state = HeaderState(site=self.header_state.site)
            self.refresh_headers()
            self.say("database reachable again")

    def report_error(self, error: BaseException) -> None:
        if self.header_state.stale_since is None:
            log.warning("console refresh failed: %s", describe(error), exc_info=error)
            self.header_state = HeaderState(
                site=self.header_state.site, stale_since=self.ctx.now(), last_error=describe(error)
            )
            self.refresh_headers()

    def report_render_error(self, widget: Widget, error: BaseException) -> None:
        """A view failed to render fetched data: logged with its traceback, shown once, and
        the view keeps refreshing."""
        where = type(widget).__name__
        log.error("console: %s could not show its data", where, exc_info=error)
        if where not in self.render_errors:
            self.say(f"{where} could not show its data ({describe(error)}); details in the logs", "error")
        self.render_errors.append(where)

    def refresh_headers(self) -> None:
        for screen in self.screen_stack:
            for header in screen.query(HeaderBar):
                header.update_state()

    # -- messages to the operator --

    def say(self, message: str, severity: str = "information", *, timeout: float | None = None) -> None:
        """A notification, never parsed as markup."""
        self.notify(
            safe_text(message, max_len=500), severity=severity, markup=False, timeout=timeout,  # type: ignore[arg-type]
        )

    # -- keys --

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        blocked = action in ("tab", "quit", "help", "command_palette") and isinstance(self.screen, ModalScreen)
        return not blocked

    def action_tab(self, tab_id: str) -> None:
        main = self._back_to_main()
        if self.screen is not main:
            return
        main.query_one("#tabs", TabbedContent).active = tab_id

    def action_help(self) -> None:
        screen = self.screen
        top = self.top_screen()
        if isinstance(top, DetailScreen):
            name = top.help_name
        elif isinstance(top, MainScreen):
            name = dict(TABS).get(top.active_tab(), "Console")
        else:
            name = "Console"
        self.push_screen(HelpScreen(name, view_keys(self, screen), read_only_note(self.ctx.operator)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        extra = [
            *(SystemCommand(f"Go to {name}", f"key {n}", self._goto(tab_id)) for n, (tab_id, name) in enumerate(TABS, 1)),
            SystemCommand("Refresh now", "fetch what is on screen now", self.refresh_active),
            SystemCommand("Help", "key ? · the keys of this view", self.action_help),
        ]
        yield from palette_commands(self, screen, extra)
        yield from super().get_system_commands(screen)  # Textual's own: theme, keys, screenshot, maximize…

    def _goto(self, tab_id: str) -> Callable[[], None]:
        return lambda: self.action_tab(tab_id)

    # -- requests from the views --

    @on(rq.OperatorRequest)
    def _operator_request(self, request: rq.OperatorRequest) -> None:
        request.stop()
        self.actions.handle(request)

    def on_work_done(self, message: WorkDone) -> None:
        message.callback(message.value)

    def on_open_job(self, request: rq.OpenJob) -> None:
        self.open_job(request.job_id)

    def on_open_task_history(self, request: rq.OpenTaskHistory) -> None:
        self.push_screen(RunHistoryScreen(request.task))

    def on_open_record(self, request: rq.OpenRecord) -> None:
        self.push_screen(RecordScreen(request.title, request.fields, help_name=request.help_name))

    def on_show_job_logs(self, request: rq.ShowJobLogs) -> None:
        self.show_tab("logs")
        self.logs_view.set_job(request.job_id)

    def open_job(self, job_id: int) -> None:
        self.push_screen(JobDetailScreen(job_id))

    def select_new_job(self, job_id: int) -> None:
        """Back on the Jobs tab, the cursor on this job as soon as a refresh brings it in."""
        self.show_tab("jobs")
        self.jobs_view.select_when_seen(job_id)

    def show_tab(self, tab_id: str) -> MainScreen:
        """Back on the main screen, on this tab."""
        main = self._back_to_main()
        main.query_one("#tabs", TabbedContent).active = tab_id
        return main
