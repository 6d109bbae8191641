"""`claimsops up`: the whole embedded stack in one process — workers (in-process broker unless
CLAIMSOPS_BROKER_URL is set), the scheduler, the sandbox payer when no payer is configured, and
the console in front (or nothing in front with --headless)."""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import threading
from collections.abc import Callable

from engine.config import Settings
from engine.db import Database
from engine.logsink import setup_logging
from engine.payer.client import PayerSettings
from engine.sandbox import payer_settings, start_sandbox
from workers.stack import WorkerStack

# (settings, database, payer) -> exit code; the payer is the running sandbox, or None for the
# configured payer
ConsoleRunner = Callable[[Settings, Database, PayerSettings | None], int]

log = logging.getLogger("claimsops.up")


def run_up(settings: Settings, *, sandbox: bool, headless: bool, concurrency: int,
           console: ConsoleRunner | None = None) -> int:
    if sandbox and settings.payer_url:
        settings = dataclasses.replace(settings, payer_url="", inquiry_url="")
    db = Database(settings.effective_database_url)
    handler = setup_logging(db, "up", stderr=headless)
    simulator = start_sandbox() if settings.sandbox else None
    payer = payer_settings(settings, simulator)
    stack = WorkerStack(settings, db, payer, concurrency=concurrency, kind="embedded").start()
    extras = _start_optional_services(settings, db)
    stop = threading.Event()
    try:
        if headless or console is None:
            payer = f"sandbox payer at {simulator.url}" if simulator else f"payer {settings.payer_url}"
            print(
                f"claimsops up ({settings.mode}): database {db.display_url}, {payer}, "
                f"{concurrency} job slots. Ctrl-C to stop.", file=sys.stderr, flush=True,
            )
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            while not stop.wait(0.5):
                pass
            return 0
        # the console's Claims tab looks claims up at the same sandbox as the workers
        return console(settings, db, payer if simulator is not None else None)
    finally:
        for service_stop in extras:
            service_stop()
        stack.stop()
        if simulator is not None:
            simulator.stop()
        if handler is not None:
            handler.flush()
            handler.close()


def _start_optional_services(settings: Settings, db: Database) -> list[Callable[[], None]]:
    """Services that join the embedded stack when their modules are present."""
    stops: list[Callable[[], None]] = []
    try:
        from workers.scheduler import run_scheduler
    except ImportError:
        return stops
    stop_event = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(settings, db), kwargs={"stop_event": stop_event}, name="claimsops-scheduler",
        daemon=True,
    )
    thread.start()

    def stop_scheduler() -> None:
        stop_event.set()
        thread.join(timeout=10)

    stops.append(stop_scheduler)
    return stops
