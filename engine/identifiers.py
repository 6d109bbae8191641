"""The identifiers a claim is searched under: the billing TIN and the payer id. Both travel in
HTTP headers, so both must be ASCII: a full-width digit passes `str.isdigit()` and then fails
the request. Checked at intake, for the job's parameters and for the configuration alike."""

from __future__ import annotations

import re

from engine.models import JobRow, text_limits

TIN_DIGITS = 9
PAYER_ID_LENGTH = text_limits(JobRow.__table__)["payer_id"]

_TIN = re.compile(f"[0-9]{{{TIN_DIGITS}}}")  # [0-9], not \d: ASCII digits only
_PAYER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

TIN_RULE = f"TIN must be {TIN_DIGITS} digits"
PAYER_ID_RULE = (
    f"payer id must be at most {PAYER_ID_LENGTH} ASCII letters, digits, '.', '_' or '-'"
)


def clean_tin(value: str) -> str:
    """A TIN as given, without surrounding space and dashes (`85-4203105`)."""
    return value.strip().replace("-", "")


def is_valid_tin(tin: str) -> bool:
    """Nine ASCII digits (after `clean_tin`)."""
    return _TIN.fullmatch(tin) is not None


def is_valid_payer_id(payer_id: str) -> bool:
    return len(payer_id) <= PAYER_ID_LENGTH and _PAYER_ID.fullmatch(payer_id) is not None
