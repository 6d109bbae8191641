"""The Redis payer limits: every key one script touches shares one hash tag (one Redis Cluster
slot), and the limits still hold on a single Redis."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from redis.crc import key_slot

from tests.conftest import NO_REDIS, REDIS_URL
from workers import payer_limits
from workers.payer_limits import RedisLimits


def _limits(payer: str, url: str = "redis://127.0.0.1:1/0", **kw: float) -> RedisLimits:
    return RedisLimits(url, payer=payer, rate_per_second=kw.get("rate", 50.0),
                       concurrency=int(kw.get("concurrency", 5)))


@pytest.mark.parametrize("payer", ["87726", "60054", "a:b{c}"])
def test_every_key_of_a_payer_maps_to_one_cluster_slot(payer: str) -> None:
    keys = _limits(payer).keys
    assert len(set(keys)) == 4
    assert {key_slot(k.encode()) for k in keys} == {key_slot(keys[0].encode())}
    assert all(k.startswith("claimsops:{payer:") for k in keys)


def test_two_payers_do_not_share_keys() -> None:
    assert not set(_limits("87726").keys) & set(_limits("60054").keys)


def test_scripts_touch_only_the_keys_they_are_given() -> None:
    """Cluster routes a script by its KEYS: a key name built inside Lua could live elsewhere."""
    for script in (payer_limits._ACQUIRE, payer_limits._PAUSE, payer_limits._PAUSED_FOR):
        assert "claimsops" not in script and ".." not in script
        calls = re.findall(r"redis\.call\('(\w+)',\s*([^,)]+)", script)
        assert all(target.startswith("KEYS[") for command, target in calls if command != "TIME")


def test_limits_hold_on_a_single_redis() -> None:
    if not REDIS_URL:
        pytest.skip(NO_REDIS)
    limits = _limits(f"test-{uuid.uuid4().hex}", REDIS_URL, rate=1000.0, concurrency=2)

    async def run() -> tuple[int, float, float, int]:
        peak = held = 0

        async def call() -> None:
            nonlocal peak, held
            async with limits.slot():
                held += 1
                peak = max(peak, held)
                await asyncio.sleep(0.02)
                held -= 1

        try:
            await asyncio.gather(*(call() for _ in range(6)))
            await asyncio.sleep(20 * payer_limits.RELEASE_DELAY_S)  # the last slots go back on their own
            before = await limits.paused_for()
            await limits.pause(5)
            after = await limits.paused_for()
            inflight = await limits.redis.zcard(limits.keys[1])
            return peak, before, after, inflight
        finally:
            await limits.redis.delete(*limits.keys)
            await limits.aclose()

    peak, before, after, inflight = asyncio.run(run())
    assert peak == 2 and inflight == 0
    assert before == 0 and 4 < after <= 5


def test_a_released_slot_goes_back_with_the_next_acquire(monkeypatch) -> None:
    """One round trip per payer call: the next acquire hands the released slot back; with no
    next acquire, the release is sent on its own (here: when the limits close)."""
    if not REDIS_URL:
        pytest.skip(NO_REDIS)
    monkeypatch.setattr(payer_limits, "RELEASE_DELAY_S", 60.0)
    limits = _limits(f"test-{uuid.uuid4().hex}", REDIS_URL, rate=1000.0, concurrency=1)
    inflight = limits.keys[1]

    async def run() -> list[int]:
        counts = []
        try:
            async with limits.slot():
                counts.append(await limits.redis.zcard(inflight))
            counts.append(await limits.redis.zcard(inflight))  # released here, not yet in Redis
            async with limits.slot():  # a concurrency of 1: only possible once the first is back
                counts.append(await limits.redis.zcard(inflight))
            await limits.flush_releases()
            counts.append(await limits.redis.zcard(inflight))
        finally:
            await limits.redis.delete(*limits.keys)
            await limits.aclose()
        return counts

    assert asyncio.run(asyncio.wait_for(run(), 10)) == [1, 1, 1, 0]
