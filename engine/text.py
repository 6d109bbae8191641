"""The one sanitiser for untrusted text, and PHI masking for logs and the screen.

Pure Python on purpose (no Rich, no Textual): the engine and the workers use it too.

- `safe_text` turns untrusted text (CSV cells, payer responses, log lines) into text that is
  safe to put on a terminal: no control character, escape sequence, bidi override or
  invisible format character survives; each is replaced by a visible symbol. Rich markup is
  *not* escaped here: the console renders the result as plain `Text`, never as markup. For
  the rare string that must be embedded in markup there is `escape_markup`.
- `mask_phi` masks member ids, names and birth dates in a log line (the logging filter).
- `mask_secrets` masks credentials a payer or a library echoed: bearer tokens, client secrets,
  access tokens, anything that looks like one.
- `mask_value` masks one value on screen until an operator reveals it.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["clip", "escape_markup", "mask_phi", "mask_secrets", "mask_value", "safe_text"]

ELLIPSIS = "…"

# --- safe_text -------------------------------------------------------------------------

# C0 controls -> Unicode Control Pictures (U+2400 + n); DEL -> U+2421.
_VISIBLE: dict[str, str] = {chr(n): chr(0x2400 + n) for n in range(0x20)}
_VISIBLE["\x7f"] = "\u2421"

# Code points shown as a `<U+XXXX>` token: C1 controls, and characters that are invisible
# or reorder text (bidi embeddings, overrides, isolates, marks; zero-width characters; the
# byte-order mark; line/paragraph separators; interlinear annotations; tag characters) –
# every character of Unicode categories Cf, Zl and Zp (checked by the tests against
# unicodedata), plus a few invisible letters (Hangul fillers) and the grapheme joiner.
_TOKEN_CLASS = (
    "\x80-\x9f"
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufeff\ufff9-\ufffb\uffa0"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
_UNSAFE = re.compile(f"[\x00-\x1f\x7f{_TOKEN_CLASS}\ud800-\udfff]")
_UNSAFE_KEEP_LF = re.compile(f"[\x00-\x09\x0b-\x1f\x7f{_TOKEN_CLASS}\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    ch = match.group()
    shown = _VISIBLE.get(ch)
    if shown is not None:
        return shown
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:  # a lone surrogate (undecodable input): cannot be printed
        return "\ufffd"
    return f"<U+{cp:04X}>"


def safe_text(value: object, *, max_len: int | None = None, keep_newlines: bool = False) -> str:
    """Untrusted value -> text that is safe on a terminal. `None` -> "".

    C0 controls (ESC, BEL, CR, LF, TAB, …) become Control Pictures (`␛`, `␇`, `␍`, `␊`,
    `␉`), DEL becomes `␡`, C1 controls and invisible/bidi format characters become
    `<U+XXXX>` tokens. With `keep_newlines`, LF is kept (and CRLF is read as LF); every other
    control is still replaced. With `max_len`, the result is cut to at most that many
    characters, the last being `…`. The result is idempotent: `safe_text(safe_text(x)) ==
    safe_text(x)`.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if keep_newlines:
        text = _UNSAFE_KEEP_LF.sub(_visible, text.replace("\r\n", "\n"))
    else:
        text = _UNSAFE.sub(_visible, text)
    return text if max_len is None else clip(text, max_len)


def clip(text: str, max_len: int) -> str:
    """`text` cut to at most `max_len` characters, the last being `…` when anything was cut
    (e.g. a payer's text to the length of its database column)."""
    if len(text) <= max_len:
        return text
    return text[: max_len - 1] + ELLIPSIS if max_len > 0 else ""


_MARKUP_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape_markup(s: str) -> str:
    """Escape text for embedding in Rich/Textual markup, exactly as `rich.markup.escape`
    does: every `[` that could open a tag becomes `\\[` (and backslashes before it are
    doubled), and a trailing single backslash is doubled."""

    def _escape(match: re.Match[str]) -> str:
        backslashes, tag = match.groups()
        return f"{backslashes}{backslashes}\\{tag}"

    s = _MARKUP_TAG.sub(_escape, s)
    if s.endswith("\\") and not s.endswith("\\\\"):
        return s + "\\"
    return s


