"""A deterministic claim data set for the payer simulator, with look-up indexes and the
expected (normalised) result of every claim number."""

from __future__ import annotations

import bisect
import calendar
import dataclasses
import functools
import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal

from engine.payersim import catalog
from engine.payersim.bulk import BulkClaims
from engine.payersim.models import Member, Occurrence, StatusCode
from engine.payersim.wire import to_inquiry_json, to_summary_json
from engine.results import NOT_FOUND_MESSAGE, ClaimResult, status_class_for

__all__ = [
    "NOT_FOUND_MESSAGE",
    "Dataset",
    "lookback_start",
    "months_before",
    "to_inquiry_json",
    "to_summary_json",
]

_CENT = Decimal("0.01")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def months_before(day: date, months: int) -> date:
    """The same day of the month `months` earlier, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def lookback_start(today: date, months: int = 24) -> date:
    """Oldest first service date the summary surface accepts (inclusive)."""
    return months_before(today, months)


def _pick(rng: random.Random, mix: Sequence[tuple[int, StatusCode]]) -> StatusCode:
    population, cum_weights = _mix_table(tuple(mix))
    return rng.choices(population, cum_weights=cum_weights)[0]  # as weights= would draw


@functools.lru_cache(maxsize=16)
def _mix_table(mix: tuple[tuple[int, StatusCode], ...]) -> tuple[list[StatusCode], list[int]]:
    return [s for _, s in mix], list(itertools.accumulate(w for w, _ in mix))


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randint(low, high)) / 100).quantize(_CENT)


class _Generator:
    """Builds the occurrences of a data set; one instance per generation."""

    def __init__(self, seed: int, today: date,
                 status_mix: Sequence[tuple[int, StatusCode]] = catalog.STATUS_MIX,
                 rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random(seed)
        self.status_mix = status_mix
        self.today = today
        self.claim_numbers: set[str] = set()
        self.tins: set[str] = set()

    def tin(self) -> str:
        while True:
            tin = f"{self.rng.randint(10, 99)}{self.rng.randrange(10**7):07d}"
            if tin not in self.tins:
                self.tins.add(tin)
                return tin

    def claim_number(self) -> str:
        while True:
            rng = self.rng
            number = f"{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}{rng.randrange(10**8):08d}"
            if number not in self.claim_numbers:
                self.claim_numbers.add(number)
                return number

    def member(self) -> Member:
        rng = self.rng
        dob = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 80))
        if rng.random() < 0.6:
            subscriber = f"{rng.randrange(10**9):010d}"  # leading zero
        else:
            subscriber = f"{rng.randrange(10**9, 10**10)}"
        return Member(rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES), dob, subscriber)

    def amounts(self, status: StatusCode, charged: Decimal | None = None) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """charged (drawn unless given), allowed, paid, patient responsibility."""
        rng = self.rng
        zero = Decimal("0.00")
        if charged is None:
            charged = _cents(rng, 5_000, 600_000)
        if status.cat_507 not in ("F0", "F1", "F3", "F4"):
            return charged, zero, zero, zero
        allowed = (charged * Decimal(rng.randint(55, 95)) / 100).quantize(_CENT)
        if status.cat_507 == "F4":
            return charged, allowed, zero, allowed
        resp = (allowed * Decimal(rng.choice((0, 0, 5, 10, 20))) / 100).quantize(_CENT)
        if not status.paid:
            return charged, allowed, zero, resp
        return charged, allowed, allowed - resp, resp

    def occurrence(
        self, number: str, tin: str, member: Member, status: StatusCode, suffix: str,
        first: date, last: date, received: date, processed: date,
    ) -> Occurrence:
        charged, allowed, paid, resp = self.amounts(status)
        check, pay_date = "", None
        if paid > 0:
            digits = self.rng.randrange(10**7)
            check = f"EFT{digits:07d}" if self.rng.random() < 0.7 else f"{digits:09d}"
            pay_date = min(processed + timedelta(days=1), self.today)
        return Occurrence(
            number, tin, member, status, suffix, first, last, received, processed,
            charged, allowed, paid, resp, check, pay_date,
        )

    def claim(self, tin: str, member: Member, first: date, adjusted_share: float,
              number: str = "") -> list[Occurrence]:
        rng, today = self.rng, self.today
        last = min(first + timedelta(days=rng.choice((0, 0, 0, 0, 1, 2, 4))), today - timedelta(days=1))
        received = min(last + timedelta(days=rng.randint(1, 10)), today)
        processed = min(received + timedelta(days=rng.randint(2, 25)), today)
        number = number or self.claim_number()
        adjusted = first <= today - timedelta(days=90) and rng.random() < adjusted_share
        if adjusted:
            status = _pick(rng, ((5, catalog.F1_PAID), (3, catalog.F2_DENIED), (1, catalog.F4_NO_PAYMENT)))
        elif first > today - timedelta(days=14) and rng.random() < 0.7:
            status = _pick(rng, catalog.RECENT_MIX)
        else:
            status = _pick(rng, self.status_mix)
        result = [self.occurrence(number, tin, member, status, "01", first, last, received, processed)]
        extra = rng.choice((1, 1, 2)) if adjusted else 0
        for n in range(extra):
            processed = processed + timedelta(days=rng.randint(7, 45))
            if processed >= today:
                break
            status = _pick(rng, catalog.ADJUSTMENT_MIX)
            result.append(
                self.occurrence(number, tin, member, status, f"{n + 2:02d}", first, last, received, processed)
            )
        return result

    def tin_claims(self, tin: str, per_month: int, months: int, adjusted_share: float) -> list[Occurrence]:
        start = months_before(self.today, months)
        span = (self.today - start).days  # service dates start .. today-1
        count = round(per_month * span / 30.44)
        members = [self.member() for _ in range(max(20, count // 6))]
        occurrences: list[Occurrence] = []
        for _ in range(count):
            first = start + timedelta(days=self.rng.randrange(span))
            occurrences.extend(self.claim(tin, self.rng.choice(members), first, adjusted_share))
        return occurrences


DECIDED_SHARE = 0.88  # of the claims pending on the data set's day, decided within 30 days
INTERIM_SHARE = 0.2  # of those, a further pending step first


class _Evolution:
    """What happens to the claims after the data set's day, and the reason codes of decided
    ones. Each claim draws from its own seeded generator, so the data set's claims as of its
    day are the same as without it."""

    def __init__(self, seed: int, today: date) -> None:
        self.seed, self.today = seed, today

    def _rng(self, what: str, occ: Occurrence) -> random.Random:
        return random.Random(f"{self.seed}:{what}:{occ.claim_number}:{occ.suffix}")

    def codes(self, occ: Occurrence, rng: random.Random | None = None) -> Occurrence:
        cat = occ.status.cat_507
        if cat not in ("F2", "F4", "P3", "R4"):
            return occ
        rng = rng or self._rng("codes", occ)
        if cat == "F2":
            picked = [rng.choice(catalog.DENIAL_CODES)]
            if rng.random() < 0.4:
                picked.append(rng.choice(catalog.REMARK_CODES))
        elif cat == "F4":
            picked = [rng.choice(catalog.NO_PAYMENT_CODES)]
        else:
            picked = [rng.choice(catalog.REMARK_CODES)]
        return dataclasses.replace(occ, codes=tuple(picked))

    def claim(self, items: list[Occurrence]) -> list[Occurrence]:
        """A claim's occurrences with codes, and, for one still pending, its later steps."""
        items = [self.codes(o) for o in items]
        last = items[-1]
        if len(items) > 1 or status_class_for(last.status.cat_507, last.status.claim_status) != "pending":
            return items
        rng = self._rng("decide", last)
        if rng.random() >= DECIDED_SHARE:
            return items  # stays pending: stale one day
        gen = _Generator(0, self.today)
        gen.rng = rng
        decided_on = self.today + timedelta(days=rng.randint(1, 30))
        steps: list[tuple[date, StatusCode]] = []
        if rng.random() < INTERIM_SHARE and (decided_on - self.today).days > 2:
            steps.append((self.today + timedelta(days=rng.randint(1, (decided_on - self.today).days - 1)),
                          _pick(rng, catalog.INTERIM_MIX)))
        steps.append((decided_on, _pick(rng, catalog.DECISION_MIX)))
        out = items[:-1]
        previous = last
        for day, status in steps:
            out.append(dataclasses.replace(previous, shown_until=day))
            charged, allowed, paid, resp = gen.amounts(status, last.charged)
            check, pay_date = "", None
            if paid > 0:
                check = f"EFT{rng.randrange(10**7):07d}"
                pay_date = day + timedelta(days=1)
            previous = self.codes(dataclasses.replace(
                last, status=status, processed=day, allowed=allowed, paid=paid, patient_resp=resp,
                check_number=check, payment_date=pay_date, codes=(), shown_until=None), rng)
        out.append(previous)
        return out


