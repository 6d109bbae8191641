"""The one place where data becomes screen text.

Every string that comes from a file, the payer, a log line or the database goes through
`untrusted` (or `masked`), which runs `engine.text.safe_text` and returns a `rich.text.Text`:
never markup, so `[@click=…]` stays literal, and no control character (ESC, BEL, …) reaches
the terminal. Styles are applied to the Text object, never by embedding markup in a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rich.text import Text

from engine.jobs.liveness import ATTENDED, STALLED, Liveness
from engine.text import mask_value, safe_text

# status -> (icon, style); the spinner and the pulse replace the icon / style when animated
STATUS_STYLE: dict[str, tuple[str, str]] = {
    "PENDING": ("◷", "tone.muted"),
    "PROCESSING": ("⠋", "tone.info.strong"),
    "CANCELLING": ("◷", "tone.warn.strong"),
    "CANCELLED": ("✕", "tone.muted"),
    "COMPLETED": ("✓", "tone.ok.strong"),
    "FAILED": ("✕", "tone.error.strong"),
    STALLED: ("!", "tone.error.strong"),  # PROCESSING or CANCELLING with nothing running it
}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
LEVEL_STYLE: dict[int, str] = {10: "tone.muted", 20: "", 30: "tone.warn", 40: "tone.error.strong", 50: "tone.alarm"}
BAR_WIDTH = 10
_EIGHTHS = " ▏▎▍▌▋▊▉"


def untrusted(value: object, *, max_len: int | None = None, style: str = "", keep_newlines: bool = False) -> Text:
    """Untrusted value -> safe, literal Text (None -> empty)."""
    return Text(safe_text(value, max_len=max_len, keep_newlines=keep_newlines), style=style, end="")


def masked(value: object, kind: str, *, revealed: bool, max_len: int | None = None) -> Text:
    """A PHI value (kind name / dob / member_id): masked unless the operator revealed it."""
    if revealed:
        shown = value.strftime("%m/%d/%Y") if hasattr(value, "strftime") else value
        return untrusted(shown, max_len=max_len)
    return Text(mask_value(value, kind), style="dim", end="")


def plain(value: str, style: str = "") -> Text:
    """Text the console itself wrote (labels, numbers): still never parsed as markup."""
    return Text(value, style=style, end="")


def right(value: str, style: str = "") -> Text:
    """A right-aligned cell the console wrote (a number, a time taken)."""
    return Text(value, justify="right", style=style, end="")


def count(value: int, style: str = "") -> Text:
    """A right-aligned count, styled only when it is not zero."""
    return right(f"{value:,}", style if value else "")


def stamp(moment: datetime, tz: ZoneInfo, fmt: str = "%m-%d %H:%M:%S") -> Text:
    """A cell with a time in the site's zone."""
    return Text(moment.astimezone(tz).strftime(fmt), end="")


def full_time(moment: datetime | None, tz: ZoneInfo) -> Text:
    """A moment in full, to the millisecond, with its zone (a record's detail)."""
    if moment is None:
        return Text("—", style="dim", end="")
    local = moment.astimezone(tz)
    return Text(f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d} {local.tzname() or tz.key}", end="")


@dataclass(frozen=True)
class At:
    """What a table's cells are drawn for besides their record: the time now, the site's zone,
    the animation frame (spinner, pulse) and whether PHI is shown."""

    now: datetime
    tz: ZoneInfo
    frame: int = 0
    animate: bool = False
    revealed: bool = False
    live: Liveness = ATTENDED  # a job's: whether anything runs it (engine.jobs.liveness)


def status_cell(status: str, *, frame: int = 0, animate: bool = False) -> Text:
    icon, style = STATUS_STYLE.get(status, ("?", ""))
    if animate and status == "PROCESSING":
        icon = SPINNER[frame % len(SPINNER)]
    if animate and status == "CANCELLING" and frame % 2:
        style = "tone.warn"
    return Text.assemble((icon, style), " ", (safe_text(status), style), end="")


def progress_bar(done: int, total: int, status: str, width: int = BAR_WIDTH) -> Text:
    """A text bar in eighths of a cell, then the percentage."""
    fraction = 0.0 if total <= 0 else max(0.0, min(1.0, done / total))
    eighths = int(fraction * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (_EIGHTHS[part] if full < width and part else "")
    _, style = STATUS_STYLE.get(status, ("", ""))
    return Text.assemble(
        (bar.ljust(width, "·"), style.replace("bold ", "")), f" {int(fraction * 100):>3}%", end=""
    )


def duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def rate(rows_per_second: float | None) -> str:
    if rows_per_second is None:
        return "—"
    if rows_per_second >= 1000:
        return f"{rows_per_second / 1000:.1f}k"
    if rows_per_second >= 100:
        return f"{rows_per_second:.0f}"
    return f"{rows_per_second:.1f}"


def when(moment: datetime | None, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    return "—" if moment is None else moment.astimezone(tz).strftime(fmt)


def since(moment: datetime | None, now: datetime) -> timedelta | None:
    return None if moment is None else now - moment


def level_text(level: int) -> tuple[str, str]:
    """Short level name and its style."""
    names = {10: "DEBUG", 20: "INFO", 30: "WARN", 40: "ERROR", 50: "CRIT"}
    return names.get(level, f"L{level}"), LEVEL_STYLE.get(level, "")


def money(value: object) -> str:
    return "" if value is None else f"{value:,.2f}"


def span(seconds: float) -> str:
    """A short length of time: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(seconds // 3600, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def _relative(seconds: float | None, within_a_second: str, ahead: str, behind: str) -> str:
    """`seconds` ahead (> 0) or behind as `ahead` / `behind` with {span} in them."""
    if seconds is None:
        return "—"
    if -1 < seconds < 1:
        return within_a_second
    return (ahead if seconds > 0 else behind).format(span=span(seconds))


def ago(moment: datetime | None, now: datetime) -> str:
    """'5m ago' ('just now' under a second; '—' for no time)."""
    seconds = None if moment is None else (now - moment).total_seconds()
    return _relative(seconds, "just now", "{span} ago", "in {span}")


def until(moment: datetime | None, now: datetime) -> str:
    """'in 10m', or 'due 2m ago' for a time already passed ('—' for no time)."""
    seconds = None if moment is None else (moment - now).total_seconds()
    return _relative(seconds, "now", "in {span}", "due {span} ago")


def size(count: float | None) -> str:
    """Bytes in binary units: 512 B, 12.3 MiB, 1.5 GiB ('—' when unknown)."""
    if count is None:
        return "—"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # unreachable


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def seconds_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} s" if value < 600 else duration(value)
