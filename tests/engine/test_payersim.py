"""The sandbox payer simulator against docs/payer-api.md, over real loopback HTTP."""

from __future__ import annotations

import csv
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from engine.payersim import (
    Dataset,
    PayerSimulator,
    SimConfig,
    catalog,
    latency_cdf,
    load_expected_json,
    lookback_start,
    sample_latency,
    write_expected_json,
    write_input_csv,
)
from engine.payersim.dataset import NOT_FOUND_MESSAGE, to_inquiry_json, to_summary_json
from engine.payersim.server import INQUIRY_PATH, SUMMARY_PATH, TOKEN_PATH
from engine.results import ClaimResult, status_class_for

TODAY = date(2025, 6, 15)
SEED = 7
CLIENT_ID, SECRET = "test-client", "test-secret"
QUERY = "query SearchClaim($searchClaimInput: SearchClaimInput!) { searchClaim(searchClaimInput: $searchClaimInput) { claims { claimNumber claimAdjudicationCodes { claimCodeType code } } } }"
NO_CODES_QUERY = QUERY.replace(" claimAdjudicationCodes { claimCodeType code }", "")


def d(value: date) -> str:
    return value.strftime("%m/%d/%Y")


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return Dataset.generate(SEED, TODAY)


@pytest.fixture
def sim(ds):
    cfg = SimConfig(seed=SEED, today=TODAY, client_id=CLIENT_ID, client_secret=SECRET)
    with PayerSimulator(cfg, dataset=ds) as server:
        yield server


@pytest.fixture
def client(sim):
    with httpx.Client(base_url=sim.url, timeout=5) as c:
        yield c


def get_token(client: httpx.Client) -> str:
    r = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                      "client_secret": SECRET})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture
def token(client) -> str:
    return get_token(client)


def summary(client, token, tin, first=None, last=None, **extra):
    headers = {"Authorization": f"Bearer {token}", "tin": tin, "payerId": "87726"}
    if first:
        headers["firstServiceDt"] = d(first)
    if last:
        headers["lastServiceDt"] = d(last)
    headers.update({k: v for k, v in extra.items() if v is not None})
    return client.get(SUMMARY_PATH, headers=headers)


def inquiry(client, token, number=None, body=None, tin="123456789"):
    headers = {"Authorization": f"Bearer {token}", "providerTaxId": tin}
    if body is None:
        body = {"operationName": "SearchClaim", "query": QUERY,
                "variables": {"searchClaimInput": {"payerId": "87726", "claimNumber": number}}}
    return client.post(INQUIRY_PATH, json=body, headers=headers)


def all_pages(client, token, tin, first, last) -> tuple[list[dict], list[int]]:
    r = summary(client, token, tin, first, last)
    assert r.status_code == 200, r.text
    claims, sizes = [], []
    while True:
        body = r.json()
        claims += body["claims"]
        sizes.append(len(body["claims"]))
        if "transactionId" not in body:
            return claims, sizes
        r = summary(client, token, tin, transactionId=body["transactionId"])
        assert r.status_code == 200, r.text


def normalise_inquiry(claim: dict) -> ClaimResult:
    """What an adapter would make of one inquiry claim (for checking the wire data)."""
    xwalk = claim["claimStatusCrosswalkData"][0]
    events, amounts = claim["claimEvents"], claim["claimLevelTotalAmount"]

    def day(text: str) -> date:
        m, dd, y = text.split("/")
        return date(int(y), int(m), int(dd))

    return ClaimResult(
        status=claim["claimStatus"],
        status_class=status_class_for(xwalk["claim507Code"], claim["claimStatus"]),
        success=True,
        patient_first_name=claim["member"]["firstName"],
        patient_last_name=claim["member"]["lastName"],
        total_charged=Decimal(amounts["totalBilledChargeAmount"]),
        total_paid=Decimal(amounts["totalPaidAmount"]),
        allowed_amount=Decimal(amounts["totalAllowedAmount"]),
        patient_responsibility=Decimal(amounts["totalPatientResponsibilityAmount"]),
        processed_date=day(events["processedDate"]),
        status_category=xwalk["claim507Code"],
        status_code=xwalk["claim508Code"],
        check_number=claim["payments"][0]["paymentNumber"] if claim["payments"] else "",
        first_service_date=day(events["serviceStartDate"]),
        last_service_date=day(events["serviceEndDate"]),
        adjudication_codes=tuple(f"{'RARC' if c['claimCodeType'] == 'REMARK' else c['claimCodeType']} {c['code']}"
                                 for c in claim.get("claimAdjudicationCodes", [])),
    )


