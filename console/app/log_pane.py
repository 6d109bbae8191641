"""A scrollable pane over a bounded window of log lines (the toolong idea, smaller): the lines
live in memory only for the window, wrapping is computed for the current width, and only the
lines on screen are turned into strips.

Wrapped, a line keeps every character (the scrollbar's gutter is always reserved, so the width
wrapped for is the width shown) and its continuation lines are indented under its message. A
cursor marks one entry: up/down or j/k move it, home/end or g/G go to the first and last,
`enter` posts `Selected` with it (the view shows its whole record)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

MIN_WRAP = 20
CONTINUATION = 2  # the indent of continuation lines when the message's own column is too far right


@dataclass(frozen=True)
class LogEntry:
    """One line: its id, its text, where its message starts (continuation lines are indented to
    it) and the record it shows (what `enter` opens)."""

    id: int
    text: Text
    indent: int = 0
    record: Any = None


def wrap_entry(text: Text, width: int, indent: int, console: Any) -> list[Text]:
    """`text` folded at `width` cells, continuation lines indented by `indent` (at most half the
    width); every character is kept: the pieces put end to end are the text again."""
    width = max(1, width)
    lines = text.wrap(console, width, overflow="fold", no_wrap=False) or [Text("")]
    if len(lines) == 1:
        return list(lines)
    first = lines[0]
    rest = text[len(first.plain):]
    rest = rest[len(rest.plain) - len(rest.plain.lstrip(" ")):]  # the spaces at the fold belong to neither line
    indent = indent if indent <= width // 2 else min(CONTINUATION, width // 2)
    out = [first]
    for line in rest.wrap(console, width - indent, overflow="fold") or []:
        out.append(Text(" " * indent, end="") + line)
    return out


class LogPane(ScrollView, can_focus=True):
    """Entries in the order they arrived: id order, except that a line committed late (a lower
    id seen after a higher one) comes after the lines already shown. `wrap` folds long lines at
    the pane's width."""

    DEFAULT_CSS = """
    LogPane {
        scrollbar-gutter: stable;
    }
    LogPane > .log-pane--cursor {
        background: $block-cursor-blurred-background;
    }
    LogPane:focus > .log-pane--cursor {
        background: $block-cursor-background;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-pane--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False, id="lines.down"),
        Binding("k", "scroll_up", "Up", show=False, id="lines.up"),
        Binding("g", "scroll_home", "First line", show=False, id="lines.first"),
        Binding("G", "scroll_end", "Last line", show=False, id="lines.last"),
        Binding("enter", "select", "Line", show=False, tooltip="the whole line: time, level, service, host, job, run", id="lines.open"),
    ]

    class Selected(Message):
        """`enter` on an entry."""

        def __init__(self, entry: LogEntry) -> None:
            super().__init__()
            self.entry = entry

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
        self._cache: LRUCache[tuple[int, int, int, bool], Strip] = LRUCache(1024)
        self.cursor: int | None = None  # an index in `entries`; None until the operator moves
        self._cursor_span: tuple[int, int] | None = None  # its lines: (first, count)
        self.placeholder = Text("")  # shown while there is no entry: what to do next

    # -- the cursor --

    def _span_of(self, index: int) -> tuple[int, int]:
        return sum(self._counts[:index]), self._counts[index]

    def cursor_span(self) -> tuple[int, int] | None:
        if self.cursor is None or not 0 <= self.cursor < len(self.entries):
            return None
        if self._cursor_span is None:
            self._cursor_span = self._span_of(self.cursor)
        return self._cursor_span

    def _cursor_moved(self) -> None:
        self._cursor_span = None
        self._cache.clear()
        self.refresh()

    def move_cursor(self, index: int | None) -> None:
        """Put the cursor on entry `index` (clamped; None: no cursor) and scroll it into view."""
        if index is not None:
            index = max(0, min(index, len(self.entries) - 1)) if self.entries else None
        self.cursor = index
        self._cursor_moved()
        span = self.cursor_span()
        if span is None:
            return
        first, count = span
        height = max(1, self.scrollable_content_region.height)
        if first < self.scroll_y:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif first + count > self.scroll_y + height:
            self.scroll_to(y=max(first, first + count - height), animate=False, immediate=True)

    def entry_at_line(self, line: int) -> int | None:
        total = 0
        for index, count in enumerate(self._counts):
            total += count
            if line < total:
                return index
        return None

    def _cursor_or_bottom(self) -> int | None:
        """The cursor, or the entry at the bottom of the pane when there is none yet."""
        if self.cursor is not None:
            return self.cursor
        if not self.entries:
            return None
        height = max(1, self.scrollable_content_region.height)
        bottom = self.entry_at_line(min(len(self._lines) - 1, int(self.scroll_y) + height - 1))
        return len(self.entries) - 1 if bottom is None else bottom

    @property
    def selected_entry(self) -> LogEntry | None:
        index = self._cursor_or_bottom()
        return self.entries[index] if index is not None else None

    def action_select(self) -> None:
        entry = self.selected_entry
        if entry is not None:
            self.post_message(self.Selected(entry))

    def action_scroll_down(self) -> None:
        if not self.entries:
            return
        start = self._cursor_or_bottom()
        self.move_cursor(0 if start is None else start + (self.cursor is not None))

    def on_click(self, event: events.Click) -> None:
        index = self.entry_at_line(int(self.scroll_y) + event.y)
        if index is not None:
            self.move_cursor(index)

    # -- content --

    def set_entries(self, entries: Sequence[LogEntry]) -> None:
        self.entries = list(entries)
        self.cursor = None
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
            if self.cursor is not None:
                self.cursor = max(0, self.cursor - excess)
        self._cursor_span = None
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
        if self.cursor is not None:
            self.cursor = min(len(merged) - 1, self.cursor + len(entries))
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
        return max(MIN_WRAP, self.scrollable_content_region.width or self.size.width or 80)

    def _layout_entry(self, entry: LogEntry, width: int) -> list[Text]:
        pieces = entry.text.split("\n", allow_blank=True) or [Text("")]
        if not self.wrap:
            return list(pieces)
        out: list[Text] = []
        for number, piece in enumerate(pieces):
            if number:  # the lines of a multi-line message (a traceback) sit under the message
                piece = Text(" " * min(entry.indent, width // 2), end="") + piece
            out.extend(wrap_entry(piece, width, entry.indent, self.app.console))
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
        self._cursor_span = None
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
        if self.wrap and width and self._wrap_width() != self._layout_width:
            self.call_later(self._relayout)  # the width changed without a resize of the pane
        index = scroll_y + y
        if index >= len(self._lines):
            if not self.entries and index == 0:
                return self._strip(self.placeholder, scroll_x, width)
            return Strip.blank(width, self.rich_style)
        span = self.cursor_span()
        on_cursor = span is not None and span[0] <= index < span[0] + span[1]
        key = (self._dropped_lines + index, scroll_x, width, on_cursor)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._strip(self._lines[index], scroll_x, width)
            if on_cursor:
                cached = cached.apply_style(self.get_component_rich_style("log-pane--cursor"))
            self._cache[key] = cached
        return cached.apply_style(self.rich_style)

    def _strip(self, line: Text, scroll_x: int, width: int) -> Strip:
        segments = list(line.render(self.app.console))
        strip = Strip(segments, line.cell_len) if segments else Strip([Segment("")], 0)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # -- scrolling up stops following and, at the top, asks for older lines --

    def _scrolled_up(self) -> None:
        self.post_message(self.ScrolledUp())
        # the scroll actions move the pane after the next refresh: look for the top then
        self.call_after_refresh(self._reached_top)

    def _reached_top(self) -> None:
        if min(self.scroll_y, self.scroll_target_y) <= 0 and not self.cursor:
            self.post_message(self.ScrolledToTop())

    def action_scroll_up(self) -> None:
        start = self._cursor_or_bottom()
        if start is not None:
            self.move_cursor(start - (self.cursor is not None))
        self._scrolled_up()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._scrolled_up()

    def action_scroll_home(self) -> None:
        self.move_cursor(0)
        super().action_scroll_home()
        self._scrolled_up()

    def action_scroll_end(self) -> None:
        self.move_cursor(len(self.entries) - 1)
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.call_after_refresh(self._scrolled_up)
