"""`claimsops up`: the whole embedded stack in one process — workers (in-process broker unless
CLAIMSOPS_BROKER_URL is set), the scheduler, the sandbox payer when no payer is configured, and
the console in front (or nothing in front with --headless)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
import threading
from collections.abc import Callable

from engine.config import Settings
from engine.db import Database
from engine.payer.client import PayerSettings
from workers.metrics_server import with_metrics
from workers.scheduler import run_scheduler
from workers.service import Process, Stop, run_service
from workers.stack import worker_stack

# (settings, database, payer) -> exit code; the payer is the running sandbox, or None for the
# configured payer
ConsoleRunner = Callable[[Settings, Database, PayerSettings | None], int]


def run_up(settings: Settings, *, sandbox: bool, headless: bool, concurrency: int,
           console: ConsoleRunner | None = None) -> int:
    if sandbox and settings.payer_url:
        settings = dataclasses.replace(settings, payer_url="", inquiry_url="")
    services = with_metrics(settings, [worker_stack(concurrency, kind="embedded"), _scheduler_thread])
    if headless or console is None:
        return run_service("up", settings, services, main=functools.partial(_announce_and_wait, concurrency=concurrency),
                           headless=headless)

    def in_front(process: Process) -> int:
        # the console's Claims tab looks claims up at the same sandbox as the workers
        return console(process.settings, process.db, process.payer() if process.sandbox else None)

    return run_service("up", settings, services, main=in_front, headless=False, signals=())


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


def _scheduler_thread(process: Process) -> Stop:
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
