"""The schema at its newest revision: an empty database gets it in one go from the models
(`create_fresh`), any other is upgraded by Alembic, driven from code, on first use and by
`claimsops db upgrade`. Alembic is imported only for the latter (its import alone is a good part
of a cold `claimsops up`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert, inspect
from sqlalchemy.engine import Engine

from engine.db import MIGRATIONS_DIR, SCHEMA_HEAD

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic's own bookkeeping table, as Alembic creates it (tests/engine/test_schema.py compares)
_VERSION_TABLE = Table(
    "alembic_version", MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return script.get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Upgrade to head; returns True when anything was applied."""
    from alembic import command

    if current_revision(engine) == head_revision():
        return False
    command.upgrade(_config(engine), "head")
    return True


def create_fresh(engine: Engine) -> bool:
    """On a database without a single table: every table of the models, the rows the migrations
    leave in an empty database (the OS user who creates it is its first admin, as in 0003) and
    the version table at SCHEMA_HEAD, in one transaction; the same schema as every migration
    applied in turn (tests/engine/test_schema.py), in a fraction of the time. False, touching
    nothing, when the database has any table."""
    from engine.models import Base, OperatorGrant, utcnow
    from engine.operators import ADMIN, os_user

    with engine.begin() as conn:
        if inspect(conn).get_table_names():
            return False
        Base.metadata.create_all(conn)
        _VERSION_TABLE.create(conn)
        conn.execute(insert(_VERSION_TABLE).values(version_num=SCHEMA_HEAD))
        creator = os_user()
        conn.execute(insert(OperatorGrant).values(user=creator, role=ADMIN, granted_by=creator,
                                                  granted_at=utcnow()))
    return True
