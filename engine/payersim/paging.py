"""`transactionId` pages of a summary search, each valid until its time-to-live runs out."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine.payersim.models import Occurrence


@dataclass(frozen=True)
class _Page:
    tin: str
    items: Sequence[Occurrence]
    offset: int
    page_size: int
    expires: float


class PageStore:
    """A token names one page (offset) of one result list; fetching it again gives the same page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, _Page] = {}

    def put(self, tin: str, items: Sequence[Occurrence], offset: int, page_size: int, ttl_s: float) -> str:
        token = f"TXN-{secrets.token_hex(8)}"
        now = time.monotonic()
        with self._lock:
            if len(self._pages) > 1000:
                self._pages = {k: p for k, p in self._pages.items() if p.expires > now}
            self._pages[token] = _Page(tin, items, offset, page_size, now + ttl_s)
        return token

    def get(self, token: str, tin: str) -> tuple[Sequence[Occurrence], int, int] | None:
        """(items, offset, page size), or None when unknown, expired or of another TIN."""
        with self._lock:
            page = self._pages.get(token)
        if page is None or page.tin != tin or page.expires <= time.monotonic():
            return None
        return page.items, page.offset, page.page_size

    def expire_all(self) -> None:
        with self._lock:
            self._pages.clear()
