"""The base of the console's dialogs: a modal box over the screen that `esc` cancels, and the
dialogs around one text field that `enter` (or OK) accepts once the value is good."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button, Input

from console.app.tone import TONES

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """Dismissed with None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="dialog.close")]
    COMPONENT_CLASSES: ClassVar[set[str]] = TONES

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def action_cancel(self) -> None:
        self.dismiss(None)


class FieldDialog(Dialog[str | None]):
    """Subclasses name their field (`FIELD`) and OK button (`OK`) and say what a typed value
    dismisses with (`accepted`: None keeps the dialog open)."""

    FIELD: ClassVar[str]
    OK: ClassVar[str]

    def on_mount(self) -> None:
        field = self.query_one(self.FIELD, Input)
        field.cursor_position = len(field.value)

    def accepted(self) -> str | None:
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == self.OK.lstrip("#"):
            self._accept()
        else:
            self.dismiss(None)

    def _accept(self) -> None:
        value = self.accepted()
        if value is not None:
            self.dismiss(value)
