"""Input CSV files (docs/csv-format.md) drawn from a data set, with the expected results."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from engine.payersim import catalog
from engine.payersim.dataset import NOT_FOUND_MESSAGE, Dataset, lookback_start, result_of
from engine.payersim.models import Member
from engine.results import ClaimResult

COLUMNS = (
    "claim_number", "first_name", "last_name", "date_of_birth", "subscriber_id",
    "first_service_date", "last_service_date", "tin",
)
_DECIMAL_FIELDS = ("total_charged", "total_paid", "allowed_amount", "patient_responsibility")
_DATE_FIELDS = ("processed_date", "first_service_date", "last_service_date")


def _row(number: str, member: Member, tin: str, first: date | None = None,
         last: date | None = None) -> dict[str, str]:
    return {
        "claim_number": number,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "date_of_birth": member.dob.strftime("%m/%d/%Y"),
        "subscriber_id": member.subscriber_id,
        "first_service_date": first.isoformat() if first else "",
        "last_service_date": last.isoformat() if last else "",
        "tin": tin,
    }


def _take(rng: random.Random, pool: list[str], used: set[str], count: int, what: str) -> list[str]:
    free = [n for n in pool if n not in used]
    if count > len(free):
        raise ValueError(f"the data set has only {len(free)} {what} claims for {count} rows")
    picked = rng.sample(free, count)
    used.update(picked)
    return picked


def write_input_csv(
    dataset: Dataset, path: str | Path, *, rows: int = 2000, tins: int = 3,
    share_with_dates: float = 0.4, share_outside_window: float = 0.3, share_unknown: float = 0.1,
    job_window: tuple[date, date] | None = None, seed: int = 0, lookback_months: int = 24,
) -> list[ClaimResult]:
    """Write `rows` claim rows and return `dataset.expected_result` of each, in row order.

    Row kinds: "with dates" (the claim's own service dates, any time in the look-back),
    "outside window" (no dates; first service date outside `job_window`, inside the
    look-back), "unknown" (claim numbers absent from the data set), the rest "in window"
    (no dates; first service date inside `job_window`, default the last 90 days).
    Known claims are distinct; rows are shuffled; TINs are the first `tins` of
    `dataset.tins` (normal TINs before dense ones), and as many of the data set's bulk TINs as
    the rows need beyond what those hold."""
    today = dataset.today
    start, end = job_window or (today - timedelta(days=89), today)
    oldest = lookback_start(today, lookback_months)
    rng = random.Random(seed)
    chosen = list(dataset.tins[:tins])
    counts = {k: round(rows * s) for k, s in
              (("dates", share_with_dates), ("outside", share_outside_window), ("unknown", share_unknown))}
    counts["inside"] = rows - sum(counts.values())
    if counts["inside"] < 0:
        raise ValueError("the shares add up to more than 1")

    base_inside: list[str] = []
    base_outside: list[str] = []
    for tin in chosen:
        for number in dataset.claim_numbers(tin):
            first = dataset.occurrences(number)[0].first_service
            if first >= oldest:
                (base_inside if start <= first <= end else base_outside).append(number)

    def pick(bulk_tins: int) -> dict[str, list[str]]:
        """The known claims of each kind, from the chosen TINs and `bulk_tins` bulk TINs."""
        inside, outside = list(base_inside), list(base_outside)
        for k in range(bulk_tins):
            assert dataset.bulk is not None
            numbers = _bulk_numbers(dataset, k)
            inside.extend(numbers(start, end))
            outside.extend(numbers(oldest, start - timedelta(days=1)))
            outside.extend(numbers(end + timedelta(days=1), today))
        rng.seed(seed)
        used: set[str] = set()
        return {
            "dates": _take(rng, inside + outside, used, counts["dates"], "look-back"),
            "outside": _take(rng, outside, used, counts["outside"], "outside-window"),
            "inside": _take(rng, inside, used, counts["inside"], "in-window"),
        }

    # More rows than the chosen TINs hold draw on the bulk TINs: from as many as the counts
    # need at least, one more at a time until the draws succeed.
    bulk_tins = _bulk_tins_needed(dataset, counts, len(base_inside), len(base_outside), (oldest, start, end))
    while True:
        try:
            picked = pick(bulk_tins)
            break
        except ValueError:
            if bulk_tins == len(dataset.bulk_tins):
                raise
            bulk_tins += 1
    table: list[tuple[dict[str, str], ClaimResult]] = []
    for kind, numbers in picked.items():
        for number in numbers:
            occ = dataset.latest(number)
            assert occ is not None
            if kind == "dates":
                row = _row(number, occ.member, occ.tin, occ.first_service, occ.last_service)
            else:
                row = _row(number, occ.member, occ.tin)
            table.append((row, result_of(occ)))
    for _ in range(counts["unknown"]):
        member = Member(
            rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES),
            date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 80)),
            f"{rng.randrange(10**9):010d}",
        )
        table.append((_row(dataset.unknown_claim_number(rng), member, rng.choice(chosen)),
                      ClaimResult.not_found(NOT_FOUND_MESSAGE)))
    rng.shuffle(table)

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for row, _ in table)
    return [expected for _, expected in table]


def _bulk_numbers(dataset: Dataset, k: int) -> Callable[[date, date], list[str]]:
    """The numbers of bulk TIN `k`'s claims first served in a window."""
    bulk = dataset.bulk
    assert bulk is not None

    def numbers(first: date, last: date) -> list[str]:
        drawn = (f"SB{k:02d}{i:06d}" for i in bulk.indexes(first, last))
        return [n for n in drawn if not dataset.is_drawn(n)]

    return numbers


def _bulk_tins_needed(dataset: Dataset, counts: dict[str, int], inside: int, outside: int,
                      dates: tuple[date, date, date]) -> int:
    """The fewest bulk TINs whose claims could cover the counts (no draw can do with fewer)."""
    if dataset.bulk is None:
        return 0
    oldest, start, end = dates
    per_inside = dataset.bulk.count_in_window(start, end)
    per_all = dataset.bulk.count_in_window(oldest, dataset.today)
    for k in range(len(dataset.bulk_tins) + 1):
        if (inside + k * per_inside >= counts["inside"]
                and outside + k * (per_all - per_inside) >= counts["outside"]
                and inside + outside + k * per_all >= counts["inside"] + counts["outside"] + counts["dates"]):
            return k
    return len(dataset.bulk_tins)


def _jsonable(result: ClaimResult) -> dict:
    data = asdict(result)
    for name in _DECIMAL_FIELDS:
        data[name] = None if data[name] is None else f"{data[name]:.2f}"
    for name in _DATE_FIELDS:
        data[name] = None if data[name] is None else data[name].isoformat()
    return data


def write_expected_json(expected: list[ClaimResult], path: str | Path) -> None:
    """One JSON list, one object per row (amounts as strings, dates YYYY-MM-DD)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump([_jsonable(r) for r in expected], fh, indent=1)
        fh.write("\n")


def load_expected_json(path: str | Path) -> list[ClaimResult]:
    """The inverse of `write_expected_json`."""
    with open(path, encoding="utf-8") as fh:
        items = json.load(fh)
    results = []
    for data in items:
        for name in _DECIMAL_FIELDS:
            data[name] = None if data[name] is None else Decimal(data[name])
        for name in _DATE_FIELDS:
            data[name] = None if data[name] is None else date.fromisoformat(data[name])
        data["adjudication_codes"] = tuple(data.get("adjudication_codes") or ())
        results.append(ClaimResult(**data))
    return results
