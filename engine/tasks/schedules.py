"""Task schedules, in plain Python: parse and validate a spec, say it in words, compute fire times.

Accepted specs (normalised form in brackets):
- `every 30s`, `every 15m`, `every 2h`, `every 1d` (also `every 15 minutes`): a fixed interval,
  aligned to midnight 2000-01-01 in the scheduler's time zone, so `every 15m` fires at :00, :15,
  :30 and :45 whichever process is the leader (intervals are exact durations: for a
  wall-clock time across DST changes use `daily HH:MM` or cron).
- `daily 02:00` (also `daily 2:00`, `daily at 02:00`): every day at that wall-clock time.
- a five-field cron expression `minute hour day-of-month month day-of-week` with `*`, lists,
  ranges and steps, month and weekday names, weekday 0 or 7 = Sunday. Restricting both the day
  of month and the weekday is refused (cron would OR them; say which one you mean).

The scheduler service turns a `Schedule` into an APScheduler trigger; this module never imports
APScheduler, so the console and the CLI validate and describe specs without it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import OperatorError

MAX_SPEC_LEN = 64
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}
_EVERY = re.compile(r"^every\s+(\d+)\s*([a-z]+)$")
_DAILY = re.compile(r"^daily\s+(?:at\s+)?(\d{1,2}):(\d{2})$")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (name, low, high, names) per cron field
_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
_SEARCH_DAYS = 366 * 8  # far enough for any satisfiable expression (e.g. 29 Feb)
MAX_MISFIRE_GRACE_S = 3600


class ScheduleError(OperatorError, ValueError):
    """A schedule spec or time zone that cannot be used; the message says why and how."""


@dataclass(frozen=True)
class Schedule:
    """A parsed spec. `interval_s` for intervals; the cron sets otherwise (daily is cron)."""

    text: str
    interval_s: int | None = None
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Sunday
    cron_fields: tuple[str, ...] = ()  # the five normalised fields ("*" when unrestricted)

    @property
    def is_interval(self) -> bool:
        return self.interval_s is not None


def zone(name: str) -> tzinfo:
    """The scheduler's time zone from its IANA name (settings.timezone)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (an IANA name such as UTC or Europe/Paris)") from None


def parse(spec: str) -> Schedule:
    """Parse and validate; raises ScheduleError with an actionable message."""
    text = " ".join(str(spec).strip().lower().split())
    if not text:
        raise ScheduleError("empty schedule: use 'every 15m', 'daily 02:00' or a cron expression")
    if len(text) > MAX_SPEC_LEN:
        raise ScheduleError(f"schedule is too long ({len(text)} characters, at most {MAX_SPEC_LEN})")
    if text.startswith("every"):
        return _parse_every(spec, text)
    if text.startswith("daily"):
        return _parse_daily(spec, text)
    fields = text.split(" ")
    if len(fields) == 5:
        return _parse_cron(spec, fields)
    raise ScheduleError(
        f"bad schedule {spec!r}: use 'every 15m' (s, m, h or d), 'daily 02:00' or a cron expression "
        "of 5 fields (minute hour day-of-month month day-of-week)"
    )


def _parse_every(spec: str, text: str) -> Schedule:
    match = _EVERY.match(text)
    unit = _UNIT_WORDS.get(match.group(2)) if match else None
    if not match or unit is None:
        raise ScheduleError(f"bad schedule {spec!r}: write 'every N' with a unit s, m, h or d, e.g. 'every 15m'")
    count = int(match.group(1))
    if count < 1:
        raise ScheduleError(f"bad schedule {spec!r}: the interval must be at least 1{unit}")
    seconds = count * _UNITS[unit]
    if seconds > 366 * 86400:
        raise ScheduleError(f"bad schedule {spec!r}: the interval must be at most a year")
    return Schedule(text=f"every {count}{unit}", interval_s=seconds)


def _parse_daily(spec: str, text: str) -> Schedule:
    match = _DAILY.match(text)
    if not match:
        raise ScheduleError(f"bad schedule {spec!r}: write 'daily HH:MM', e.g. 'daily 02:00'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ScheduleError(f"bad schedule {spec!r}: {hour:02d}:{minute:02d} is not a time of day")
    return Schedule(
        text=f"daily {hour:02d}:{minute:02d}", minutes=frozenset({minute}), hours=frozenset({hour}),
        days=frozenset(range(1, 32)), months=frozenset(range(1, 13)), weekdays=frozenset(range(7)),
        cron_fields=(str(minute), str(hour), "*", "*", "*"),
    )


def _parse_cron(spec: str, fields: list[str]) -> Schedule:
    sets: list[frozenset[int]] = []
    for raw, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        sets.append(_parse_field(spec, raw, name, low, high, names))
    minutes, hours, days, months, weekdays = sets
    weekdays = frozenset(d % 7 for d in weekdays)
    if fields[2] != "*" and fields[4] != "*":
        raise ScheduleError(
            f"bad schedule {spec!r}: give a day of month or a day of week, not both (use * for the other)"
        )
    if fields[2] != "*" and not any(_month_has_day(m, d) for m in months for d in days):
        raise ScheduleError(f"bad schedule {spec!r}: those months never have those days")
    return Schedule(
        text=" ".join(fields), minutes=minutes, hours=hours, days=days, months=months,
        weekdays=weekdays, cron_fields=tuple(fields),
    )


def _month_has_day(month: int, day: int) -> bool:
    return day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


def _parse_field(spec: str, raw: str, name: str, low: int, high: int, names: list[str] | None) -> frozenset[int]:
    values: set[int] = set()
    for part in raw.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"bad schedule {spec!r}: {name} step {step_text!r} must be a whole number ≥ 1")
            step = int(step_text)
        if base == "*":
            start, end = low, high if name != "day of week" else 6
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(spec, first, name, low, high, names)
            end = _value(spec, last, name, low, high, names)
            if end < start:
                raise ScheduleError(f"bad schedule {spec!r}: {name} range {base!r} runs backwards")
        else:
            start = _value(spec, base, name, low, high, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(spec: str, text: str, name: str, low: int, high: int, names: list[str] | None) -> int:
    if names and text in names:
        return names.index(text) + (1 if name == "month" else 0)
    if not text.isdigit():
        raise ScheduleError(f"bad schedule {spec!r}: {name} {text!r} is not a number in {low}-{high}")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"bad schedule {spec!r}: {name} {value} is out of range {low}-{high}")
    return value


