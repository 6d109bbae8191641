"""The tones of the console's own messages (an error, a warning, all well), styled by the
stylesheet (console.tcss, `.tone--error` …) so that the theme decides them: a widget that
writes such a message lists TONES among its component classes and asks `tone(self, name)`.
In the default stylesheet they are the ANSI colours the console has always shown."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from textual.widget import Widget

TONES = {"tone--error", "tone--warning", "tone--ok"}
Tones = Callable[[str], Style]  # a tone's name -> its style, for text built outside a widget


def tone(node: Widget, name: str) -> Style:
    """The style of tone `name` ("error", "warning", "ok") as `node` is styled."""
    return node.get_component_rich_style(f"tone--{name}", partial=True)
