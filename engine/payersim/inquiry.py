"""Claim inquiry by claim number (payer-api.md section 3): GraphQL body checks and the answer."""

from __future__ import annotations

import json
from collections.abc import Mapping

from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.replies import Reply, gql_error
from engine.payersim.wire import to_inquiry_json

UNSUPPORTED_CODE = "PRODUCT_NOT_SUPPORTED"
UNSUPPORTED_TEXT = "Claim inquiry is not supported for this product"


def _invalid(text: str) -> Reply:
    return gql_error(400, "GRAPHQL_VALIDATION_FAILED", text)


def inquiry_reply(headers: Mapping[str, str], body: bytes, ds: Dataset, cfg: SimConfig) -> Reply:
    """The answer to an authorised POST /oihub/claim/inquiry/v1.

    Every occurrence of the claim number, of any age and under any TIN; an empty list when
    unknown; a 200 with top-level `errors` for `cfg.unsupported_claim_numbers`."""
    if not (headers.get("providerTaxId") or "").strip():
        return _invalid("Header providerTaxId is required")
    try:
        doc = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _invalid("Request body is not valid JSON")
    if not isinstance(doc, dict):
        return _invalid("Request body must be a JSON object")
    query = doc.get("query")
    if not isinstance(query, str) or "searchClaim" not in query:
        return _invalid("A query selecting searchClaim is required")
    variables = doc.get("variables")
    search = variables.get("searchClaimInput") if isinstance(variables, dict) else None
    if not isinstance(search, dict):
        return _invalid("Variable 'searchClaimInput' of type 'SearchClaimInput!' is required")
    for name in ("payerId", "claimNumber"):
        value = search.get(name)
        if not isinstance(value, str) or not value.strip():
            return _invalid(f"Variable 'searchClaimInput' has an invalid value: {name} is required")
    number = search["claimNumber"].strip()
    if number in cfg.unsupported_claim_numbers:
        return Reply(200, {"errors": [{"code": UNSUPPORTED_CODE, "description": UNSUPPORTED_TEXT}]},
                     "unsupported", UNSUPPORTED_CODE)
    with_codes = "claimAdjudicationCodes" in query
    claims = [to_inquiry_json(o, with_codes) for o in ds.occurrences(number, today=cfg.today)]
    body_out = {"data": {"searchClaim": {
        "claims": claims,
        "pagination": {"hasMoreRecords": False, "nextPageToken": None},
    }}}
    return Reply(200, body_out, "ok" if claims else "not_found")
