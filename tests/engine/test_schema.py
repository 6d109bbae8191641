"""An empty database is given the schema in one go from the models (engine.migrate.create_fresh)
instead of by every migration in turn: the two must leave the same schema and the same rows,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlalchemy.engine import Engine

from engine import migrate
from engine.db import SCHEMA_HEAD, Database, normalise_url
from tests.conftest import NO_PG, PG_URL


def _pg_schemas(count: int) -> Iterator[list[str]]:
    if not PG_URL:
        pytest.skip(NO_PG)
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield [f"{normalise_url(PG_URL)}{sep}options=-csearch_path%3D{name}" for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_empty_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Database]]:
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / f'{n}.db'}" for n in ("migrated", "created")]
        yield from _opened(urls)
    else:
        for urls in _pg_schemas(2):
            yield from _opened(urls)


def _opened(urls: list[str]) -> Iterator[list[Database]]:
    databases = [Database(url, migrate=False) for url in urls]
    yield databases
    for database in databases:
        database.dispose()


def _schema(engine: Engine) -> dict[str, Any]:
    """Everything SQLAlchemy's inspection reports of every table, in the database's own order."""
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        inspector = inspect(conn)
        for table in sorted(inspector.get_table_names()):
            columns = [{**column, "type": str(column["type"].compile(dialect=conn.dialect))}
                       for column in inspector.get_columns(table)]
            found[table] = {
                "columns": columns,
                "primary key": inspector.get_pk_constraint(table),
                "foreign keys": sorted(inspector.get_foreign_keys(table), key=lambda fk: fk["name"] or ""),
                "indexes": sorted(inspector.get_indexes(table), key=lambda ix: ix["name"] or ""),
                "unique": sorted(inspector.get_unique_constraints(table), key=lambda uq: uq["name"] or ""),
                "checks": sorted(inspector.get_check_constraints(table), key=lambda ck: ck["name"] or ""),
            }
            if conn.dialect.name == "sqlite":  # WITHOUT ROWID is not part of the inspection
                ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                                   {"t": table}).scalar_one()
                found[table]["without rowid"] = "WITHOUT ROWID" in ddl.upper()
        if conn.dialect.name == "postgresql":
            found["sequences"] = sorted(inspector.get_sequence_names())
    return found


def _rows(engine: Engine) -> dict[str, list[tuple]]:
    """The rows of every table, without the first admin's grant time (the clock differs)."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        return {name: sorted(tuple(v for k, v in row._mapping.items() if k != "granted_at")
                             for row in conn.execute(select(table)))
                for name, table in sorted(metadata.tables.items())}


def test_a_created_schema_is_the_migrated_one(two_empty_databases: list[Database]) -> None:
    migrated, created = two_empty_databases
    assert migrate.upgrade(migrated.write_engine) is True
    assert migrate.create_fresh(created.write_engine) is True

    expected, got = _schema(migrated.engine), _schema(created.engine)
    assert set(got) == set(expected)
    for table in expected:
        assert got[table] == expected[table], table
    assert _rows(created.engine) == _rows(migrated.engine)
    assert migrate.current_revision(created.engine) == SCHEMA_HEAD == migrate.head_revision()


def test_a_database_with_tables_is_left_to_the_migrations(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    try:
        with database.write_engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (id INTEGER PRIMARY KEY)"))
        assert migrate.create_fresh(database.write_engine) is False
        assert inspect(database.engine).get_table_names() == ["kept"]
    finally:
        database.dispose()


def test_opening_an_empty_database_creates_it_without_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = ("import sys\nfrom engine.db import Database\n"
            f"db = Database({url!r})\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('alembic', 'mako')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
    database = Database(url)  # reopened: at head, nothing to do
    try:
        assert database.upgrade() is False
        assert migrate.current_revision(database.engine) == SCHEMA_HEAD
    finally:
        database.dispose()
