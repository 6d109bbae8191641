"""The Textual console (part 1: header, Jobs, job detail, upload, Logs)."""

from console.app.app import ConsoleApp
from console.app.context import ConsoleContext, system_clock

__all__ = ["ConsoleApp", "ConsoleContext", "system_clock"]
