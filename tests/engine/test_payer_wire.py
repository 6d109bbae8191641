"""Reading the payer's answers: the JSON decoder (orjson, the standard library for what it
refuses) and a summary page that normalises only the claims a job asks for."""

from __future__ import annotations

import json
import math
from datetime import date

import httpx
import pytest

from engine.payer import wire
from engine.payer.errors import BadAnswer
from engine.payer.normalize import from_summary, summary_number
from engine.payersim.dataset import Dataset
from engine.payersim.wire import to_summary_json

TODAY = date.today()


@pytest.fixture(scope="module")
def claims() -> list[dict]:
    dataset = Dataset.generate(seed=5, today=TODAY, tin_count=1, dense_tin_count=0, months=2)
    tin = dataset.tins[0]
    return [to_summary_json(o) for o in dataset.tin_occurrences(tin)[:120]]


def answer(body: object, status: int = 200, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, json=body, **kwargs) if not isinstance(body, bytes) else httpx.Response(
        status, content=body, **kwargs)


def test_decode_reads_a_summary_page_as_the_standard_library_does(claims) -> None:
    body = {"claims": claims, "transactionId": "t-1", "note": "Zoë – ✓", "big": 2**63 - 1, "ratio": 0.1}
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert wire.decode(answer(raw)) == json.loads(raw)


@pytest.mark.parametrize("raw, expected", [
    (b'{"amount": NaN}', "nan"),  # not JSON, but what the standard library (and so httpx) reads
    ('{"status": "Paid"}'.encode("utf-16"), {"status": "Paid"}),
])
def test_decode_falls_back_for_what_orjson_refuses(raw, expected) -> None:
    value = wire.decode(answer(raw))
    if expected == "nan":
        assert math.isnan(value["amount"])
    else:
        assert value == expected


def test_a_body_that_is_not_json_is_a_bad_answer() -> None:
    page = answer(b"<html>gateway</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ValueError):
        wire.decode(page)
    with pytest.raises(BadAnswer, match="not JSON"):
        wire.summary_result(page, TODAY, TODAY)


def test_a_page_normalises_only_the_wanted_claims(claims) -> None:
    response = answer({"claims": [*claims, "not a claim"], "transactionId": "next"})
    everything = wire.summary_result(response, TODAY, TODAY)
    assert everything.listed == len(claims) and everything.next_token == "next"
    assert everything.found == [from_summary(c) for c in claims]

    wanted = {summary_number(claims[3]), summary_number(claims[77]), "NOT-ON-THE-PAGE"}
    page = wire.summary_result(response, TODAY, TODAY, wanted)
    assert page.listed == len(claims) and page.next_token == "next"
    assert page.found == [f for f in everything.found if f.claim_number in wanted]
    assert {f.claim_number for f in page.found} == wanted - {"NOT-ON-THE-PAGE"}
    assert wire.summary_result(response, TODAY, TODAY, ()).found == []


def test_the_last_page_and_an_empty_search() -> None:
    last = wire.summary_result(answer({"claims": []}), TODAY, TODAY, {"X"})
    assert last == wire.SummaryPage([], None, 0)
    nothing = answer({"code": "LCLM_PS_201", "message": "No claims found"}, status=404)
    assert wire.summary_result(nothing, TODAY, TODAY) == wire.SummaryPage([], None, 0)
