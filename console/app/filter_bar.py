"""The text filter of a list under `/`: a bar hidden until `/` opens it, focused then; what is
typed goes to the view as it changes, `enter` hands the keys back to the list, and the view's
`esc` clears and hides it.

Lists paged from the database filter in their query (Audit, alerts); short lists held whole
(Schedulers, Health's checks) keep the rows whose text matches (`rows_matching`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input

from console.app.inputs import SafeInput
from console.app.paged_table import Cells
from console.app.render import untrusted


class FilterBar(Horizontal):
    """`changed(text)` as the operator types; `home()` is the list that takes the keys back on
    `enter` and when the bar is cleared."""

    DEFAULT_CLASSES = "filter-bar"

    def __init__(self, placeholder: str, *, id: str, changed: Callable[[str], None], home: Callable[[], Widget]) -> None:
        super().__init__(id=id)
        self.placeholder = placeholder
        self.changed = changed
        self.home = home

    def compose(self) -> ComposeResult:
        yield SafeInput(placeholder=self.placeholder, id=f"{self.id}-text", classes="filter-text")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    def open(self) -> None:
        self.display = True
        # at once, not after the queued keys: "/arch" typed fast must all land in the field
        self.screen.set_focus(self.input)

    def clear(self) -> None:
        """Empty and hidden, the list focused; `changed` is not called (the view resets its
        filters itself: the text may be one of several)."""
        with self.prevent(Input.Changed):
            self.input.value = ""
        self.display = False
        self.home().focus()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.changed(event.value.strip())

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.home().focus()


def rows_matching(rows: Sequence[tuple[str, Cells]], text: str) -> list[tuple[str, Cells]]:
    """The rows with `text` in any cell, case ignored ("" keeps all)."""
    if not text:
        return list(rows)
    needle = text.casefold()
    return [(key, cells) for key, cells in rows if needle in " ".join(c.plain for c in cells).casefold()]


def no_match(noun: str, text: str) -> Text:
    """The empty state of a filtered list: what to do next."""
    out = Text(f"no {noun} matches ", style="dim", end="")
    out.append_text(untrusted(repr(text), max_len=40))
    out.append(" — / changes the filter, esc clears it", style="dim")
    return out
