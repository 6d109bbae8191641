"""Text inputs whose value never holds a control character: a pasted escape sequence, or an
untrusted default (an export name made from a file name), is shown as visible symbols. The
cursor does not blink in a still console (snapshots)."""

from __future__ import annotations

from textual.widgets import Input

from console.app.host import context
from engine.text import safe_text


class SafeInput(Input):
    def validate_value(self, value: str) -> str:
        return safe_text(value)

    def on_mount(self) -> None:
        self.cursor_blink = not context(self).still
