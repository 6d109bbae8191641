"""Payer limits shared by every worker through Redis: requests started per second (evenly spaced,
and never more than the rate in any sliding window, on Redis' own clock), requests in flight
(slots that expire if their holder dies), and the "paused until" time a 429 sets. One Lua script
decides atomically.

Every key of one payer carries the hash tag {payer:<id>}, so on Redis Cluster they share one slot
and a script may touch them all; scripts get every key they touch in KEYS[]."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from engine.payer.limits import SPACING_MARGIN, LimiterState

log = logging.getLogger("claimsops.limits")

# A released slot is handed back with this process's next acquire (one round trip per payer call
# instead of two), or on its own once no acquire has come for this long.
RELEASE_DELAY_S = 0.005

# KEYS: starts (zset), inflight (zset), paused-until, next-start; ARGV: window ms, capacity,
# concurrency, slot ttl ms, member, spacing us, then the members of slots this process has
# released since its last call. Returns 0 (go) or milliseconds to wait.
_ACQUIRE = """
for i = 7, #ARGV do redis.call('ZREM', KEYS[2], ARGV[i]) end
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now = math.floor(now_us / 1000)
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return paused - now end
local next_start = tonumber(redis.call('GET', KEYS[4]) or '0')
if next_start > now_us then return math.max(1, math.ceil((next_start - now_us) / 1000)) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 20 end
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
-- keep the cadence when this start is late (sleepers wake late; counting from now would lose
-- that lateness on every start), never closer than half a spacing to this one
local spacing = tonumber(ARGV[6])
redis.call('SET', KEYS[4], math.max(next_start + spacing, now_us + math.floor(spacing / 2)), 'PX', window * 2 + 1000)
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window * 2 + 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[5])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 2)
return 0
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untill = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untill > current then redis.call('SET', KEYS[1], untill, 'PX', tonumber(ARGV[1]) + 1000) end
return 0
"""

_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
return math.max(0, paused - now)
"""


def payer_key(summary_url: str) -> str:
    """The name the processes calling one payer share their limits under."""
    return (summary_url or "sandbox").split("://")[-1].replace("/", "_")


def _keys(payer: str) -> list[str]:
    prefix = f"claimsops:{{payer:{payer}}}"  # one hash tag: every key of a payer in one Cluster slot
    return [f"{prefix}:starts", f"{prefix}:inflight", f"{prefix}:paused", f"{prefix}:next"]


def shared_limits_state(url: str, payer: str) -> LimiterState | None:
    """What the shared limiter holds now: calls in flight (live slots) and the time a 429 paused
    calls until (Unix seconds, 0 when not paused); None when Redis does not answer."""
    _, inflight, paused, _ = _keys(payer)
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            seconds, micros = client.time()
            now_ms = seconds * 1000 + micros // 1000
            pipe = client.pipeline(transaction=False)
            pipe.zcount(inflight, now_ms, "+inf")
            pipe.get(paused)
            live, until = pipe.execute()
        finally:
            client.close()
    except (RedisError, OSError):
        return None
    until_ms = int(until or 0)
    return LimiterState(in_flight=int(live), throttled_until=until_ms / 1000 if until_ms > now_ms else 0.0)


class RedisLimits:
    """One per process and event loop; every process naming the same payer shares the limits."""

    def __init__(self, url: str, *, payer: str, rate_per_second: float, concurrency: int,
                 slot_ttl_seconds: float = 60.0) -> None:
        self.redis = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.keys = _keys(payer)
        self.capacity = max(1, int(rate_per_second))
        self.window_ms = int(1000 * self.capacity * SPACING_MARGIN / rate_per_second)
        self.concurrency = concurrency
        self.slot_ttl_ms = int(slot_ttl_seconds * 1000)
        self.spacing_us = int(1_000_000 * SPACING_MARGIN / rate_per_second)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._pause = self.redis.register_script(_PAUSE)
        self._paused_for = self.redis.register_script(_PAUSED_FOR)
        self._warned_at = 0.0
        self._released: list[str] = []  # members of slots released but not yet removed in Redis
        self._release_timer: asyncio.TimerHandle | None = None
        self._release_tasks: set[asyncio.Task] = set()

    async def _retrying(self, what: str, call):  # noqa: ANN001, ANN202
        """Redis away: wait and try again (the job stalls; it neither fails nor loses rows)."""
        while True:
            try:
                return await call()
            except (RedisError, OSError) as exc:
                now = time.monotonic()
                if now - self._warned_at > 10:
                    log.warning("payer limits: Redis unavailable (%s: %s); waiting", what, type(exc).__name__)
                    self._warned_at = now
                await asyncio.sleep(0.5)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        member = uuid.uuid4().hex
        args = [self.window_ms, self.capacity, self.concurrency, self.slot_ttl_ms, member, self.spacing_us]
        while True:
            wait_ms = await self._retrying("acquire", lambda: self._acquire_releasing(args))
            if int(wait_ms) <= 0:
                break
            await asyncio.sleep(min(int(wait_ms), 5000) / 1000)
        try:
            yield
        finally:
            self._release(member)

    async def _acquire_releasing(self, args: list) -> int:
        released, self._released = self._released, []
        try:
            return await self._acquire(keys=self.keys, args=[*args, *released])
        except BaseException:
            self._released[:0] = released  # ZREM is idempotent: hand them back with the next call
            raise

    def _release(self, member: str) -> None:
        self._released.append(member)
        if self._release_timer is None:
            self._release_timer = asyncio.get_running_loop().call_later(RELEASE_DELAY_S, self._release_now)

    def _release_now(self) -> None:
        self._release_timer = None
        if self._released:
            task = asyncio.get_running_loop().create_task(self.flush_releases())
            self._release_tasks.add(task)
            task.add_done_callback(self._release_tasks.discard)

    async def flush_releases(self) -> None:
        """Remove the released slots not yet handed back (a slot Redis never hears of expires
        after its ttl)."""
        released, self._released = self._released, []
        if released:
            with contextlib.suppress(RedisError, OSError):
                await self.redis.zrem(self.keys[1], *released)

    async def pause(self, seconds: float) -> None:
        ms = max(1, int(seconds * 1000))
        await self._retrying("pause", lambda: self._pause(keys=[self.keys[2]], args=[ms]))

    async def paused_for(self) -> float:
        ms = await self._retrying("paused_for", lambda: self._paused_for(keys=[self.keys[2]]))
        return int(ms) / 1000

    async def aclose(self) -> None:
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        await self.flush_releases()
        await self.redis.aclose()
