"""The one root of errors an operator should read: a line in claimsops' own words and, where
there is one, what to do about it.

`describe` is the one translator from an exception to that line, for the CLI, the console
and the workers alike. File-system errors name the path; the database library's errors (whose
text carries SQL and row values) become "database unavailable: <class>", also when they are
wrapped in, or the cause of, another exception; anything else is a bug, "unexpected <class>:
<text>"."""

from __future__ import annotations

import os
import re

from engine.text import mask_secrets, safe_text

MAX_LEN = 500
HINT_SEPARATOR = " — "

# OSError subclasses -> what claimsops says after the path (checked in order: most specific first)
_OS_WORDS: tuple[tuple[type[OSError], str], ...] = (
    (FileNotFoundError, "no such file or directory"),
    (IsADirectoryError, "is a directory"),
    (NotADirectoryError, "not a directory"),
    (FileExistsError, "already exists"),
    (PermissionError, "permission denied"),
)


class OperatorError(Exception):
    """A refusal or failure an operator can act on. `str(exc)` is the message; `hint` is what
    to do next (may be empty)."""

    hint: str = ""

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


def describe(exc: BaseException) -> str:
    """One safe line (no control characters, no credentials, at most MAX_LEN characters) an
    operator can read, for any exception: an OperatorError's message and hint, a file-system
    error naming the path, "database unavailable: …" for the database library, "unexpected …"
    for the rest."""
    return safe_text(mask_secrets(_words(exc)), max_len=MAX_LEN)


# The parts of a database error's text that quote rows: SQLAlchemy's statement and parameters,
# PostgreSQL's DETAIL and CONTEXT lines ("Failing row contains (…)", "Key (…)=(…)").
_SQL_BLOCK = re.compile(r"\[(?:SQL|parameters): .*?\](?=\n|$)", re.S)
_DETAIL_LINE = re.compile(r"^(DETAIL|CONTEXT): .*$", re.M)


def without_row_values(text: str) -> str:
    """A traceback or error text with the database's quotes of statements and rows taken out,
    for the log lines (which keep the rest of a traceback for whoever debugs)."""
    if not any(mark in text for mark in ("[SQL: ", "[parameters: ", "DETAIL: ", "CONTEXT: ")):
        return text
    text = _SQL_BLOCK.sub("[SQL omitted]", text)
    return _DETAIL_LINE.sub(r"\1: (omitted: it quotes row values)", text)


def is_database_error(exc: BaseException) -> bool:
    """The database could not be reached or queried (as opposed to a refusal or a bug)."""
    from engine.db import DatabaseError

    return isinstance(exc, DatabaseError) or _database_library_error(exc) is not None


def _words(exc: BaseException) -> str:
    if isinstance(exc, OperatorError):
        return f"{exc.message}{HINT_SEPARATOR}{exc.hint}" if exc.hint else exc.message
    if isinstance(exc, OSError):
        said = _os_words(exc)
        if said:
            return said
    library = _database_library_error(exc)
    if library is not None:
        if _write_refused(library):
            return READ_ONLY_ROLE
        return f"database unavailable: {type(library).__name__}"
    text = str(exc)
    return f"unexpected {type(exc).__name__}: {text}" if text else f"unexpected {type(exc).__name__}"


def _os_words(exc: OSError) -> str:
    path = os.fsdecode(exc.filename) if isinstance(exc.filename, str | bytes) else exc.filename
    if path is not None:
        for kind, words in _OS_WORDS:
            if isinstance(exc, kind):
                return f"{path}: {words}"
    reason = exc.strerror or str(exc)
    if reason[:1].isupper() and not reason[1:2].isupper():
        reason = reason[0].lower() + reason[1:]  # the library's "No space left" -> claimsops' lower case
    return f"{path}: {reason}" if path is not None and reason else reason


READ_ONLY_ROLE = ("the database refused the write: this database role may only read"
                  f"{HINT_SEPARATOR}acting needs a role that can write (README, Security)")


def _write_refused(exc: BaseException) -> bool:
    """PostgreSQL's insufficient privilege (SQLSTATE 42501), or a read-only SQLite file."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "42501":
        return True
    return "readonly database" in str(orig)


# the database drivers' own errors, raised without SQLAlchemy around them
_DRIVER_MODULES = ("sqlite3", "psycopg", "psycopg2", "psycopg_pool")


def _database_library_error(exc: BaseException) -> BaseException | None:
    """The SQLAlchemy or driver error that `exc` is or was caused by (its text may quote SQL
    and row values), or None."""
    # imported here: most modules that raise an OperatorError never touch the database
    from sqlalchemy.exc import SQLAlchemyError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SQLAlchemyError):
            return current
        if type(current).__module__.split(".", 1)[0] in _DRIVER_MODULES:
            return current
        current = current.__cause__ or current.__context__
    return None
