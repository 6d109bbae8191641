"""Streaming CSV intake (docs/csv-format.md, "Input").

    with open_intake(path, max_bytes=…, max_rows=…) as intake:
        for row in intake.rows():      # streamed: memory does not grow with the file
            …                          # write rows inside one transaction
        intake.warnings                # final once the rows have been read

`open_intake` rejects, with `IntakeError`, whatever is wrong with the whole file and can be
seen before the first row: not a regular file (a FIFO, a device, a directory, also behind a
symlink), size, emptiness, binary content, no header, no claim number column, no data rows.
It reads the bytes once to check the encoding and binary content, then streams the rows.
`rows()` may still raise `IntakeError` mid-stream (more rows than the limit, broken quoting,
a value over 128 KiB): the caller rolls back.

Encoding: UTF-8, with or without a BOM. A file that is not valid UTF-8 is read as
Windows-1252 (with a warning) when it has no more valid UTF-8 characters than bad bytes (an
ANSI export); otherwise it is UTF-8 with a few damaged bytes: it is read as UTF-8, and each
row with a bad byte is Invalid, naming its line (its values are not known), so that one bad
byte never re-decodes, and corrupts, every accented name in the file.

No message quotes the file's data: a first line that looks like data is named by its line
number only (the file may be anything a path points at).

Row numbers: `row_number` is the 1-based number of the data row, not counting the header or
blank lines (blank lines are skipped and do not consume a number), so the results file has
rows 1..N without gaps. `line_number` is the physical line where the row starts, for
messages an operator can find in an editor.

Duplicates: a valid row whose claim number an earlier valid row has gets `duplicate_of`
(that row's number); `duplicate_rows` counts them and one warning gives the count. Invalid
rows are never duplicates. A missing service date defaults to the other one.

Text is kept raw (markup, escape sequences, formulas): safety is applied at display
(`engine.text.safe_text`) and export (`engine.export`), not here.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TextIO

from engine.errors import OperatorError
from engine.identifiers import PAYER_ID_RULE, TIN_RULE, clean_tin, is_valid_payer_id, is_valid_tin
from engine.models import JobRow, text_limits
from engine.text import safe_text

__all__ = [
    "CANONICAL_COLUMNS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "MAX_CLAIM_NUMBER_LENGTH",
    "CsvIntake",
    "IntakeError",
    "IntakeRow",
    "open_intake",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
MAX_CLAIM_NUMBER_LENGTH = 30
# the free-text columns a row stores, and the lengths their database columns hold
_LENGTHS = {
    name: limit
    for name, limit in text_limits(JobRow.__table__).items()
    if name in ("first_name", "last_name", "subscriber_id", "patient_account_number")
}

# canonical column -> accepted header spellings (compared with case, spaces, _ and - ignored)
_SPELLINGS: dict[str, tuple[str, ...]] = {
    "claim_number": ("claim number", "claim no", "claim #", "claimnumber", "claim id", "icn"),
    "first_name": ("patient first name", "ptnt fn", "member first name"),
    "last_name": ("patient last name", "ptnt ln", "member last name"),
    "date_of_birth": ("dob", "birth date", "patient dob"),
    "subscriber_id": ("member id", "subscriber", "member number"),
    "first_service_date": ("service date from", "dos from", "dos", "date of service"),
    "last_service_date": ("service date to", "dos to"),
    "tin": ("billing tin", "tax id", "provider tin"),
    "payer_id": ("payer",),
    "patient_account_number": ("account number", "patient account"),
}
CANONICAL_COLUMNS: tuple[str, ...] = tuple(_SPELLINGS)


def normalize_header(name: str) -> str:
    """A header cell as compared with the accepted spellings: lower case, no spaces, `_`, `-`."""
    return re.sub(r"[\s_\-]+", "", name).lower()


_ALIASES: dict[str, str] = {
    normalize_header(spelling): canonical
    for canonical, spellings in _SPELLINGS.items()
    for spelling in (canonical, *spellings)
}

_CHUNK = 64 * 1024
_DELIMITERS = (",", ";", "\t")
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))
_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
_DATA_LIKE = re.compile(r"^(?:[A-Za-z]{0,4}\d{5,}|\d{1,4}[/-]\d{1,2}[/-]\d{1,4})$")
# a byte that is not UTF-8, as the "surrogateescape" error handler decodes it
_BAD_BYTE = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")
# characters a claim number never has: format (bidi, zero-width, BOM), separators other than
# the space, surrogates, private use and unassigned code points
_INVISIBLE = frozenset(("Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _cp1252_undefined(error: UnicodeError) -> tuple[str, int]:
    """Windows-1252 leaves five bytes undefined; read them as the C1 control of the same
    number (as browsers do) so that no byte is lost; they are shown as `<U+0081>` etc."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(chr(b) for b in bad), error.end