# --- data set -------------------------------------------------------------------------------


def test_dataset_is_deterministic(ds):
    again = Dataset.generate(SEED, TODAY)
    other = Dataset.generate(SEED + 1, TODAY, tin_count=1, dense_tin_count=0)
    assert again.tins == ds.tins
    assert [o for t in ds.tins for o in ds.tin_occurrences(t)] == [
        o for t in again.tins for o in again.tin_occurrences(t)
    ]
    assert set(other.claim_numbers()) != set(ds.claim_numbers())


def test_dataset_shape(ds):
    assert len(ds.normal_tins) == 4 and len(ds.dense_tins) == 1
    assert all(re.fullmatch(r"\d{9}", t) for t in ds.tins)
    numbers = ds.claim_numbers()
    assert len(numbers) == len(set(numbers))
    assert all(re.fullmatch(r"[A-Z]{2}\d{8}", n) for n in numbers)
    oldest = lookback_start(TODAY)
    assert oldest == date(2023, 6, 15)
    firsts = [o.first_service for t in ds.tins for o in ds.tin_occurrences(t)]
    assert min(firsts) < oldest - timedelta(days=60)  # some beyond the look-back
    assert max(firsts) < TODAY
    subscribers = {o.member.subscriber_id for t in ds.tins for o in ds.tin_occurrences(t)}
    assert any(s.startswith("0") for s in subscribers) and all(len(s) == 10 for s in subscribers)
    # density: 31-day windows of normal TINs hold 50-150 claims, of the dense TIN > 500
    for months_back in range(1, 20, 3):
        start = TODAY - timedelta(days=31 * months_back)
        end = start + timedelta(days=30)
        for tin in ds.normal_tins:
            assert 50 <= len(ds.in_window(tin, start, end)) <= 150
        for tin in ds.dense_tins:
            assert len(ds.in_window(tin, start, end)) > 500


def test_every_status_class_and_consistent_codes(ds):
    seen = Counter()
    for tin in ds.tins:
        for occ in ds.tin_occurrences(tin):
            cls = status_class_for(occ.status.cat_507, occ.status.claim_status)
            seen[cls] += 1
            text_cls = status_class_for(None, occ.status.claim_status)
            if cls in ("finalized", "denied", "rejected", "pending"):
                assert cls == text_cls, occ.status
            if occ.status.cat_507 == "F1":
                assert occ.paid > 0 and occ.check_number and occ.status.code_508 == "65"
            if occ.status.cat_507 in ("F2", "F4") or cls in ("pending", "rejected"):
                assert occ.paid == 0 and not occ.check_number
            assert occ.charged >= occ.allowed >= occ.paid >= 0
            assert occ.first_service <= occ.last_service < TODAY
            assert occ.first_service <= occ.received <= occ.processed <= TODAY
    assert set(seen) == {"finalized", "denied", "rejected", "pending", "not_found", "error"}
    assert seen["finalized"] > seen["denied"] > seen["error"] > 0


def test_status_mix_override():
    only_paid = Dataset.generate(1, TODAY, tin_count=1, dense_tin_count=0, claims_per_month=20,
                                 adjusted_share=0, status_mix=((1, catalog.F1_PAID),))
    statuses = {o.status for o in only_paid.tin_occurrences(only_paid.tins[0])
                if o.first_service <= TODAY - timedelta(days=14)}
    assert statuses == {catalog.F1_PAID}


def test_adjusted_claims_and_expected_result(ds):
    counts = Counter(len(ds.occurrences(n)) for n in ds.claim_numbers())
    assert counts[2] > 100 and counts[3] > 50 and set(counts) == {1, 2, 3}
    number = next(n for n in ds.claim_numbers() if len(ds.occurrences(n)) == 3)
    occs = ds.occurrences(number)
    assert [o.suffix for o in occs] == ["01", "02", "03"]
    assert len({(o.first_service, o.last_service, o.tin) for o in occs}) == 1
    assert occs[0].processed < occs[1].processed < occs[2].processed
    result = ds.expected_result(number)
    latest = occs[-1]
    assert result.status == latest.status.claim_status
    assert result.status_category == latest.status.cat_507 and result.status_code == latest.status.code_508
    assert result.processed_date == latest.processed and result.success and result.matched_by == ""
    assert result.total_charged == latest.charged and result.total_charged.as_tuple().exponent == -2
    assert result.patient_first_name == latest.member.first_name
    assert ds.expected_result("ZZ00000000") == ClaimResult.not_found(NOT_FOUND_MESSAGE)
    assert NOT_FOUND_MESSAGE == "Claim not found at the payer"


