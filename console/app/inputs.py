"""Text inputs whose value never holds a control character: a pasted escape sequence, or an
untrusted default (an export name made from a file name), is shown as visible symbols."""

from __future__ import annotations

from textual.widgets import Input

from engine.text import safe_text


class SafeInput(Input):
    def validate_value(self, value: str) -> str:
        return safe_text(value)
