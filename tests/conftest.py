"""Shared fixtures. Service-backed tests read CLAIMSOPS_TEST_DATABASE_URL and
CLAIMSOPS_TEST_REDIS_URL and skip, saying why, when they are unset."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.config import Settings
from engine.db import Database, normalise_url

PG_URL = os.environ.get("CLAIMSOPS_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("CLAIMSOPS_TEST_REDIS_URL", "")
NO_PG = "PostgreSQL tests need CLAIMSOPS_TEST_DATABASE_URL (CI sets it)"
NO_REDIS = "Redis tests need CLAIMSOPS_TEST_REDIS_URL (CI sets it)"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's own configuration or data directory."""
    for key in list(os.environ):
        if key.startswith("CLAIMSOPS_") and not key.startswith("CLAIMSOPS_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CLAIMSOPS_HOME", str(tmp_path / "home"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    if not PG_URL:
        pytest.skip(NO_PG)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{normalise_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'claimsops.db'}"
    return request.getfixturevalue("pg_url")


def opened(url: str) -> Iterator[Database]:
    """A database for a fixture to yield, disposed of after the test."""
    database = Database(url)
    yield database
    database.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    yield from opened(db_url)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    yield from opened(f"sqlite:///{tmp_path / 'claimsops.db'}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", payer_tin="123456789")