def test_wire_shapes(ds):
    occ = next(o for o in ds.tin_occurrences(ds.tins[0])
               if o.check_number and len(ds.occurrences(o.claim_number)) == 1)
    s = to_summary_json(occ)
    cs = s["claimSummary"]
    assert s["claimNumber"] == occ.claim_number and s["memberInfo"]["subscriberId"] == occ.member.subscriber_id
    assert cs["totalAllowdAmt"] == f"{occ.allowed:.2f}" and "totalAllowedAmt" not in cs
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", cs["processedDt"]) and cs["checkNbr"] == occ.check_number
    assert all(isinstance(cs[k], str) for k in ("totalChargedAmt", "totalPaidAmt", "totalPtntRespAmt"))
    assert cs["clmXWalkData"][0]["clmIcnSufxCd"] == occ.suffix
    q = to_inquiry_json(occ)
    assert q["payments"][0]["paymentNumber"] == occ.check_number
    assert q["member"]["dateOfBirth"] == d(occ.member.dob)
    assert normalise_inquiry(q) == ds.expected_result(occ.claim_number)


# --- token ----------------------------------------------------------------------------------


def test_token_flow(sim, client):
    bad = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                        "client_secret": "wrong"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert client.post(TOKEN_PATH, data={"grant_type": "password"}).status_code == 400
    r = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                      "client_secret": SECRET})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) >= 32
    basic = client.post(TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, SECRET))
    assert basic.status_code == 200
    tin = sim.dataset.tins[0]
    r = summary(client, body["access_token"], tin, TODAY - timedelta(days=30), TODAY)
    assert r.status_code == 200
    r = summary(client, "not-a-token", tin, TODAY - timedelta(days=30), TODAY)
    assert r.status_code == 401 and r.json()["code"] == "401"
    r = inquiry(client, "not-a-token", "AB12345678")
    assert r.status_code == 401 and r.json()["errors"][0]["code"] == "AUTH_FAILURE"
    r = client.get(SUMMARY_PATH, headers={"tin": tin})
    assert r.status_code == 401
    snap = sim.snapshot()
    assert snap.outcome("auth_401", "token") == 1 and snap.outcome("auth_401") == 4
    assert snap.codes["invalid_client"] == 1


def test_token_expiry_and_revocation(sim, client):
    sim.configure(token_lifetime_s=0.3)
    r = client.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                      "client_secret": SECRET})
    assert r.json()["expires_in"] == 1
    token = r.json()["access_token"]
    tin = sim.dataset.tins[0]
    assert summary(client, token, tin, TODAY - timedelta(days=5), TODAY).status_code == 200
    time.sleep(0.35)
    assert summary(client, token, tin, TODAY - timedelta(days=5), TODAY).status_code == 401
    assert inquiry(client, token, "AB12345678").status_code == 401
    sim.configure(token_lifetime_s=3600)
    token = get_token(client)
    sim.revoke_tokens()
    assert summary(client, token, tin, TODAY - timedelta(days=5), TODAY).status_code == 401


# --- summary rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"tin": None}, 400, "LCLM_PS_102"),
        ({"payerId": None}, 400, "LCLM_PS_102"),
        ({"firstServiceDt": None}, 400, "LCLM_PS_102"),
        ({"lastServiceDt": None}, 400, "LCLM_PS_102"),
        ({"tin": "12345"}, 400, "LCLM_PS_102"),
        ({"transactionId": "TXN-1"}, 400, "LCLM_PS_106"),
        ({"firstServiceDt": "2025-05-01"}, 400, "LCLM_PS_108"),
        ({"lastServiceDt": "5/31/2025"}, 400, "LCLM_PS_108"),
        ({"lastServiceDt": "02/30/2025"}, 400, "LCLM_PS_108"),
        ({"lastServiceDt": "04/30/2025"}, 400, "LCLM_PS_108"),  # before firstServiceDt
        ({"ptntDob": "2002-07-26"}, 400, "LCLM_PS_108"),
        ({"tin": "000000001"}, 404, "LCLM_PS_201"),
    ],
)
def test_summary_header_errors(sim, client, token, headers, status, code):
    full = {"Authorization": f"Bearer {token}", "tin": sim.dataset.tins[0], "payerId": "87726",
            "firstServiceDt": "05/01/2025", "lastServiceDt": "05/31/2025"}
    full.update(headers)
    r = client.get(SUMMARY_PATH, headers={k: v for k, v in full.items() if v is not None})
    assert r.status_code == status
    body = r.json()
    assert body["code"] == code and body["message"].startswith(f"[{code}] ")
    assert sim.snapshot().codes == {code: 1}