# --- mask_phi --------------------------------------------------------------------------

MASK = "***"

_J = r"[_\- ]?"  # joiner inside a key: first_name, first-name, "first name", firstName
_PREFIX = rf"(?:patient|ptnt|member|mbr|subscriber|insured){_J}"
# Keys whose value is a name: the value may contain spaces ("MARIA RAPH").
_NAME_KEY = "|".join(
    [
        rf"(?:{_PREFIX})?(?:first|last|middle|full|given|family|sur|f|l){_J}name",
        rf"{_PREFIX}(?:name|fn|ln)",
        "patient|insured",
    ]
)
# Keys whose value is one token (a birth date, a member id).
_TOKEN_KEY = "|".join(
    [
        rf"(?:{_PREFIX})?(?:dob|date{_J}of{_J}birth|birth{_J}date|birthday)",
        rf"{_PREFIX}(?:id|number|num|no|nbr|account(?:{_J}(?:number|num|no|nbr))?)",
        "subscriber|member",
    ]
)
# Every key above contains one of these words: a line without any (and without a long digit
# run) is returned at once. Most log lines take this path.
_HINT_WORDS = ("name", "dob", "birth", "ptnt", "patient", "mbr", "member", "subscriber", "insured")
# A key that holds a claim number: its value is never masked (numeric ICNs are long).
_CLAIM_KEY = rf"(?:claim|clm){_J}(?:number|num|no|nbr|id|#)?|icn"

_SEP = r"""\\?["']?\s*[:=]\s*"""  # closing quote of the key (maybe JSON-escaped), `:` or `=`
_OPEN = r"""\\?["']"""  # the quote of a quoted value: " or ' (\" in JSON inside a string)
_INSIDE = r"(?:\\.|[^\\\n])*?"  # up to the same quote again; escaped characters skipped
_DATE_REPR = r"(?:datetime\.)?date\([^)]*\)"  # datetime.date(2002, 7, 26)
_STOP = r"""[,;&|(){}\[\]<>"\n]"""
# unquoted name: up to a separator or to the next `key=` / `key:`; may contain spaces
_BARE_NAME = (
    r"""[^,;&|(){}\[\]<>"'\s](?:[^,;&|(){}\[\]<>"\n]*?[^,;&|(){}\[\]<>"\s])?"""
    rf"""(?=\s+[\w.\-]+\s*[=:]|\s*{_STOP}|\s*$)"""
)
_BARE_TOKEN = r"""[^,;&|(){}\[\]<>"'\s]+"""
# Written in lower case and matched against the lower-cased line (three times faster than
# re.IGNORECASE); spans map back to the original line when lowering kept its length.
_PHI_PATTERN = (
    # not inside a word; then a cheap check of the first letter of every alternative
    r"(?<![a-z0-9])(?=[bcdfgilmps0-9])"
    rf"""(?:(?P<claim>(?:{_CLAIM_KEY}){_SEP}\\?["']?[\w\-]+)"""
    rf"""|(?P<nkey>(?:{_NAME_KEY}){_SEP})(?:(?P<nq>{_OPEN}){_INSIDE}(?P=nq)|{_BARE_NAME})"""
    rf"""|(?P<tkey>(?:{_TOKEN_KEY}){_SEP})(?:(?P<tq>{_OPEN}){_INSIDE}(?P=tq)|{_DATE_REPR}|{_BARE_TOKEN})"""
    # a bare run of 10+ digits (a member id), not part of a word, uuid, number or decimal
    r"|(?P<digits>(?<![_.\-])\d{10,}(?![\w\-]|\.\d)))"
)
_PHI = re.compile(_PHI_PATTERN)
_PHI_ANY_CASE = re.compile(_PHI_PATTERN, re.IGNORECASE)
_DIGITS = re.compile(r"\d{10}")


