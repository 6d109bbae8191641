"""The payer's wire contract (payer-api.md): paths, the inquiry's GraphQL query, the headers and
bodies of each request, what a response's status and error code mean, and the parsing of
answers into `Found` occurrences. No I/O here: the client sends what this module builds."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

import httpx

from engine.dates import to_wire
from engine.payer.errors import (
    BadAnswer,
    InquiryRefused,
    OutsideLookback,
    PageTokenExpired,
    PatientOutsideWindow,
    PayerConfigError,
    RequestNotSendable,
    TooManyResults,
    WindowTooWide,
)
from engine.payer.normalize import Found, from_inquiry, from_summary
from engine.text import mask_secrets, safe_text

SUMMARY_PATH = "/Claims/api/claim/summary/byprovider/v2.0"
INQUIRY_PATH = "/oihub/claim/inquiry/v1"
TOKEN_PATH = "/v1/oauthtoken"
INQUIRY_QUERY = (
    "query SearchClaim($searchClaimInput: SearchClaimInput!) { searchClaim(searchClaimInput: "
    "$searchClaimInput) { claims { claimNumber claimStatus member { firstName lastName dateOfBirth "
    "memberId } claimEvents { receivedDate processedDate serviceStartDate serviceEndDate } "
    "claimLevelTotalAmount { totalBilledChargeAmount totalAllowedAmount totalPaidAmount "
    "totalPatientResponsibilityAmount } payments { paymentNumber paymentIssueDate } "
    "claimStatusCrosswalkData { claim507Code claim507CodeDesc claim508Code claim508CodeDesc "
    "adjudicatedClaimSuffixCode } claimAdjudicationCodes { claimCodeType code description } } "
    "pagination { hasMoreRecords nextPageToken } } }"
)

# outcome classes recorded for every exchange (the Stats tab shows them)
OK, NOT_FOUND, THROTTLED, PAYER_ERROR, TIMEOUT, CLIENT_ERROR = (
    "ok", "not_found", "throttled", "payer_error", "timeout", "client_error",
)

_DAYS = re.compile(r"(\d{1,4})\s*days?", re.IGNORECASE)
# what reading a 200 of another shape raises (a list where an object was due, a missing key…)
_SHAPE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)


def said(message: object, max_len: int = 200) -> str:
    """A payer's own words, fit to store and show: secrets it echoed masked, made safe."""
    return safe_text(mask_secrets(str(message)), max_len=max_len)


def _json_of(response: httpx.Response) -> Any:
    """The body of a 200, or BadAnswer when it is not JSON (a proxy's web page, a cut body)."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
        raise BadAnswer(f"payer answered 200 with a body that is not JSON ({said(kind, 60)})") from None


def outcome(response: httpx.Response) -> str:
    """The outcome class of an answered exchange."""
    status = response.status_code
    if status == 200:
        return OK
    if status == 404:
        return NOT_FOUND
    if status == 429:
        return THROTTLED
    if status >= 500:
        return PAYER_ERROR
    return CLIENT_ERROR


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429 asks us to wait (None when it does not say)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_code(response: httpx.Response) -> tuple[str, str]:
    """The (code, message) of an error answer of either surface; empty when there is none."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if isinstance(body, dict):
        if "code" in body:
            return str(body.get("code", "")), str(body.get("message", ""))
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("code", "")), str(errors[0].get("description", ""))
    return "", ""


def sendable(headers: dict[str, str]) -> dict[str, str]:
    """`headers`, or RequestNotSendable naming the first whose value HTTP cannot carry."""
    for name, value in headers.items():
        if not value.isascii() or "\r" in value or "\n" in value:
            raise RequestNotSendable(f"the {name} header cannot be sent: its value is not plain ASCII")
    return headers


# ---- token endpoint ----

def token_form(client_id: str, client_secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}


def token_result(response: httpx.Response) -> tuple[str, float]:
    """The access token and its lifetime in seconds from a 200 answer."""
    try:
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise PayerConfigError("payer token endpoint answered without an access_token") from None


# ---- claim summary by provider (the window search) ----

def summary_headers(tin: str, payer_id: str, start: date, end: date, transaction_id: str | None) -> dict[str, str]:
    """A window's first page asks by service dates; a later page by the previous page's token."""
    headers = {"tin": tin, "payerId": payer_id}
    if transaction_id:
        headers["transactionId"] = transaction_id
    else:
        headers.update(firstServiceDt=to_wire(start), lastServiceDt=to_wire(end))
    return sendable(headers)


def summary_result(response: httpx.Response, start: date, end: date) -> tuple[list[Found], str | None]:
    """One page of claims and the next page's token, or the contract error the answer names."""
    if response.status_code == 200:
        body = _json_of(response)
        try:
            claims = [from_summary(c) for c in body.get("claims") or [] if isinstance(c, dict)]
            return claims, body.get("transactionId") or None
        except _SHAPE_ERRORS:
            raise BadAnswer("payer answered the search with JSON of an unknown shape") from None
    code, message = error_code(response)
    if code == "LCLM_PS_201":
        return [], None
    if code == "LCLM_PS_203":
        raise PageTokenExpired(message)
    if code == "LCLM_PS_307":
        raise PatientOutsideWindow(message)
    if code == "LCLM_PS_112":
        hint = _DAYS.search(message)
        raise WindowTooWide((end - start).days + 1, int(hint.group(1)) if hint else None)
    if code == "LCLM_PS_306":
        raise TooManyResults(message)
    if code == "LCLM_PS_107":
        raise OutsideLookback(message)
    raise PayerConfigError(
        f"payer rejected the search ({response.status_code} {said(code, 40) or 'no code'}: {said(message)})"
    )


# ---- claim inquiry (by claim number) ----

def inquiry_request(tin: str, payer_id: str, claim_number: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The headers and GraphQL body of one claim-number inquiry."""
    body = {
        "operationName": "SearchClaim",
        "query": INQUIRY_QUERY,
        "variables": {"searchClaimInput": {"payerId": payer_id, "claimNumber": claim_number}},
    }
    headers = {"providerTaxId": tin, "x-optum-consumer-correlation-id": str(uuid.uuid4())}
    return sendable(headers), body


def inquiry_result(response: httpx.Response) -> list[Found]:
    """Every occurrence the inquiry answered, or the error it stands for."""
    if response.status_code != 200:
        code, message = error_code(response)
        raise PayerConfigError(
            f"payer rejected the claim inquiry ({response.status_code} {said(code, 40) or 'no code'}: "
            f"{said(message)})"
        )
    payload = _json_of(response)
    if not isinstance(payload, dict):
        raise BadAnswer("payer answered the claim inquiry with JSON of an unknown shape")
    data = payload.get("data")
    if not data:
        _, message = error_code(response)
        raise InquiryRefused(said(message or "the payer answered with errors and no data", 300))
    try:
        found = (data.get("searchClaim") or {}).get("claims") or []
        return [from_inquiry(c) for c in found if isinstance(c, dict)]
    except _SHAPE_ERRORS:
        raise BadAnswer("payer answered the claim inquiry with JSON of an unknown shape") from None
