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
from engine.actions import Operator


def keys_table(title: str, keys: Sequence[KeyHelp]) -> Table:
    table = Table(title=Text(title, style="bold"), title_justify="left", show_header=False, box=None, expand=True)
    table.add_column("key", style="tone.key", no_wrap=True, width=12)
    table.add_column("does", ratio=1)
    for item in keys:
        if item.refused:  # greyed: shown so that the operator knows it exists
            table.add_row(Text(item.key, style="tone.off"), Text(f"{item.description} — read-only", style="tone.off"))
            continue
        does = Text(item.description, end="")
        if item.tooltip:
            does.append(f" — {item.tooltip}", style="tone.muted")
        table.add_row(Text(item.key), does)
    return table


def read_only_note(operator: Operator) -> Text | None:
    """Why the action keys are greyed, and how to get them (None when the operator can act)."""
    if operator.can_act:
        return None
    why = operator.reason or "read-only"
    if operator.hint:
        why += f"; {operator.hint}"
    return Text(f"{why}. The greyed keys are operator actions.", style="tone.warn")


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close-help"),
        Binding("q", "close", "Close", show=False, id="help.close-quit"),
    ]

    def __init__(self, view_name: str, keys: Sequence[KeyHelp], read_only: Text | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.view_name = view_name
        self.keys = list(keys)
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="dialog"):
            if self.read_only is not None:
                yield Static(self.read_only, id="help-read-only")
            yield Static(keys_table(f"{self.view_name}: keys", [k for k in self.keys if not k.everywhere]))
            yield Static(keys_table("Everywhere", [k for k in self.keys if k.everywhere]), id="help-global")
            yield Static(Text("esc or ? closes", style="tone.muted"))

    def action_close(self) -> None:
        self.dismiss(None)
