"""Records of the simulated payer: members and claim occurrences (one per adjudication)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Member:
    first_name: str
    last_name: str
    dob: date
    subscriber_id: str  # text: leading zeros matter


@dataclass(frozen=True)
class StatusCode:
    """One claim status as the payer reports it: text plus X12 507/508 codes."""

    claim_status: str
    cat_507: str
    desc_507: str
    code_508: str
    desc_508: str
    paid: bool  # a payment is issued (amount > 0, check/EFT number)


@dataclass(frozen=True)
class Occurrence:
    """One adjudication of a claim; adjusted claims have several with one claim number."""

    claim_number: str
    tin: str
    member: Member
    status: StatusCode
    suffix: str  # clmIcnSufxCd, "01", "02", ...
    first_service: date
    last_service: date
    received: date
    processed: date
    charged: Decimal
    allowed: Decimal
    paid: Decimal
    patient_resp: Decimal
    check_number: str
    payment_date: date | None
    # (type, code, description) of the payer's adjustment / denial reasons (CARC, REMARK, ...)
    codes: tuple[tuple[str, str, str], ...] = ()
    # the day a later decision replaced this answer (None: it is the claim's answer from
    # `processed` on); the payer's clock (SimConfig.today) decides what is shown
    shown_until: date | None = None

    def shown_on(self, today: date) -> bool:
        return self.processed <= today and (self.shown_until is None or today < self.shown_until)
