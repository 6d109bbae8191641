"""The sandbox's large claim population, computed claim by claim instead of held in memory.

Claim `i` of bulk TIN `k` is a pure function of (seed, k, i) and today: its number is
`SB{k:02d}{i:06d}`, its first service date `start + i // per_day` days. So a 100,000-row test
file (`claimsops payer-sim --write-csv`) draws its claims from here, and the sandbox answers for
them — summary windows by index range, inquiries by number — without building them up front.
Patient searches (`ptnt*` headers) do not reach these TINs."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import date, timedelta

from engine.payersim.models import Member, Occurrence

TIN_COUNT = 16
PER_DAY = 30
_TIN_BASE = 770_000_000
_NUMBER = re.compile(r"SB(\d{2})(\d{6})")

# builds the occurrences of one claim: (rng, tin, first service date, number) -> occurrences
ClaimMaker = Callable[[random.Random, str, date, str], list[Occurrence]]
MemberMaker = Callable[[random.Random], Member]


class BulkClaims:
    def __init__(self, seed: int, start: date, today: date, make: ClaimMaker,
                 taken: Callable[[str], bool] = lambda _: False) -> None:
        self.seed = seed
        self.start = start
        self.today = today
        self.days = (today - start).days  # service dates start .. today-1
        self.count = self.days * PER_DAY  # claims per TIN
        self.tins = tuple(str(_TIN_BASE + k) for k in range(TIN_COUNT))
        self._index = {tin: k for k, tin in enumerate(self.tins)}
        self._make = make
        self._taken = taken  # numbers the rest of the data set already uses

    def tin_index(self, tin: str) -> int | None:
        return self._index.get(tin)

    @staticmethod
    def number(k: int, i: int) -> str:
        return f"SB{k:02d}{i:06d}"

    def _parse(self, number: str) -> tuple[int, int] | None:
        match = _NUMBER.fullmatch(number)
        if not match:
            return None
        k, i = int(match.group(1)), int(match.group(2))
        return (k, i) if k < TIN_COUNT and i < self.count else None

    def is_known(self, number: str) -> bool:
        return self._parse(number) is not None and not self._taken(number)

    def first_service(self, i: int) -> date:
        return self.start + timedelta(days=i // PER_DAY)

    def claim(self, k: int, i: int) -> list[Occurrence]:
        rng = random.Random(f"{self.seed}/{k}/{i}")
        return self._make(rng, self.tins[k], self.first_service(i), self.number(k, i))

    def occurrences(self, number: str) -> list[Occurrence]:
        """Every adjudication of the claim number, oldest first ([] if not one of ours)."""
        found = self._parse(number)
        if found is None or self._taken(number):
            return []
        return self.claim(*found)

    def indexes(self, first: date, last: date) -> range:
        """The claims whose first service date lies in [first, last] (of any bulk TIN)."""
        lo = max(0, (first - self.start).days) * PER_DAY
        hi = min(self.days, (last - self.start).days + 1) * PER_DAY
        return range(lo, max(lo, hi))

    def in_window(self, tin: str, first: date, last: date) -> list[Occurrence]:
        k = self._index.get(tin)
        if k is None:
            return []
        out: list[Occurrence] = []
        for i in self.indexes(first, last):
            if not self._taken(self.number(k, i)):
                out.extend(self.claim(k, i))
        return out

    def count_in_window(self, first: date, last: date) -> int:
        return len(self.indexes(first, last))
