"""The normalised result of one claim look-up: the results columns of csv-format.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date
from decimal import Decimal

NOT_FOUND_MESSAGE = "Claim not found at the payer"

FOUND_CLASSES = frozenset({"finalized", "denied", "rejected", "pending"})

# 507 claim status category -> status class (payer-api.md, section 4).
_CATEGORY_CLASS = {
    **dict.fromkeys(["F0", "F1", "F3", "F3F", "F3N", "F4"], "finalized"),
    "F2": "denied",
    **dict.fromkeys(["A3", "A6", "A7", "A8"], "rejected"),
    **dict.fromkeys(["A0", "A1", "A2", "A5"], "pending"),
    **{f"P{i}": "pending" for i in range(6)},
    **{f"R{i}": "pending" for i in range(18)},
    **dict.fromkeys(["A4", "D0"], "not_found"),
    **dict.fromkeys(["E0", "E1", "E2", "E3", "E4"], "error"),
}

_STATUS_TEXT_CLASS = {
    "finalized": "finalized",
    "denied": "denied",
    "rejected": "rejected",
    "pending": "pending",
    "in process": "pending",
    "acknowledged": "pending",
    "multiple status": "pending",
    "misdirected": "rejected",
}


def status_class_for(category: str | None, status_text: str | None = None) -> str:
    """Class from the X12 507 category; the payer's status text when no category is given."""
    if category:
        cls = _CATEGORY_CLASS.get(category.strip().upper())
        if cls:
            return cls
    return _STATUS_TEXT_CLASS.get((status_text or "").strip().lower(), "pending")


@dataclass(frozen=True)
class ClaimResult:
    """What a look-up concluded for one row. `status` is the payer's text or one of
    `Not Found`, `Error`, `Invalid`."""

    status: str
    status_class: str
    success: bool
    error_message: str = ""
    patient_first_name: str = ""
    patient_last_name: str = ""
    total_charged: Decimal | None = None
    total_paid: Decimal | None = None
    allowed_amount: Decimal | None = None
    patient_responsibility: Decimal | None = None
    processed_date: date | None = None
    status_category: str = ""
    status_code: str = ""
    check_number: str = ""
    first_service_date: date | None = None
    last_service_date: date | None = None
    matched_by: str = ""
    adjudication_codes: tuple[str, ...] = ()  # the payer's reason codes: "CARC 50", "RARC N115"

    @classmethod
    def not_found(cls, reason: str) -> ClaimResult:
        return cls(status="Not Found", status_class="not_found", success=False, error_message=reason)

    @classmethod
    def error(cls, reason: str) -> ClaimResult:
        return cls(status="Error", status_class="error", success=False, error_message=reason)

    @classmethod
    def invalid(cls, reason: str) -> ClaimResult:
        return cls(status="Invalid", status_class="invalid", success=False, error_message=reason)

    @property
    def is_final(self) -> bool:
        """A payer error may be retried; everything else is a final answer."""
        return self.status_class != "error"

    def comparable(self) -> dict:
        """Every field except how it was found: for comparing strategies and expected results."""
        data = asdict(self)
        data.pop("matched_by")
        return data


RESULT_FIELDS = tuple(f.name for f in fields(ClaimResult))
