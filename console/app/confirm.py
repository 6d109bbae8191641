"""A yes/no dialog that opens with No focused: `y` confirms, `n` or `esc` refuses."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from console.app.dialog import Dialog


class ConfirmDialog(Dialog[bool], inherit_bindings=False):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm.close"),
    ]
    AUTO_FOCUS = "#confirm-no"

    def __init__(self, question: Text, detail: Text | None = None, *, yes_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="dialog"):
            yield Static(self.question, id="confirm-question")
            if self.detail is not None:
                yield Static(self.detail, id="confirm-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("No (n)", id="confirm-no", variant="primary")
                yield Button(f"{self.yes_label} (y)", id="confirm-yes", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
