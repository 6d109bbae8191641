"""`claimsops up`: the whole embedded stack in one process — workers (in-process broker unless
CLAIMSOPS_BROKER_URL is set), the scheduler, the sandbox payer when no payer is configured, and
the console in front (or nothing in front with --headless)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine.config import Settings
from engine.db import Database
from engine.errors import describe
from workers.service import Process, Stop, run_service

if TYPE_CHECKING:
    from engine.payer.client import PayerSettings

# (settings, database, payer, startup) -> exit code; the payer is how to get the sandbox the
# workers use, or None for the configured payer; startup starts the workers once the console
# has painted, and says whether they are still starting
ConsoleRunner = Callable[[Settings, Database, "Callable[[], PayerSettings] | None", "BackgroundStart"], int]
BEGIN_AT_LATEST_S = 5.0  # the workers start by then even if the console never says it has painted


def run_up(settings: Settings, *, sandbox: bool, headless: bool, concurrency: int,
           console: ConsoleRunner | None = None) -> int:
    if sandbox and settings.payer_url:
        settings = dataclasses.replace(settings, payer_url="", inquiry_url="")
    services: list[Callable[[Process], Stop]] = [functools.partial(_workers, concurrency=concurrency),
                                                 _scheduler_thread]
    if settings.metrics_port:  # Prometheus and the limiter's Redis client only when asked for
        from workers.metrics_server import with_metrics

        services = with_metrics(settings, services)
    if headless or console is None:
        return run_service("up", settings, services, main=functools.partial(_announce_and_wait, concurrency=concurrency),
                           headless=headless)

    def in_front(process: Process) -> int:
        # The console paints first; the workers, the scheduler and the sandbox start behind it.
        # Its Claims tab looks claims up at the same sandbox as the workers.
        startup = BackgroundStart(process, services)
        try:
            return console(process.settings, process.db, process.payer if process.settings.sandbox else None,
                           startup)
        finally:
            startup.stop()

    return run_service("up", settings, (), main=in_front, headless=False, signals=())


class BackgroundStart:
    """The services of `claimsops up` started in a thread once the console has painted
    (`begin`), so that the operator sees the console at once; `starting` until each has."""

    def __init__(self, process: Process, services: Sequence[Callable[[Process], Stop]]) -> None:
        self._process, self._services = process, list(services)
        self._stops: list[Stop] = []
        self._begun, self._done, self._quitting = threading.Event(), threading.Event(), threading.Event()
        self._failure = ""
        self._thread = threading.Thread(target=self._run, name="claimsops-startup", daemon=True)
        self._thread.start()

    def begin(self) -> None:
        self._begun.set()

    @property
    def starting(self) -> bool:
        return not self._done.is_set()

    @property
    def failure(self) -> str:
        return self._failure

    def _run(self) -> None:
        self._begun.wait(BEGIN_AT_LATEST_S)
        try:
            for start in self._services:
                if self._quitting.is_set():
                    break
                self._stops.append(start(self._process))
        except Exception as exc:  # the console stays up and says so; the Logs tab has why
            self._failure = describe(exc)
            self._process.log.error("claimsops up could not start its workers: %s", self._failure)
        finally:
            self._done.set()

    def stop(self) -> None:
        """The console has quit: let a start under way finish, then stop what started, newest first."""
        self._quitting.set()
        self._begun.set()
        self._thread.join()
        for stop in reversed(self._stops):
            stop()


def _announce_and_wait(process: Process, *, concurrency: int) -> int:
    settings, simulator = process.settings, process.sandbox
    payer = f"sandbox payer at {simulator.url}" if simulator else f"payer {settings.payer_url}"
    banner = (f"claimsops up ({settings.mode}): database {process.db.display_url}, {payer}, "
              f"{concurrency} job slots. Ctrl-C to stop.")
    if settings.log_format == "json":  # stderr is for the log shipper: one JSON object a line
        logging.getLogger("claimsops.up").info(banner)
    else:
        print(banner, file=sys.stderr, flush=True)
    return process.wait()


def _workers(process: Process, *, concurrency: int) -> Stop:
    from workers.stack import worker_stack  # Dramatiq: imported behind the console's first paint

    return worker_stack(concurrency, kind="embedded")(process)


def _scheduler_thread(process: Process) -> Stop:
    from workers.scheduler import run_scheduler  # APScheduler: behind the console's first paint

    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(process.settings, process.db), kwargs={"stop_event": stop_event},
        name="claimsops-scheduler", daemon=True,
    )
    thread.start()

    def stop_scheduler() -> None:
        stop_event.set()
        thread.join(timeout=10)

    return stop_scheduler