def test_lookback(sim, client, token):
    tin = sim.dataset.tins[0]
    oldest = lookback_start(TODAY)
    r = summary(client, token, tin, oldest - timedelta(days=1), oldest + timedelta(days=20))
    assert r.status_code == 400 and r.json()["code"] == "LCLM_PS_107"
    assert d(oldest) in r.json()["message"]
    r = summary(client, token, tin, oldest, oldest + timedelta(days=30))
    assert r.status_code == 200 and r.json()["claims"]
    r = summary(client, token, tin, date(2023, 1, 1), date(2023, 1, 31))
    assert r.json()["code"] == "LCLM_PS_107"
    sim.configure(lookback_months=12)
    r = summary(client, token, tin, oldest, oldest + timedelta(days=30))
    assert r.json()["code"] == "LCLM_PS_107"


def test_window_limit(sim, client, token):
    tin = sim.dataset.tins[0]
    start = date(2025, 1, 1)
    assert summary(client, token, tin, start, start + timedelta(days=30)).status_code == 200
    r = summary(client, token, tin, start, start + timedelta(days=31))
    assert r.status_code == 400 and r.json()["code"] == "LCLM_PS_112"
    assert "maximum of 31 days" in r.json()["message"]
    sim.configure(window_limit_days=60)
    assert summary(client, token, tin, start, start + timedelta(days=59)).status_code == 200
    r = summary(client, token, tin, start, start + timedelta(days=60))
    assert r.json()["code"] == "LCLM_PS_112" and "maximum of 60 days" in r.json()["message"]


def test_paging(sim, client, token):
    ds = sim.dataset
    tin = ds.tins[1]
    first, last = date(2025, 3, 1), date(2025, 3, 31)
    expected = ds.in_window(tin, first, last)
    assert 100 < len(expected) <= 150
    claims, sizes = all_pages(client, token, tin, first, last)
    assert sizes[:-1] == [50] * (len(sizes) - 1) and 0 < sizes[-1] <= 50
    got = [(c["claimNumber"], c["claimSummary"]["clmXWalkData"][0]["clmIcnSufxCd"]) for c in claims]
    assert got == [(o.claim_number, o.suffix) for o in expected]
    assert all(first <= date(int(c["claimSummary"]["firstSrvcDt"][6:]), int(c["claimSummary"]["firstSrvcDt"][:2]),
                             int(c["claimSummary"]["firstSrvcDt"][3:5])) <= last for c in claims)
    # a transactionId can be fetched again (same page) until it expires
    txn = summary(client, token, tin, first, last).json()["transactionId"]
    page_a = summary(client, token, tin, transactionId=txn).json()
    page_b = summary(client, token, tin, transactionId=txn).json()
    assert page_a["claims"] == page_b["claims"] and len(page_a["claims"]) == 50
    r = summary(client, token, ds.tins[0], transactionId=txn)  # another TIN
    assert r.status_code == 404 and r.json()["code"] == "LCLM_PS_203"
    r = summary(client, token, tin, transactionId="TXN-made-up")
    assert r.status_code == 404 and r.json()["code"] == "LCLM_PS_203"
    sim.expire_pages()
    assert summary(client, token, tin, transactionId=txn).json()["code"] == "LCLM_PS_203"
    sim.configure(page_token_ttl_s=0.2)
    txn = summary(client, token, tin, first, last).json()["transactionId"]
    assert summary(client, token, tin, transactionId=txn).status_code == 200
    time.sleep(0.25)
    assert summary(client, token, tin, transactionId=txn).json()["code"] == "LCLM_PS_203"


def test_search_cap(sim, client, token):
    ds = sim.dataset
    dense = next(iter(ds.dense_tins))
    first, last = date(2025, 2, 1), date(2025, 3, 3)
    r = summary(client, token, dense, first, last)
    assert r.status_code == 400 and r.json()["code"] == "LCLM_PS_306"
    half = ds.in_window(dense, first, date(2025, 2, 14))
    assert 50 < len(half) <= 500
    claims, _ = all_pages(client, token, dense, first, date(2025, 2, 14))
    assert len(claims) == len(half)
    sim.configure(search_cap=60)
    r = summary(client, token, ds.tins[0], first, first + timedelta(days=30))
    assert r.json()["code"] == "LCLM_PS_306"


