"""The sanitiser (safe_text, escape_markup) and PHI masking (mask_phi, mask_value)."""

from __future__ import annotations

import time
import unicodedata
from datetime import date

import pytest
from rich.markup import escape as rich_escape
from rich.markup import render as rich_render
from textual.content import Content

from engine.text import escape_markup, mask_phi, mask_secrets, mask_value, safe_text
from tests.fixtures import csv_cases as cases

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def unsafe_chars(text: str, allowed: str = "") -> list[str]:
    return [
        f"U+{ord(ch):04X}"
        for ch in text
        if unicodedata.category(ch) in UNSAFE_CATEGORIES and ch not in allowed
    ]


# --- safe_text ----------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", cases.HOSTILE_STRINGS)
def test_hostile_strings_have_no_control_or_format_characters(hostile: str) -> None:
    shown = safe_text(hostile)
    assert unsafe_chars(shown) == []
    assert unsafe_chars(safe_text(hostile, keep_newlines=True), allowed="\n") == []
    assert safe_text(shown) == shown  # idempotent


def test_escape_sequences_become_visible_symbols() -> None:
    assert safe_text("\x1b]52;c;cm0gLXJmIH4=\x07Bob") == "␛]52;c;cm0gLXJmIH4=␇Bob"
    assert safe_text("\x1b[2J\x1b[HSmith") == "␛[2J␛[HSmith"
    assert safe_text("a\x00b\x7fc\x9bd") == "a␀b␡c<U+009B>d"
    assert safe_text("tab\tcr\rlf\n") == "tab␉cr␍lf␊"


def test_markup_is_left_as_text_for_a_plain_text_renderer() -> None:
    for hostile in ("[@click=app.quit]quit[/]", "[link=http://example.invalid]x[/link]"):
        assert safe_text(hostile) == hostile


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u202e", "<U+202E>"),  # right-to-left override
        ("\u202a", "<U+202A>"),
        ("\u2066", "<U+2066>"),  # isolates
        ("\u2069", "<U+2069>"),
        ("\u200f", "<U+200F>"),  # right-to-left mark
        ("\u200b", "<U+200B>"),  # zero width space
        ("\ufeff", "<U+FEFF>"),
        ("\u2028", "<U+2028>"),  # line separator
        ("\U000e0041", "<U+E0041>"),  # tag character (hidden text)
    ],
)
def test_bidi_and_invisible_characters_are_made_visible(char: str, shown: str) -> None:
    assert safe_text(f"abc{char}def") == f"abc{shown}def"


def test_every_control_and_format_code_point_is_replaced() -> None:
    unsafe = "".join(
        chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) in UNSAFE_CATEGORIES
    )
    assert len(unsafe) > 2000
    assert unsafe_chars(safe_text(unsafe)) == []
    assert unsafe_chars(safe_text(unsafe, keep_newlines=True), allowed="\n") == []


def test_keep_newlines() -> None:
    assert safe_text("a\r\nb\nc\rd\te\x1b", keep_newlines=True) == "a\nb\nc␍d␉e␛"


def test_none_non_strings_and_truncation() -> None:
    assert safe_text(None) == ""
    assert safe_text(42) == "42"
    assert safe_text(date(2025, 5, 1)) == "2025-05-01"
    assert safe_text("abcdef", max_len=6) == "abcdef"
    assert safe_text("abcdefg", max_len=6) == "abcde…"
    assert safe_text("\x1b\x1b\x1b", max_len=2) == "␛…"
    assert safe_text("abc", max_len=0) == ""
    assert len(safe_text("x" * 1000, max_len=80)) == 80


def test_ordinary_text_is_unchanged() -> None:
    text = "Zoë Ñúñez-O'Brien — 東京 🎉 [bold] $1,200.00"
    assert safe_text(text) == text


# --- escape_markup ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [*cases.HOSTILE_STRINGS, "plain", "a\\", "a\\\\", "\\[b]", "x[#fff]y", "[not a tag", "[1]"],
)
def test_escape_markup_matches_rich(text: str) -> None:
    assert escape_markup(text) == rich_escape(text)


@pytest.mark.parametrize(
    "markup",
    ["[@click=app.quit]quit[/]", "[link=http://example.invalid]x[/link]", "[/bold]", "[red]x"],
)
def test_escaped_markup_renders_literally(markup: str) -> None:
    escaped = escape_markup(markup)
    assert rich_render(escaped).plain == markup
    content = Content.from_markup(escaped)
    assert content.plain == markup
    assert not content.spans  # no style, link or action survives


