"""Stats (tab 3): jobs today with shares and success rate, failures by reason, job time,
throughput, payer latency and calls by outcome, workers, database and disk, and two sparklines,
all from engine.stats.collect over the database."""

from __future__ import annotations

from textual.widgets import Sparkline

from console.app.stats_view import STATS_MIN_INTERVAL, Rates, StatsView, system_text
from engine.db import Database
from engine.stats import Stats
from tests.console.conftest import AppFactory, on_screen, screen_text, wait_for
from tests.console.data import NOW, add_job, seed_jobs, seed_metrics


async def test_figures_and_sparklines(make_app: AppFactory, sqlite_db: Database) -> None:
    seed_jobs(sqlite_db)
    seed_metrics(sqlite_db)
    add_job(sqlite_db, status="FAILED", file_name="x.csv", failure_reason="[red]payer[/red] refused \x1b[2J credentials")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("3")
        view = app.main.query_one(StatsView)
        await wait_for(pilot, lambda: view.stats is not None, what="the figures")
        stats = view.stats
        assert stats.jobs_today["total"] == 8 and stats.jobs_today["FAILED"] == 2
        for expected in (
            "8 submitted today", "✓ completed      2  25% ██", "✕ failed         2  25% ██", "⠋ processing     1  12% █",
            "success rate 50.0% of finished",
            "[red]payer[/red] refused ␛[2J credentials",
            "stopped after 5 attempts",
            "job time  avg 49.2 s · p95 95.0 s",
            f"rows/min  {stats.rows_per_minute:,.1f} over the last hour",
            "calls 240", "ok 204  not found 12", "throttled 12  payer error 0", "timeout 12  client error 0",
            "workers   2 alive · 2 busy", "database  sqlite", "redis     not used", "disk ",
            "figures at 12:00:00 · today since 00:00 UTC",
        ):
            assert expected in screen_text(app), expected
        latency = stats.latency_ms
        assert latency["p50"] is not None and latency["p50"] <= latency["p95"] <= latency["p99"]
        assert f"p50 {latency['p50']:,.0f} · p95 {latency['p95']:,.0f} · p99 {latency['p99']:,.0f} ms" in screen_text(app)
        throughput = view.query_one("#stats-throughput-spark", Sparkline)
        assert list(throughput.data) == stats.throughput_spark and len(stats.throughput_spark) == 60
        # minutes 20..59 of the seeded hour, then the current minute (nothing in it yet)
        assert stats.throughput_spark[:19] == [0.0] * 19 and min(stats.throughput_spark[19:59]) >= 40
        assert stats.throughput_spark[59] == 0.0
        assert max(view.query_one("#stats-latency-spark", Sparkline).data) > 0
        assert view.poller.interval >= STATS_MIN_INTERVAL  # the figures are per minute and per hour


async def test_an_empty_site(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await on_screen(pilot, "0 submitted today")
        await on_screen(pilot, "success rate — (none finished)")
        await on_screen(pilot, "p50 — · p95 — · p99 — ms")
        await on_screen(pilot, "rows/min · 60 min · none yet")


def test_production_figures_postgresql_and_redis() -> None:
    figures = Stats(at=NOW, workers_alive=4, workers_busy=3, queue_length=17, redis_memory_bytes=2_469_606_195,
                    disk_free_bytes=None,
                    database={"backend": "postgresql", "size_bytes": 5 * 2**30, "connections": 45, "transactions": 9})
    text = system_text(figures, Rates(transactions_per_s=123.4), redis_used=True).plain
    for expected in ("workers   4 alive · 3 busy", "queue     17", "database  postgresql 5.0 GiB",
                     "45 connections · 123.4 tx/s", "redis     2.3 GiB used", "disk      —"):
        assert expected in text, expected
    first = system_text(figures, Rates(), redis_used=True).plain
    assert "45 connections · — tx/s" in first  # one sample: no rate yet
    down = system_text(Stats(at=NOW, database={"backend": "postgresql", "error": "OperationalError"}), Rates(),
                       redis_used=True).plain
    assert "unreadable: OperationalError" in down and "redis     unreachable" in down