def test_patient_filter_and_307(sim, client, token):
    ds = sim.dataset
    tin = ds.tins[0]
    occ = next(o for o in ds.tin_occurrences(tin) if o.first_service > date(2024, 6, 1))
    m = occ.member
    patient = {"ptntFn": m.first_name.lower(), "ptntLn": m.last_name, "ptntDob": d(m.dob)}
    mine = {o.first_service for o in ds.patient_occurrences(tin, m.first_name, m.last_name, m.dob)}
    r = summary(client, token, tin, occ.first_service, occ.first_service, **patient)
    assert r.status_code == 200
    claims = r.json()["claims"]
    assert occ.claim_number in {c["claimNumber"] for c in claims}
    assert {c["memberInfo"]["subscriberId"] for c in claims} == {m.subscriber_id}
    start = lookback_start(TODAY)
    while any(start <= f <= start + timedelta(days=6) for f in mine):
        start += timedelta(days=7)
    r = summary(client, token, tin, start, start + timedelta(days=6), **patient)
    assert r.status_code == 404 and r.json()["code"] == "LCLM_PS_307"
    assert summary(client, token, tin, start, start + timedelta(days=6)).status_code == 200
    r = summary(client, token, tin, start, start + timedelta(days=6), ptntFn="NOBODY", ptntLn="NOWHERE")
    assert r.status_code == 404 and r.json()["code"] == "LCLM_PS_201"


# --- inquiry --------------------------------------------------------------------------------


def test_inquiry_found_adjusted_old_and_unknown(sim, client, token):
    ds = sim.dataset
    number = next(n for n in ds.claim_numbers() if len(ds.occurrences(n)) == 3
                  and ds.occurrences(n)[0].first_service > date(2024, 1, 1))
    r = inquiry(client, token, number)
    assert r.status_code == 200
    body = r.json()["data"]["searchClaim"]
    assert body["pagination"] == {"hasMoreRecords": False, "nextPageToken": None}
    suffixes = [c["claimStatusCrosswalkData"][0]["adjudicatedClaimSuffixCode"] for c in body["claims"]]
    assert sorted(suffixes) == ["01", "02", "03"]
    assert len({c["claimEvents"]["processedDate"] for c in body["claims"]}) == 3
    latest = max((normalise_inquiry(c) for c in body["claims"]), key=lambda x: x.processed_date)
    assert latest == ds.expected_result(number)
    # the summary surface shows every occurrence in the claim's window too
    occ = ds.occurrences(number)[0]
    r = summary(client, token, occ.tin, occ.first_service, occ.first_service)
    assert [c["claimNumber"] for c in r.json()["claims"]].count(number) == 3
    # any age: a claim older than the look-back
    old = next(n for n in ds.claim_numbers() if ds.occurrences(n)[0].first_service < date(2023, 5, 1))
    claims = inquiry(client, token, old).json()["data"]["searchClaim"]["claims"]
    assert claims and claims[0]["claimNumber"] == old
    r = inquiry(client, token, "ZZ00000000")
    assert r.status_code == 200 and r.json()["data"]["searchClaim"]["claims"] == []
    snap = sim.snapshot()
    assert snap.outcome("ok", "inquiry") == 2 and snap.outcome("not_found", "inquiry") == 1


def _ask(client, token, number, query):
    body = {"query": query, "variables": {"searchClaimInput": {"payerId": "87726", "claimNumber": number}}}
    return inquiry(client, token, body=body).json()["data"]["searchClaim"]["claims"]


