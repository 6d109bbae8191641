"""How a status change reads: "P1 → F1 paid $812.40", "A2 → F2 denied (CARC 50)"."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

_CLASS_WORDS = {"finalized": "finalized", "denied": "denied", "rejected": "rejected", "pending": "pending",
                "not_found": "not found", "error": "payer error"}


def outcome_words(status_class: str, total_paid: Decimal | None, codes: Sequence[str] = ()) -> str:
    """"paid $812.40", "denied (CARC 50)", "finalized, no payment", "pending (RARC N115)"."""
    if status_class == "finalized":
        words = f"paid ${total_paid:,.2f}" if total_paid else "finalized, no payment"
    else:
        words = _CLASS_WORDS.get(status_class, status_class or "unknown")
    if codes:
        words += f" ({', '.join(codes)})"
    return words


def change_summary(old: str, new: str, status_class: str, total_paid: Decimal | None,
                   codes: Sequence[str] = ()) -> str:
    """One line for a change from status `old` to `new` (507 categories, or the status text
    without one)."""
    return f"{old or 'Not Found'} → {new or 'Not Found'} {outcome_words(status_class, total_paid, codes)}"
