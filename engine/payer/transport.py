"""The payer's HTTP plumbing: an httpx client without a cookie jar, and a transport made of
several small connection pools.

httpcore's pool (1.0.x) walks every connection it holds, polling each idle socket, whenever a
request starts or ends, so its CPU cost per request grows with the number of connections: with
200 connections to one payer, three quarters of a worker's CPU went to that bookkeeping (see
BENCHMARKS.md, scale). Spreading the same connections over pools of `POOL_SIZE` keeps each walk
short; a request goes to the pool with the fewest requests in flight.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import httpx

POOL_SIZE = 16


class PooledTransport(httpx.AsyncBaseTransport):
    def __init__(self, max_connections: int, max_keepalive: int, pool_size: int = POOL_SIZE) -> None:
        count = max(1, math.ceil(max_connections / pool_size))
        per_pool = math.ceil(max_connections / count)
        keepalive = math.ceil(max_keepalive / count)
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=keepalive)
        tls = httpx.create_ssl_context()  # once: loading the CA bundle takes ~30 ms
        self._pools = [httpx.AsyncHTTPTransport(verify=tls, limits=limits) for _ in range(count)]
        self._busy = [0] * count

    @property
    def pools(self) -> int:
        return len(self._pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._pools)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            response = await self._pools[index].handle_async_request(request)
        except BaseException:
            self._busy[index] -= 1
            raise
        # The connection stays taken until the body is read and the response closed.
        response.stream = _Releasing(response.stream, lambda: self._release(index))
        return response

    def _release(self, index: int) -> None:
        self._busy[index] -= 1

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class _Releasing(httpx.AsyncByteStream):
    """The pool's response stream, counting the request as finished once it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream: httpx.AsyncByteStream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        release, self._release = self._release, None
        try:
            await self._stream.aclose()
        finally:
            if release is not None:
                release()


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessClient(httpx.AsyncClient):
    """httpx's client, keeping no cookies. The payer authenticates every call with a bearer
    token; reading each answer's Set-Cookie into the standard library's cookie jar (which
    httpx does for every response, Set-Cookie or not) cost about 2% of a worker's CPU."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies
