"""A newest-first list in the database (audit entries, alerts, a task's runs, jobs), keyed by
increasing ids, shown in a PagedTable window: what a live refresh asks for, what it fetches
and how its answer goes into the window, and the pages fetched as the cursor nears an edge.

A refresh loads the newest page (first time, new filter, far behind), or else fetches what is
newer than the window's head (when the window is at the head) and the records on screen again
(when they can change), and updates those rows in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from console.app.paged_table import Cells, End, PagedTable, PageSource, Side
from engine.db import Database

R = TypeVar("R")
Rows = Callable[[list[Any]], list[tuple[str, Cells]]]


@dataclass(frozen=True)
class FeedRequest:
    stamp: Any  # what the window is fetched for (a filter, a task name)
    reload: bool
    head_id: int | None
    at_head: bool
    visible: tuple[int, ...] = ()


@dataclass
class FeedData(Generic[R]):
    first: list[R] = field(default_factory=list)  # a reload: the newest page (one more: is there more?)
    newer: list[R] = field(default_factory=list)
    visible: dict[int, R] = field(default_factory=dict)


@dataclass(frozen=True)
class Feed(Generic[R]):
    """`older(db, stamp, before_id=, limit=)`: newest first, older than `before_id` (None: the
    newest); `newer(db, stamp, after_id=, limit=)`: the `limit` just newer than `after_id`,
    newest first; `by_ids(db, ids)`: the records again (None: a record never changes once
    written). The engine's list queries have these signatures."""

    older: Callable[..., list[R]]
    newer: Callable[..., list[R]]
    by_ids: Callable[[Database, Sequence[int]], dict[int, R]] | None
    page: int

    def request(self, table: PagedTable, stamp: Any, reload: bool) -> FeedRequest:
        head = table.edge_key("before")
        reload = reload or head is None
        visible = () if reload or self.by_ids is None else tuple(int(k) for k in table.visible_keys())
        return FeedRequest(stamp, reload, int(head) if head else None, not table.more_before, visible)

    def fetch(self, db: Database, request: FeedRequest) -> FeedData[R]:
        if request.reload:
            return FeedData(first=self.older(db, request.stamp, before_id=None, limit=self.page + 1))
        data: FeedData[R] = FeedData()
        if request.at_head and request.head_id is not None:
            data.newer = self.newer(db, request.stamp, after_id=request.head_id, limit=self.page + 1)
        if self.by_ids is not None and request.visible:
            data.visible = self.by_ids(db, request.visible)
        return data

    def show(self, table: PagedTable, request: FeedRequest, data: FeedData[R], rows: Rows) -> bool:
        """Put a refresh's answer into the window; False when the window is so far behind the
        newest records that it must be loaded again."""
        if request.reload:
            more = len(data.first) > self.page
            table.replace_rows(rows(data.first[: self.page]), more_before=False, more_after=more)
            return True
        changed = [data.visible[i] for i in request.visible if i in data.visible]
        for key, cells in rows(changed):
            table.update_row(key, cells)
        if len(data.newer) > self.page:
            return False
        if data.newer:
            table.add_head(rows(data.newer))
        return True

    def source(
        self, db: Callable[[], Database], rows: Rows, failed: Callable[[BaseException], None], *,
        stamp: Callable[[], Any] = lambda: None, added: Callable[[], None] = lambda: None,
    ) -> PageSource:
        """How the window pages as the cursor nears an edge, and jumps to the newest or oldest."""

        def fetch(side: Side, edge: int, stamp: Any) -> list[R]:
            if side == "after":
                return self.older(db(), stamp, before_id=edge, limit=self.page + 1)
            return self.newer(db(), stamp, after_id=edge, limit=self.page + 1)

        def end(which: End, stamp: Any) -> list[R]:
            if which == "start":  # the newest
                return self.older(db(), stamp, before_id=None, limit=self.page + 1)
            return self.newer(db(), stamp, after_id=0, limit=self.page + 1)  # ids start at 1: the oldest

        return PageSource(fetch, rows, failed, stamp=stamp, added=added, end=end)