def test_inquiry_matches_expected_results(sim, client, token):
    from engine.payer.wire import INQUIRY_QUERY

    ds = sim.dataset
    numbers = random.Random(3).sample(ds.claim_numbers(), 40)
    coded = [n for n in ds.claim_numbers() if ds.expected_result(n).adjudication_codes][:5]
    for number in numbers + coded:
        claims = _ask(client, token, number, INQUIRY_QUERY)
        latest = max((normalise_inquiry(c) for c in claims), key=lambda x: x.processed_date)
        assert latest == ds.expected_result(number)
    # the codes come only to a query that selects them (payer-api.md section 3)
    assert coded and all("claimAdjudicationCodes" not in c for n in coded for c in _ask(client, token, n, NO_CODES_QUERY))


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        [],
        {"variables": {"searchClaimInput": {"payerId": "87726", "claimNumber": "AB12345678"}}},
        {"query": QUERY, "variables": {}},
        {"query": QUERY, "variables": {"searchClaimInput": {"payerId": "87726"}}},
        {"query": QUERY, "variables": {"searchClaimInput": {"payerId": "", "claimNumber": "AB12345678"}}},
        {"query": QUERY, "variables": {"searchClaimInput": {"payerId": "87726", "claimNumber": 12}}},
    ],
)
def test_inquiry_validation(sim, client, token, body):
    headers = {"Authorization": f"Bearer {token}", "providerTaxId": "123456789"}
    if isinstance(body, str):
        r = client.post(INQUIRY_PATH, content=body, headers=headers)
    else:
        r = client.post(INQUIRY_PATH, json=body, headers=headers)
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_inquiry_requires_provider_tax_id_and_unsupported(sim, client, token):
    number = sim.dataset.claim_numbers()[0]
    r = inquiry(client, token, number, tin="")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "GRAPHQL_VALIDATION_FAILED"
    sim.configure(unsupported_claim_numbers=frozenset({number}))
    r = inquiry(client, token, number)
    assert r.status_code == 200 and "data" not in r.json()
    assert r.json()["errors"][0]["description"]
    assert sim.snapshot().outcome("unsupported", "inquiry") == 1


def test_unknown_route_and_method(sim, client, token):
    assert client.get("/nope").status_code == 404
    host, port = sim.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=2) as raw:
        raw.sendall(f"POST {INQUIRY_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".encode())
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    assert client.get(INQUIRY_PATH).status_code == 405
    assert client.post(SUMMARY_PATH).status_code == 405


# --- faults ---------------------------------------------------------------------------------


def test_throttle_burst(sim, client, token):
    tin = sim.dataset.tins[0]
    window = (TODAY - timedelta(days=10), TODAY)
    sim.throttle_for(0.3, retry_after=2)
    r = summary(client, token, tin, *window)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2" and r.json()["code"] == "429"
    assert inquiry(client, token, "AB12345678").status_code == 429
    assert client.post(TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                         "client_secret": SECRET}).status_code == 200
    time.sleep(0.35)
    assert summary(client, token, tin, *window).status_code == 200
    sim.throttle_for(0.3, None)
    r = summary(client, token, tin, *window)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    sim.stop_throttle()
    assert summary(client, token, tin, *window).status_code == 200
    assert sim.snapshot().outcome("throttled") == 3


def test_max_in_flight(sim, token):
    sim.configure(fixed_latency_s=0.8, max_in_flight=2)

    def call(_: int) -> int:
        with httpx.Client(base_url=sim.url, timeout=5) as c:
            return inquiry(c, token, "AB12345678").status_code

    with ThreadPoolExecutor(5) as pool:
        statuses = Counter(pool.map(call, range(5)))
    assert statuses == {200: 2, 429: 3}
    snap = sim.snapshot()
    # rejected calls end at once, so the peak lies between the admitted two and all five
    assert 3 <= snap.peak_in_flight <= 5 and snap.in_flight == 0 and snap.max_rate_1s == 5


def test_5xx_injection_rate(sim, client, token):
    sim.configure(error_rate_5xx=0.3)
    statuses = Counter(inquiry(client, token, "AB12345678").status_code for _ in range(300))
    errors = sum(n for s, n in statuses.items() if s >= 500)
    assert set(statuses) <= {200, 500, 502, 503, 504} and 60 <= errors <= 120
    assert len([s for s in statuses if s >= 500]) >= 3
    r = next(r for r in (summary(client, token, sim.dataset.tins[0], TODAY - timedelta(days=3), TODAY)
                         for _ in range(50)) if r.status_code >= 500)
    assert r.json()["code"] == f"LCLM_PS_{r.status_code}"
    r = next(r for r in (inquiry(client, token, "AB12345678") for _ in range(50)) if r.status_code >= 500)
    assert r.json()["errors"][0]["code"] in {"INTERNAL_SERVER_ERROR", "BAD_GATEWAY", "SERVICE_UNAVAILABLE",
                                             "GATEWAY_TIMEOUT"}
    assert sim.snapshot().outcome("error_5xx", "inquiry") >= errors + 1