# --- mask_phi -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("first_name=SKYLER", "first_name=***"),
        ("last_name=MARIA RAPH status=ok", "last_name=*** status=ok"),
        ('{"ptntLn": "SMITH", "ptntFn": "SKYLER"}', '{"ptntLn": "***", "ptntFn": "***"}'),
        ("dob: 07/26/2002, tin=854203105", "dob: ***, tin=854203105"),
        ("subscriberId=0490705351&payerId=87726", "subscriberId=***&payerId=87726"),
        ("memberId=ABC123456", "memberId=***"),
        ('"dateOfBirth": "2002-07-26"', '"dateOfBirth": "***"'),
        ("firstName: Zoë lastName: Ñúñez-O'Brien", "firstName: *** lastName: ***"),
        ("patient_name='SKYLER SMITH'", "patient_name='***'"),
        ("member_id=ABC123 subscriber_id=XYZ", "member_id=*** subscriber_id=***"),
        ("date_of_birth=datetime.date(2002, 7, 26), x=1", "date_of_birth=***, x=1"),
        ("First Name: Ana", "First Name: ***"),
        ("PATIENT-DOB=1/2/1990", "PATIENT-DOB=***"),
        ("ptntDob=07/26/2002", "ptntDob=***"),
        ("'last_name': 'O\\'Brien'", "'last_name': '***'"),
        ('body={\\"firstName\\": \\"SKYLER\\"}', 'body={\\"firstName\\": \\"***\\"}'),
        ("member 0490705351 not found", "member *** not found"),
        ("looked up 0490705351.", "looked up ***."),
        ("İstanbul memberId=ABC12", "İstanbul memberId=***"),
    ],
)
def test_mask_phi_masks(line: str, masked: str) -> None:
    assert mask_phi(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "claim FG53171076 finalized",
        "claim_number=FG53171076 status=Denied",
        "claim_number=20251234567890 (numeric ICN)",
        "tin=854203105 payer=87726",
        "job 123e4567-e89b-12d3-a456-426614174000 claimed by worker-3",
        "job=42 rows=100000 done=99999 in 12.5s",
        "first_service_date=2025-05-01 last_service_date=2025-05-02",
        "window 05/01/2025..05/31/2025 returned 50 claims",
        "task name=purge_logs filename=claims.csv ln=42 fn=x",
        "took 1732838400.123 s; offset 12345678901.5",
        "GET /Claims/api/claim/summary/byprovider/v2.0 200",
    ],
)
def test_mask_phi_leaves_other_values(line: str) -> None:
    assert mask_phi(line) == line


def test_mask_phi_multiline_traceback() -> None:
    text = "Traceback:\n  row first_name=SKYLER\nValueError: bad dob=07/26/2002\nnext line"
    assert mask_phi(text) == (
        "Traceback:\n  row first_name=***\nValueError: bad dob=***\nnext line"
    )


def test_mask_phi_is_fast_and_never_backtracks_badly() -> None:
    lines = [
        f"2025-05-01 12:00:{n % 60:02d} INFO worker job=42 row {n} claim FG5317{n:04d} ok"
        for n in range(20_000)
    ] + [f"row {n} first_name=SKYLER last_name=SMITH dob=07/26/2002" for n in range(20_000)]
    start = time.perf_counter()
    for line in lines:
        mask_phi(line)
    assert time.perf_counter() - start < 2.0  # ~0.2 s on a laptop; a catastrophe is minutes
    nasty = "first_name=" + "a " * 20_000 + "x=" * 5_000
    start = time.perf_counter()
    mask_phi(nasty)
    assert time.perf_counter() - start < 2.0


# --- mask_value ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "masked"),
    [
        ("SKYLER", "name", "S•••"),
        ("Ñúñez-O'Brien", "name", "Ñ•••"),
        ("\x1bevil", "name", "␛•••"),
        ("07/26/2002", "dob", "••/••/2002"),
        ("2002-07-26", "dob", "••/••/2002"),
        (date(2002, 7, 26), "dob", "••/••/2002"),
        ("garbage", "dob", "••/••/••••"),
        ("0490705351", "member_id", "••••51"),
        ("ABC12", "member_id", "••••12"),
        ("1234", "member_id", "••••"),
        ("", "name", ""),
        ("  ", "member_id", ""),
        (None, "dob", ""),
    ],
)
def test_mask_value(value: object, kind: str, masked: str) -> None:
    assert mask_value(value, kind) == masked


def test_mask_value_unknown_kind() -> None:
    with pytest.raises(ValueError):
        mask_value("x", "ssn")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("rejected: Authorization: Bearer abc.def.ghi (bad)", "rejected: Authorization: Bearer *** (bad)"),
        ("client_secret=sandbox-secret&grant_type=client_credentials",
         "client_secret=***&grant_type=client_credentials"),
        ('{"access_token": "tok-123", "expires_in": 3600}', '{"access_token": "***", "expires_in": 3600}'),
        ("password: hunter2, retry", "password: ***, retry"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl seen", "token *** seen"),
        ("opaque " + "a1B2" * 12 + " end", "opaque *** end"),
    ],
)
def test_mask_secrets_masks_credentials_and_keeps_their_keys(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "job 12 window 2025-01-01..2025-02-01 skipped: payer answered 500 6 times in a row",
        "correlation 3f2a9c1e-1234-4bcd-9abc-1234567890ab, claim 26A1234567890",
        "/home/operator/.local/share/claimsops/archive/job-000123-2025-06-30-results.csv",
        "x" * 60,
    ],
)
def test_mask_secrets_leaves_ordinary_log_lines_alone(text: str) -> None:
    assert mask_secrets(text) == text
