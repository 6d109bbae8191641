"""Logging for every process: records go to the logs table through a batching handler (and to
stderr in headless processes, as text or, for a log shipper, one JSON object a line), tagged
with service, host, pid and job id, PHI masked first."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import queue
import socket
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, bindparam, func, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from engine.db import Database
from engine.errors import without_row_values
from engine.models import LogRecord
from engine.text import mask_phi, mask_secrets

current_job_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("job_id", default=None)
current_run_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("run_id", default=None)

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}


@contextlib.contextmanager
def _bound(var: contextvars.ContextVar[int | None], value: int | None) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def job_context(job_id: int | None) -> contextlib.AbstractContextManager[None]:
    """Log lines written inside carry this job id."""
    return _bound(current_job_id, job_id)


def run_context(run_id: int | None) -> contextlib.AbstractContextManager[None]:
    """Log lines written inside carry this task-run id."""
    return _bound(current_run_id, run_id)


class ContextFilter(logging.Filter):
    """Stamps the job and run ids of the current context, takes the database's quotes of rows
    out of the message and its traceback, and masks PHI and credentials in them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_id"):
            record.job_id = current_job_id.get()
        if not hasattr(record, "run_id"):
            record.run_id = current_run_id.get()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = mask_secrets(mask_phi(without_row_values(message)))
        record.args = None
        if record.exc_text:
            record.exc_text = mask_secrets(mask_phi(without_row_values(record.exc_text)))
        return True


class DatabaseLogHandler(logging.Handler):
    """Queues records and writes them in batches from a background thread. The queue is bounded:
    if the database stalls, the oldest records are dropped and the loss is logged once it recovers."""

    def __init__(self, db: Database, service: str, *, flush_interval: float = 0.2, capacity: int = 50_000) -> None:
        super().__init__()
        self.db = db
        self.service = service
        self.host = socket.gethostname()[:64]
        self.flush_interval = flush_interval
        self._queue: queue.Queue[dict] = queue.Queue(maxsize=capacity)
        self._dropped = 0
        self._stop = threading.Event()
        self._flushed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"log-sink-{service}", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        row = {
            "at": datetime.fromtimestamp(record.created, UTC),
            "service": self.service,
            "host": self.host,
            "pid": record.process or os.getpid(),
            "level": record.levelno,
            "logger": record.name[:64],
            "job_id": getattr(record, "job_id", None),
            "run_id": getattr(record, "run_id", None),
            "message": message[:8000],
        }
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            self._dropped += 1
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(row)

    def _drain(self, limit: int = 1000) -> list[dict]:
        rows: list[dict] = []
        while len(rows) < limit:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _write(self, rows: list[dict]) -> bool:
        try:
            with self.db.write() as session:
                session.execute(insert(LogRecord), rows)
            return True
        except Exception as exc:  # the database is away: keep the lines for the next try
            print(f"claimsops: log sink cannot write to the database: {type(exc).__name__}", file=sys.stderr)
            return False

    def _run(self) -> None:
        pending: list[dict] = []
        while True:
            stopping = self._stop.wait(self.flush_interval)
            pending.extend(self._drain())
            if self._dropped:
                pending.append(self._dropped_row())
            if pending and self._write(pending):
                pending = []
            elif len(pending) > 50_000:
                self._dropped += len(pending) - 50_000
                pending = pending[-50_000:]
            with self._flushed:
                self._flushed.notify_all()
            if stopping and self._queue.empty():
                return

    def _dropped_row(self) -> dict:
        count, self._dropped = self._dropped, 0
        return {
            "at": datetime.now(UTC), "service": self.service, "host": self.host, "pid": os.getpid(),
            "level": logging.WARNING, "logger": "claimsops.logs", "job_id": None, "run_id": None,
            "message": f"{count} log lines were dropped while the database was unavailable",
        }

    def flush(self, timeout: float = 5.0) -> None:
        """Block until what is queued now has been written (or the timeout passes)."""
        with self._flushed:
            self._flushed.wait_for(lambda: self._queue.empty(), timeout=timeout)
            self._flushed.wait(timeout=self.flush_interval * 3)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        super().close()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, service, host, pid, job, run, logger, message (the
    ContextFilter has masked the message and traceback already)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self.host = socket.gethostname()[:64]

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        return json.dumps({
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "host": self.host,
            "pid": record.process or os.getpid(),
            "job": getattr(record, "job_id", None),
            "run": getattr(record, "run_id", None),
            "logger": record.name,
            "message": message,
        }, ensure_ascii=False)


