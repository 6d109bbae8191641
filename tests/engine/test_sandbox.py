"""The built-in sandbox: a first run with the shipped samples finds their claims, amounts included
(the original system's example FG53171076 as payer-api.md shows it), and its bulk population
answers for test files of any size up to the intake limit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from engine.config import Settings
from engine.db import Database
from engine.jobs.queries import get_job, rows_page
from engine.jobs.rows import row_result
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payersim.csvgen import write_input_csv
from engine.payersim.known import SAMPLE_TIN
from engine.runner import run_job
from engine.sandbox import sandbox_dataset, sandbox_tin, start_sandbox
from engine.submit import JobParams, submit_file
from tests.fixtures import csv_cases

TODAY = date.today()
ACCEPTED = ("original-basic.csv", "original-enhanced.csv", "aliases-bom-semicolon.csv", "windows-1252.csv",
            "row-problems.csv", "hostile-text.csv")


def test_the_shipped_samples_are_the_ones_the_tests_use() -> None:
    shipped = Path(__file__).resolve().parents[2] / "samples"
    assert {p.name: p.read_bytes() for p in shipped.glob("*.csv")} == csv_cases.SAMPLES


def test_the_example_claim_is_the_one_the_payer_contract_shows() -> None:
    ds = sandbox_dataset(TODAY)
    assert sandbox_tin() == SAMPLE_TIN == ds.tins[0]
    occ = ds.latest("FG53171076")
    assert occ is not None and occ.tin == SAMPLE_TIN
    assert (occ.member.first_name, occ.member.last_name, occ.member.dob, occ.member.subscriber_id) == (
        "SKYLER", "SMITH", date(2002, 7, 26), "0490705351")
    assert (occ.first_service, occ.last_service, occ.received, occ.processed) == (
        date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 5), date(2025, 5, 19))
    assert (occ.charged, occ.allowed, occ.paid, occ.patient_resp) == (
        Decimal("1500.00"), Decimal("1260.00"), Decimal("1200.00"), Decimal("60.00"))
    assert (occ.status.cat_507, occ.status.code_508, occ.check_number) == ("F1", "65", "EFT7732019")


async def test_every_claim_of_every_shipped_sample_is_found_with_an_amount(db: Database, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)  # no payer configured: the sandbox
    jobs = {name: submit_file(db, settings, csv_cases.write_sample(tmp_path, name), JobParams(today=TODAY), "ann")
            for name in ACCEPTED}
    sim = start_sandbox()
    try:
        cfg = sim.config
        client = PayerClient(PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=5.0),
                             limits=LocalLimits(rate_per_second=400, concurrency=20))
        try:
            for job_id in jobs.values():
                await run_job(db, job_id, client, owner=f"test-{job_id}", lease_seconds=30, max_attempts=3,
                              today=TODAY)
        finally:
            await client.aclose()
    finally:
        sim.stop()
    numbers: set[str] = set()
    for name, job_id in jobs.items():
        job = get_job(db, job_id)
        assert job.status == "COMPLETED", name
        for row in rows_page(db, job_id, limit=100):
            result = row_result(row)
            assert result is not None, (name, row.row_number)
            if result.status_class == "invalid":
                continue
            assert result.status_class not in ("not_found", "error"), (name, row.claim_number)
            assert result.total_charged and result.total_charged > 0, (name, row.claim_number)
            numbers.add(row.claim_number)
    assert "FG53171076" in numbers and len(numbers) == 9


def test_test_files_of_any_size_draw_on_the_bulk_claims(tmp_path: Path) -> None:
    ds = sandbox_dataset(TODAY)
    expected = write_input_csv(ds, tmp_path / "big.csv", rows=5000)
    lines = (tmp_path / "big.csv").read_text().splitlines()
    assert len(lines) == 5001 and len(expected) == 5000
    numbers = [line.split(",")[0] for line in lines[1:]]
    assert len(set(numbers)) == 5000
    bulk = [n for n in numbers if n.startswith("SB") and ds.bulk is not None and ds.bulk.is_known(n)]
    assert bulk  # more rows than the generated TINs hold
    expected_of = dict(zip(numbers, expected, strict=True))
    for number in bulk[:40]:  # the payer answers for them as the expected results say, both ways
        assert ds.expected_result(number) == expected_of[number]
        occ = ds.latest(number)
        assert occ is not None and occ in ds.in_window(occ.tin, occ.first_service, occ.first_service)
    found = sum(1 for r in expected if r.status_class != "not_found")
    assert found > 4000
