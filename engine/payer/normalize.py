"""Turning the payer's two response shapes into `Found` claim occurrences. Every text is cut to
the length of the column it is stored in (with an ellipsis): a payer's long text never fails a
write."""

from __future__ import annotations

import re
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
_CODE_TYPES = {"REMARK": "RARC", "RARC": "RARC", "CARC": "CARC", "PEND": "PEND", "CHEC": "CHEC"}
_CODE = re.compile(r"^[A-Z0-9]{1,8}$")


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


# Where each surface has a ClaimResult field: a dotted path of keys (a list stands for its first
# element); "a|b" takes the first path that has a value. Text fields are named as the job_rows
# columns that hold them and are cut to their length.
_TEXTS = ("status", "status_category", "status_code", "check_number", "patient_first_name",
          "patient_last_name")
_AMOUNTS = ("total_charged", "total_paid", "allowed_amount", "patient_responsibility")
_DATES = ("processed_date", "first_service_date", "last_service_date")
_SUMMARY_FIELDS: dict[str, str] = {
    "claim_number": "claimNumber",
    "suffix": "claimSummary.clmXWalkData.clmIcnSufxCd",
    "status": "claimStatus",
    "status_category": "claimSummary.clmXWalkData.clm507Cd",
    "status_code": "claimSummary.clmXWalkData.clm508Cd",
    "check_number": "claimSummary.checkNbr",
    "patient_first_name": "memberInfo.ptntFn",
    "patient_last_name": "memberInfo.ptntLn",
    "total_charged": "claimSummary.totalChargedAmt",
    "total_paid": "claimSummary.totalPaidAmt",
    "allowed_amount": "claimSummary.totalAllowdAmt|claimSummary.totalAllowedAmt",
    "patient_responsibility": "claimSummary.totalPtntRespAmt",
    "processed_date": "claimSummary.processedDt",
    "first_service_date": "claimSummary.firstSrvcDt",
    "last_service_date": "claimSummary.lastSrvcDt",
}
_INQUIRY_FIELDS: dict[str, str] = {
    "claim_number": "claimNumber",
    "suffix": "claimStatusCrosswalkData.adjudicatedClaimSuffixCode",
    "status": "claimStatus",
    "status_category": "claimStatusCrosswalkData.claim507Code",
    "status_code": "claimStatusCrosswalkData.claim508Code",
    "check_number": "payments.paymentNumber",
    "patient_first_name": "member.firstName",
    "patient_last_name": "member.lastName",
    "total_charged": "claimLevelTotalAmount.totalBilledChargeAmount",
    "total_paid": "claimLevelTotalAmount.totalPaidAmount",
    "allowed_amount": "claimLevelTotalAmount.totalAllowedAmount",
    "patient_responsibility": "claimLevelTotalAmount.totalPatientResponsibilityAmount",
    "processed_date": "claimEvents.processedDate",
    "first_service_date": "claimEvents.serviceStartDate",
    "last_service_date": "claimEvents.serviceEndDate",
}


Paths = tuple[tuple[str, ...], ...]


def _step(current: Any, key: str) -> Any:
    """One key of a path: a list stands for its first element; anything but a dict has no keys."""
    if isinstance(current, list):
        current = current[0] if current else None
    return current.get(key) if isinstance(current, dict) else None


class _Fields:
    """A surface's field paths, compiled once: every object on the way (`claimSummary`,
    `claimSummary.clmXWalkData`…) is looked up once per claim however many fields sit under it,
    then each field is one more key (with "a|b": the first path that has a value)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.paths: dict[str, Paths] = {
            name: tuple(tuple(path.split(".")) for path in paths.split("|")) for name, paths in fields.items()
        }
        prefixes = sorted({p[:i] for paths in self.paths.values() for p in paths for i in range(1, len(p))},
                          key=len)
        self._index = {(): 0, **{prefix: i + 1 for i, prefix in enumerate(prefixes)}}
        self._nodes = tuple((self._index[prefix[:-1]], prefix[-1]) for prefix in prefixes)
        self._leaves = tuple(
            (name, tuple((self._index[path[:-1]], path[-1]) for path in paths)) for name, paths in self.paths.items()
        )

    def values(self, claim: dict) -> dict[str, Any]:
        nodes = [claim]
        for parent, key in self._nodes:
            nodes.append(_step(nodes[parent], key))
        out: dict[str, Any] = {}
        for name, alternatives in self._leaves:
            value = None
            for parent, key in alternatives:
                value = _step(nodes[parent], key)
                if value is not None:
                    break
            out[name] = value
        return out


_SUMMARY_PATHS = _Fields(_SUMMARY_FIELDS)
_NUMBER_LIMIT = _LIMIT["claim_number"]
_INQUIRY_PATHS = _Fields(_INQUIRY_FIELDS)


def _codes(items: Any, type_key: str) -> tuple[str, ...]:
    """The payer's adjustment / denial reason codes as "CARC 50", "RARC N115": known types only
    (REMARK is a RARC), each code once, in the payer's order; anything malformed is dropped."""
    out: dict[str, None] = {}
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = _CODE_TYPES.get(str(item.get(type_key) or "").strip().upper())
        code = str(item.get("code") or "").strip().upper()
        if kind and _CODE.match(code):
            out[f"{kind} {code}"] = None
    return tuple(out)


def _found(claim: dict, fields: _Fields, codes: tuple[str, ...] = ()) -> Found:
    raw = fields.values(claim)
    text = {name: _text(raw[name], _LIMIT[name]) for name in _TEXTS}
    text["status"] = text["status"] or "Unknown"
    result = ClaimResult(
        status_class=status_class_for(text["status_category"], text["status"]),
        success=True,
        **text,
        **{name: _amount(raw[name]) for name in _AMOUNTS},
        **{name: from_wire(raw[name]) for name in _DATES},
        adjudication_codes=codes,
    )
    return Found(
        claim_number=_text(raw["claim_number"], _LIMIT["claim_number"]),
        first_service_date=result.first_service_date,
        processed_date=result.processed_date,
        suffix=_text(raw["suffix"], _SUFFIX_LENGTH),
        result=result,
    )


def summary_number(claim: dict) -> str:
    """The claim number `from_summary(claim)` would give, without normalising the rest."""
    value = claim.get("claimNumber")  # the path is one key: _Fields would find the same
    return _text(value, _NUMBER_LIMIT)


def from_summary(claim: dict) -> Found:
    """An element of `claims` from the claims-summary-by-provider surface."""
    summary = claim.get("claimSummary")
    codes = _codes(summary.get("claimCodes") if isinstance(summary, dict) else None, "type")
    return _found(claim, _SUMMARY_PATHS, codes)


def from_inquiry(claim: dict) -> Found:
    """An element of `data.searchClaim.claims` from the claim-inquiry surface."""
    return _found(claim, _INQUIRY_PATHS, _codes(claim.get("claimAdjudicationCodes"), "claimCodeType"))


def latest(occurrences: list[Found]) -> Found:
    """Every occurrence is kept; the row's result is the one processed last."""
    return max(occurrences, key=lambda f: (f.processed_date or date.min, f.suffix))
