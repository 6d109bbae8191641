"""OAuth 2.0 client-credentials tokens: reused for their lifetime, refreshed ahead of expiry,
fetched by one caller at a time. Token values never reach a log line or an error message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Token:
    value: str
    expires_at: float  # monotonic
    lifetime: float

    def fresh(self, now: float) -> bool:
        ahead = min(60.0, self.lifetime * 0.2)
        return now < self.expires_at - ahead


class TokenSource:
    """The current token of one token endpoint; `fetch` performs the HTTP exchange."""

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> None:
        self._fetch = fetch
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        self._failure: tuple[float, Exception] | None = None  # (when, what) of the last failed fetch

    async def get(self) -> str:
        asked = time.monotonic()
        token = self._token
        if token is not None and token.fresh(asked):
            return token.value
        async with self._lock:
            token = self._token
            if token is None or not token.fresh(time.monotonic()):
                # A fetch that failed while this caller waited for the lock spent its retries
                # just now: its callers share the failure rather than each retry in turn.
                if self._failure is not None and self._failure[0] >= asked:
                    raise self._failure[1]
                try:
                    value, lifetime = await self._fetch()
                except Exception as exc:
                    self._failure = (time.monotonic(), exc)
                    raise
                self._failure = None
                self.fetches += 1
                token = Token(value, time.monotonic() + lifetime, lifetime)
                self._token = token
            return token.value

    def invalidate(self, value: str) -> None:
        """The payer refused `value`: forget it unless a newer token has replaced it already."""
        if self._token is not None and self._token.value == value:
            self._token = None
