"""One row of a job, whole (`enter` on a job-detail row): the claim as submitted, its result in
full — the message or invalid reason, the X12 codes with their meanings (engine.x12), amounts,
dates, check number, how it was matched — with names, birth dates, member ids and the file's
other columns masked until revealed (ctrl+r: role-checked and audited, as in the job detail,
whose rows are revealed too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from console.app.claims_view import CLASS_STYLE, MATCHED_BY
from console.app.detail_screen import DetailScreen, Field, RecordView, fields_table
from console.app.render import masked, money, untrusted, when
from console.app.requests import Reveal, Revealed
from engine.models import JobRow
from engine.x12 import category_meaning, status_code_meaning

WHAT = "names, birth dates and member ids"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _days(first: date | None, last: date | None) -> str:
    if first and last and last != first:
        return f"{first.isoformat()} … {last.isoformat()}"
    return _day(first or last)


def _code(code: str | None, meaning: str) -> Text:
    text = Text(end="")
    text.append_text(untrusted(code or "—", max_len=8, style="bold"))
    if meaning:
        text.append("  ")
        text.append_text(untrusted(meaning, max_len=300))
    return text


def _name(first: str | None, last: str | None, revealed: bool) -> Text:
    text = Text(end="")
    for i, part in enumerate(p for p in (first, last) if p):
        if i:
            text.append(" ")
        text.append_text(masked(part, "name", revealed=revealed, max_len=128))
    return text if text.plain else Text("—", end="")


def row_fields(row: JobRow, revealed: bool, tz: ZoneInfo) -> list[Field]:
    """Every field of the row, each value in full; PHI masked unless `revealed`."""
    icon, style = CLASS_STYLE.get(row.status_class or "", ("…", "dim"))
    result = Text(f"{icon} ", style=style, end="")
    result.append_text(untrusted(row.status or "not looked up yet", max_len=64, style=style))
    if row.status_class:
        result.append(f" ({row.status_class})", style="dim")
    fields: list[Field] = [("result", result)]
    if row.invalid_reason or row.error_message:
        fields.append(("reason" if not row.success else "message",
                       untrusted(row.invalid_reason or row.error_message, keep_newlines=True, style=style)))
    if row.success:
        fields += [
            ("patient", _name(row.patient_first_name, row.patient_last_name, revealed)),
            ("status", _code(row.status_category, category_meaning(row.status_category) or "no category given")),
            ("", _code(row.status_code, status_code_meaning(row.status_code) or "no status code given")),
            ("charged", money(row.total_charged) or "—"),
            ("allowed", money(row.allowed_amount) or "—"),
            ("paid", Text(money(row.total_paid) or "—", style="bold", end="")),
            ("patient owes", money(row.patient_responsibility) or "—"),
            ("processed", _day(row.processed_date)),
            ("service", _days(row.result_first_service_date, row.result_last_service_date)),
            ("check/EFT", row.check_number or "—"),
        ]
        matched = untrusted(row.matched_by or "—", max_len=16, style="bold")
        if row.matched_by in MATCHED_BY:
            matched.append(f" — found {MATCHED_BY[row.matched_by]}", style="dim")
        fields.append(("matched by", matched))
    fields += [  # the row as the file gave it
        ("name on row", _name(row.first_name, row.last_name, revealed)),
        ("birth date", masked(row.date_of_birth, "dob", revealed=revealed) if row.date_of_birth else "—"),
        ("member id", masked(row.subscriber_id, "member_id", revealed=revealed) if row.subscriber_id else "—"),
        ("row dates", _days(row.first_service_date, row.last_service_date)),
        ("TIN", row.tin or "—"),
        ("payer id", row.payer_id or "—"),
        ("account #", row.patient_account_number or "—"),
    ]
    for name, value in sorted((row.extra or {}).items()):
        # other columns of the file: what they hold is not known, so they are masked like PHI
        shown = untrusted(value, keep_newlines=True) if revealed else Text("•••" if value else "", style="dim", end="")
        fields.append((str(name)[:40], shown))
    looked = f"{row.attempts} time{'s' if row.attempts != 1 else ''}"
    if row.resolved_at:
        looked += f", resolved {when(row.resolved_at, tz, '%Y-%m-%d %H:%M:%S')}"
    fields.append(("looked up", looked))
    return fields


def row_title(job_id: int, row: JobRow) -> Text:
    text = Text(f"Job {job_id} · row {row.row_number:,} · claim ", style="bold", end="")
    text.append_text(untrusted(row.claim_number or "—", style="bold"))
    return text


class RowView(RecordView):
    """The row's fields; redrawn when the PHI is revealed or hidden."""

    def __init__(self, job_id: int, row: JobRow, revealed: bool, tz: ZoneInfo) -> None:
        super().__init__(row_title(job_id, row), row_fields(row, revealed, tz))
        self.job_id, self.row, self.revealed, self.tz = job_id, row, revealed, tz

    def show(self, revealed: bool) -> None:
        self.revealed = revealed
        self.query_one("#record-fields", Static).update(fields_table(row_fields(self.row, revealed, self.tz)))

    def on_revealed(self, message: Revealed) -> None:
        message.stop()
        self.show(True)
        on_reveal = getattr(self.screen, "on_reveal", None)
        if on_reveal is not None:
            on_reveal(True)


class RowScreen(DetailScreen[RowView]):
    """`esc` goes back to the job's rows; ctrl+r reveals (audited) or hides the PHI, here and
    in the job detail."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reveal", "Reveal", tooltip=f"show {WHAT} (audited)", id="row.reveal"),
    ]
    AUTO_FOCUS = "#record"

    def __init__(self, job_id: int, row: JobRow, *, revealed: bool, tz: ZoneInfo,
                 on_reveal: Callable[[bool], None] = lambda revealed: None) -> None:
        super().__init__(RowView(job_id, row, revealed, tz), help_name=f"Job {job_id} row {row.row_number}",
                         id="row-screen")
        self.on_reveal = on_reveal

    def action_reveal(self) -> None:
        view = self.view
        if view.revealed:
            view.show(False)
            self.on_reveal(False)
            return
        self.post_message(Reveal(view, f"job {view.job_id}", WHAT))
