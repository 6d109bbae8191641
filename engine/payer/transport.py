"""The payer's HTTP plumbing: an httpx client without a cookie jar, and a transport whose
connection pool finds a free connection in constant time.

httpcore's pool (1.0.x) walks every connection it holds, polling each idle socket, whenever a
request starts or ends, so its CPU cost per request grows with the number of connections: with
200 connections to one payer, three quarters of a worker's CPU went to that bookkeeping (see
BENCHMARKS.md, scale). `_ConnectionPool` keeps httpcore's connections (HTTP/1.1, TLS, timeouts,
its exceptions, which httpx maps as before) but holds the idle ones in a stack per origin: a
request takes the most recently used one (only that one is checked for a closed or expired
socket), or opens a new one while there are fewer than `max_connections`, or waits its turn.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator

import httpcore
import httpx


class PooledTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (request and exception mapping) over `_ConnectionPool`."""

    def __init__(self, max_connections: int, max_keepalive: int, keepalive_expiry: float | None = 5.0) -> None:
        tls = httpx.create_ssl_context()  # once: loading the CA bundle takes ~30 ms
        super().__init__(verify=tls, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        self._pool = _ConnectionPool(tls, max_connections, max_keepalive, keepalive_expiry)  # type: ignore[assignment]

    @property
    def pool(self) -> _ConnectionPool:
        return self._pool  # type: ignore[return-value]


class _ConnectionPool:
    """The part of `httpcore.AsyncConnectionPool` the payer client uses (HTTP/1.1, no proxy),
    without its walk over every connection."""

    def __init__(self, ssl_context: ssl.SSLContext, max_connections: int, max_keepalive: int,
                 keepalive_expiry: float | None) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max(1, max_connections)
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTPConnection]] = {}  # by origin
        self._idle_count = 0
        self._connections: set[httpcore.AsyncHTTPConnection] = set()  # idle, busy or connecting
        self.busy = 0  # requests holding a connection, from its checkout to the response's close
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def open(self) -> int:
        """Connections counted against max_connections: idle, busy or connecting."""
        return len(self._connections)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if request.url.scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(f"Request URL has an unsupported protocol '{request.url.scheme!r}'.")
        timeout = request.extensions.get("timeout", {}).get("pool")
        while True:
            connection = await self._checkout(request.url.origin, timeout)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:  # it closed meanwhile: another one
                await self.checkin(connection)
                continue
            except BaseException:
                await self.checkin(connection)
                raise
            return httpcore.Response(status=response.status, headers=response.headers,
                                     content=_Returning(response.stream, self, connection),
                                     extensions=response.extensions)

    async def _checkout(self, origin: httpcore.Origin, timeout: float | None) -> httpcore.AsyncHTTPConnection:
        while True:
            idle = self._idle.get(_key(origin))
            while idle:
                connection = idle.pop()
                self._idle_count -= 1
                if connection.is_available() and not connection.has_expired():
                    self.busy += 1
                    return connection
                await self._drop(connection)
            if self.open >= self._max_connections and self._idle_count:
                await self._drop(self._oldest_idle())  # an idle connection to another origin makes room
            if self.open < self._max_connections:
                self.busy += 1
                connection = httpcore.AsyncHTTPConnection(origin=origin, ssl_context=self._ssl_context,
                                                          keepalive_expiry=self._keepalive_expiry)
                self._connections.add(connection)
                return connection
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                if timeout is None:
                    await waiter
                else:
                    async with asyncio.timeout(timeout):
                        await waiter
            except TimeoutError:
                raise httpcore.PoolTimeout("no connection to the payer became free in time") from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _oldest_idle(self) -> httpcore.AsyncHTTPConnection:
        stack = next(stack for stack in self._idle.values() if stack)
        self._idle_count -= 1
        return stack.pop(0)

    async def checkin(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """A request is done with `connection`: keep it for the next one, or close it."""
        self.busy -= 1
        if connection.is_idle() and not connection.is_closed() and self._idle_count < self._max_keepalive:
            self._idle.setdefault(_key(connection._origin), []).append(connection)  # noqa: SLF001
            self._idle_count += 1
            self._wake()
        else:
            await self._drop(connection)

    async def _drop(self, connection: httpcore.AsyncHTTPConnection) -> None:
        """Close a connection that leaves the pool (counted out at once, closed even when the
        caller is being cancelled)."""
        self._connections.discard(connection)
        self._wake()
        if not connection.is_closed():
            await asyncio.shield(connection.aclose())

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def __aenter__(self) -> _ConnectionPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection, busy ones too (as httpcore's pool does)."""
        connections, self._connections = list(self._connections), set()
        self._idle.clear()
        self._idle_count = 0
        for connection in connections:
            await connection.aclose()


def _key(origin: httpcore.Origin) -> tuple[bytes, bytes, int]:
    return origin.scheme, origin.host, origin.port


class _Returning:
    """A response's body; closing it hands the connection back to the pool (once)."""

    def __init__(self, stream: AsyncIterator[bytes], pool: _ConnectionPool,
                 connection: httpcore.AsyncHTTPConnection) -> None:
        self._stream = stream
        self._pool: _ConnectionPool | None = pool
        self._connection = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            if pool is not None:
                await pool.checkin(self._connection)


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
