"""A scrollable pane over a bounded window of log lines (the toolong idea, smaller): the lines
live in memory only for the window, wrapping is computed for the current width, and only the
lines on screen are turned into strips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True)
class LogEntry:
    id: int
    text: Text


class LogPane(ScrollView, can_focus=True):
    """Entries in the order they arrived: id order, except that a line committed late (a lower
    id seen after a higher one) comes after the lines already shown. `wrap` folds long lines at
    the pane's width."""

    class ScrolledToTop(Message):
        """The operator scrolled up past the first line (fetch older lines)."""

    class ScrolledUp(Message):
        """The operator scrolled up: the view stops following."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[LogEntry] = []
        self.wrap = False
        self._lines: list[Text] = []
        self._counts: list[int] = []
        self._layout_width = 0
        # Strips are cached by line number counted from the last full layout, so that lines
        # dropped from the front (a full window following new lines) leave the others cached.
        self._dropped_lines = 0
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)

    # -- content --

    def set_entries(self, entries: Sequence[LogEntry]) -> None:
        self.entries = list(entries)
        self._relayout()

    def append(self, entries: Sequence[LogEntry], *, keep: int) -> None:
        """Add newer entries at the end, dropping the oldest beyond `keep`."""
        if not entries:
            return
        width = self._wrap_width()
        for entry in entries:
            lines = self._layout_entry(entry, width)
            self.entries.append(entry)
            self._counts.append(len(lines))
            self._lines.extend(lines)
        excess = len(self.entries) - keep
        if excess > 0:
            dropped = sum(self._counts[:excess])
            del self.entries[:excess]
            del self._counts[:excess]
            del self._lines[:dropped]
            self._dropped_lines += dropped
        self._update_size()

    def prepend(self, entries: Sequence[LogEntry], *, keep: int) -> int:
        """Add older entries at the start, dropping the newest beyond `keep`; returns how
        many entries were dropped. The lines on screen stay where they are."""
        if not entries:
            return 0
        merged = list(entries) + self.entries
        dropped = max(0, len(merged) - keep)
        if dropped:
            merged = merged[: len(merged) - dropped]
        self.entries = merged
        self._relayout()
        added_lines = sum(self._counts[: len(entries)])
        self.scroll_to(y=self.scroll_y + added_lines, animate=False, immediate=True)
        return dropped

    def clear_entries(self) -> None:
        self.set_entries([])

    def set_wrap(self, wrap: bool) -> None:
        if wrap != self.wrap:
            self.wrap = wrap
            self._relayout()

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def at_end(self) -> bool:
        return self.scroll_y >= self.max_scroll_y

    # -- layout --

    def _wrap_width(self) -> int:
        return max(20, self.scrollable_content_region.width or self.size.width or 80)

    def _layout_entry(self, entry: LogEntry, width: int) -> list[Text]:
        pieces = entry.text.split("\n", allow_blank=True) or [Text("")]
        if not self.wrap:
            return list(pieces)
        out: list[Text] = []
        for piece in pieces:
            out.extend(piece.wrap(self.app.console, width, overflow="fold") or [Text("")])
        return out

    def _relayout(self) -> None:
        width = self._wrap_width()
        self._layout_width = width
        self._lines = []
        self._counts = []
        for entry in self.entries:
            lines = self._layout_entry(entry, width)
            self._counts.append(len(lines))
            self._lines.extend(lines)
        self._dropped_lines = 0
        self._cache.clear()
        self._update_size()

    def _update_size(self) -> None:
        if self.wrap:
            width = self._layout_width
        else:
            width = max((line.cell_len for line in self._lines), default=0)
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        if self.wrap and self._wrap_width() != self._layout_width:
            self._relayout()

    # -- rendering --

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        key = (self._dropped_lines + index, scroll_x, width)
        cached = self._cache.get(key)
        if cached is None:
            line = self._lines[index]
            segments = list(line.render(self.app.console))
            strip = Strip(segments, line.cell_len) if segments else Strip([Segment("")], 0)
            cached = strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
            self._cache[key] = cached
        return cached.apply_style(self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # -- scrolling up stops following and, at the top, asks for older lines --

    def _scrolled_up(self) -> None:
        self.post_message(self.ScrolledUp())
        # the scroll actions move the pane after the next refresh: look for the top then
        self.call_after_refresh(self._reached_top)

    def _reached_top(self) -> None:
        if min(self.scroll_y, self.scroll_target_y) <= 0:
            self.post_message(self.ScrolledToTop())

    def action_scroll_up(self) -> None:
        super().action_scroll_up()
        self._scrolled_up()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._scrolled_up()

    def action_scroll_home(self) -> None:
        super().action_scroll_home()
        self._scrolled_up()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.call_after_refresh(self._scrolled_up)