def mask_phi(message: str) -> str:
    """Mask member ids, patient names and birth dates in a log line.

    Masks the value of every PHI key in the usual spellings (`first_name=X`, `"ptntLn":
    "X"`, `dob: 07/26/2002`, `subscriberId=…`, `memberId`, `dateOfBirth`, `patient_name`,
    …), keeping the key and the quotes, and every free-standing run of 10 or more digits.
    Claim numbers (numeric ones too, after a claim key), TINs, job ids, service dates and
    counts are left alone.
    """
    low = message.lower()
    if not any(word in low for word in _HINT_WORDS) and not _DIGITS.search(message):
        return message
    # lowering may change the length (e.g. "İ"): then match the line itself, ignoring case
    same = len(low) == len(message)
    matches = _PHI.finditer(low) if same else _PHI_ANY_CASE.finditer(message)
    out: list[str] = []
    pos = 0
    for m in matches:
        if m.group("claim") is not None:
            continue
        out.append(message[pos : m.start()])
        if m.group("digits") is not None:
            out.append(MASK)
        else:
            key_end, q = (
                (m.end("nkey"), m.group("nq"))
                if m.group("nkey")
                else (m.end("tkey"), m.group("tq"))
            )
            q = q or ""
            out.append(f"{message[m.start() : key_end]}{q}{MASK}{q}")
        pos = m.end()
    if not out:
        return message
    out.append(message[pos:])
    return "".join(out)


# --- mask_secrets ----------------------------------------------------------------------

_TOKEN_CHARS = r"[A-Za-z0-9._~+/=\-]"
_OPAQUE = r"[A-Za-z0-9_~+=\-]"  # no `/` or `.`: a long path or file name is not a token
_SECRET = re.compile(
    # `Bearer <token>` / `Basic <credentials>`: the scheme is kept
    rf"(?P<scheme>\b(?:bearer|basic)\s+){_TOKEN_CHARS}+"
    # `client_secret=…`, `"access_token": "…"`, `password: …`: the key (and quotes) are kept
    r"""|(?P<key>\b(?:client[_\- ]?secret|secret|access[_\- ]?token|refresh[_\- ]?token|id[_\- ]?token"""
    r"""|api[_\- ]?key|password|passwd)\\?["']?\s*[:=]\s*\\?["']?)[^\s"'&,;)}\]]+"""
    # a JWT, or a long run of token characters with letters and digits in it
    rf"|\beyJ[\w\-]+\.[\w\-]+\.[\w\-]+|(?P<long>(?<!{_OPAQUE}){_OPAQUE}{{40,}})",
    re.IGNORECASE,
)
_LETTER, _DIGIT = re.compile(r"[A-Za-z]"), re.compile(r"\d")


def _masked_secret(match: re.Match[str]) -> str:
    long = match.group("long")
    if long is not None and not (_LETTER.search(long) and _DIGIT.search(long)):
        return long  # a long word or number, not a token
    return (match.group("scheme") or match.group("key") or "") + MASK


def mask_secrets(text: str) -> str:
    """Mask credentials in text a payer or a library wrote: the token after `Bearer`/`Basic`,
    the value of `client_secret`, `access_token`, `refresh_token`, `api_key`, `password` (keys
    kept), JWTs and any run of 40 or more token characters mixing letters and digits."""
    return _SECRET.sub(_masked_secret, text)


# --- mask_value ------------------------------------------------------------------------

_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def mask_value(value: object, kind: str) -> str:
    """Mask one value for the screen until an operator reveals it.

    kind "name": first letter + `•••`; "dob": `••/••/YYYY`; "member_id": `••••` + the last
    two characters (ids of four characters or fewer show nothing). Empty stays empty; the
    result is passed through `safe_text`.
    """
    if kind not in ("name", "dob", "member_id"):
        raise ValueError(f"unknown mask kind: {kind!r}")
    if value is None:
        return ""
    if isinstance(value, date):
        return f"••/••/{value.year:04d}" if kind == "dob" else "••••"
    text = str(value).strip()
    if not text:
        return ""
    if kind == "name":
        return safe_text(text[0]) + "•••"
    if kind == "dob":
        year = _YEAR.search(text)
        return f"••/••/{year.group(1)}" if year else "••/••/••••"
    return "••••" + (safe_text(text[-2:]) if len(text) > 4 else "")
