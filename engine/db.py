"""Opening the database: the SQLite profile (WAL, busy timeout, BEGIN IMMEDIATE writes, a
0600 file) or PostgreSQL by URL, migrated to the newest schema on first use. Both engines hide
bound parameters (row values, PHI) from their error messages and hence from every log line."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii as quote  # the json module's own, in C
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Date, Select, Table, create_engine, delete, event, insert, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import OperatorError, describe

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
SCHEMA_HEAD = "0004"  # the newest migration's revision (a test keeps the two in step)


class DatabaseError(OperatorError):
    """The database cannot be opened or reached; the message says which and why."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _prepare_sqlite_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, pool_size=8, max_overflow=16,
                           hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        conn.exec_driver_sql(begin)

    return engine


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _open_failure(exc: Exception) -> str:
    """Why a URL could not be opened, without the URL (the library's text may quote it)."""
    if isinstance(exc, NoSuchModuleError):
        return f"no driver for it ({exc})"
    if isinstance(exc, OSError):
        return describe(exc)
    if isinstance(exc, ArgumentError | ValueError):
        return "the URL is malformed"
    return type(exc).__name__


DEADLOCK_SQLSTATES = frozenset({"40P01", "40001"})  # PostgreSQL: deadlock detected, serialization failure


def deadlocked(exc: BaseException) -> bool:
    """The database ended this transaction to break a deadlock (PostgreSQL): it was rolled
    back whole, and the same transaction may simply be run again."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in DEADLOCK_SQLSTATES


class Database:
    """One per process. `write()` for transactions that change rows, `read()` for queries."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url = normalise_url(url)
        try:
            self.sqlite_path = _sqlite_path(url)
            self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
            if self.is_sqlite:
                if self.sqlite_path is not None:
                    _prepare_sqlite_file(self.sqlite_path)
                self.engine = _sqlite_engine(url, immediate=False)
                self.write_engine = _sqlite_engine(url, immediate=True)
            else:
                self.engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                                            hide_parameters=True)
                self.write_engine = self.engine
        except Exception as exc:  # bad URL, missing driver
            raise DatabaseError(
                f"cannot open database {self.display_url}: {_open_failure(exc)}",
                "check CLAIMSOPS_DATABASE_URL (unset: the SQLite file in CLAIMSOPS_HOME)",
            ) from None
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        if migrate:
            self.upgrade()

    @property
    def display_url(self) -> str:
        """The URL without a password, for messages and the console header."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # malformed: never echo it, it may hold a password
            return "(CLAIMSOPS_DATABASE_URL, not shown)"

    @property
    def backend(self) -> str:
        return "sqlite" if self.is_sqlite else make_url(self.url).get_backend_name()

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A short write transaction (BEGIN IMMEDIATE on SQLite); commits on success."""
        with self._write() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def ping(self) -> float:
        """Round trip in seconds; raises DatabaseError when the database is unreachable."""
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            raise DatabaseError(f"database {self.display_url} unreachable: {exc.orig}") from None
        return time.perf_counter() - started

    def upgrade(self) -> bool:
        """Migrate to the newest schema (True when anything was applied); safe when several
        processes start at once."""
        if self._at_head():
            return False
        from engine import migrate

        try:
            with self._migration_lock():
                if self._at_head():  # another process did it while this one waited
                    return False
                return migrate.create_fresh(self.write_engine) or migrate.upgrade(self.write_engine)
        except OperationalError as exc:
            raise DatabaseError(f"cannot reach database {self.display_url}: {exc.orig}") from None
        except DBAPIError as exc:  # e.g. "file is not a database", or a role that may not create
            raise DatabaseError(f"cannot read database {self.display_url}: {exc.orig}") from None

    def _at_head(self) -> bool:
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
        except Exception:  # no table yet, or unreachable: let the migration path say which
            return False

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.sqlite_path is not None:
            lock_path = self.sqlite_path.with_suffix(self.sqlite_path.suffix + ".migrate.lock")
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        elif not self.is_sqlite:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(74257)"))
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(74257)"))
                    conn.commit()
        else:
            yield

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()


