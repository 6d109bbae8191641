"""SIGTERM, SIGHUP and SIGINT end the console the way `q` does — through Textual's own shutdown,
which hands the terminal back (main screen, mouse reporting off, cursor shown) — instead of
killing the process with the terminal left in full-screen mode. The process's own clean-up
(`claimsops up` releasing its jobs) then runs as after `q`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from textual.app import App

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def exit_on_signals(app: App) -> Callable[[], None]:
    """Route the exit signals to `app.exit` on the app's event loop (the loop's own signal
    handling, safe to run there); returns how to put the previous handling back."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in EXIT_SIGNALS:
        try:
            loop.add_signal_handler(sig, app.exit)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal
            continue
        installed.append(sig)

    def restore() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return restore
