"""`claimsops worker` and `claimsops up --headless`: long-running processes until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading

from engine.config import Settings
from engine.db import Database
from engine.logsink import setup_logging
from engine.sandbox import payer_settings, start_sandbox
from workers.stack import WorkerStack

log = logging.getLogger("claimsops.worker")


def _wait_for_signal(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(0.5):
        pass


def run_worker(settings: Settings, concurrency: int) -> int:
    db = Database(settings.effective_database_url)
    handler = setup_logging(db, "worker")
    sandbox = start_sandbox() if settings.sandbox else None
    if sandbox is not None:
        log.info("no payer configured: using the sandbox payer at %s", sandbox.url)
    stack = WorkerStack(settings, db, payer_settings(settings, sandbox), concurrency=concurrency).start()
    try:
        _wait_for_signal(threading.Event())
    finally:
        stack.stop()
        if sandbox is not None:
            sandbox.stop()
        if handler is not None:
            handler.flush()
            handler.close()
    return 0
