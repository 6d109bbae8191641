"""Claims the sandbox knows by name: every claim of the shipped samples (samples/) and the
original system's example claim FG53171076 (its end-to-end test and payer-api.md), at the TIN
of the samples, so that a first run with them finds claims with amounts.

Claims a sample gives service dates for keep them; the others are dated in the last few weeks,
inside a job's default window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from engine.payersim import catalog
from engine.payersim.models import Member, Occurrence, StatusCode

# The billing TIN of the samples (aliases-bom-semicolon.csv): the sandbox's first TIN, the one
# a job searches under when the file has no TIN column and none is configured.
SAMPLE_TIN = "854203105"

SKYLER = Member("SKYLER", "SMITH", date(2002, 7, 26), "0490705351")
MARIA = Member("BARCELLANO", "MARIA RAPH", date(2001, 2, 20), "0629889230")
JOHN = Member("John", "Doe", date(1980, 1, 15), "ABC123456")
JANE = Member("Jane", "Smith", date(1975, 5, 20), "XYZ789012")


@dataclass(frozen=True)
class _Known:
    number: str
    member: Member
    status: StatusCode
    charged: str
    allowed: str
    paid: str
    patient_resp: str
    first: date | None = None  # None: dated `days_ago` before today
    days_ago: int = 0
    check: str = ""


_CLAIMS = (
    # payer-api.md's example, as the original system's end-to-end test searched it
    _Known("FG53171076", SKYLER, catalog.F1_PAID, "1500.00", "1260.00", "1200.00", "60.00",
           first=date(2025, 5, 1), check="EFT7732019"),
    _Known("FH22674935", SKYLER, catalog.F1_PAID, "845.00", "702.50", "652.50", "50.00",
           first=date(2025, 4, 15), check="EFT7732655"),
    _Known("FG53171070", MARIA, catalog.F2_DENIED, "2310.40", "0.00", "0.00", "0.00", first=date(2025, 3, 20)),
    _Known("ZE59426195", JOHN, catalog.F1_PAID, "420.00", "336.00", "316.00", "20.00", days_ago=21,
           check="004417731"),
    _Known("ZE59426196", JANE, catalog.P1_IN_PROCESS, "1180.75", "0.00", "0.00", "0.00", days_ago=9),
    _Known("FG53171077", SKYLER, catalog.F4_NO_PAYMENT, "265.00", "212.00", "0.00", "212.00", days_ago=30),
    _Known("FG53171078", SKYLER, catalog.F1_PAID, "98.60", "80.00", "80.00", "0.00", days_ago=17,
           check="EFT7734410"),
    _Known("FG53171079", SKYLER, catalog.F1_PAID, "1725.00", "1380.00", "1311.00", "69.00", days_ago=12,
           check="EFT7734987"),
    _Known("FG53171080", SKYLER, catalog.F1_PAID, "310.00", "248.00", "223.20", "24.80", days_ago=26,
           check="EFT7735102"),
)
KNOWN_NUMBERS = frozenset(k.number for k in _CLAIMS)


def _occurrence(known: _Known, today: date) -> Occurrence:
    first = known.first if known.first is not None else today - timedelta(days=known.days_ago)
    last = first + timedelta(days=1)
    received = first + timedelta(days=4)
    processed = min(first + timedelta(days=18), today)
    paid = Decimal(known.paid)
    return Occurrence(
        known.number, SAMPLE_TIN, known.member, known.status, "01", first, last, received, processed,
        Decimal(known.charged), Decimal(known.allowed), paid, Decimal(known.patient_resp),
        known.check if paid > 0 else "", min(processed + timedelta(days=1), today) if paid > 0 else None,
    )


def known_occurrences(today: date) -> list[Occurrence]:
    """One adjudication of each known claim, as of `today`."""
    return [_occurrence(known, today) for known in _CLAIMS]
