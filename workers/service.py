"""The one way a claimsops process runs its services (`claimsops worker`, `scheduler`, `up`, and
`submit --wait` processing a job here): open the database, log under the service's name (to
stderr too when headless), start the sandbox payer when a service asks for the payer and none
is configured, turn the stop signals into one stop event, run, then shut down in one order —
services in reverse start order, the sandbox, the log handler."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from engine.config import Settings
from engine.db import Database
from engine.logsink import setup_logging

if TYPE_CHECKING:
    from engine.payer.client import PayerSettings
    from engine.payersim.server import PayerSimulator

HEADLESS_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
ATTACHED_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Stop = Callable[[], None]


class Process:
    """What the services of one process share: settings, database, payer and the stop event."""

    def __init__(self, name: str, settings: Settings, db: Database) -> None:
        self.name, self.settings, self.db = name, settings, db
        self.stop = threading.Event()
        self.signal: signal.Signals | None = None
        self.sandbox: PayerSimulator | None = None
        self.log = logging.getLogger(f"claimsops.{name}")
        self._payer_lock = threading.Lock()  # `up`: the workers and the console's Claims tab ask

    def payer(self) -> PayerSettings:
        """The configured payer, or the sandbox payer (started on the first call) when none is."""
        from engine.sandbox import payer_settings, start_sandbox

        with self._payer_lock:
            if self.settings.sandbox and self.sandbox is None:
                self.sandbox = start_sandbox()
                self.log.info("no payer configured: using the sandbox payer at %s", self.sandbox.url)
            return payer_settings(self.settings, self.sandbox)

    def wait(self) -> int:
        """Block until a stop signal; exit code 0."""
        while not self.stop.wait(0.5):
            pass
        if self.signal is not None:
            self.log.info("received %s; stopping", self.signal.name)
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signal = signal.Signals(signum)
        self.stop.set()  # only that: logging inside a signal handler can deadlock


def run_service(
    name: str, settings: Settings, services: Sequence[Callable[[Process], Stop]] = (), *,
    main: Callable[[Process], int] = Process.wait, headless: bool = True,
    signals: Sequence[signal.Signals] | None = None, db: Database | None = None,
) -> int:
    """Start `services` (each returns how to stop it), run `main` (by default: wait for a stop
    signal) and return its exit code. `signals` default to the headless set, or SIGTERM and
    SIGINT when attached to a terminal; pass () when `main` owns the terminal. A `db` passed in
    stays open for the caller."""
    database = db or Database(settings.effective_database_url)
    handler = setup_logging(database, name, stderr=headless, log_format=settings.log_format)
    process = Process(name, settings, database)
    chosen = (HEADLESS_SIGNALS if headless else ATTACHED_SIGNALS) if signals is None else signals
    previous = {sig: signal.signal(sig, process._on_signal) for sig in chosen}
    stops: list[Stop] = []
    try:
        for start in services:
            stops.append(start(process))
        return main(process)
    finally:
        for stop in reversed(stops):
            stop()
        if process.sandbox is not None:
            process.sandbox.stop()
        if handler is not None:
            handler.flush()
            logging.getLogger().removeHandler(handler)
            handler.close()
        if db is None:
            database.dispose()
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