# ---- words ----


def _interval_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    return f"every {seconds} seconds"  # unreachable: seconds are whole


def describe(schedule: Schedule, tz_name: str = "UTC") -> str:
    """The schedule in words, e.g. 'every 15 minutes', 'daily at 02:00 UTC'."""
    if schedule.interval_s is not None:
        return _interval_words(schedule.interval_s)
    if schedule.text.startswith("daily"):
        return f"daily at {schedule.text.split(' ')[1]} {tz_name}"
    minute, hour, day, month, weekday = schedule.cron_fields
    if (day, month, weekday) == ("*", "*", "*"):
        if hour == "*" and minute.startswith("*/") and 60 % int(minute[2:]) == 0:
            return _interval_words(int(minute[2:]) * 60) + " (on the clock)"
        if minute.isdigit() and hour == "*":
            return f"hourly at :{int(minute):02d}"
        if minute.isdigit() and hour.isdigit():
            return f"daily at {int(hour):02d}:{int(minute):02d} {tz_name}"
    return f"cron {schedule.text} ({tz_name})"


def clock(when: datetime, tz: tzinfo) -> str:
    """A fire or run time as messages give it, e.g. '2026-03-01 02:00:00 UTC'."""
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


# ---- fire times ----


def interval_anchor(tz: tzinfo) -> datetime:
    """Where interval schedules are aligned (the scheduler passes it as the trigger's start)."""
    return datetime(2000, 1, 1, tzinfo=tz)


def next_fire(schedule: Schedule, after: datetime, tz: tzinfo) -> datetime:
    """The first fire time strictly after `after` (an aware datetime), in `tz`."""
    if schedule.interval_s is not None:
        anchor = interval_anchor(tz).timestamp()
        steps = math.floor((after.timestamp() - anchor) / schedule.interval_s) + 1
        return datetime.fromtimestamp(anchor + steps * schedule.interval_s, tz)
    local = after.astimezone(tz)
    day = local.date()
    for offset in range(_SEARCH_DAYS):
        current = day + timedelta(days=offset)
        if not _day_matches(schedule, current):
            continue
        for hour in sorted(schedule.hours):
            for minute in sorted(schedule.minutes):
                candidate = datetime.combine(current, time(hour, minute), tz)
                if candidate > after:
                    return candidate
    raise ScheduleError(f"schedule {schedule.text!r} never fires")


def previous_fire(schedule: Schedule, at: datetime, tz: tzinfo) -> datetime:
    """The latest fire time at or before `at` (an aware datetime), in `tz`."""
    if schedule.interval_s is not None:
        anchor = interval_anchor(tz).timestamp()
        steps = math.floor((at.timestamp() - anchor) / schedule.interval_s)
        return datetime.fromtimestamp(anchor + steps * schedule.interval_s, tz)
    day = at.astimezone(tz).date()
    for offset in range(_SEARCH_DAYS):
        current = day - timedelta(days=offset)
        if not _day_matches(schedule, current):
            continue
        for hour in sorted(schedule.hours, reverse=True):
            for minute in sorted(schedule.minutes, reverse=True):
                candidate = datetime.combine(current, time(hour, minute), tz)
                if candidate <= at:
                    return candidate
    raise ScheduleError(f"schedule {schedule.text!r} never fires")


def _day_matches(schedule: Schedule, day: date) -> bool:
    cron_weekday = (day.weekday() + 1) % 7
    return day.month in schedule.months and day.day in schedule.days and cron_weekday in schedule.weekdays


def period(schedule: Schedule, tz: tzinfo) -> timedelta:
    """The shortest gap between two fire times (the interval; sampled for cron)."""
    if schedule.interval_s is not None:
        return timedelta(seconds=schedule.interval_s)
    previous = next_fire(schedule, datetime(2001, 1, 1, tzinfo=tz), tz)
    gaps = []
    for _ in range(12):
        current = next_fire(schedule, previous, tz)
        gaps.append(current - previous)
        previous = current
    return min(gaps)


def misfire_grace(schedule: Schedule, tz: tzinfo) -> int:
    """Seconds a run may start late and still run: half the period, at most an hour, at least 1 s.
    Later than that, the run is recorded as missed and the next trigger takes over."""
    half = int(period(schedule, tz).total_seconds() // 2)
    return max(1, min(MAX_MISFIRE_GRACE_S, half))
