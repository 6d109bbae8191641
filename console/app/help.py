"""`?`: the keys of the current view, then the keys that work everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.app.palette import KeyHelp


def keys_table(title: str, keys: Sequence[KeyHelp]) -> Table:
    table = Table(title=Text(title, style="bold"), title_justify="left", show_header=False, box=None, expand=True)
    table.add_column("key", style="bold cyan", no_wrap=True, width=12)
    table.add_column("does", ratio=1)
    for item in keys:
        does = Text(item.description, end="")
        if item.tooltip:
            does.append(f" — {item.tooltip}", style="dim")
        table.add_row(Text(item.key), does)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, view_name: str, keys: Sequence[KeyHelp]) -> None:
        super().__init__(classes="dialog-screen")
        self.view_name = view_name
        self.keys = list(keys)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static(keys_table(f"{self.view_name}: keys", [k for k in self.keys if not k.everywhere]))
            yield Static(keys_table("Everywhere", [k for k in self.keys if k.everywhere]), id="help-global")
            yield Static(Text("esc or ? closes", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
