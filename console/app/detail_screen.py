"""Screens over one record, pushed on the main screen; `esc` goes back.

`DetailScreen`: the header, a record's live view (a job, a task's runs) and the footer. Shown
again, it refreshes at once. `RecordScreen`: the whole of one entry (an audit entry, a log line,
a run, a job's row) as labelled fields, every value in full, scrollable; `enter` on a row of a
list opens one (through `requests.OpenRecord`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from console.app.header import HeaderBar
from console.app.keys import ReadOnlyKeys
from console.app.render import untrusted

V = TypeVar("V", bound=Widget)
# a field of a record: its label ("" continues the field above) and its value (a str is untrusted)
Field = tuple[str, "Text | str"]


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
        if getattr(view, "poller", None) is not None:
            view.refresh_data()  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app.pop_screen()


def fields_table(fields: Sequence[Field]) -> Table:
    """Labels on the left, values wrapping in the width left over; nothing is cut."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column("label", style="dim", no_wrap=True)
    table.add_column("value", ratio=1, overflow="fold")
    for label, value in fields:
        table.add_row(Text(label, end=""), value if isinstance(value, Text) else untrusted(value, keep_newlines=True))
    return table


class RecordView(VerticalScroll, can_focus=True):
    """One record's fields; it does not refresh (what was selected is what is shown)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False, id="record.down"),
        Binding("k", "scroll_up", "Up", show=False, id="record.up"),
        Binding("g", "scroll_home", "Top", show=False, id="record.top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="record.bottom"),
    ]
    poller = None

    def __init__(self, title: Text | str, fields: Sequence[Field]) -> None:
        super().__init__(id="record")
        self.title_text = title if isinstance(title, Text) else Text(title, style="bold", end="")
        self.fields = list(fields)

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="record-title", classes="status-line")
        yield Static(fields_table(self.fields), id="record-fields")

    def refresh_data(self, *, invalidate: bool = False) -> None:
        """A record screen shows what was selected; nothing to fetch."""

    def focus_main(self) -> None:
        self.focus()


class RecordScreen(DetailScreen[RecordView]):
    AUTO_FOCUS = "#record"

    def __init__(self, title: Text | str, fields: Sequence[Field], *, help_name: str = "") -> None:
        view = RecordView(title, fields)
        super().__init__(view, help_name=help_name or view.title_text.plain, id="record-screen")
