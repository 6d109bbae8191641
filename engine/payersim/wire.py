"""The two wire shapes of payer-api.md: a summary claim (section 2), an inquiry claim (section 3)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from engine.payersim.models import Occurrence

_WIRE_DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")


def fmt_date(value: date | None) -> str:
    """MM/DD/YYYY, or "" for no date."""
    return value.strftime("%m/%d/%Y") if value else ""


def parse_wire_date(text: str) -> date:
    """Strict MM/DD/YYYY; ValueError otherwise."""
    if not _WIRE_DATE.match(text):
        raise ValueError(f"not MM/DD/YYYY: {text!r}")
    return datetime.strptime(text, "%m/%d/%Y").date()


def fmt_amount(value: Decimal) -> str:
    return f"{value:.2f}"


def to_summary_json(occ: Occurrence) -> dict:
    """One element of `claims` in the claims-summary-by-provider response."""
    body = {
        "claimNumber": occ.claim_number,
        "claimStatus": occ.status.claim_status,
        "memberInfo": {
            "ptntFn": occ.member.first_name,
            "ptntLn": occ.member.last_name,
            "ptntDob": fmt_date(occ.member.dob),
            "subscriberId": occ.member.subscriber_id,
        },
        "claimSummary": {
            "processedDt": fmt_date(occ.processed),
            "firstSrvcDt": fmt_date(occ.first_service),
            "lastSrvcDt": fmt_date(occ.last_service),
            "totalChargedAmt": fmt_amount(occ.charged),
            "totalAllowdAmt": fmt_amount(occ.allowed),
            "totalPaidAmt": fmt_amount(occ.paid),
            "totalPtntRespAmt": fmt_amount(occ.patient_resp),
            "checkNbr": occ.check_number,
            "clmXWalkData": [
                {
                    "clm507Cd": occ.status.cat_507,
                    "clm507CdDesc": occ.status.desc_507,
                    "clm508Cd": occ.status.code_508,
                    "clm508CdDesc": occ.status.desc_508,
                    "clmIcnSufxCd": occ.suffix,
                }
            ],
        },
    }
    if occ.codes:
        body["claimSummary"]["claimCodes"] = [{"type": t, "code": c, "description": d} for t, c, d in occ.codes]
    return body


def to_inquiry_json(occ: Occurrence, with_codes: bool = True) -> dict:
    """One element of `data.searchClaim.claims` in the claim-inquiry response
    (`claimAdjudicationCodes` when the query asked for them and there are any)."""
    payments = []
    if occ.check_number:
        payments.append(
            {"paymentNumber": occ.check_number, "paymentIssueDate": fmt_date(occ.payment_date)}
        )
    body = {
        "claimNumber": occ.claim_number,
        "claimStatus": occ.status.claim_status,
        "member": {
            "firstName": occ.member.first_name,
            "lastName": occ.member.last_name,
            "dateOfBirth": fmt_date(occ.member.dob),
            "memberId": occ.member.subscriber_id,
        },
        "claimEvents": {
            "receivedDate": fmt_date(occ.received),
            "processedDate": fmt_date(occ.processed),
            "serviceStartDate": fmt_date(occ.first_service),
            "serviceEndDate": fmt_date(occ.last_service),
        },
        "claimLevelTotalAmount": {
            "totalBilledChargeAmount": fmt_amount(occ.charged),
            "totalAllowedAmount": fmt_amount(occ.allowed),
            "totalPaidAmount": fmt_amount(occ.paid),
            "totalPatientResponsibilityAmount": fmt_amount(occ.patient_resp),
        },
        "payments": payments,
        "claimStatusCrosswalkData": [
            {
                "claim507Code": occ.status.cat_507,
                "claim507CodeDesc": occ.status.desc_507,
                "claim508Code": occ.status.code_508,
                "claim508CodeDesc": occ.status.desc_508,
                "adjudicatedClaimSuffixCode": occ.suffix,
            }
        ],
    }
    if with_codes and occ.codes:
        body["claimAdjudicationCodes"] = [{"claimCodeType": t, "code": c, "description": d} for t, c, d in occ.codes]
    return body
