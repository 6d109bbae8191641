"""engine.errors.describe: one safe line in claimsops' words for any exception."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from engine.db import DatabaseError
from engine.errors import MAX_LEN, OperatorError, describe, is_database_error, without_row_values
from engine.jobs.lifecycle import JobNotFound
from engine.payer.errors import PayerConfigError


def test_an_operator_error_is_its_message() -> None:
    assert describe(OperatorError("job 7 does not exist")) == "job 7 does not exist"
    assert describe(JobNotFound(7)) == "job 7 does not exist"
    assert describe(PayerConfigError("payer rejected the client credentials")) == (
        "payer rejected the client credentials"
    )


def test_a_hint_follows_the_message() -> None:
    exc = OperatorError("submit refused: read-only", hint="ask for CLAIMSOPS_OPERATORS")
    assert describe(exc) == "submit refused: read-only — ask for CLAIMSOPS_OPERATORS"
    assert exc.message == "submit refused: read-only" and str(exc) == "submit refused: read-only"


class _Hinted(OperatorError):
    hint = "a fixed next step"


def test_a_class_may_give_every_instance_a_hint() -> None:
    assert describe(_Hinted("it failed")) == "it failed — a fixed next step"
    assert describe(_Hinted("it failed", "a better one")) == "it failed — a better one"


@pytest.mark.parametrize(("exc", "line"), [
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "in/a.csv"),
     "in/a.csv: no such file or directory"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "out"), "out: is a directory"),
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "a.csv/b"), "a.csv/b: not a directory"),
    (FileExistsError(errno.EEXIST, "File exists", "out.csv"), "out.csv: already exists"),
    (PermissionError(errno.EACCES, "Permission denied", "/etc/shadow"), "/etc/shadow: permission denied"),
    (OSError(errno.ENOSPC, "No space left on device", "out.csv"), "out.csv: no space left on device"),
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on device"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connection refused"),
    (OSError("disk on fire"), "disk on fire"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", b"raw/bytes.csv"),
     "raw/bytes.csv: no such file or directory"),
])
def test_file_system_errors_name_the_path(exc: OSError, line: str) -> None:
    assert describe(exc) == line


def test_an_os_error_without_words_is_unexpected() -> None:
    assert describe(TimeoutError()) == "unexpected TimeoutError"


def test_the_database_library_is_database_unavailable_without_its_text() -> None:
    exc = OperationalError("SELECT * FROM job_rows WHERE member_id = ?", ("123456789012",),
                           sqlite3.OperationalError("database is locked"))
    assert describe(exc) == "database unavailable: OperationalError"
    assert is_database_error(exc)
    assert is_database_error(DatabaseError("database sqlite:///x unreachable"))
    assert not is_database_error(JobNotFound(7)) and not is_database_error(ValueError("x"))


def test_a_driver_error_or_one_wrapped_in_another_exception_is_the_database_too() -> None:
    driver = sqlite3.IntegrityError("NOT NULL constraint failed: job_rows.first_name = 'SKYLER'")
    assert describe(driver) == "database unavailable: IntegrityError"
    try:
        try:
            raise OperationalError("INSERT INTO job_rows", {"first_name": "SKYLER"}, driver)
        except OperationalError as inner:
            raise RuntimeError(f"could not store the rows: {inner}") from inner
    except RuntimeError as outer:
        assert describe(outer) == "database unavailable: OperationalError"
        assert is_database_error(outer)
    try:
        try:
            raise driver
        except sqlite3.Error:
            raise ValueError("while writing: SKYLER") from None  # the context is still the driver's
    except ValueError as outer:
        assert describe(outer) == "database unavailable: IntegrityError"


def test_the_database_never_puts_row_values_in_its_error_text(db) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from engine.models import JobRow

    with pytest.raises(SQLAlchemyError) as failed, db.write() as session:
        session.execute(JobRow.__table__.insert(), [{"job_id": 999, "row_number": 1, "first_name": "SKYLER",
                                                     "subscriber_id": "0490705351"}])
    assert "SKYLER" not in str(failed.value) and "0490705351" not in str(failed.value)
    assert "parameters hidden" in str(failed.value)


def test_a_traceback_keeps_everything_but_the_quoted_rows() -> None:
    text = ("Traceback (most recent call last):\n  File \"engine/submit.py\", line 9, in submit_file\n"
            "psycopg.errors.NotNullViolation: null value in column \"claim_number\"\n"
            "DETAIL:  Failing row contains (1, 1, null, SKYLER).\n"
            "[SQL: INSERT INTO job_rows (first_name)\nVALUES (%(first_name)s)]\n"
            "[parameters: {'first_name': 'SKYLER'}]\n(Background on this error at: https://sqlalche.me/e/20/gkpj)")
    cleaned = without_row_values(text)
    assert "SKYLER" not in cleaned and "INSERT" not in cleaned
    assert 'in submit_file' in cleaned and 'null value in column "claim_number"' in cleaned
    assert cleaned.count("[SQL omitted]") == 2 and "(Background on this error" in cleaned
    assert without_row_values("job 7 done: 5 rows") == "job 7 done: 5 rows"


def test_anything_else_is_unexpected() -> None:
    assert describe(KeyError("job_id")) == "unexpected KeyError: 'job_id'"
    assert describe(ValueError("bad value")) == "unexpected ValueError: bad value"
    assert describe(RuntimeError()) == "unexpected RuntimeError"


def test_the_line_is_safe_on_a_terminal_and_bounded() -> None:
    line = describe(OperatorError("job \x1b[2J7\r\nfailed", hint="see \u202elogs"))
    assert line == "job ␛[2J7␍␊failed — see <U+202E>logs"
    assert describe(FileNotFoundError(errno.ENOENT, "x", "a\x07.csv")) == "a␇.csv: no such file or directory"
    assert describe(RuntimeError("\x1b]0;owned\x07")) == "unexpected RuntimeError: ␛]0;owned␇"
    long = describe(OperatorError("x" * 2000))
    assert len(long) == MAX_LEN and long.endswith("…")


def test_rich_markup_stays_text() -> None:
    # the interfaces render the line as plain text, never as markup: it is passed on as typed
    assert describe(OperatorError("[@click=app.quit]x[/] does not exist")) == "[@click=app.quit]x[/] does not exist"