codecs.register_error("claimsops.cp1252", _cp1252_undefined)


class IntakeError(OperatorError):
    """The whole file is refused. The message is one line naming the file and the problem."""


@dataclass(slots=True)
class IntakeRow:
    """One data row. `invalid_reason` is None for a valid row, else why the row is `Invalid`
    (every problem of the row, joined with "; "). `raw` keeps each canonical field as given
    (trimmed), so nothing is lost when a value does not parse. `duplicate_of` is the row
    number of the first valid row with the same claim number (that row is looked up once)."""

    row_number: int
    line_number: int
    claim_number: str
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    subscriber_id: str = ""
    first_service_date: date | None = None
    last_service_date: date | None = None
    tin: str = ""
    payer_id: str = ""
    patient_account_number: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    invalid_reason: str | None = None
    duplicate_of: int | None = None

    @property
    def is_valid(self) -> bool:
        return self.invalid_reason is None


def open_intake(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
    today: date | None = None,
) -> CsvIntake:
    """Open and check a CSV file; raises `IntakeError` for a whole-file problem."""
    return CsvIntake(path, max_bytes=max_bytes, max_rows=max_rows, today=today)


class CsvIntake:
    """An opened, checked CSV file whose rows are read by `rows()` (once). A context manager."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_rows: int = DEFAULT_MAX_ROWS,
        today: date | None = None,
    ) -> None:
        self.file_name = Path(path).name
        self.max_rows = max_rows
        self.today = today or date.today()
        self.warnings: list[str] = []
        self.encoding = "utf-8"
        self.has_bom = False
        self.delimiter = ","
        self.header: list[str] = []
        self.columns: dict[str, str] = {}
        self.extra_columns: list[str] = []
        self.row_count = 0
        self.invalid_rows = 0
        self.duplicate_rows = 0
        self._indexes: dict[str, int] = {}
        self._extra_indexes: list[tuple[str, int]] = []
        self._consumed = False
        self._dates: dict[str, tuple[date | None, str | None]] = {}
        self._tins: dict[str, tuple[str, bool]] = {}  # as given -> (cleaned, valid); TINs repeat
        self._marked = False  # UTF-8 with bad bytes: rows that have one are Invalid
        self._bad_lines: list[int] = []  # the first few lines with a bad byte
        self._bad_line_count = 0
        self._binary: BinaryIO = self._open_regular(path)
        self._text: TextIO | None = None
        try:
            self._check_bytes(max_bytes)
            self._open_text()
        except BaseException:
            self.close()
            raise

    # -- context manager ----------------------------------------------------------------

    def __enter__(self) -> CsvIntake:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._binary.closed

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        self._binary.close()

    def _fail(self, problem: str) -> IntakeError:
        return IntakeError(f"{safe_text(self.file_name, max_len=120)}: {problem}")

    def _open_regular(self, path: str | os.PathLike[str]) -> BinaryIO:
        """The file, opened for reading if it is (or a symlink resolves to) a regular file the
        operator may read. Never blocks: a FIFO is refused before it is opened."""
        try:
            real = os.path.realpath(path)
            self._check_regular(os.stat(real).st_mode)
            if not os.access(real, os.R_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            # O_NOFOLLOW and O_NONBLOCK: a path swapped after the check cannot block or redirect
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            raise self._fail(f"cannot open the file ({error.strerror or error})") from None
        try:
            self._check_regular(os.fstat(fd).st_mode)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def _check_regular(self, mode: int) -> None:
        if stat.S_ISREG(mode):
            return
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
        raise self._fail(f"not a regular file (it is {kind}); give the path of a CSV file")

    # -- whole-file checks --------------------------------------------------------------

    def _check_bytes(self, max_bytes: int) -> None:
        """Size, emptiness, binary content and encoding, in one bounded pass over the bytes."""
        size = os.fstat(self._binary.fileno()).st_size
        if size == 0:
            raise self._fail("the file is empty")
        if size > max_bytes:
            raise self._fail(
                f"the file is {size:,} bytes, over the limit of {max_bytes:,} bytes"
                f" ({max_bytes / 1024 / 1024:g} MB)"
            )
        head = self._binary.read(8)
        self._reject_known_binary(head)
        self.has_bom = head.startswith(codecs.BOM_UTF8)
        self._binary.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8 = True
        blank = True
        controls = lines = total = 0
        while chunk := self._binary.read(_CHUNK):
            if total == 0 and self.has_bom:
                chunk = chunk[len(codecs.BOM_UTF8) :]
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = lines + chunk.count(b"\n", 0, nul) + 1
                raise self._fail(f"not a CSV file (binary content: a NUL byte on line {line})")
            total += len(chunk)
            lines += chunk.count(b"\n")
            controls += len(chunk.translate(None, _TEXT_BYTES))
            blank = blank and not chunk.strip()
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if total > max_bytes:  # the file grew while we read it
                raise self._fail(f"the file is over the limit of {max_bytes:,} bytes")
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
        if controls * 4 > total:
            raise self._fail("not a CSV file (binary content: mostly control characters)")
        if blank:
            raise self._fail("no header row (the file has only blank lines)")
        if not utf8 and self._mostly_utf8():
            self._marked = True
        elif not utf8:
            self.encoding = "windows-1252"
            self.warnings.append(
                f"{self.file_name} is not UTF-8: read as Windows-1252 (check accented names)"
            )

    def _mostly_utf8(self) -> bool:
        """More valid UTF-8 characters (beyond ASCII) than bytes that are not UTF-8: a UTF-8
        file with a few damaged bytes, not a Windows-1252 one. A second pass, only over a file
        that is not valid UTF-8."""
        self._binary.seek(len(codecs.BOM_UTF8) if self.has_bom else 0)
        decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        good = bad = 0
        while True:
            chunk = self._binary.read(_CHUNK)
            text = decoder.decode(chunk, final=not chunk)
            good += len(_NON_ASCII.findall(text))
            bad += len(_BAD_BYTE.findall(text))
            if not chunk:
                return good > bad

    def _reject_known_binary(self, head: bytes) -> None:
        kinds = {
            b"PK\x03\x04": "an Excel workbook or ZIP archive; save it as CSV",
            b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook; save it as CSV",
            b"%PDF": "a PDF document",
        }
        for magic, kind in kinds.items():
            if head.startswith(magic):
                raise self._fail(f"not a CSV file (it is {kind})")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise self._fail("not a CSV file this tool reads (UTF-16 text); save it as CSV UTF-8")

    def _open_text(self) -> None:
        """Open the text stream, find the delimiter and the header, map the columns, and read
        ahead to the first data row (so that a header-only file is refused up front)."""
        if self._marked:
            codec, errors = "utf-8", "surrogateescape"
        elif self.encoding == "utf-8":
            codec, errors = "utf-8", "strict"
        else:
            codec, errors = "cp1252", "claimsops.cp1252"
        self._binary.seek(len(codecs.BOM_UTF8) if self.has_bom else 0)
        self._text = io.TextIOWrapper(self._binary, encoding=codec, errors=errors, newline="")
        lines = iter(self._text)
        peeked: list[str] = []
        for line in lines:
            peeked.append(line)
            if line.strip():
                break
        self.delimiter = self._detect_delimiter(peeked[-1])
        self._reader = csv.reader(chain(peeked, lines), delimiter=self.delimiter, strict=True)
        header = self._next_record()
        if header is None:
            raise self._fail("no header row (the file has only blank lines)")
        self._header_line = self._start_line
        if self._marked and any(_BAD_BYTE.search(cell) for cell in header):
            header = [_BAD_BYTE.sub("\ufffd", cell) for cell in header]
            self._note_bad_line(self._header_line)
        self._map_header(header)
        self._first = self._next_record()
        if self._first is None:
            raise self._fail("no data rows (the file has only a header)")

    def _detect_delimiter(self, line: str) -> str:
        """The delimiter whose split of the header line names a claim number column (the most
        columns wins); failing that, the most frequent one; comma when none occurs."""
        best, best_key = ",", (False, 0)
        for delimiter in _DELIMITERS:
            try:
                cells = next(csv.reader([line], delimiter=delimiter), [])
            except csv.Error:  # e.g. a cell over the field limit: the reader reports it
                continue
            names = {_ALIASES.get(normalize_header(c)) for c in cells}
            key = ("claim_number" in names, len(cells))
            if key > best_key:
                best, best_key = delimiter, key
        return best

    def _next_record(self) -> list[str] | None:
        """The next non-blank record, or None at the end of the file."""
        while True:
            self._start_line = self._reader.line_num + 1
            try:
                record = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as error:
                raise self._csv_error(error) from None
            except UnicodeDecodeError:  # checked up front: the file changed while being read
                raise self._fail("the file changed while it was being read") from None
            if "".join(record).strip():  # a cell that is not blank
                return record

    def _csv_error(self, error: csv.Error) -> IntakeError:
        line = self._reader.line_num
        text = str(error)
        if "field larger than field limit" in text:
            limit = csv.field_size_limit()
            return self._fail(f"line {line}: a value is longer than {limit:,} characters")
        if "unexpected end of data" in text:
            return self._fail(
                f"line {self._start_line}: a quoted value is never closed (a stray '\"')"
            )
        return self._fail(
            f"line {line}: not valid CSV ({safe_text(text, max_len=80)}); a value with quotes"
            " must be quoted and its quotes doubled"
        )

    def _map_header(self, header: list[str]) -> None:
        self.header = [cell.strip().lstrip("\ufeff") for cell in header]
        extras: set[str] = set()
        for index, name in enumerate(self.header):
            canonical = _ALIASES.get(normalize_header(name))
            if canonical and canonical in self.columns:
                first = safe_text(self.columns[canonical], max_len=40)
                raise self._fail(
                    f'the columns "{first}" and "{safe_text(name, max_len=40)}" both mean'
                    f" {canonical}; keep one of them"
                )
            if canonical:
                self.columns[canonical] = name
                self._indexes[canonical] = index
                continue
            extra = name or f"column_{index + 1}"
            if extra in extras:
                renamed = next(
                    f"{extra}_{n}" for n in range(2, 10**6) if f"{extra}_{n}" not in extras
                )
                self.warnings.append(
                    f'the column name "{safe_text(extra, max_len=40)}" appears more than once;'
                    f' the copy in column {index + 1} is kept as "{safe_text(renamed, max_len=44)}"'
                )
                extra = renamed
            extras.add(extra)
            self.extra_columns.append(extra)
            self._extra_indexes.append((extra, index))
        if "claim_number" not in self.columns:
            raise self._fail(self._no_claim_column())
        self._length_checks = [(name, n) for name, n in _LENGTHS.items() if name in self._indexes]
        # what each row reads, worked out once for the file (see _make_row)
        self._raw_names = tuple(self._indexes)
        self._raw_cells = _cells_getter(tuple(self._indexes.values()))
        self._extra_names = tuple(name for name, _ in self._extra_indexes)
        self._extra_cells = _cells_getter(tuple(i for _, i in self._extra_indexes))
        self._has_dates = not self._indexes.keys().isdisjoint(
            ("date_of_birth", "first_service_date", "last_service_date"))

    def _no_claim_column(self) -> str:
        """Why the header has no claim number column. The first line's cells are quoted only
        when some of them name known columns: otherwise the line is data, or not a CSV at all
        (a secret a symlink points at), and is named by its number alone."""
        line = self._header_line
        if not self.columns and any(_DATA_LIKE.match(h) for h in self.header):
            return (
                f"line {line} looks like data: the file needs a header row naming the columns,"
                " e.g. claim_number,first_name,last_name,date_of_birth,subscriber_id"
            )
        spellings = ", ".join(("claim_number", *_SPELLINGS["claim_number"]))
        if not self.columns:
            return (
                f"no claim number column (looked for: {spellings}); line {line} names none of"
                " the columns this tool reads: the file needs a header row"
            )
        found = ", ".join(safe_text(h, max_len=30) for h in self.header[:8])
        return f"no claim number column (looked for: {spellings}; found: {found})"

    # -- rows ---------------------------------------------------------------------------

    def rows(self) -> Iterator[IntakeRow]:
        """The data rows, streamed, in file order. May raise `IntakeError` mid-stream."""
        if self._consumed:
            raise RuntimeError("rows() can be read only once")
        self._consumed = True
        first_rows: dict[str, int] = {}  # claim number -> first valid row with it
        record, line = self._first, self._start_line
        while record is not None:
            if self.row_count >= self.max_rows:
                raise self._fail(
                    f"more than {self.max_rows:,} rows (the limit is {self.max_rows:,});"
                    " split the file"
                )
            self.row_count += 1
            row = self._make_row(self.row_count, line, record)
            if row.invalid_reason is not None:
                self.invalid_rows += 1
            elif row.claim_number in first_rows:
                row.duplicate_of = first_rows[row.claim_number]
                self.duplicate_rows += 1
            else:
                first_rows[row.claim_number] = row.row_number
            yield row
            record = self._next_record()
            line = self._start_line
        if self._bad_line_count:
            self.warnings.append(self._bad_bytes_warning())
        if self.duplicate_rows:
            n = self.duplicate_rows
            rows_repeat = "1 row repeats" if n == 1 else f"{n:,} rows repeat"
            self.warnings.append(
                f"{rows_repeat} a claim number already in the file; each is looked up once"
            )

    def _note_bad_line(self, line: int) -> None:
        self._bad_line_count += 1
        if len(self._bad_lines) < 5:
            self._bad_lines.append(line)

    def _bad_bytes_warning(self) -> str:
        more = self._bad_line_count - len(self._bad_lines)
        shown = ", ".join(map(str, self._bad_lines)) + (f" and {more:,} more" if more else "")
        which = "line" if self._bad_line_count == 1 else "lines"
        return (
            f"{self.file_name} is UTF-8 except for bytes that are not, on {which} {shown}:"
            " their rows are Invalid (save the file as CSV UTF-8 and fix them)"
        )

    def _make_row(self, number: int, line: int, record: list[str]) -> IntakeRow:
        # Runs once per row: kept lean for 100,000-row files (what the row reads is worked out
        # once per file in _map_header; checks of values that repeat are remembered).
        width = len(self.header)
        cells = [c.strip() for c in record]
        problems: list[str] = []
        if self._marked:
            self._mark_bad_bytes(line, cells, problems)
        if len(cells) != width:
            if len(cells) > width and any(cells[width:]):
                problems.append(
                    f"the row has {len(cells)} values but the header has {width} columns"
                    f" (a value containing {_delimiter_name(self.delimiter)} must be in quotes)"
                )
            elif len(cells) < width:
                cells.extend([""] * (width - len(cells)))
        raw = dict(zip(self._raw_names, self._raw_cells(cells), strict=True))
        claim = raw["claim_number"]
        # printable ASCII has no control, invisible or bidi character: only other claim
        # numbers need the full check
        if not claim or len(claim) > MAX_CLAIM_NUMBER_LENGTH or not (claim.isascii() and claim.isprintable()):
            problems += _claim_number_problems(claim)
        for name, limit in self._length_checks:
            if len(raw[name]) > limit:
                problems.append(
                    f"{safe_text(self.columns[name], max_len=40)} is {len(raw[name]):,} characters"
                    f" long (at most {limit})"
                )
        tin = raw.get("tin", "")
        if tin:
            known_tin = self._tins.get(tin)
            if known_tin is None:
                if len(self._tins) >= 10_000:
                    self._tins.clear()
                cleaned = clean_tin(tin)
                known_tin = self._tins[tin] = (cleaned, not cleaned or is_valid_tin(cleaned))
            tin = known_tin[0]
            if not known_tin[1]:
                problems.append(TIN_RULE)
        payer_id = raw.get("payer_id", "")
        if payer_id and not is_valid_payer_id(payer_id):
            problems.append(PAYER_ID_RULE)
        birth = first = last = None
        if self._has_dates:
            birth = self._date("date_of_birth", raw, problems)
            first = self._date("first_service_date", raw, problems)
            last = self._date("last_service_date", raw, problems)
            if first and last and last < first:
                problems.append(
                    f"{self._label('last_service_date', raw)} is before"
                    f" {self._label('first_service_date', raw)}"
                )
        get = raw.get
        return IntakeRow(
            number,
            line,
            claim,
            get("first_name", ""),
            get("last_name", ""),
            birth,
            get("subscriber_id", ""),
            first or last,
            last or first,
            tin,
            payer_id,
            get("patient_account_number", ""),
            dict(zip(self._extra_names, self._extra_cells(cells), strict=True)),
            raw,
            "; ".join(problems) if problems else None,
        )

    def _mark_bad_bytes(self, line: int, cells: list[str], problems: list[str]) -> None:
        """In a UTF-8 file with damaged bytes: a row with one is Invalid, naming its line
        and the column; the byte is kept as U+FFFD (the database holds text only)."""
        first = True
        for index, cell in enumerate(cells):
            found = _BAD_BYTE.search(cell)
            if found is None:
                continue
            if first:
                first = False
                self._note_bad_line(line)
                column = self.header[index] if index < len(self.header) else ""
                problems.append(
                    f"line {line}: the byte 0x{ord(found.group()) - 0xDC00:02X} in"
                    f" {safe_text(column or f'column {index + 1}', max_len=40)} is not UTF-8"
                    " (save the file as CSV UTF-8)"
                )
            cells[index] = _BAD_BYTE.sub("\ufffd", cell)

    def _date(self, name: str, raw: dict[str, str], problems: list[str]) -> date | None:
        """The date in column `name`, if any; a problem with it is added to `problems`.
        Parsing is memoised: the same dates repeat across rows."""
        value = raw.get(name)
        if not value:
            return None
        known = self._dates.get(value)
        if known is None:
            if len(self._dates) >= 10_000:
                self._dates.clear()
            known = self._dates[value] = _parse_date(value, self.today)
        if known[1]:
            problems.append(f"{self._label(name, raw)} {known[1]}")
        return known[0]

    def _label(self, name: str, raw: dict[str, str]) -> str:
        """A field for a reason: its header as in the file, and its value as given."""
        return f"{safe_text(self.columns[name], max_len=40)} {safe_text(raw[name], max_len=40)}"


def _cells_getter(indexes: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    """The cells at `indexes` of a row, as a tuple (itemgetter gives a single cell bare)."""
    if not indexes:
        return lambda cells: ()
    if len(indexes) == 1:
        only = indexes[0]
        return lambda cells: (cells[only],)
    return itemgetter(*indexes)


def _parse_date(value: str, today: date) -> tuple[date | None, str | None]:
    iso, us = _ISO_DATE.fullmatch(value), _US_DATE.fullmatch(value)
    try:
        if iso:
            parsed = date(int(iso[1]), int(iso[2]), int(iso[3]))
        elif us:
            parsed = date(int(us[3]), int(us[1]), int(us[2]))
        else:
            return None, "is not a date (use YYYY-MM-DD or MM/DD/YYYY)"
    except ValueError:
        return None, "is not a real date"
    if parsed > today:
        return None, "is in the future"
    return parsed, None


def _claim_number_problems(claim: str) -> list[str]:
    if not claim:
        return ["missing claim number"]
    problems = []
    if len(claim) > MAX_CLAIM_NUMBER_LENGTH:
        problems.append(
            f"claim number is {len(claim)} characters long (at most {MAX_CLAIM_NUMBER_LENGTH})"
        )
    if _CONTROL_CHARS.search(claim):
        problems.append("claim number contains control characters")
    invisible = next((ch for ch in claim if unicodedata.category(ch) in _INVISIBLE and ch != " "), None)
    if invisible is not None:
        problems.append(
            f"claim number contains an invisible or bidi character (U+{ord(invisible):04X})"
        )
    return problems


def _delimiter_name(delimiter: str) -> str:
    return {",": "a comma", ";": "a semicolon", "\t": "a tab"}[delimiter]
