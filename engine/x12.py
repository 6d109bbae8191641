"""Meanings of the X12 claim status codes a payer returns with every claim: the claim status
category (code source 507, e.g. F1) and the claim status code (code source 508, e.g. 65).

Short standard meanings, for the operator reading a result: every category of payer-api.md
section 4, and the status codes payers commonly send. A code not listed here is shown as
"unknown code" (the code itself stays on screen next to it).
"""

from __future__ import annotations

UNKNOWN = "unknown code"

# 507: claim status category codes.
CATEGORIES: dict[str, str] = {
    "A0": "Acknowledgement/Forwarded — the claim has been forwarded to another entity",
    "A1": "Acknowledgement/Receipt — the claim has been received (not yet accepted for adjudication)",
    "A2": "Acknowledgement/Acceptance — the claim has been accepted into the adjudication system",
    "A3": "Acknowledgement/Returned as unprocessable — rejected, not entered into adjudication",
    "A4": "Acknowledgement/Not Found — the claim cannot be found in the adjudication system",
    "A5": "Acknowledgement/Split Claim — the claim was split on acceptance into adjudication",
    "A6": "Acknowledgement/Rejected for Missing Information",
    "A7": "Acknowledgement/Rejected for Invalid Information",
    "A8": "Acknowledgement/Rejected for relational field in error",
    "D0": "Data Search Unsuccessful — the payer cannot return status for these search criteria",
    "E0": "Response not possible — error on submitted request data",
    "E1": "Response not possible — system status (try again later)",
    "E2": "Information holder is not responding — resubmit later",
    "E3": "Correction required — relational fields in error",
    "E4": "Trading partner agreement requirement not met — data correction required",
    "F0": "Finalized — adjudication complete, no more action will be taken",
    "F1": "Finalized/Payment — the claim/line has been paid",
    "F2": "Finalized/Denial — the claim/line has been denied",
    "F3": "Finalized/Revised — adjudication information has been changed",
    "F3F": "Finalized/Forwarded — completed, and forwarded to a subsequent payer",
    "F3N": "Finalized/Not Forwarded — completed, and not forwarded to any other payer",
    "F4": "Finalized/Adjudication Complete — no payment forthcoming",
    "P0": "Pending: Adjudication/Details — a pended claim (no remittance issued yet)",
    "P1": "Pending/In Process — the claim is in the adjudication system",
    "P2": "Pending/Payer Review — suspended pending review",
    "P3": "Pending/Provider Requested Information — waiting for information asked of the provider",
    "P4": "Pending/Patient Requested Information — waiting for information asked of the patient",
    "P5": "Pending/Payer Administrative/System hold",
    "R0": "Request for additional information — general request",
    "R1": "Request for additional information — about an entity (subscriber, patient, provider)",
    "R2": "Request for additional information",
    "R3": "Request for additional information — claim/line information",
    "R4": "Request for additional information — supporting documentation",
    "R5": "Request for additional information — more specific detail",
    "R6": "Request for additional information — regulatory requirements",
    "R7": "Request for additional information — confirm care is consistent with policy coverage",
    "R8": "Request for additional information — confirm care is consistent with coverage exceptions",
    "R9": "Request for additional information — determination of medical necessity",
    "R10": "Request for additional information — support a filed grievance or appeal",
    "R11": "Request for additional information — pre-payment review of claims",
    "R12": "Request for additional information — justify use of the procedure code",
    "R13": "Request for additional information — documents received are not readable",
    "R14": "Request for additional information — documents received are not what was requested",
    "R15": "Request for additional information — workers' compensation coverage determination",
    "R16": "Request for additional information — eligibility determination",
    "R17": "Request for additional information — replaces a prior request",
}