def evolve(occurrences: Iterable[Occurrence], seed: int, today: date) -> list[Occurrence]:
    """Every claim's occurrences with reason codes on denials, and the later decisions of the
    claims pending on `today`."""
    by_number: dict[str, list[Occurrence]] = defaultdict(list)
    for occ in occurrences:
        by_number[occ.claim_number].append(occ)
    evolution = _Evolution(seed, today)
    out: list[Occurrence] = []
    for items in by_number.values():
        items.sort(key=lambda o: (o.processed, o.suffix))
        out.extend(evolution.claim(items))
    return out


class Dataset:
    """Claims of several TINs, indexed by TIN (sorted by first service date) and by number."""

    def __init__(self, occurrences: Iterable[Occurrence], *, today: date, seed: int = 0,
                 dense_tins: Iterable[str] = (), bulk: BulkClaims | None = None) -> None:
        self.today = today
        self.seed = seed
        self.dense_tins = frozenset(dense_tins)
        self.bulk = bulk  # claims computed on demand, at TINs of their own (bulk.py)
        by_tin: dict[str, list[Occurrence]] = defaultdict(list)
        by_number: dict[str, list[Occurrence]] = defaultdict(list)
        by_member: dict[str, dict[str, list[Occurrence]]] = defaultdict(lambda: defaultdict(list))
        for occ in occurrences:
            by_tin[occ.tin].append(occ)
            by_number[occ.claim_number].append(occ)
            by_member[occ.tin][occ.member.subscriber_id].append(occ)
        for items in by_tin.values():
            items.sort(key=lambda o: (o.first_service, o.claim_number, o.suffix))
        for items in by_number.values():
            items.sort(key=lambda o: (o.processed, o.suffix))
        self._by_tin = dict(by_tin)
        self._tin_dates = {tin: [o.first_service for o in items] for tin, items in by_tin.items()}
        self._by_number = dict(by_number)
        self._by_member = {tin: list(members.values()) for tin, members in by_member.items()}
        # Normal TINs first, dense ones last, each group in generation order.
        self.tins: tuple[str, ...] = tuple(
            sorted(by_tin, key=lambda t: (t in self.dense_tins, list(by_tin).index(t)))
        )

    @classmethod
    def generate(
        cls, seed: int = 0, today: date | None = None, *, tin_count: int = 4,
        claims_per_month: int = 90, dense_tin_count: int = 1, dense_claims_per_month: int = 600,
        months: int = 27, adjusted_share: float = 0.12,
        status_mix: Sequence[tuple[int, StatusCode]] = catalog.STATUS_MIX,
        tins: Sequence[str] = (), extra: Iterable[Occurrence] = (), bulk: bool = False,
    ) -> Dataset:
        """Deterministic in (seed, today and the other arguments).

        Defaults: a 31-day window of a normal TIN holds about 110 occurrences (50-150);
        a dense TIN holds about 700 (> 500, for LCLM_PS_306). `status_mix` holds the
        (weight, status) of original adjudications (default `catalog.STATUS_MIX`, every class).
        `tins` names the first TINs instead of drawing them; `extra` adds claims given whole
        (their numbers are never drawn); `bulk` adds the population of bulk.py."""
        today = today or date.today()
        gen = _Generator(seed, today, status_mix)
        extra = list(extra)
        gen.claim_numbers.update(o.claim_number for o in extra)
        occurrences: list[Occurrence] = list(extra)
        dense: list[str] = []
        for i in range(tin_count + dense_tin_count):
            tin = gen.tin()
            if i < len(tins):
                tin = tins[i]
            per_month = claims_per_month
            if i >= tin_count:
                dense.append(tin)
                per_month = dense_claims_per_month
            occurrences.extend(gen.tin_claims(tin, per_month, months, adjusted_share))
        dataset = cls(evolve(occurrences, seed, today), today=today, seed=seed, dense_tins=dense)
        if bulk:  # computed one claim at a time when asked for; their statuses do not move
            def make(rng: random.Random, tin: str, first: date, number: str) -> list[Occurrence]:
                claim_gen = _Generator(seed, today, status_mix, rng=rng)
                return claim_gen.claim(tin, claim_gen.member(), first, adjusted_share, number)

            dataset.bulk = BulkClaims(seed, months_before(today, months), today, make,
                                      taken=dataset.is_drawn)
        return dataset

    # --- look-ups -------------------------------------------------------------------------

    @property
    def normal_tins(self) -> tuple[str, ...]:
        return tuple(t for t in self.tins if t not in self.dense_tins)

    def __len__(self) -> int:
        """Occurrences shown on the data set's day."""
        return sum(len(self.tin_occurrences(tin)) for tin in self._by_tin)

    def claim_numbers(self, tin: str | None = None) -> list[str]:
        """Logical claim numbers (each once), in first-service-date order."""
        tins = [tin] if tin else list(self.tins)
        seen: dict[str, None] = {}
        for t in tins:
            for occ in self._by_tin.get(t, ()):
                seen.setdefault(occ.claim_number, None)
        return list(seen)

    @property
    def bulk_tins(self) -> tuple[str, ...]:
        return self.bulk.tins if self.bulk else ()

    def occurrences(self, claim_number: str, today: date | None = None) -> list[Occurrence]:
        """Every adjudication of the claim number the payer shows on `today` (default: the data
        set's day), oldest processedDt first ([] if unknown)."""
        day = today or self.today
        items = self._by_number.get(claim_number)
        if items is None and self.bulk is not None:
            items = self.bulk.occurrences(claim_number)
        return [o for o in items or () if o.shown_on(day)]

    def latest(self, claim_number: str, today: date | None = None) -> Occurrence | None:
        items = self.occurrences(claim_number, today)
        return items[-1] if items else None

    def history(self, claim_number: str) -> list[tuple[date, Occurrence]]:
        """The claim's answer over time: (first day shown, occurrence) of every answer that was
        ever its latest, oldest first."""
        items = self._by_number.get(claim_number, ())
        days = sorted({o.processed for o in items} | {o.shown_until for o in items if o.shown_until})
        out: list[tuple[date, Occurrence]] = []
        for day in days:
            occ = self.latest(claim_number, day)
            if occ is not None and (not out or out[-1][1] != occ):
                out.append((day, occ))
        return out

    def tin_occurrences(self, tin: str, today: date | None = None) -> Sequence[Occurrence]:
        """The occurrences of `tin` shown on `today` (default: the data set's day)."""
        day = today or self.today
        return [o for o in self._by_tin.get(tin, ()) if o.shown_on(day)]

    def in_window(self, tin: str, first: date, last: date, today: date | None = None) -> list[Occurrence]:
        """Occurrences of `tin` shown on `today` whose first service date lies in [first, last]."""
        dates = self._tin_dates.get(tin)
        if not dates:
            return self.bulk.in_window(tin, first, last) if self.bulk else []
        day = today or self.today
        lo = bisect.bisect_left(dates, first)
        hi = bisect.bisect_right(dates, last)
        return [o for o in self._by_tin[tin][lo:hi] if o.shown_on(day)]

    def patient_occurrences(self, tin: str, first_name: str | None, last_name: str | None,
                            dob: date | None, today: date | None = None) -> list[Occurrence]:
        """Every occurrence at `tin` shown on `today` of the members matching the given fields
        (names without case)."""
        fn = (first_name or "").strip().upper()
        ln = (last_name or "").strip().upper()
        day = today or self.today
        result: list[Occurrence] = []
        for items in self._by_member.get(tin, ()):
            if matches_patient(items[0].member, fn, ln, dob):
                result.extend(o for o in items if o.shown_on(day))
        return result

    def is_drawn(self, claim_number: str) -> bool:
        """A claim number of the generated claims (or given whole), not of the bulk population."""
        return claim_number in self._by_number

    def is_known(self, claim_number: str) -> bool:
        return claim_number in self._by_number or (self.bulk is not None and self.bulk.is_known(claim_number))

    def unknown_claim_number(self, rng: random.Random) -> str:
        """A well-formed claim number that is not in the data set."""
        while True:
            number = f"{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}{rng.randrange(10**8):08d}"
            if not self.is_known(number):
                return number

    def expected_result(self, claim_number: str, today: date | None = None) -> ClaimResult:
        """The normalised result of the latest adjudication shown on `today` (default: the data
        set's day; matched_by left empty)."""
        occ = self.latest(claim_number, today)
        if occ is None:
            return ClaimResult.not_found(NOT_FOUND_MESSAGE)
        return result_of(occ)


def matches_patient(member: Member, fn: str, ln: str, dob: date | None) -> bool:
    """fn/ln upper-cased ("" = any); dob None = any."""
    return (
        (not fn or member.first_name.upper() == fn)
        and (not ln or member.last_name.upper() == ln)
        and (dob is None or member.dob == dob)
    )


def result_of(occ: Occurrence) -> ClaimResult:
    status = occ.status
    return ClaimResult(
        status=status.claim_status,
        status_class=status_class_for(status.cat_507, status.claim_status),
        success=True,
        patient_first_name=occ.member.first_name,
        patient_last_name=occ.member.last_name,
        total_charged=occ.charged,
        total_paid=occ.paid,
        allowed_amount=occ.allowed,
        patient_responsibility=occ.patient_resp,
        processed_date=occ.processed,
        status_category=status.cat_507,
        status_code=status.code_508,
        check_number=occ.check_number,
        first_service_date=occ.first_service,
        last_service_date=occ.last_service,
        adjudication_codes=tuple(f"{'RARC' if t == 'REMARK' else t} {c}" for t, c, _ in occ.codes),
    )