def conflict_insert(conn: Connection, table: Table) -> Any:
    """An INSERT that takes ON CONFLICT clauses, in the connection's dialect (SQLite or
    PostgreSQL); imports only that dialect's module (PostgreSQL's alone costs a SQLite process
    60 ms at start)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def delete_in_batches(db: Database, model: Any, *where: Any, order_by: Any = None, batch: int = 5000) -> int:
    """Delete the rows matching `where`, `batch` per transaction, so that other writers (SQLite
    has one at a time) never wait long; returns how many. `order_by` (default: the id) should
    follow the index that serves `where`, or every batch sorts all the matching rows."""
    total = 0
    while True:
        with db.write() as session:
            ids = list(session.scalars(
                select(model.id).where(*where).order_by(model.id if order_by is None else order_by).limit(batch)))
            if ids:
                session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
        total += len(ids)
        if len(ids) < batch:
            return total


class BulkInsert:
    """Many rows into one table in one driver `executemany`: the INSERT is compiled once and
    each value goes through its column type's own bind processor (the same conversion SQLAlchemy
    makes), column by column, without the per-row work of an ORM or Core insert (100,000 rows
    at submit)."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = connection.dialect
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        self.connection, self.sql = connection, str(compiled)
        order = compiled.positiontup  # the placeholders' order (qmark); None for named styles
        self.columns = tuple(columns)
        self.keys: tuple[str, ...] = tuple(order) if order else self.columns
        self.named = order is None
        # a row's values in the placeholders' order, when that is not the caller's
        self.reorder = None if self.keys == self.columns else itemgetter(*map(self.columns.index, self.keys))
        self.converters: list[tuple[int, Callable[[Any], Any]]] = []
        for i, key in enumerate(self.columns):
            convert = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                self.converters.append((i, _sparing(table.c[key].type, convert)))

    def __call__(self, rows: Sequence[Sequence[Any]]) -> int:
        """Insert `rows` (each the values of `columns`, in that order); returns how many."""
        if not rows:
            return 0
        params: Iterable[Sequence[Any]] = rows
        if self.converters:
            by_column: list[Iterable[Any]] = list(zip(*rows, strict=True))
            for i, convert in self.converters:
                by_column[i] = map(convert, by_column[i])
            params = zip(*by_column, strict=True)
        if self.reorder is not None:
            params = map(self.reorder, params)
        if self.named:
            params = [dict(zip(self.keys, values, strict=True)) for values in params]
        self.connection.exec_driver_sql(self.sql, list(params))
        return len(rows)


class _Remembered(dict):
    """A Date column's conversions, by value (a file's dates repeat): a lookup in C, the bind
    processor only for a new date. None stays None."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        super().__init__({None: None})
        self.convert = convert

    def __missing__(self, value: Any) -> Any:
        if len(self) >= 10_000:
            self.clear()
            self[None] = None
        known = self[value] = self.convert(value)
        return known


def _sparing(type_: Any, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert` (which is never given None: None stays None) without converting the same value
    twice: a JSON column's empty object is serialised once and a flat object of strings (a
    row's `raw` and `extra`) without the `json` module's per-call set-up, when that gives the
    same text; the dates of a Date column are remembered (up to 10,000 of them)."""
    if isinstance(type_, JSON):
        empty = {"{}": convert({}), "[]": convert([])}
        flat = _flat_json if _flat_json(_JSON_PROBE) == convert(_JSON_PROBE) else None

        def serialised(value: Any) -> Any:
            if value is None:
                return None
            if not value:
                return empty["{}" if isinstance(value, dict) else "[]"]
            if flat is not None and type(value) is dict:
                try:
                    return flat(value)
                except TypeError:  # a value (or a key) that is not a string
                    pass
            return convert(value)

        return serialised
    if type_._type_affinity is Date:
        return _Remembered(convert).__getitem__
    return lambda value: None if value is None else convert(value)


_JSON_PROBE = {"claim_number": 'A\u00e9"\\\n\t\x00\u2028\udc80\U0001f600', "é": "<&>'"}


def _flat_json(value: dict[str, str]) -> str:
    """`json.dumps(value)` of an object whose keys and values are all strings (TypeError
    otherwise), as SQLite's JSON columns store it."""
    return "{" + ", ".join([quote(key) + ": " + quote(item) for key, item in value.items()]) + "}"


# ---- keyset pages: the console's live lists page by id, never by offset ----


def newest_before(db: Database, query: Select, key: Any, before: int | None, limit: int) -> list[Any]:
    """Newest first: the `limit` newest rows of `query` whose `key` is below `before` (no bound
    when None)."""
    if before is not None:
        query = query.where(key < before)
    with db.read() as session:
        return list(session.scalars(query.order_by(key.desc()).limit(limit)))


def newest_after(db: Database, query: Select, key: Any, after: int, limit: int) -> list[Any]:
    """The `limit` rows of `query` whose `key` is just above `after`, newest first."""
    with db.read() as session:
        found = list(session.scalars(query.where(key > after).order_by(key.asc()).limit(limit)))
    found.reverse()
    return found


def by_key(db: Database, key: Any, values: Iterable[Any], *where: Any) -> dict[Any, Any]:
    """The rows (matching `where`) whose `key` column is one of `values`, by that value; values
    no row has are left out."""
    wanted = sorted(set(values))
    if not wanted:
        return {}
    with db.read() as session:
        query = select(key.class_).where(*where, key.in_(wanted))
        return {getattr(row, key.key): row for row in session.scalars(query)}