# 508: claim status codes (the ones payers commonly send).
STATUS_CODES: dict[str, str] = {
    "0": "Cannot provide further status electronically",
    "1": "For more detailed information, see remittance advice",
    "2": "More detailed information in letter",
    "3": "Claim has been adjudicated and is awaiting payment cycle",
    "4": "This is a subsequent request for information",
    "5": "This is a final request for information",
    "6": "Balance due from the subscriber",
    "7": "Claim may be reconsidered at a future date",
    "8": "No payment due to contract/plan provisions",
    "9": "No payment will be made for this claim",
    "15": "One or more submitted procedure codes have been modified",
    "16": "Claim/encounter has been forwarded to an entity",
    "17": "Claim/encounter has been forwarded by a third party to an entity",
    "18": "Entity received the claim but returned invalid status",
    "19": "Entity acknowledges receipt of the claim/encounter",
    "20": "Accepted for processing",
    "21": "Missing or invalid information",
    "23": "Returned to entity",
    "24": "Entity not approved as an electronic submitter",
    "25": "Entity not approved",
    "26": "Entity not found",
    "27": "Policy canceled",
    "29": "Subscriber and policy number/contract number mismatched",
    "30": "Subscriber and subscriber id mismatched",
    "31": "Subscriber and policyholder name mismatched",
    "32": "Subscriber and policy number/contract number not found",
    "33": "Subscriber and subscriber id not found",
    "34": "Subscriber and policyholder name not found",
    "35": "Claim/encounter not found",
    "37": "Predetermination is on file, awaiting completion of services",
    "38": "Awaiting next periodic adjudication cycle",
    "39": "Charges for pregnancy deferred until delivery",
    "40": "Waiting for final approval",
    "41": "Special handling required at payer site",
    "42": "Awaiting related charges",
    "44": "Charges pending provider audit",
    "45": "Awaiting benefit determination",
    "46": "Internal review/audit",
    "47": "Internal review/audit — partial payment made",
    "49": "Pending provider accreditation review",
    "50": "Claim waiting for internal provider verification",
    "51": "Investigating occupational illness/accident",
    "52": "Investigating existence of other insurance coverage",
    "53": "Claim being researched for insured id/group policy number error",
    "54": "Duplicate of a previously processed claim/line",
    "55": "Claim assigned to an approver/analyst",
    "56": "Awaiting eligibility determination",
    "57": "Pending COBRA information requested",
    "59": "Information was requested by a non-electronic method",
    "60": "Information was requested by an electronic method",
    "61": "Eligibility for extended benefits",
    "64": "Re-pricing information",
    "65": "Claim/line has been paid",
    "66": "Payment reflects usual and customary charges",
    "67": "Payment made in full",
    "68": "Partial payment made for this claim",
    "69": "Payment reflects plan provisions",
    "70": "Payment reflects contract provisions",
    "71": "Periodic installment released",
    "72": "Claim contains split payment",
    "73": "Payment made to entity, assignment of benefits not on file",
    "78": "Duplicate of an existing claim/line, awaiting processing",
    "81": "Contract/plan does not cover pre-existing conditions",
    "83": "No coverage for newborns",
    "84": "Service not authorized",
    "85": "Entity not primary",
    "86": "Diagnosis and patient gender mismatch",
    "88": "Entity not eligible for benefits for submitted dates of service",
    "89": "Entity not eligible for dental benefits for submitted dates of service",
    "90": "Entity not eligible for medical benefits for submitted dates of service",
    "91": "Entity not eligible/not approved for dates of service",
    "92": "Entity does not meet dependent or student qualification",
    "93": "Entity is not the selected primary care provider",
    "94": "Entity not referred by the selected primary care provider",
    "95": "Requested additional information not received",
    "96": "No agreement with entity",
    "97": "Patient eligibility not found with entity",
    "98": "Charges applied to deductible",
    "99": "Pre-treatment review",
    "100": "Pre-certification penalty taken",
    "101": "Claim was processed as adjustment to previous claim",
    "102": "Newborn's charges processed on mother's claim",
    "103": "Claim combined with other claim(s)",
    "104": "Processed according to plan provisions",
    "105": "Claim/line is capitated",
    "106": "This amount is not entity's responsibility",
    "107": "Processed according to contract provisions",
    "109": "Entity not eligible",
    "110": "Claim requires pricing information",
    "114": "Claim/service should be processed by entity",
    "116": "Claim submitted to incorrect payer",
    "117": "Claim requires signature-on-file indicator",
    "145": "Entity's specialty/taxonomy code",
    "252": "Attachment/other documentation",
}


def _key(code: object) -> str:
    return str(code or "").strip().upper()


def category_meaning(code: str | None) -> str:
    """The meaning of a 507 claim status category ("" for no code, UNKNOWN for one not listed)."""
    key = _key(code)
    if not key:
        return ""
    return CATEGORIES.get(key, UNKNOWN)


def status_code_meaning(code: str | None) -> str:
    """The meaning of a 508 claim status code ("" for no code, UNKNOWN for one not listed).
    Leading zeros are ignored ("065" is 65)."""
    key = _key(code)
    if not key:
        return ""
    return STATUS_CODES.get(key.lstrip("0") or "0", UNKNOWN)
