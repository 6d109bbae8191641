"""A screen over one record (a job, a task's runs): the header, the record's live view and the
footer; `esc` goes back. Shown again, it refreshes at once."""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from console.app.header import HeaderBar
from console.app.live import LiveWidget

V = TypeVar("V", bound=LiveWidget)


class DetailScreen(Screen[None], Generic[V]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def make_view(self) -> V:
        raise NotImplementedError

    @property
    def help_name(self) -> str:
        """What the `?` help calls this screen."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        yield HeaderBar()
        yield self.make_view()
        yield Footer(compact=True)

    @property
    def view(self) -> V:
        return self.query_one(LiveWidget)  # type: ignore[return-value]

    def on_screen_resume(self) -> None:
        view = self.view
        if view.poller is not None:
            view.refresh_data()

    def action_back(self) -> None:
        self.app.pop_screen()
