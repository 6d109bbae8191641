"""Payer faults are per call, never per job: an answer the client cannot read, a payer that is
down for the whole job or comes back, and a payer that echoes credentials — each over real
loopback HTTP against the simulator, in every strategy, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update

from console import commands
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job, rows_page
from engine.jobs.rows import row_result
from engine.logsink import setup_logging
from engine.models import Job, JobRow, LogRecord
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.payersim.stats import StatsSnapshot
from engine.runner import run_job
from engine.submit import JobParams, submit_file

TODAY = date.today()
STRATEGIES = ("auto", "batch", "individual")
TOKEN, SECRET = "abc.def.ghi", "sandbox-secret"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(seed=11, today=TODAY, tin_count=2, claims_per_month=20, dense_tin_count=0)


@pytest.fixture
def job_logs(db: Database, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The root logger writes to `db`'s logs table for the test (as a worker's does), and the
    CLI reads the same database."""
    monkeypatch.setenv("CLAIMSOPS_DATABASE_URL", db_url)
    handler = setup_logging(db, "worker", stderr=False)
    yield db
    assert handler is not None
    handler.flush()
    logging.getLogger().removeHandler(handler)
    handler.close()


def _client(sim: PayerSimulator, outage_s: float = 300.0) -> PayerClient:
    cfg = sim.config
    settings = PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=2.0, max_attempts=3,
                             backoff_base_s=0.01, backoff_cap_s=0.05, outage_s=outage_s)
    return PayerClient(settings, limits=LocalLimits(rate_per_second=400, concurrency=20))


def _submit(db: Database, csv: Path, strategy: str) -> int:
    settings = Settings(home=csv.parent, payer_url="http://payer.invalid")
    return submit_file(db, settings, csv, JobParams(strategy=strategy, today=TODAY), "tester")


async def _run(db: Database, job_id: int, client: PayerClient) -> Job:
    outcome = await run_job(db, job_id, client, owner=f"test-{job_id}", lease_seconds=30, max_attempts=3,
                            today=TODAY)
    assert outcome is not None
    return get_job(db, job_id)


async def _job_against(db: Database, tmp_path: Path, dataset: Dataset, config: SimConfig, strategy: str, *,
                       tins: int = 1, outage_s: float = 300.0) -> tuple[Job, list, StatsSnapshot]:
    """A file of 12 claims submitted and run against a simulator with `config`: the finished
    job, the simulator's expected results and what the simulator saw."""
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(dataset, csv, rows=12, tins=tins, seed=3)
    with PayerSimulator(config, dataset=dataset) as sim:
        job_id = _submit(db, csv, strategy)
        async with _client(sim, outage_s) as client:
            job = await _run(db, job_id, client)
        return job, expected, sim.snapshot()


def _rows(db: Database, job_id: int) -> dict[int, object]:
    return {r.row_number: row_result(r) for r in rows_page(db, job_id, limit=10_000)}


def _log_text(db: Database, job_id: int) -> str:
    logging.getLogger().handlers[-1].flush()
    with db.read() as session:
        return "\n".join(session.scalars(select(LogRecord.message).where(LogRecord.job_id == job_id)))


def _job_output(job_id: int, capsys: pytest.CaptureFixture) -> str:
    """What `claimsops job N` and `claimsops job N --json` print (CLAIMSOPS_DATABASE_URL set)."""
    capsys.readouterr()
    commands.job(argparse.Namespace(id=job_id, json=False))
    commands.job(argparse.Namespace(id=job_id, json=True))
    return capsys.readouterr().out


def _assert_no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "unexpected" not in text


@pytest.mark.parametrize("kind", ["html", "shape"])
@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_an_unreadable_answer_is_a_failed_call_and_its_rows_get_an_error(
    dataset, db, job_logs, tmp_path, strategy, kind,
) -> None:
    job, _, stats = await _job_against(db, tmp_path, dataset, SimConfig(seed=11, today=TODAY, malformed=kind), strategy)
    job_id = job.id
    assert job.status == lifecycle.COMPLETED and job.failure_reason is None
    rows = _rows(db, job_id)
    assert len(rows) == 12 and {r.status for r in rows.values()} == {"Error"}
    reasons = {r.error_message for r in rows.values()}
    wanted = "not JSON" if kind == "html" else "unknown shape"
    assert all(reason.startswith("payer call failed: ") and wanted in reason for reason in reasons), reasons
    assert all("3 times in a row" in reason for reason in reasons)  # retried within the budget
    surface = "summary" if strategy == "batch" else "inquiry"
    assert stats.outcome("malformed", surface) >= 3
    _assert_no_traceback(_log_text(db, job_id))


async def test_windows_that_answer_html_leave_their_rows_to_the_claim_inquiry(dataset, db, job_logs, tmp_path) -> None:
    config = SimConfig(seed=11, today=TODAY, malformed="html", malformed_surfaces=frozenset({"summary"}))
    job, expected, _ = await _job_against(db, tmp_path, dataset, config, "auto")
    job_id = job.id
    assert job.status == lifecycle.COMPLETED
    got = _rows(db, job_id)
    assert {n: r.comparable() for n, r in got.items()} == {n: e.comparable() for n, e in enumerate(expected, 1)}
    assert {r.matched_by for r in got.values() if r.success} == {"claim_lookup"}
    _assert_no_traceback(_log_text(db, job_id))


