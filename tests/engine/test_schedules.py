"""Schedule specs: parsing, clear errors, words, fire times (in the scheduler's time zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.tasks import schedules

UTC_TZ = schedules.zone("UTC")


@pytest.mark.parametrize(
    "spec,text,words",
    [
        ("every 15m", "every 15m", "every 15 minutes"),
        ("Every  15 minutes", "every 15m", "every 15 minutes"),
        ("every 30s", "every 30s", "every 30 seconds"),
        ("every 1h", "every 1h", "every hour"),
        ("every 2 days", "every 2d", "every 2 days"),
        ("every 90m", "every 90m", "every 90 minutes"),
        ("daily 2:00", "daily 02:00", "daily at 02:00 UTC"),
        ("daily at 23:59", "daily 23:59", "daily at 23:59 UTC"),
        ("*/15 * * * *", "*/15 * * * *", "every 15 minutes (on the clock)"),
        ("5 * * * *", "5 * * * *", "hourly at :05"),
        ("0 3 * * *", "0 3 * * *", "daily at 03:00 UTC"),
        ("0 9 * * MON-FRI", "0 9 * * mon-fri", "cron 0 9 * * mon-fri (UTC)"),
    ],
)
def test_valid_specs_are_normalised_and_worded(spec: str, text: str, words: str) -> None:
    schedule = schedules.parse(spec)
    assert schedule.text == text
    assert schedules.describe(schedule, "UTC") == words
    assert schedules.parse(schedule.text) == schedule


@pytest.mark.parametrize(
    "spec,message",
    [
        ("", "empty schedule"),
        ("every 15x", "unit s, m, h or d"),
        ("every 0m", "at least 1m"),
        ("every fortnight", "unit s, m, h or d"),
        ("daily 25:00", "is not a time of day"),
        ("daily noon", "daily HH:MM"),
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day of week 8 is out of range 0-7"),
        ("*/0 * * * *", "step '0' must be a whole number"),
        ("5-1 * * * *", "runs backwards"),
        ("0 0 1 * mon", "not both"),
        ("0 0 31 2 *", "never have those days"),
        ("hourly", "use 'every 15m'"),
        ("* * * *", "5 fields"),
        ("every " + "9" * 80 + "s", "too long"),
    ],
)
def test_bad_specs_say_why(spec: str, message: str) -> None:
    with pytest.raises(schedules.ScheduleError) as err:
        schedules.parse(spec)
    assert message in str(err.value)


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(schedules.ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        schedules.zone("Mars/Olympus")


def test_interval_fires_are_aligned_to_the_clock() -> None:
    every15 = schedules.parse("every 15m")
    at = datetime(2024, 5, 1, 10, 7, 12, tzinfo=UTC)
    assert schedules.next_fire(every15, at, UTC_TZ) == datetime(2024, 5, 1, 10, 15, tzinfo=UTC)
    exact = datetime(2024, 5, 1, 10, 15, tzinfo=UTC)
    assert schedules.next_fire(every15, exact, UTC_TZ) == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def test_daily_and_cron_fire_in_the_configured_time_zone() -> None:
    ny = schedules.zone("America/New_York")
    daily = schedules.parse("daily 02:00")
    at = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)  # 08:00 in New York (EDT, UTC-4)
    assert schedules.next_fire(daily, at, ny) == datetime(2024, 7, 2, 6, 0, tzinfo=UTC)
    weekdays = schedules.parse("30 9 * * mon-fri")
    saturday = datetime(2024, 6, 29, 12, 0, tzinfo=UTC)
    assert schedules.next_fire(weekdays, saturday, UTC_TZ) == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    sunday_is_0_and_7 = schedules.parse("0 0 * * 0")
    assert schedules.parse("0 0 * * 7").weekdays == sunday_is_0_and_7.weekdays == frozenset({0})
    assert schedules.next_fire(sunday_is_0_and_7, saturday, UTC_TZ) == datetime(2024, 6, 30, tzinfo=UTC)
    leap = schedules.parse("0 0 29 2 *")
    assert schedules.next_fire(leap, saturday, UTC_TZ) == datetime(2028, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["every 15m", "every 7h", "daily 02:00", "0 9 * * mon-fri", "0 0 29 2 *"])
def test_previous_fire_is_the_inverse_of_next_fire(spec: str) -> None:
    schedule = schedules.parse(spec)
    ny = schedules.zone("America/New_York")
    at = datetime(2024, 7, 3, 10, 7, tzinfo=UTC)
    latest = schedules.previous_fire(schedule, at, ny)
    assert latest <= at < schedules.next_fire(schedule, latest, ny)
    assert schedules.previous_fire(schedule, latest, ny) == latest


def test_misfire_grace_is_half_the_period_capped_at_an_hour() -> None:
    assert schedules.misfire_grace(schedules.parse("every 2s"), UTC_TZ) == 1
    assert schedules.misfire_grace(schedules.parse("every 15m"), UTC_TZ) == 450
    assert schedules.misfire_grace(schedules.parse("daily 02:00"), UTC_TZ) == 3600
    assert schedules.period(schedules.parse("0 9 * * mon-fri"), UTC_TZ) == timedelta(days=1)
