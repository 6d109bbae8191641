"""Every process's log lines reach the logs table, tagged and with PHI masked first."""

from __future__ import annotations

import json
import logging
import os
import socket

from sqlalchemy import select

from engine.db import Database
from engine.logsink import LogFilter, job_context, last_lines, run_context, setup_logging
from engine.models import LogRecord


def lines_after(db: Database, flt: LogFilter, after_id: int) -> list[LogRecord]:
    """Matching lines with an id above `after_id`, oldest first (the naive tail LogTail is not)."""
    query = flt.apply(select(LogRecord)).where(LogRecord.id > after_id).order_by(LogRecord.id)
    with db.read() as session:
        return list(session.scalars(query))


def test_records_reach_the_database_tagged_and_masked(db, capsys) -> None:
    handler = setup_logging(db, "worker", stderr=True)
    log = logging.getLogger("claimsops.test")
    try:
        with job_context(42):
            log.warning("claim FG53171076 for first_name=SKYLER last_name=SMITH dob=07/26/2002 member 0490705351")
        log.info("plain line")
        handler.flush()
    finally:
        setup_logging(None, "none", stderr=False)
    rows = last_lines(db, LogFilter(service="worker"), 10)
    assert [r.job_id for r in rows] == [42, None]
    line = rows[0].message
    assert "FG53171076" in line
    for phi in ("SKYLER", "SMITH", "07/26/2002", "0490705351"):
        assert phi not in line
        assert phi not in capsys.readouterr().err
    assert rows[0].service == "worker" and rows[0].level == logging.WARNING and rows[0].pid > 0
    assert [r.message for r in last_lines(db, LogFilter(job_id=42), 10)] == [line]
    assert last_lines(db, LogFilter(level=logging.WARNING), 10)[0].id == rows[0].id
    assert lines_after(db, LogFilter(), rows[0].id)[0].message == "plain line"
    assert last_lines(db, LogFilter(text="plain"), 10)[0].message == "plain line"
    assert [r.message for r in last_lines(db, LogFilter(text="PLAIN Li"), 10)] == ["plain line"]
    assert last_lines(db, LogFilter(text="plainline"), 10) == []


def test_json_lines_on_stderr_are_one_masked_object_each(db, capsys) -> None:
    handler = setup_logging(db, "scheduler", stderr=True, log_format="json")
    log = logging.getLogger("claimsops.test")
    try:
        with job_context(7), run_context(3):
            log.warning("member_id=W123456789 first_name=SKYLER dob=07/26/2002 Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.tok3nValue")
        try:
            raise ValueError("multi\nline")
        except ValueError:
            log.exception("failed for last_name=SMITH")
        handler.flush()
    finally:
        setup_logging(None, "none", stderr=False)
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert set(first) == {"time", "level", "service", "host", "pid", "job", "run", "logger", "message"}
    assert (first["level"], first["service"], first["job"], first["run"]) == ("WARNING", "scheduler", 7, 3)
    assert first["host"] == socket.gethostname()[:64] and first["pid"] == os.getpid()
    assert first["time"].endswith("+00:00") and first["logger"] == "claimsops.test"
    assert second["level"] == "ERROR" and second["job"] is None and "ValueError" in second["message"]
    for secret in ("W123456789", "SKYLER", "07/26/2002", "tok3nValue", "eyJhbGciOiJIUzI1NiJ9", "SMITH"):
        assert secret not in err, secret
    stored = [r.message for r in last_lines(db, LogFilter(service="scheduler"), 10)]
    assert stored[0] == first["message"]  # the database sink gets the same masked line


def test_lines_survive_a_database_outage(tmp_path) -> None:
    from engine.db import Database

    db = Database(f"sqlite:///{tmp_path / 'a.db'}")
    handler = setup_logging(db, "worker", stderr=False)
    try:
        real_write = db.write
        db.write = lambda: (_ for _ in ()).throw(OSError("disk gone"))  # type: ignore[method-assign]
        logging.getLogger("claimsops.test").error("written later")
        handler.flush(timeout=1)
        db.write = real_write  # type: ignore[method-assign]
        handler.flush()
    finally:
        setup_logging(None, "none", stderr=False)
    assert [r.message for r in last_lines(db, LogFilter(), 5)] == ["written later"]


