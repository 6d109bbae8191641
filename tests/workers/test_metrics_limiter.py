"""The shared payer limiter's live state on /metrics: calls in flight and the 429 pause, read
from the Redis every worker shares."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.config import Settings
from engine.metrics_export import registry_for
from workers.metrics_server import limiter_reader
from workers.payer_limits import RedisLimits, payer_key, shared_limits_state


def _gauges(db, settings, limiter) -> dict[str, float]:
    text = generate_latest(registry_for(db, settings, limiter)).decode()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}


def test_in_flight_and_throttled_until_come_from_redis(redis_server, sqlite_db, tmp_path) -> None:
    settings = Settings(home=tmp_path, broker_url=redis_server.url, payer_url="https://payer.example/api")
    key = payer_key(settings.payer_url)

    async def hold_two_and_pause() -> dict[str, float]:
        limits = RedisLimits(redis_server.url, payer=key, rate_per_second=50, concurrency=5)
        try:
            async with limits.slot(), limits.slot():
                await limits.pause(30)
                return _gauges(sqlite_db, settings, limiter_reader(settings))
        finally:
            await limits.aclose()

    held = asyncio.run(hold_two_and_pause())
    assert held["claimsops_payer_calls_in_flight"] == 2
    assert time.time() + 25 < held["claimsops_payer_throttled_until_timestamp_seconds"] < time.time() + 31
    after = shared_limits_state(redis_server.url, key)
    assert after is not None and after.in_flight == 0


def test_without_a_shared_limiter_the_gauges_are_absent(sqlite_db, tmp_path) -> None:
    settings = Settings(home=tmp_path)  # embedded: each process limits itself in memory
    assert limiter_reader(settings) is None
    gauges = _gauges(sqlite_db, settings, None)
    assert "claimsops_payer_calls_in_flight" not in gauges and "claimsops_payer_rate_limit_per_second" in gauges


def test_redis_away_leaves_the_gauges_absent(sqlite_db, tmp_path) -> None:
    assert shared_limits_state("redis://127.0.0.1:1/0", "payer") is None
