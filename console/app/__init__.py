"""The Textual console: header, Jobs (detail, upload), Logs, Stats, Schedulers (run history),
Health, Claims look-up and Audit."""

from console.app.app import ConsoleApp
from console.app.context import ConsoleContext, system_clock

__all__ = ["ConsoleApp", "ConsoleContext", "system_clock"]
