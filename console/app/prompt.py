"""Small modal forms: a path prompt (export) and a list picker (service, level, outcome)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from console.app.dialog import Dialog, FieldDialog
from console.app.host import host, in_worker
from console.app.inputs import SafeInput
from console.app.render import untrusted
from console.app.tone import tone


class PathPrompt(FieldDialog):
    """Asks for a path; `enter` accepts, `esc` cancels."""

    AUTO_FOCUS = FIELD = "#prompt-input"
    OK = "#prompt-ok"

    def __init__(self, title: Text, value: str, *, hint: Text | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box", classes="dialog"):
            yield Static(self.title_text, id="prompt-title")
            yield SafeInput(self.value, id="prompt-input")
            yield Static(self.hint or Text(""), id="prompt-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (esc)", id="prompt-cancel")
                yield Button("OK (enter)", id="prompt-ok", variant="primary")

    def accepted(self) -> str | None:
        value = self.query_one("#prompt-input", Input).value.strip()
        if not value:
            self.query_one("#prompt-hint", Static).update(Text("a path is needed", style=tone(self, "error")))
            return None
        return value


def pick_read(
    node: Widget, title: str, all_label: str, read: Callable[[], list[str]], current: str,
    picked: Callable[[str], None],
) -> None:
    """A picker over values read from the database in a worker (the users of the audit, the
    services of the logs), "" standing for all of them; a failed read is reported as stale."""

    def show(values: list[str]) -> None:
        choices = [(Text(all_label), "")] + [(untrusted(v, max_len=40), v) for v in values]
        node.app.push_screen(Picker(title, choices, current), lambda value: None if value is None else picked(value))

    in_worker(node, read, show, host(node).report_error, group=f"pick-{title}", exclusive=True)


class Picker(Dialog[str | None]):
    """Pick one of a few values; `enter` picks, `esc` cancels. Values are (label, value)."""

    AUTO_FOCUS = "#picker-list"

    def __init__(self, title: str, choices: Sequence[tuple[Text, str]], current: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box", classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), id="picker-title")
            yield OptionList(*[Option(label) for label, _ in self.choices], id="picker-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        values = [value for _, value in self.choices]
        if self.current in values:
            options.highlighted = values.index(self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index][1])
