"""engine.claim_lookup and engine.x12: one claim through the workers' planner against the payer
simulator, input checks, the deadline; X12 507/508 meanings with an "unknown code" fallback."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta

import pytest

from engine import x12
from engine.claim_lookup import LookupCancelled, LookupInputError, check_request, lookup_claim
from engine.payer.client import PayerSettings
from engine.payer.errors import PayerConfigError
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from tests.console.payer_sim import simulator_fixtures

TODAY = date(2025, 10, 1)


dataset, simulator, payer = simulator_fixtures(seed=71, today=TODAY)


def test_every_category_of_the_contract_and_common_codes_have_a_meaning() -> None:
    contract = ["F0", "F1", "F3", "F3F", "F3N", "F4", "F2", "A3", "A6", "A7", "A8", "A0", "A1", "A2", "A5",
                *(f"P{i}" for i in range(6)), *(f"R{i}" for i in range(18)), "A4", "D0",
                "E0", "E1", "E2", "E3", "E4"]
    for code in contract:
        assert x12.category_meaning(code) not in ("", x12.UNKNOWN), code
    assert x12.category_meaning("f1") == "Finalized/Payment — the claim/line has been paid"
    assert x12.category_meaning("A1").startswith("Acknowledgement/Receipt")
    assert x12.category_meaning("D0").startswith("Data Search Unsuccessful")
    assert x12.status_code_meaning("65") == "Claim/line has been paid"
    assert x12.status_code_meaning("065") == "Claim/line has been paid"
    assert x12.status_code_meaning("20") == "Accepted for processing"
    assert x12.status_code_meaning("35") == "Claim/encounter not found"
    assert x12.category_meaning("Z9") == x12.status_code_meaning("99999") == x12.UNKNOWN
    assert x12.category_meaning("") == x12.status_code_meaning(None) == ""


def test_input_is_checked_and_normalised() -> None:
    request = check_request(" FG53171076 ", tin="123-45-6789", start=date(2025, 1, 1), today=TODAY)
    assert (request.claim_number, request.tin, request.payer_id) == ("FG53171076", "123456789", "87726")
    assert (request.start, request.end, request.strategy) == (date(2025, 1, 1), TODAY, "auto")
    only_end = check_request("A1", tin="123456789", end=date(2025, 6, 30), today=TODAY)
    assert only_end.start == date(2025, 4, 1) and only_end.end == date(2025, 6, 30)
    assert check_request("A1", tin="123456789", today=TODAY).strategy == "individual"
    for kwargs, message in (
        ({"claim_number": ""}, "claim number: type"),
        ({"claim_number": "A" * 31}, "at most 30 characters"),
        ({"claim_number": "FG 531"}, "letters and digits only"),
        ({"claim_number": "FG\x1b[2J"}, "letters and digits only"),
        ({"tin": "12345678"}, "TIN: 9 digits"),
        ({"payer_id": "x" * 17}, "payer id"),
        ({"start": date(2025, 9, 2), "end": date(2025, 9, 1)}, "the start date 2025-09-02 is after"),
    ):
        args = {"claim_number": "FG53171076", "tin": "123456789", **kwargs}
        with pytest.raises(LookupInputError, match=message):
            check_request(args.pop("claim_number"), today=TODAY, **args)


def test_found_in_the_range_by_inquiry_and_not_found(dataset: Dataset, payer: PayerSettings) -> None:
    tin = dataset.tins[0]
    numbers = dataset.claim_numbers(tin)
    recent = [n for n in numbers if dataset.latest(n).first_service >= TODAY - timedelta(days=200)]
    older = [n for n in numbers if TODAY - timedelta(days=700) <= dataset.latest(n).first_service < TODAY - timedelta(days=400)]
    for number in recent[:3] + older[:2]:
        served = dataset.latest(number).first_service
        truth = dataset.expected_result(number).comparable()
        ranged = lookup_claim(payer, number, tin=tin, start=served - timedelta(days=10),
                              end=served + timedelta(days=10), today=TODAY)
        assert ranged.result.comparable() == truth and ranged.result.matched_by == "window"
        inquired = lookup_claim(payer, number, tin=tin, today=TODAY)
        assert inquired.result.comparable() == truth and inquired.result.matched_by == "claim_lookup"
        assert inquired.payer_calls == 1
    # outside the range given: the windows miss it, the inquiry finds it
    number = recent[0]
    served = dataset.latest(number).first_service
    elsewhere = lookup_claim(payer, number, tin=tin, start=served - timedelta(days=60),
                             end=served - timedelta(days=40), today=TODAY)
    assert elsewhere.found and elsewhere.result.matched_by == "claim_lookup"
    # served before the payer's 24-month look-back: no window can hold it, the inquiry does
    ancient = numbers[0]
    assert dataset.latest(ancient).first_service < TODAY - timedelta(days=740)
    served = dataset.latest(ancient).first_service
    old = lookup_claim(payer, ancient, tin=tin, start=served, end=served + timedelta(days=5), today=TODAY)
    assert old.result.comparable() == dataset.expected_result(ancient).comparable()
    assert old.result.matched_by == "claim_lookup"
    missing = lookup_claim(payer, "ZZ00000001", tin=tin, start=TODAY - timedelta(days=20), today=TODAY)
    assert missing.result.status == "Not Found" and not missing.found
    assert missing.summary().startswith("Not Found: Claim not found at the payer;")


def test_a_slow_payer_gives_an_error_result_and_bad_credentials_raise(payer: PayerSettings,
                                                                      simulator: PayerSimulator) -> None:
    simulator.configure(fixed_latency_s=2.0)
    cancel = threading.Event()
    try:
        slow = lookup_claim(payer, "FG53171076", tin="123456789", today=TODAY, deadline_s=0.5)
        threading.Timer(0.2, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(LookupCancelled):  # the console closing: the look-up stops at once
            lookup_claim(payer, "FG53171076", tin="123456789", today=TODAY, cancel=cancel)
        assert time.monotonic() - started < 1.0
    finally:
        simulator.configure(fixed_latency_s=None)
    assert slow.result.status == "Error" and "did not answer within 0 s" not in slow.result.error_message
    assert "did not answer within" in slow.result.error_message and slow.seconds < 2
    wrong = PayerSettings(payer.summary_url, payer.inquiry_url, payer.client_id, "wrong", timeout_s=5)
    with pytest.raises(PayerConfigError, match="rejected the client credentials"):
        lookup_claim(wrong, "FG53171076", tin="123456789", today=TODAY)