def test_stall_does_not_block_and_stop_is_prompt(ds):
    cfg = SimConfig(seed=SEED, today=TODAY, client_id=CLIENT_ID, client_secret=SECRET, fixed_latency_s=30)
    sim = PayerSimulator(cfg, dataset=ds).start()
    client = httpx.Client(base_url=sim.url, timeout=5)
    token = get_token(client)
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        inquiry(httpx.Client(base_url=sim.url, timeout=0.3), token, "AB12345678")
    assert time.monotonic() - t0 < 1
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            inquiry(httpx.Client(base_url=sim.url, timeout=10), token, "AB12345678")
        except httpx.HTTPError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hang) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 3
    while sim.snapshot().in_flight < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.monotonic()
    get_token(client)  # other requests are not blocked by the sleepers
    assert time.monotonic() - t0 < 0.5
    assert sim.snapshot().in_flight == 4
    t0 = time.monotonic()
    sim.stop()
    assert time.monotonic() - t0 < 1.5
    for t in threads:
        t.join(timeout=2)
    assert len(errors) == 3 and not any(t.is_alive() for t in threads)


def test_timeout_rate_stalls(sim, client, token):
    sim.configure(timeout_rate=1.0, timeout_hang_s=0.3)
    t0 = time.monotonic()
    r = inquiry(client, token, sim.dataset.claim_numbers()[0])
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        inquiry(httpx.Client(base_url=sim.url, timeout=0.1), token, "AB12345678")
    assert sim.snapshot().outcome("stalled", "inquiry") == 2


def test_latency_distribution_quantiles():
    rng = random.Random(11)
    samples = sorted(sample_latency(rng, 1.0) for _ in range(100_000))
    q = {p: samples[int(p * len(samples))] for p in (0.5, 0.95, 0.99)}
    assert 1.4 <= q[0.5] <= 1.6
    assert 4.6 <= q[0.95] <= 5.4
    assert 12.5 <= q[0.99] <= 15.5
    assert latency_cdf(1.5) == pytest.approx(0.5, abs=0.01)
    assert latency_cdf(5.0) == pytest.approx(0.95, abs=0.005)
    assert latency_cdf(14.0) == pytest.approx(0.99, abs=0.002)
    scaled = sorted(sample_latency(rng, 0.01) for _ in range(20_000))
    assert 0.014 <= scaled[10_000] <= 0.016
    assert sample_latency(rng, 0) == 0.0


def test_fixed_latency_and_rate_observation(sim, client, token):
    sim.configure(fixed_latency_s=0.15)
    t0 = time.monotonic()
    assert inquiry(client, token, "AB12345678").status_code == 200
    assert time.monotonic() - t0 >= 0.15
    sim.configure(fixed_latency_s=None)
    sim.reset_stats()
    for _ in range(25):
        inquiry(client, token, "AB12345678")
    snap = sim.snapshot()
    assert snap.max_rate_1s == 25 and len(snap.data_starts) == 25 and snap.requests == {"inquiry": 25}
    assert snap.peak_in_flight == 1 and snap.data_requests == 25
    sim.reset_stats()
    snap = sim.snapshot()
    assert snap.max_rate_1s == 0 and snap.requests == {} and snap.data_starts == ()


def test_runtime_config_from_threads_is_consistent(sim, client, token):
    def flip(i: int) -> None:
        sim.configure(window_limit_days=31 if i % 2 else 60)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(flip, range(100)))
    assert sim.config.window_limit_days in (31, 60)
    sim.configure(window_limit_days=45)
    r = summary(client, token, sim.dataset.tins[0], date(2025, 1, 1), date(2025, 2, 15))
    assert r.json()["code"] == "LCLM_PS_112" and "45 days" in r.json()["message"]


# --- csv generator --------------------------------------------------------------------------