def setup_logging(
    db: Database | None, service: str, *, stderr: bool = True, level: int = logging.INFO, log_format: str = "text"
) -> DatabaseLogHandler | None:
    """Route the root logger to the database (and stderr, as `log_format` text or json);
    returns the database handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_claimsops", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    context = ContextFilter()
    handler = None
    if db is not None:
        handler = DatabaseLogHandler(db, service)
        handler._claimsops = True  # type: ignore[attr-defined]
        handler.addFilter(context)
        root.addHandler(handler)
    if stderr:
        err = logging.StreamHandler(sys.stderr)
        err._claimsops = True  # type: ignore[attr-defined]
        err.addFilter(context)
        err.setFormatter(
            JsonFormatter(service) if log_format == "json"
            else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        root.addHandler(err)
    for noisy in ("httpx", "httpcore", "urllib3", "dramatiq", "apscheduler", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


# ---- queries ----


class _ContainsText(ColumnElement[bool]):
    """`column ILIKE pattern`. SQLAlchemy spells ILIKE on SQLite as lower(x) LIKE lower(y), which
    scans twice as slowly as SQLite's own LIKE; that is already case-insensitive, for ASCII
    only, as lower() is, so the result is the same."""

    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("pattern", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[str], pattern: str) -> None:
        self.column = column
        self.pattern = bindparam(None, pattern)


@compiles(_ContainsText)
def _compile_ilike(element: _ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.ilike(element.pattern), **kw)


@compiles(_ContainsText, "sqlite")
def _compile_sqlite_like(element: _ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.like(element.pattern), **kw)


@dataclass(frozen=True)
class LogFilter:
    service: str = ""
    level: int = 0
    job_id: int | None = None
    run_id: int | None = None
    text: str = ""

    def apply(self, query):  # noqa: ANN001, ANN201
        if self.service:
            query = query.where(LogRecord.service == self.service)
        if self.level:
            query = query.where(LogRecord.level >= self.level)
        if self.job_id is not None:
            query = query.where(LogRecord.job_id == self.job_id)
        if self.run_id is not None:
            query = query.where(LogRecord.run_id == self.run_id)
        if self.text:
            query = query.where(_ContainsText(LogRecord.message, f"%{self.text}%"))
        return query


def parse_level(name: str) -> int:
    key = name.strip().upper()
    if key.isdigit():
        return int(key)
    if key not in LEVELS:
        raise ValueError(f"unknown log level {name!r} (one of DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    return LEVELS[key]


def last_lines(db: Database, flt: LogFilter, limit: int = 100, before_id: int | None = None) -> list[LogRecord]:
    """The newest `limit` matching lines (oldest first), optionally before an id (paging back)."""
    query = flt.apply(select(LogRecord)).order_by(LogRecord.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(LogRecord.id < before_id)
    with db.read() as session:
        rows = list(session.scalars(query))
    rows.reverse()
    return rows


class LogTail:
    """Follows the logs table. On PostgreSQL an id is taken at insert but becomes visible at
    commit, so a line with a lower id can appear after a higher one has been read: every poll
    re-reads the ids of a short overlap below the newest id and returns only the lines it has
    not returned before (the full rows are read for those alone)."""

    OVERLAP = 500

    def __init__(
        self, db: Database, flt: LogFilter, after_id: int = 0, *, seen: Iterable[int] = (), oldest_id: int = 0
    ) -> None:
        """`after_id`: the newest id already accounted for; `seen`: ids of lines already shown
        near it; lines at or below `oldest_id` are older than what is shown and never returned."""
        self.db, self.flt, self.last_id, self.oldest_id = db, flt, after_id, oldest_id
        self._seen = {i for i in seen if i > after_id - self.OVERLAP}

    @classmethod
    def following(cls, db: Database, flt: LogFilter, rows: Sequence[LogRecord], limit: int) -> LogTail:
        """A tail that goes on from `rows`, the newest lines as `last_lines(..., limit)` returned
        them. If they fill the limit, older matching lines are scroll-back, not new lines."""
        if not rows:
            return cls(db, flt, newest_log_id(db))
        oldest = rows[0].id if len(rows) >= limit else 0
        return cls(db, flt, rows[-1].id, seen=(r.id for r in rows), oldest_id=oldest)

    def poll(self, limit: int = 1000) -> list[LogRecord]:
        """Matching lines not returned before, oldest first (at most `limit`)."""
        floor = max(self.oldest_id, self.last_id - self.OVERLAP, 0)
        ids_query = (
            self.flt.apply(select(LogRecord.id)).where(LogRecord.id > floor).order_by(LogRecord.id)
            .limit(limit + len(self._seen))
        )
        rows: list[LogRecord] = []
        with self.db.read() as session:
            fresh = [i for i in session.scalars(ids_query) if i not in self._seen][:limit]
            if fresh:
                rows = list(session.scalars(select(LogRecord).where(LogRecord.id.in_(fresh)).order_by(LogRecord.id)))
        for row in rows:
            self._seen.add(row.id)
            self.last_id = max(self.last_id, row.id)
        floor = self.last_id - self.OVERLAP
        self._seen = {i for i in self._seen if i > floor}
        return rows


def newest_log_id(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.max(LogRecord.id))) or 0)


def count_lines_after(db: Database, flt: LogFilter, after_id: int, *, cap: int = 10_000) -> int:
    """How many matching lines are newer than `after_id`, counting at most `cap`."""
    inner = flt.apply(select(LogRecord.id)).where(LogRecord.id > after_id).limit(cap).subquery()
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def log_services(db: Database) -> list[str]:
    """The services that have written log lines, sorted."""
    with db.read() as session:
        return sorted(s for s in session.scalars(select(LogRecord.service).distinct()) if s)


def level_name(level: int) -> str:
    return logging.getLevelName(level) if level in (10, 20, 30, 40, 50) else f"L{level}"