def test_tail_catches_a_line_committed_after_a_newer_one(db) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from engine.logsink import LogTail
    from engine.models import LogRecord

    def line(id_: int, message: str) -> dict:
        return {"id": id_, "at": datetime.now(UTC), "service": "w", "host": "h", "pid": 1, "level": 20,
                "logger": "t", "job_id": None, "run_id": None, "message": message}

    with db.write() as session:
        session.execute(insert(LogRecord), [line(10, "a"), line(12, "c")])
    tail = LogTail(db, LogFilter(), 0)
    assert [r.message for r in tail.poll()] == ["a", "c"]
    with db.write() as session:  # id 11 was taken first but committed last (PostgreSQL)
        session.execute(insert(LogRecord), [line(11, "b")])
    assert [r.message for r in tail.poll()] == ["b"]
    assert tail.poll() == []


def _row(message: str) -> dict:
    from datetime import UTC, datetime

    return {"at": datetime.now(UTC), "service": "w", "host": "h", "pid": 1, "level": 20, "logger": "t",
            "job_id": None, "run_id": None, "message": message}


def test_tail_following_shown_lines_returns_only_new_ones(db) -> None:
    from sqlalchemy import insert

    from engine.logsink import LogTail
    from engine.models import LogRecord

    with db.write() as session:
        session.execute(insert(LogRecord), [_row(f"old {n}") for n in range(20)])
    shown = last_lines(db, LogFilter(), 5)
    tail = LogTail.following(db, LogFilter(), shown, 5)
    assert tail.poll() == []  # neither the lines shown nor the older ones beyond the window
    with db.write() as session:
        session.execute(insert(LogRecord), [_row("new")])
    assert [r.message for r in tail.poll()] == ["new"]
    assert tail.poll() == []
    # a filter that matches nothing yet starts at the newest line, not at the start of the table
    empty = LogTail.following(db, LogFilter(text="later"), [], 5)
    assert empty.last_id == shown[-1].id + 1
    with db.write() as session:
        session.execute(insert(LogRecord), [_row("later line")])
    assert [r.message for r in empty.poll()] == ["later line"]


def test_tail_gets_a_line_committed_after_a_newer_one_on_postgresql(pg_url: str) -> None:
    """Real transactions: the first insert takes the lower id but commits after a later insert."""
    from sqlalchemy import insert

    from engine.db import Database
    from engine.logsink import LogTail
    from engine.models import LogRecord

    db = Database(pg_url)
    try:
        with db.write() as session:
            session.execute(insert(LogRecord), [_row("before")])
        tail = LogTail.following(db, LogFilter(), last_lines(db, LogFilter(), 100), 100)
        with db.engine.connect() as slow:
            slow_tx = slow.begin()
            slow.execute(insert(LogRecord), [_row("committed late")])
            with db.write() as session:
                session.execute(insert(LogRecord), [_row("committed first")])
            assert [r.message for r in tail.poll()] == ["committed first"]
            slow_tx.commit()
        # following by `id > newest id read` would never see it
        assert lines_after(db, LogFilter(), tail.last_id) == []
        assert [r.message for r in tail.poll()] == ["committed late"]
        assert tail.poll() == []
    finally:
        db.dispose()


def test_log_queries(db) -> None:
    from engine.logsink import count_lines_after, log_services, newest_log_id
    from tests.console.data import add_log, seed_logs

    assert newest_log_id(db) == 0
    seed_logs(db)
    newest = newest_log_id(db)
    assert newest == 12
    assert log_services(db) == ["console", "scheduler", "worker"]
    for _ in range(5):
        add_log(db, "x", level=40)
    assert count_lines_after(db, LogFilter(), newest) == 5
    assert count_lines_after(db, LogFilter(), newest, cap=3) == 3
    assert count_lines_after(db, LogFilter(service="scheduler"), newest) == 0
    assert count_lines_after(db, LogFilter(level=40), 0) == 5 + 2


def test_a_database_error_logged_with_its_traceback_quotes_no_row(db, capsys) -> None:
    from engine.models import JobRow

    handler = setup_logging(db, "worker", stderr=True)
    log = logging.getLogger("claimsops.test")
    try:
        try:  # a row the database refuses: PostgreSQL's DETAIL would quote it whole
            with db.write() as session:
                session.execute(JobRow.__table__.insert(), [{
                    "job_id": 999, "row_number": 1, "claim_number": None, "first_name": "SKYLER",
                    "last_name": "SMITH", "subscriber_id": "A0490705351"}])
        except Exception:
            log.exception("job 999 stopped by an unexpected error")
        handler.flush()
    finally:
        setup_logging(None, "none", stderr=False)
    line = last_lines(db, LogFilter(service="worker"), 1)[0].message
    err = capsys.readouterr().err
    assert "job 999 stopped" in line and "Traceback" in line
    for text in (line, err):
        for leak in ("SKYLER", "SMITH", "A0490705351", "[parameters: {", "Failing row contains"):
            assert leak not in text, (leak, text)
