"""Worker tests run real processes against a private Redis, the simulator and a database
(PostgreSQL when CLAIMSOPS_TEST_DATABASE_URL is set, else a SQLite file shared by the processes)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bench.processes import CliProcesses, PrivateRedis, redis_available
from engine.db import Database
from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from tests.conftest import NO_REDIS, REDIS_URL, opened

TODAY = date.today()


@pytest.fixture(scope="session")
def worker_dataset() -> Dataset:
    return Dataset.generate(seed=21, today=TODAY)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    if not REDIS_URL:
        pytest.skip(NO_REDIS)
    if not redis_available():
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def shared_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if os.environ.get("CLAIMSOPS_TEST_DATABASE_URL"):
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.fixture
def shared_db(shared_db_url: str) -> Iterator[Database]:
    yield from opened(shared_db_url)


@pytest.fixture
def simulator(worker_dataset: Dataset) -> Iterator[PayerSimulator]:
    with PayerSimulator(SimConfig(seed=21, today=TODAY), dataset=worker_dataset) as sim:
        yield sim


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[CliProcesses]:
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = CliProcesses({}, logs)
    yield procs
    procs.stop_all()