def test_csvgen_shares_and_expectations(ds, tmp_path):
    path = tmp_path / "in.csv"
    window = (TODAY - timedelta(days=89), TODAY)
    expected = write_input_csv(ds, path, rows=600, tins=3, seed=5, job_window=window)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["claim_number", "first_name", "last_name", "date_of_birth", "subscriber_id",
                             "first_service_date", "last_service_date", "tin"]
    assert len(rows) == len(expected) == 600
    assert [ds.expected_result(r["claim_number"]) for r in rows] == expected
    kinds = Counter()
    oldest = lookback_start(TODAY)
    firsts = []
    for row, result in zip(rows, expected, strict=True):
        assert row["tin"] in ds.tins[:3]
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", row["date_of_birth"])
        if not ds.is_known(row["claim_number"]):
            kinds["unknown"] += 1
            assert result == ClaimResult.not_found(NOT_FOUND_MESSAGE)
            assert re.fullmatch(r"[A-Z]{2}\d{8}", row["claim_number"])
            continue
        occ = ds.latest(row["claim_number"])
        assert row["tin"] == occ.tin and row["subscriber_id"] == occ.member.subscriber_id
        assert row["first_name"] == occ.member.first_name and row["date_of_birth"] == d(occ.member.dob)
        assert occ.first_service >= oldest
        firsts.append(occ.first_service)
        if row["first_service_date"]:
            kinds["dates"] += 1
            assert date.fromisoformat(row["first_service_date"]) == occ.first_service
            assert date.fromisoformat(row["last_service_date"]) == occ.last_service
        elif window[0] <= occ.first_service <= window[1]:
            kinds["inside"] += 1
        else:
            kinds["outside"] += 1
    assert kinds == {"dates": 240, "outside": 180, "unknown": 60, "inside": 120}
    assert (max(firsts) - min(firsts)).days > 600
    assert len({r["claim_number"] for r in rows}) == 600
    assert any(r["subscriber_id"].startswith("0") for r in rows)
    assert write_input_csv(ds, tmp_path / "again.csv", rows=600, tins=3, seed=5, job_window=window) == expected
    assert (tmp_path / "again.csv").read_text() == path.read_text()
    write_expected_json(expected, tmp_path / "expected.json")
    assert load_expected_json(tmp_path / "expected.json") == expected
    with pytest.raises(ValueError):
        write_input_csv(ds, tmp_path / "x.csv", rows=10, share_with_dates=0.9, share_outside_window=0.5)


def test_run_forever_prints_one_line_and_stops_on_sigterm():
    code = (
        "from datetime import date\n"
        "from engine.payersim import SimConfig, run_forever\n"
        "run_forever('127.0.0.1', 0, SimConfig(seed=1, today=date(2025, 6, 15), tin_count=2,"
        " dense_tin_count=0, client_id='cli-id', client_secret='hush-hush'))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert re.match(r"payer-sim listening on http://127\.0\.0\.1:\d+ \(client_id=cli-id, TINs: \d{9}, \d{9}\)$",
                        line.strip()), line
        assert "hush-hush" not in line
        url = line.split()[3]
        assert httpx.post(url + TOKEN_PATH, data={"grant_type": "client_credentials", "client_id": "cli-id",
                                                  "client_secret": "hush-hush"}).status_code == 200
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait()


# --- claims move with the payer's clock ------------------------------------------------------


def test_pending_claims_are_decided_as_the_payers_clock_moves(ds):
    pending = [n for n in ds.claim_numbers() if ds.expected_result(n).status_class == "pending"]
    month = TODAY + timedelta(days=31)
    decided = [n for n in pending if ds.expected_result(n, month).status_class != "pending"]
    assert 0.8 < len(decided) / len(pending) < 0.95  # most are decided within 30 days, some never
    denied = [ds.expected_result(n, month) for n in decided if ds.expected_result(n, month).status_category == "F2"]
    assert denied and all(r.adjudication_codes and r.adjudication_codes[0].startswith("CARC ") for r in denied)
    paid = [ds.expected_result(n, month) for n in decided if ds.expected_result(n, month).status_category == "F1"]
    assert paid and all(r.total_paid > 0 and r.check_number for r in paid)
    for number in decided[:200]:
        steps = ds.history(number)
        assert [d for d, _ in steps] == sorted(d for d, _ in steps) and len(steps) >= 2
        assert steps[-1][0] > TODAY and ds.latest(number, steps[-1][0]) == steps[-1][1]
        assert ds.expected_result(number, steps[-1][0] - timedelta(days=1)).status_class == "pending"
    assert ds.expected_result(pending[0]) == ds.expected_result(pending[0], TODAY)  # the day itself: unchanged


def test_the_server_answers_as_of_its_clock(ds):
    number = next(n for n in ds.claim_numbers() if len(ds.history(n)) >= 2 and ds.history(n)[-1][0] > TODAY)
    decided_on = ds.history(number)[-1][0]
    cfg = SimConfig(seed=SEED, today=TODAY, client_id=CLIENT_ID, client_secret=SECRET)
    with PayerSimulator(cfg, dataset=ds) as server, httpx.Client(base_url=server.url, timeout=5) as c:
        token = get_token(c)

        def status() -> str:
            claims = inquiry(c, token, number).json()["data"]["searchClaim"]["claims"]
            return max(claims, key=lambda x: x["claimEvents"]["processedDate"][-4:] + x["claimEvents"]["processedDate"])[
                "claimStatusCrosswalkData"][0]["claim507Code"]

        before = status()
        assert server.advance_days((decided_on - TODAY).days) == decided_on
        assert before == ds.expected_result(number).status_category
        assert status() == ds.expected_result(number, decided_on).status_category != before
