"""A DataTable that holds a bounded window of a long list kept in the database.

The list is ordered by the database (jobs newest first, rows in input order). The table holds
at most `max_rows` of it; when the cursor comes near an edge of the window and there is more
on that side, the table fetches the next page through its owner's `PageSource` (in a worker
thread) and adds it on that side while the far side is trimmed; `home` and `end` fetch the
page at the list's true start or end (however long it is) instead of walking to it. Rows are
keyed; a live refresh updates the cells of the rows on screen in place and the cursor stays on
the same record, whatever was added, removed or reordered around it. Columns fit the width the
table has (console.app.columns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from textual import work
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist, RowKey
from textual.worker import get_current_worker

from console.app.columns import Cells, Column, FittedTable, cells_of

__all__ = ["Cells", "Column", "End", "PageLoaded", "PageSource", "PagedTable", "Side", "cells_of"]

Side = Literal["before", "after"]
End = Literal["start", "end"]


@dataclass(frozen=True)
class PageSource:
    """How a table's owner pages: `fetch(side, edge, stamp)` runs in a worker thread and
    returns, in table order, up to page_size + 1 records next to the `edge` key on that side
    (after it, or before it); `end(which, stamp)` (optional) returns, in table order, up to
    page_size + 1 records at the list's "start" or "end" (home and end jump there); `stamp()`
    is what the window was fetched for (a filter), and a page fetched for another stamp is
    dropped; `rows` makes table rows of records on the UI thread; `added` runs after a page is
    added; `failed` reports a fetch error."""

    fetch: Callable[[Side, int, Any], list[Any]]
    rows: Callable[[list[Any]], list[tuple[str, Cells]]]
    failed: Callable[[BaseException], None]
    stamp: Callable[[], Any] = lambda: None
    added: Callable[[], None] = lambda: None
    end: Callable[[End, Any], list[Any]] | None = None


class PageLoaded(Message, bubble=False):
    def __init__(self, side: Side, edge: int, stamp: Any, records: list[Any], more: bool,
                 error: BaseException | None = None) -> None:
        super().__init__()
        self.side, self.edge, self.stamp = side, edge, stamp
        self.records, self.more, self.error = records, more, error


class EndLoaded(Message, bubble=False):
    def __init__(self, which: End, stamp: Any, records: list[Any], more: bool,
                 error: BaseException | None = None) -> None:
        super().__init__()
        self.which, self.stamp = which, stamp
        self.records, self.more, self.error = records, more, error


class PagedTable(FittedTable):
    """Rows are (key, cells). Keys are the record ids as strings. Columns fit the width
    (console.app.columns)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False, id="table.first"),
        Binding("end", "scroll_bottom", "Last row", show=False, id="table.last"),
    ]

    def __init__(
        self, *, page_size: int = 200, max_rows: int = 1000, threshold: int = 20, id: str | None = None,
        source: PageSource | None = None, columns: Sequence[Column[Any]] = (),
    ) -> None:
        super().__init__(columns=columns, id=id)
        self.page_size = page_size
        self.max_rows = max(max_rows, 2 * page_size)
        self.threshold = threshold
        self.order: list[str] = []
        self.more_before = False
        self.more_after = False
        self.loading: Side | None = None
        self.source = source  # None: the window is the whole list

    # -- reading --

    @property
    def cursor_key(self) -> str | None:
        if not self.order or not 0 <= self.cursor_row < len(self.order):
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except RowDoesNotExist:
            return None

    def visible_keys(self, margin: int = 5) -> list[str]:
        """Keys of the rows on screen (and a few around them)."""
        if not self.order:
            return []
        top = max(0, int(self.scroll_y) - margin)
        height = max(1, self.scrollable_content_region.height or self.size.height)
        bottom = min(len(self.order), int(self.scroll_y) + height + margin)
        keys = self.order[top:bottom]
        cursor = self.cursor_key
        if cursor is not None and cursor not in keys:
            keys.append(cursor)
        return keys

    # -- writing --

    def replace_rows(
        self, rows: Sequence[tuple[str, Cells]], *, more_before: bool, more_after: bool, keep: str | None = None
    ) -> None:
        """A new window (first load, new filter, or a slide). The cursor stays on `keep` (if
        still there) at the same height on screen; otherwise it goes to the top."""
        keep = keep if keep is not None else self.cursor_key
        old_index = self.order.index(keep) if keep in self.cells else None
        screen_offset = (old_index - int(self.scroll_y)) if old_index is not None else 0
        self.clear()
        self.loading = None
        self.order = []
        self.cells = {}
        for key, cells in rows:
            self._add(key, cells)
        self.more_before, self.more_after = more_before, more_after
        if keep is not None and keep in self.cells:
            index = self.order.index(keep)
            self.move_cursor(row=index, scroll=False)
            target = max(0, index - max(0, screen_offset))
            self.call_after_refresh(self.scroll_to, y=target, animate=False)
        elif self.order:
            self.move_cursor(row=0)

    def show_all(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """A short list held whole: rebuilt when its keys changed, else updated in place."""
        if self.order != [key for key, _ in rows]:
            self.replace_rows(rows, more_before=False, more_after=False)
            return
        for key, cells in rows:
            self.update_row(key, cells)

    def extend(self, side: Side, rows: Sequence[tuple[str, Cells]], *, more: bool) -> None:
        """Add a fetched page on one side of the window, trimming the other side."""
        self.loading = None
        fresh = [(k, c) for k, c in rows if k not in self.cells]
        current = [(k, self.cells[k]) for k in self.order]
        if side == "after":
            merged = current + fresh
            trim = max(0, len(merged) - self.max_rows)
            if not trim:
                for key, cells in fresh:
                    self._add(key, cells)
                self.more_after = more
                return
            self.replace_rows(merged[trim:], more_before=True, more_after=more)
        else:
            merged = fresh + current
            trim = max(0, len(merged) - self.max_rows)
            kept = merged[: len(merged) - trim] if trim else merged
            self.replace_rows(kept, more_before=more, more_after=self.more_after or bool(trim))

    def add_head(self, rows: Sequence[tuple[str, Cells]]) -> None:
        """New records at the top of the window (the list's newest end), without rebuilding
        it. The cursor stays on its record; when the view is scrolled, the rows on screen
        stay still too."""
        fresh = [(k, c) for k, c in rows if k not in self.cells]
        if not fresh:
            return
        keep = self.cursor_key
        offset = (self.order.index(keep) - int(self.scroll_y)) if keep is not None else 0
        at_top = int(self.scroll_y) == 0
        for key, cells in fresh:
            self.add_fitted_row(key, cells)
        self.order = [k for k, _ in fresh] + self.order
        if len(self.order) > self.max_rows:
            for key in self.order[self.max_rows :]:
                self.remove_fitted_row(key)
            self.order = self.order[: self.max_rows]
            self.more_after = True
        position = {key: index for index, key in enumerate(self.order)}
        # what DataTable.sort does, with the window's own order
        self._row_locations = TwoWayDict({RowKey(key): index for key, index in position.items()})
        self._update_count += 1
        self.refresh()
        if keep is None or keep not in position:
            return
        if at_top:
            self.move_cursor(row=position[keep])
        else:
            self.move_cursor(row=position[keep], scroll=False)
            self.call_after_refresh(self.scroll_to, y=max(0, position[keep] - offset), animate=False)

    def update_row(self, key: str, cells: Cells) -> None:
        """Update in place: only the cells that changed are touched."""
        self.update_fitted_row(key, cells)

    def remove_key(self, key: str) -> None:
        if key not in self.cells:
            return
        self.remove_fitted_row(key)
        self.order.remove(key)

    def _add(self, key: str, cells: Cells) -> None:
        self.add_fitted_row(key, cells)
        self.order.append(key)

    # -- home and end: the list's true start and end, a page fetched from there --

    def action_scroll_top(self) -> None:
        if self.more_before and self.source is not None and self.source.end is not None:
            self._load_end("start")
            return
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        if self.more_after and self.source is not None and self.source.end is not None:
            self._load_end("end")
            return
        super().action_scroll_bottom()

    def _load_end(self, which: End) -> None:
        assert self.source is not None
        self.loading = "before" if which == "start" else "after"  # no edge paging meanwhile
        self._fetch_end(which, self.source.stamp())

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def _fetch_end(self, which: End, stamp: Any) -> None:
        assert self.source is not None and self.source.end is not None
        worker = get_current_worker()
        try:
            records = self.source.end(which, stamp)
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(EndLoaded(which, stamp, [], True, exc))
            return
        more = len(records) > self.page_size
        records = records[: self.page_size] if which == "start" else records[-self.page_size:]
        if not worker.is_cancelled:
            self.post_message(EndLoaded(which, stamp, records, more))

    def on_end_loaded(self, message: EndLoaded) -> None:
        message.stop()
        source = self.source
        assert source is not None
        self.loading = None
        if message.error is not None:
            source.failed(message.error)
            return
        if message.stamp != source.stamp():
            return  # the filter changed meanwhile
        rows = source.rows(message.records)
        if message.which == "start":
            self.replace_rows(rows, more_before=False, more_after=message.more, keep=rows[0][0] if rows else None)
            self.move_cursor(row=0)
        else:
            self.replace_rows(rows, more_before=message.more, more_after=False, keep=rows[-1][0] if rows else None)
            self.move_cursor(row=len(self.order) - 1)
        source.added()

    # -- paging --

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is not self:
            return
        self.check_edges()

    def check_edges(self) -> None:
        if self.loading is not None or not self.order:
            return
        row = self.cursor_row
        if self.more_after and row >= len(self.order) - self.threshold:
            self._load("after")
        elif self.more_before and row < self.threshold:
            self._load("before")

    def edge_key(self, side: Side) -> str | None:
        if not self.order:
            return None
        return self.order[0] if side == "before" else self.order[-1]

    def _load(self, side: Side) -> None:
        edge = self.edge_key(side)
        if self.source is None or edge is None:
            return
        self.loading = side
        self._fetch(side, int(edge), self.source.stamp())

    @work(thread=True, exclusive=True, exit_on_error=False, group="page")
    def _fetch(self, side: Side, edge: int, stamp: Any) -> None:
        assert self.source is not None
        worker = get_current_worker()
        try:
            records = self.source.fetch(side, edge, stamp)
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(PageLoaded(side, edge, stamp, [], True, exc))
            return
        more = len(records) > self.page_size
        records = records[: self.page_size] if side == "after" else records[-self.page_size:]  # those by the edge
        if not worker.is_cancelled:
            self.post_message(PageLoaded(side, edge, stamp, records, more))

    def on_page_loaded(self, message: PageLoaded) -> None:
        message.stop()
        source = self.source
        assert source is not None
        if message.error is not None:
            self.loading = None
            source.failed(message.error)
            return
        if message.stamp != source.stamp() or self.edge_key(message.side) != str(message.edge):
            self.loading = None  # the window changed meanwhile (a new filter, a reload)
            self.check_edges()
            return
        self.extend(message.side, source.rows(message.records), more=message.more)
        source.added()
