"""Columns that fit the width a table has: the console's one column API.

A `Column` says how a record shows in it and how it behaves when the terminal is narrow:
`width` is the narrowest it is shown at; `priority` says which columns go first when they do
not all fit (0: always shown; higher numbers go first); `stretch` is its share of the width
left over (give the column that should take the slack, usually the last text column,
stretch=1); `cut` says how a text too long for it is shortened: at the end with "…", or
(`"path"`) from the left, keeping the file name ("…/samples/original-basic.csv"). Text is
never cut silently.

`fit_columns` is the layout (which columns, how wide); `FittedTable` is a DataTable that lays
its columns out for its width, again on every resize. Rows are added and updated with whole
records' cells (one per column, shown or not): `add_fitted_row`, `update_fitted_row`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

R = TypeVar("R")
Cut = Literal["end", "path"]
Cells = tuple[Text, ...]
ELLIPSIS = "…"
SCROLLBAR = 2  # kept free for the vertical scrollbar, so that it never hides the last column
MIN_CUT = 6  # the narrowest an essential column is squeezed to rather than hidden


@dataclass(frozen=True)
class Column(Generic[R]):
    """A column: its key, header, narrowest width, how a record shows in it (`cell(record, at)`,
    where `at` is what the table's cells are drawn for: a time, a zone, an animation frame),
    its share of the width left over (`stretch`), its `priority` (0: always shown; higher:
    hidden first on a narrow terminal) and how a long text is shortened (`cut`)."""

    key: str
    label: str
    width: int
    cell: Callable[[R, Any], Text]
    stretch: int = 0
    priority: int = 0
    cut: Cut = "end"


def cells_of(columns: Sequence[Column[R]], record: R, at: Any) -> Cells:
    return tuple(column.cell(record, at) for column in columns)


def fit_columns(columns: Sequence[Column[Any]], width: int, padding: int = 2) -> dict[str, int]:
    """The columns shown in `width` cells and their widths (in table order). Columns are taken
    by priority (then table order) while they fit, each `padding` wider than its text; the
    first is always shown, and an essential one (priority 0) that does not fit takes what is
    left if that is a few cells. What is left then goes to the stretching columns (none: it
    stays blank, as a right-aligned last column would look odd pushed to the edge)."""
    order = sorted(range(len(columns)), key=lambda i: (columns[i].priority, i))
    widths: dict[int, int] = {}
    used = 0
    for i in order:
        column = columns[i]
        size = max(1, column.width)
        if widths and used + size + padding > width:
            if column.priority:
                break
            size = width - used - padding
            if size < min(column.width, MIN_CUT):
                continue
        widths[i] = size
        used += size + padding
    shown = sorted(widths)
    spare = max(0, width - used)
    stretching = [i for i in shown if columns[i].stretch]
    total = sum(columns[i].stretch for i in stretching)
    given = 0
    for n, i in enumerate(stretching):
        share = spare - given if n == len(stretching) - 1 else spare * columns[i].stretch // total
        widths[i] += share
        given += share
    return {columns[i].key: widths[i] for i in shown}


def shorten_path(value: str, width: int) -> str:
    """`value` in `width` cells, cut from the left at a "/" so that the file name stays:
    "…/samples/original-basic.csv"; a file name too long by itself keeps its start."""
    if len(value) <= width:
        return value
    if width <= 1:
        return ELLIPSIS[:width]
    parts = value.split("/")
    kept = parts[-1]
    for part in reversed(parts[:-1]):
        candidate = f"{part}/{kept}"
        if len(candidate) + 2 > width:
            break
        kept = candidate
    if len(parts) > 1 and len(kept) + 2 <= width:
        return f"{ELLIPSIS}/{kept}"
    name = parts[-1]
    return name if len(name) <= width else name[: width - 1] + ELLIPSIS


class PathText(Text):
    """A cell whose text is a path: drawn cut from the left for the width it gets."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        if self.cell_len <= width:
            yield from super().__rich_console__(console, options)
            return
        shown = shorten_path(self.plain, width)
        yield from Text(shown, style=self.style, justify=self.justify, no_wrap=True, end="").__rich_console__(
            console, options
        )


def fitted(text: Text, cut: Cut) -> Text:
    """`text` made to end in "…" (or, for a path, to lose its start) when its column is narrower."""
    if cut == "path" and "/" in text.plain:
        path = PathText(text.plain, style=text.style, justify=text.justify, no_wrap=True, end="")
        path.spans = list(text.spans)
        return path
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class FittedTable(DataTable[Text]):
    """A DataTable whose columns (`Column`s) are laid out for its width, live on resize."""

    def __init__(self, *, columns: Sequence[Column[Any]] = (), id: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(id=id, **kwargs)
        self.fit_spec: tuple[Column[Any], ...] = tuple(columns)
        self.shown: tuple[int, ...] = ()  # indexes into fit_spec of the columns on screen
        self.cells: dict[str, Cells] = {}  # every row's whole cells, shown columns or not

    @property
    def shown_keys(self) -> list[str]:
        return [self.fit_spec[i].key for i in self.shown]

    def on_mount(self) -> None:
        self.relayout()

    def on_resize(self) -> None:
        self.relayout()

    def relayout(self) -> None:
        """Lay the columns out for the width now: the same columns get new widths in place; a
        change in which columns fit rebuilds the table's columns and rows (the cursor stays)."""
        spec = self.fit_spec
        if not spec:
            return
        width = self.size.width or self.app.size.width
        plan = fit_columns(spec, width - SCROLLBAR, 2 * self.cell_padding)
        shown = tuple(i for i, column in enumerate(spec) if column.key in plan)
        if shown != self.shown:
            self._rebuild(shown, plan)
            return
        changed = False
        for key, size in plan.items():
            column = self.columns.get(ColumnKey(key))
            if column is not None and column.width != size:
                column.width = size
                changed = True
        if changed:
            # what DataTable.add_column does to take a new width into account
            self._require_update_dimensions = True
            self._update_count += 1
            self.check_idle()
            self.refresh()

    def _rebuild(self, shown: tuple[int, ...], plan: dict[str, int]) -> None:
        keep = self.cursor_row if self.row_count else 0
        top = int(self.scroll_y)
        keys = [str(row.key.value) for row in self.ordered_rows]
        self.clear(columns=True)
        self.shown = shown
        for i in shown:
            column = self.fit_spec[i]
            self.add_column(column.label, key=column.key, width=plan[column.key])
        for key in keys:
            self.add_row(*self._project(self.cells[key]), key=key)
        if keys:
            self.move_cursor(row=min(keep, len(keys) - 1), scroll=False)
            self.call_after_refresh(self.scroll_to, y=top, animate=False)

    def _project(self, cells: Cells) -> list[Text]:
        spec = self.fit_spec
        return [fitted(cells[i], spec[i].cut) for i in self.shown]

    def add_fitted_row(self, key: str, cells: Cells) -> None:
        if not self.shown:
            self.relayout()
        self.cells[key] = cells
        self.add_row(*self._project(cells), key=key)

    def update_fitted_row(self, key: str, cells: Cells) -> None:
        """Update in place: only the shown cells that changed are touched."""
        old = self.cells.get(key)
        if old is None or old == cells:
            return
        self.cells[key] = cells
        spec = self.fit_spec
        for i in self.shown:
            if old[i] != cells[i]:
                self.update_cell(key, spec[i].key, fitted(cells[i], spec[i].cut))

    def remove_fitted_row(self, key: str) -> None:
        if key in self.cells:
            self.remove_row(key)
            del self.cells[key]
