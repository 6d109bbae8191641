"""Final or not: the one table of which claim statuses are settled, when an open claim is
stale (needs a person, no longer re-checked by itself), and when it is due to be asked again.

A claim is *open* while its latest X12 507 category is not final: A*, P*, R*, E* and D0 are
open, F* is closed. A claim the payer does not know ("Not Found") is open while it was first
seen less than `not_found_days` ago (the payer may not have it yet), closed after that. With no
507 category the status class decides (finalized and denied close it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

OPEN, CLOSED, STALE = "open", "closed", "stale"
STATES = (OPEN, CLOSED, STALE)

DEFAULT_STALE_DAYS = 180
DEFAULT_NOT_FOUND_DAYS = 30
# Re-check a claim 1, 3, 7 and 14 days after its status last changed, then every 7 days.
BACKOFF_DAYS = (1, 3, 7, 14)
THEN_EVERY_DAYS = 7

# First letter (or whole code) of the 507 category -> final?
_CATEGORY_FINAL = {"A": False, "P": False, "R": False, "E": False, "F": True}
_EXACT_FINAL = {"D0": False}
_CLASS_FINAL = {"finalized": True, "denied": True}


@dataclass(frozen=True)
class Rules:
    """The follow-up's settings: days an open claim may stay open before it is stale, and
    days a Not Found claim stays open."""

    stale_days: int = DEFAULT_STALE_DAYS
    not_found_days: int = DEFAULT_NOT_FOUND_DAYS


DEFAULT_RULES = Rules()


def is_final_category(category: str | None, status_class: str = "") -> bool | None:
    """True for a settled 507 category (F*), False for an open one (A*, P*, R*, E*, D0), None
    when the category says nothing (empty or unknown): then `status_class` decides."""
    code = (category or "").strip().upper()
    if code in _EXACT_FINAL:
        return _EXACT_FINAL[code]
    if code and code[0] in _CATEGORY_FINAL:
        return _CATEGORY_FINAL[code[0]]
    if status_class == "not_found":
        return None
    return _CLASS_FINAL.get(status_class, False) if status_class else None


def state_of(category: str | None, status_class: str, first_seen_at: datetime, now: datetime,
             rules: Rules = DEFAULT_RULES) -> str:
    """OPEN, CLOSED or STALE for a claim whose latest observation has `category` and
    `status_class`, first seen at `first_seen_at`."""
    final = is_final_category(category, status_class)
    age = now - first_seen_at
    if final is None:  # not found (or nothing to go by): open while recent
        return OPEN if age < timedelta(days=rules.not_found_days) else CLOSED
    if final:
        return CLOSED
    return STALE if age >= timedelta(days=rules.stale_days) else OPEN


def stored_state(category: str | None, status_class: str) -> str:
    """What the claims table keeps: CLOSED once final, else OPEN. The age rules (stale, a Not
    Found claim given up) are read at query time with `stale_before` and `not_found_open_after`,
    so a change of the settings applies to every claim at once."""
    return CLOSED if is_final_category(category, status_class) else OPEN


def stale_before(now: datetime, rules: Rules = DEFAULT_RULES) -> datetime:
    """An open claim first seen before this is stale."""
    return now - timedelta(days=rules.stale_days)


def not_found_open_after(now: datetime, rules: Rules = DEFAULT_RULES) -> datetime:
    """A Not Found claim first seen before this is closed."""
    return now - timedelta(days=rules.not_found_days)


def next_check(status_since: datetime, observed_at: datetime) -> datetime:
    """When an open claim with this status since `status_since`, last observed at
    `observed_at`, is due again: the start (00:00 UTC) of the first back-off day after the day
    it was observed, so a daily run picks it up whatever time it runs."""
    base = status_since.astimezone(UTC).date()
    seen = observed_at.astimezone(UTC).date()
    for offset in BACKOFF_DAYS:
        if base + timedelta(days=offset) > seen:
            return _midnight(base + timedelta(days=offset))
    last = base + timedelta(days=BACKOFF_DAYS[-1])
    steps = (seen - last).days // THEN_EVERY_DAYS + 1
    return _midnight(last + timedelta(days=steps * THEN_EVERY_DAYS))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def status_key(category: str | None, status: str) -> str:
    """What a status change compares: the 507 category, or the status text without one."""
    return (category or "").strip().upper() or (status or "").strip()
