"""Claims summary by provider (payer-api.md section 2): header rules, window search, paging."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset, lookback_start, matches_patient
from engine.payersim.models import Occurrence
from engine.payersim.paging import PageStore
from engine.payersim.replies import Reply, lclm
from engine.payersim.wire import fmt_date, parse_wire_date, to_summary_json

_TIN = re.compile(r"^\d{9}$")


def _header(headers: Mapping[str, str], name: str) -> str:
    return (headers.get(name) or "").strip()


def _page(items: Sequence[Occurrence], offset: int, page_size: int, tin: str, cfg: SimConfig,
          pages: PageStore) -> Reply:
    body: dict = {"claims": [to_summary_json(o) for o in items[offset:offset + page_size]]}
    if offset + page_size < len(items):
        body["transactionId"] = pages.put(tin, items, offset + page_size, page_size, cfg.page_token_ttl_s)
    return Reply(200, body)


def summary_reply(headers: Mapping[str, str], ds: Dataset, cfg: SimConfig, pages: PageStore) -> Reply:
    """The answer to an authorised GET /Claims/api/claim/summary/byprovider/v2.0.

    Checks, in order: 102 missing header (or a TIN that is not 9 digits), 106 dates together
    with transactionId, 203 unknown/expired transactionId, 108 date format (or last < first),
    107 firstServiceDt before today minus `lookback_months`, 112 window wider than
    `window_limit_days`, then the search: 201/307 nothing found, 306 above `search_cap`."""
    tin, txn = _header(headers, "tin"), _header(headers, "transactionId")
    first_text, last_text = _header(headers, "firstServiceDt"), _header(headers, "lastServiceDt")
    required = ["tin", "payerId"] + ([] if txn else ["firstServiceDt", "lastServiceDt"])
    missing = [name for name in required if not _header(headers, name)]
    if missing:
        return lclm(400, "LCLM_PS_102", f"Mandatory header missing: {', '.join(missing)}")
    if txn and (first_text or last_text):
        return lclm(400, "LCLM_PS_106", "Send either firstServiceDt/lastServiceDt or transactionId, not both")
    if not _TIN.match(tin):
        return lclm(400, "LCLM_PS_102", "Mandatory header invalid: tin must be 9 digits")

    fn, ln, dob_text = (_header(headers, n) for n in ("ptntFn", "ptntLn", "ptntDob"))
    try:
        dob = parse_wire_date(dob_text) if dob_text else None
    except ValueError:
        return lclm(400, "LCLM_PS_108", "Invalid date format for ptntDob, expected MM/DD/YYYY")

    if txn:
        found = pages.get(txn, tin)
        if found is None:
            return lclm(404, "LCLM_PS_203", "transactionId is invalid or expired", "not_found")
        items, offset, page_size = found
        return _page(items, offset, page_size, tin, cfg, pages)

    dates: list[date] = []
    for name, text in (("firstServiceDt", first_text), ("lastServiceDt", last_text)):
        try:
            dates.append(parse_wire_date(text))
        except ValueError:
            return lclm(400, "LCLM_PS_108", f"Invalid date format for {name}, expected MM/DD/YYYY")
    first, last = dates
    if last < first:
        return lclm(400, "LCLM_PS_108", "lastServiceDt is before firstServiceDt")
    oldest = lookback_start(cfg.today, cfg.lookback_months)
    if first < oldest:
        return lclm(400, "LCLM_PS_107", f"Service dates must be within the last {cfg.lookback_months} "
                                        f"months (on or after {fmt_date(oldest)})")
    if (last - first).days + 1 > cfg.window_limit_days:
        return lclm(400, "LCLM_PS_112", f"Date range exceeds the maximum of {cfg.window_limit_days} days")

    items = ds.in_window(tin, first, last, today=cfg.today)
    patient = bool(fn or ln or dob)
    if patient:
        items = [o for o in items if matches_patient(o.member, fn.upper(), ln.upper(), dob)]
    if not items:
        if patient and ds.patient_occurrences(tin, fn, ln, dob, today=cfg.today):
            return lclm(404, "LCLM_PS_307", "Claim(s) found for this patient, but their service dates "
                                            "are outside the given range", "not_found")
        return lclm(404, "LCLM_PS_201", "No claims found for the given parameters", "not_found")
    if len(items) > cfg.search_cap:
        return lclm(400, "LCLM_PS_306", f"More than {cfg.search_cap} claims match; narrow the date range")
    return _page(items, 0, cfg.page_size, tin, cfg, pages)
