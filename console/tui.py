"""Entry point of the Textual console: `claimsops console [--read-only]` and the console
inside `claimsops up` call `run_console`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine import collector
from engine.actions import current_operator
from engine.config import ConfigError, Settings, load_settings
from engine.db import Database, DatabaseError
from engine.errors import describe

if TYPE_CHECKING:
    from collections.abc import Callable

    from console.app import ConsoleApp
    from console.app.context import Startup
    from engine.payer.client import PayerSettings

EXIT_ERROR = 1


def build_app(
    *, read_only: bool = False, settings: Settings | None = None, db: Database | None = None,
    cwd: Path | None = None, payer: PayerSettings | Callable[[], PayerSettings] | None = None,
    embedded: bool = False, startup: Startup | None = None,
) -> ConsoleApp:
    """The console app for these settings and database (opened from the settings if not
    given); the operator is the OS user, read-only with `read_only`. `payer` is where the
    Claims tab looks claims up (`claimsops up` passes its sandbox, or how to get it); by default
    the configured payer, or a sandbox the console starts itself when none is configured.
    `startup`: `claimsops up`'s workers, which start once the console has painted."""
    from console.app import ConsoleApp  # imported here so that the CLI starts fast

    settings = settings or load_settings()
    db = db or Database(settings.effective_database_url)
    operator = current_operator(settings, db, read_only=read_only)
    return ConsoleApp(settings, db, operator, cwd=cwd, payer=payer, embedded=embedded, startup=startup)


def _logging_ready() -> bool:
    """This process already logs to the database and not to stderr (`claimsops up` with the
    console in front sets it up so)."""
    from engine.logsink import DatabaseLogHandler

    ours = [h for h in logging.getLogger().handlers if getattr(h, "_claimsops", False)]
    to_db = any(isinstance(h, DatabaseLogHandler) for h in ours)
    to_terminal = any(isinstance(h, logging.StreamHandler) for h in ours)
    return to_db and not to_terminal


def run_console(
    *, read_only: bool = False, settings: Settings | None = None, db: Database | None = None,
    configure_logging: bool | None = None, payer: PayerSettings | Callable[[], PayerSettings] | None = None,
    embedded: bool = False, startup: Startup | None = None,
) -> int:
    """Run the console until the operator quits; returns the exit code.

    Log lines of this process go to the database, and nothing goes to stderr while the
    console owns the terminal: with `configure_logging` True the console sets that up as
    service "console" (and undoes it on exit); None (the default) does so unless the process
    is already set up that way (as `claimsops up` is, under its own service name).
    """
    # Importing the console and composing it allocate some 100,000 objects that live as long as
    # the console: the collector walked them over and over (~100 collections, a tenth of the
    # CPU before the first paint). Off until then: the app freezes them and turns it back on.
    with collector.paused() as collecting:
        return _run_console(read_only=read_only, settings=settings, db=db, configure_logging=configure_logging,
                            payer=payer, embedded=embedded, startup=startup, collect_after_paint=collecting)


def _run_console(
    *, read_only: bool, settings: Settings | None, db: Database | None, configure_logging: bool | None,
    payer: PayerSettings | Callable[[], PayerSettings] | None, embedded: bool, startup: Startup | None,
    collect_after_paint: bool,
) -> int:
    from engine.logsink import setup_logging

    try:
        app = build_app(read_only=read_only, settings=settings, db=db, payer=payer, embedded=embedded,
                        startup=startup)
    except (ConfigError, DatabaseError) as exc:
        sys.stderr.write(f"claimsops: {describe(exc)}\n")
        return EXIT_ERROR
    app.collect_after_paint = collect_after_paint
    if configure_logging is None:
        configure_logging = not _logging_ready()
    handler = setup_logging(app.ctx.db, "console", stderr=False) if configure_logging else None
    logging.getLogger("claimsops.console").info(
        "console started by %s from %s (the client's claim) as %s", app.ctx.operator.user,
        app.ctx.operator.client_addr, app.ctx.operator.role,
    )
    try:
        app.run()
    finally:
        app.payer.close()  # the sandbox payer the Claims tab may have started
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
    return int(app.return_code or 0)
