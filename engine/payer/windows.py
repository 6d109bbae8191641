"""Service-date windows: merging, cutting to the payer's widest window, and learning that width
from LCLM_PS_112 answers (never hard-coded)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

Window = tuple[date, date]  # inclusive


def width(window: Window) -> int:
    return (window[1] - window[0]).days + 1


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError("unreachable")


def lookback_start(today: date, months: int = 24) -> date:
    """The earliest first-service date a window may start at (a day inside the payer's limit)."""
    return months_before(today, months) + timedelta(days=1)


def merge(windows: Iterable[Window]) -> list[Window]:
    """Overlapping or adjacent windows joined, sorted."""
    merged: list[Window] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1] + timedelta(days=1):
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def clip(windows: Iterable[Window], low: date, high: date) -> list[Window]:
    out = []
    for start, end in windows:
        start, end = max(start, low), min(end, high)
        if start <= end:
            out.append((start, end))
    return out


def subtract(span: Window, covered: Iterable[Window]) -> list[Window]:
    """The parts of `span` no covered window touches."""
    gaps: list[Window] = []
    cursor = span[0]
    for start, end in merge(covered):
        if end < cursor:
            continue
        if start > span[1]:
            break
        if start > cursor:
            gaps.append((cursor, min(span[1], start - timedelta(days=1))))
        cursor = max(cursor, end + timedelta(days=1))
    if cursor <= span[1]:
        gaps.append((cursor, span[1]))
    return gaps


def cut(window: Window, days: int) -> list[Window]:
    """Consecutive pieces of at most `days` days each."""
    pieces = []
    start, end = window
    while start <= end:
        piece_end = min(end, start + timedelta(days=days - 1))
        pieces.append((start, piece_end))
        start = piece_end + timedelta(days=1)
    return pieces


def halve(window: Window) -> list[Window]:
    start, end = window
    if start == end:
        return [window]
    middle = start + timedelta(days=(width(window) // 2) - 1)
    return [(start, middle), (middle + timedelta(days=1), end)]


@dataclass
class WindowLimit:
    """What we know of one payer's widest window: the widest accepted and the narrowest refused.
    `guess()` is the width to try next; `settled` once trying more would not help."""

    initial: int = 92
    max_ok: int | None = None
    min_bad: int | None = None
    hint: int | None = None

    @property
    def settled(self) -> bool:
        if self.max_ok is None:
            return False
        if self.min_bad is None:
            return True
        return self.max_ok + 1 >= self.min_bad or (self.hint is not None and self.max_ok >= self.hint)

    def guess(self) -> int:
        if self.settled:
            assert self.max_ok is not None
            return self.max_ok
        if self.min_bad is None:
            return self.initial
        if self.hint is not None and self.hint < self.min_bad and (self.max_ok or 0) < self.hint:
            return self.hint
        low = self.max_ok or 0
        return max(1, (low + self.min_bad) // 2) if low else max(1, self.min_bad // 2)

    def accepted(self, days: int) -> None:
        if self.max_ok is None or days > self.max_ok:
            self.max_ok = days

    def refused(self, days: int, hint: int | None) -> None:
        if self.min_bad is None or days < self.min_bad:
            self.min_bad = days
        if hint is not None and 0 < hint < days:
            self.hint = hint