async def test_a_header_value_http_cannot_carry_fails_only_its_rows(dataset, db, tmp_path) -> None:
    csv = tmp_path / "claims.csv"
    write_input_csv(dataset, csv, rows=4, tins=1, seed=3)
    with PayerSimulator(SimConfig(seed=11, today=TODAY), dataset=dataset) as sim:
        job_id = _submit(db, csv, "auto")
        with db.write() as session:  # a TIN intake would refuse
            session.execute(update(JobRow).where(JobRow.job_id == job_id).values(tin="12345678é"))
        async with _client(sim) as client:
            job = await _run(db, job_id, client)
        assert sim.snapshot().data_requests == 0
    assert job.status == lifecycle.COMPLETED
    reasons = {r.error_message for r in _rows(db, job_id).values()}
    assert reasons == {"payer call failed: the providerTaxId header cannot be sent: its value is not plain ASCII"}


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_payer_down_for_the_whole_job_fails_it_naming_the_retry(
    dataset, db, job_logs, tmp_path, strategy, capsys,
) -> None:
    started = time.monotonic()
    config = SimConfig(seed=11, today=TODAY, down=True)
    job, _, _ = await _job_against(db, tmp_path, dataset, config, strategy, tins=2, outage_s=2.0)
    job_id = job.id
    assert 2.0 <= time.monotonic() - started < 10.0
    assert job.status == lifecycle.FAILED
    assert "the payer answered none of the job's calls for 2 s" in job.failure_reason
    assert f"retry them with `claimsops retry {job_id} --errors`" in job.failure_reason
    rows = _rows(db, job_id)
    assert {r.status for r in rows.values()} == {"Error"} and job.error_rows == 12
    assert all("answered none of the job's calls" in r.error_message for r in rows.values())
    _assert_no_traceback(_log_text(db, job_id))
    assert "unexpected" not in _job_output(job_id, capsys)
    events = [e["event"] for e in job.history]
    assert lifecycle.WAITING_FOR_PAYER in events


async def test_a_payer_that_comes_back_within_the_outage_window_completes_the_job(
    dataset, db, job_logs, tmp_path, capsys,
) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(dataset, csv, rows=12, tins=2, seed=3)
    with PayerSimulator(SimConfig(seed=11, today=TODAY, down=True), dataset=dataset) as sim:
        job_id = _submit(db, csv, "auto")
        async with _client(sim, outage_s=60.0) as client:
            run = asyncio.create_task(_run(db, job_id, client))
            deadline = time.monotonic() + 10
            while lifecycle.WAITING_FOR_PAYER not in [e["event"] for e in get_job(db, job_id).history]:
                assert time.monotonic() < deadline, "the job never said it waits for the payer"
                await asyncio.sleep(0.1)
            waiting = await asyncio.to_thread(_job_output, job_id, capsys)
            sim.configure(down=False)
            job = await run
    assert "payer     waiting for the payer since " in waiting and " UTC" in waiting
    assert '"waiting_for_payer_since": "' in waiting
    assert job.status == lifecycle.COMPLETED and job.failure_reason is None
    got = _rows(db, job_id)
    assert {n: r.comparable() for n, r in got.items()} == {n: e.comparable() for n, e in enumerate(expected, 1)}
    events = [e["event"] for e in job.history]
    assert events.index(lifecycle.WAITING_FOR_PAYER) < events.index(lifecycle.PAYER_ANSWERED)
    done = _job_output(job_id, capsys)
    assert "waiting for the payer since" not in done and '"waiting_for_payer_since": null' in done
    _assert_no_traceback(_log_text(db, job_id))


def _assert_no_secret(text: str) -> None:
    assert TOKEN not in text and SECRET not in text


async def test_credentials_a_payer_echoes_are_never_stored_or_shown(
    dataset, db, job_logs, tmp_path, capsys,
) -> None:
    csv = tmp_path / "claims.csv"
    write_input_csv(dataset, csv, rows=6, tins=1, seed=3)
    echo = f"you sent Authorization: Bearer {TOKEN} and client_secret={SECRET}"
    with PayerSimulator(SimConfig(seed=11, today=TODAY, echo_in_errors=echo), dataset=dataset) as sim:
        refused_id = _submit(db, csv, "individual")  # every inquiry is refused: per-row errors
        rejected_id = _submit(db, csv, "auto")  # a window search is rejected: the job fails
        sim.configure(unsupported_claim_numbers=frozenset(r.claim_number for r in rows_page(db, refused_id)))
        with db.write() as session:  # a TIN the payer rejects (intake would refuse it)
            session.execute(update(JobRow).where(JobRow.job_id == rejected_id).values(tin="12345"))
        async with _client(sim) as client:
            refused = await _run(db, refused_id, client)
            rejected = await _run(db, rejected_id, client)
    assert refused.status == lifecycle.COMPLETED
    errors = [r.error_message for r in _rows(db, refused_id).values()]
    assert len(errors) == 6 and all("Bearer ***" in e and "client_secret=***" in e for e in errors), errors
    assert rejected.status == lifecycle.FAILED and "payer rejected" in rejected.failure_reason
    assert "Bearer ***" in rejected.failure_reason
    for job_id in (refused_id, rejected_id):
        stored = get_job(db, job_id)
        _assert_no_secret(f"{stored.failure_reason} {stored.history} {_rows(db, job_id)}")
        _assert_no_secret(_log_text(db, job_id))
        _assert_no_secret(_job_output(job_id, capsys))
