"""A screen over one record (a job, a task's runs): the header, the record's live view and the
footer; `esc` goes back. Shown again, it refreshes at once."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from console.app.header import HeaderBar
from console.app.keys import ReadOnlyKeys
from console.app.live import LiveWidget

V = TypeVar("V", bound=LiveWidget)


class DetailScreen(ReadOnlyKeys, Screen[None], Generic[V]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back", id="detail.back")]

    def __init__(self, view: V, *, help_name: str, id: str) -> None:
        super().__init__(id=id)
        self.view = view
        self.help_name = help_name  # what the `?` help calls this screen

    def compose(self) -> ComposeResult:
        yield HeaderBar()
        yield self.view
        yield Footer(compact=True, show_command_palette=False)

    def on_screen_resume(self) -> None:
        view = self.view
        if view.poller is not None:
            view.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
