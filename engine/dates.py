"""Date formats: what files and operators type, and the payer's MM/DD/YYYY wire format."""

from __future__ import annotations

import re
from datetime import date

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(text: str) -> date:
    """`YYYY-MM-DD`, `MM/DD/YYYY` or `M/D/YYYY`; ValueError (with the reason) otherwise."""
    value = text.strip()
    if m := _ISO.match(value):
        year, month, day = (int(x) for x in m.groups())
    elif m := _US.match(value):
        month, day, year = (int(x) for x in m.groups())
    else:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None


def to_wire(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def from_wire(text: str | None) -> date | None:
    """A payer date (MM/DD/YYYY); None for empty or unparseable values."""
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError:
        return None
