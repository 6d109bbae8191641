"""Turning the payer's two response shapes into `Found` claim occurrences. Every text is cut to
the length of the column it is stored in (with an ellipsis): a payer's long text never fails a
write."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.dates import from_wire
from engine.models import JobRow, text_limits
from engine.results import ClaimResult, status_class_for
from engine.text import clip

_LIMIT = text_limits(JobRow.__table__)
_SUFFIX_LENGTH = 8


@dataclass(frozen=True)
class Found:
    """One occurrence of a claim in a payer response, already normalised."""

    claim_number: str
    first_service_date: date | None
    processed_date: date | None
    suffix: str
    result: ClaimResult

    def with_match(self, matched_by: str) -> ClaimResult:
        return replace(self.result, matched_by=matched_by)


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value).replace(",", "").replace("$", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Any, limit: int) -> str:
    return clip(str(value).strip(), limit) if value is not None else ""


def _first(items: Any) -> dict:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def from_summary(claim: dict) -> Found:
    """An element of `claims` from the claims-summary-by-provider surface."""
    summary = claim.get("claimSummary") or {}
    member = claim.get("memberInfo") or {}
    xwalk = _first(summary.get("clmXWalkData"))
    status = _text(claim.get("claimStatus"), _LIMIT["status"]) or "Unknown"
    category = _text(xwalk.get("clm507Cd"), _LIMIT["status_category"])
    result = ClaimResult(
        status=status,
        status_class=status_class_for(category, status),
        success=True,
        patient_first_name=_text(member.get("ptntFn"), _LIMIT["patient_first_name"]),
        patient_last_name=_text(member.get("ptntLn"), _LIMIT["patient_last_name"]),
        total_charged=_amount(summary.get("totalChargedAmt")),
        total_paid=_amount(summary.get("totalPaidAmt")),
        allowed_amount=_amount(summary.get("totalAllowdAmt", summary.get("totalAllowedAmt"))),
        patient_responsibility=_amount(summary.get("totalPtntRespAmt")),
        processed_date=from_wire(summary.get("processedDt")),
        status_category=category,
        status_code=_text(xwalk.get("clm508Cd"), _LIMIT["status_code"]),
        check_number=_text(summary.get("checkNbr"), _LIMIT["check_number"]),
        first_service_date=from_wire(summary.get("firstSrvcDt")),
        last_service_date=from_wire(summary.get("lastSrvcDt")),
    )
    return Found(
        claim_number=_text(claim.get("claimNumber"), _LIMIT["claim_number"]),
        first_service_date=result.first_service_date,
        processed_date=result.processed_date,
        suffix=_text(xwalk.get("clmIcnSufxCd"), _SUFFIX_LENGTH),
        result=result,
    )


def from_inquiry(claim: dict) -> Found:
    """An element of `data.searchClaim.claims` from the claim-inquiry surface."""
    member = claim.get("member") or {}
    events = claim.get("claimEvents") or {}
    totals = claim.get("claimLevelTotalAmount") or {}
    payment = _first(claim.get("payments"))
    xwalk = _first(claim.get("claimStatusCrosswalkData"))
    status = _text(claim.get("claimStatus"), _LIMIT["status"]) or "Unknown"
    category = _text(xwalk.get("claim507Code"), _LIMIT["status_category"])
    result = ClaimResult(
        status=status,
        status_class=status_class_for(category, status),
        success=True,
        patient_first_name=_text(member.get("firstName"), _LIMIT["patient_first_name"]),
        patient_last_name=_text(member.get("lastName"), _LIMIT["patient_last_name"]),
        total_charged=_amount(totals.get("totalBilledChargeAmount")),
        total_paid=_amount(totals.get("totalPaidAmount")),
        allowed_amount=_amount(totals.get("totalAllowedAmount")),
        patient_responsibility=_amount(totals.get("totalPatientResponsibilityAmount")),
        processed_date=from_wire(events.get("processedDate")),
        status_category=category,
        status_code=_text(xwalk.get("claim508Code"), _LIMIT["status_code"]),
        check_number=_text(payment.get("paymentNumber"), _LIMIT["check_number"]),
        first_service_date=from_wire(events.get("serviceStartDate")),
        last_service_date=from_wire(events.get("serviceEndDate")),
    )
    return Found(
        claim_number=_text(claim.get("claimNumber"), _LIMIT["claim_number"]),
        first_service_date=result.first_service_date,
        processed_date=result.processed_date,
        suffix=_text(xwalk.get("adjudicatedClaimSuffixCode"), _SUFFIX_LENGTH),
        result=result,
    )


def latest(occurrences: list[Found]) -> Found:
    """Every occurrence is kept; the row's result is the one processed last."""
    return max(occurrences, key=lambda f: (f.processed_date or date.min, f.suffix))
