"""Claims: look one claim up live at the payer — the original system's claim search page.

The claim number field has the focus when the tab opens; `enter` looks the claim up (optional
date range and TIN). The look-up runs in a worker thread through engine.claim_lookup (the
workers' planner with one row) and through engine.actions.perform as "claim.lookup": it uses the
organisation's payer credentials, so it is role-checked and audited like every action, and a
read-only session is refused. The result is the normalised one — status and class, the X12
codes with their meanings, amounts, dates, check number, how it was matched — with the
patient's name masked until ctrl+r reveals it (audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Static
from textual.worker import get_current_worker

from console.app.host import context, host
from console.app.inputs import SafeInput
from console.app.ops import Outcome, attempt
from console.app.render import masked, money, untrusted
from console.app.requests import RefusedAction, Reveal, Revealed
from console.app.tone import TONES, tone
from engine.claim_lookup import (
    ClaimLookup,
    LookupInputError,
    LookupRequest,
    check_request,
    lookup_claim,
)
from engine.dates import parse_date
from engine.errors import describe
from engine.results import ClaimResult
from engine.x12 import category_meaning, status_code_meaning

CLASS_STYLE = {
    "finalized": ("✓", "tone.ok.strong"), "denied": ("✕", "tone.error.strong"), "rejected": ("✕", "tone.error.strong"),
    "pending": ("◷", "tone.info.strong"), "not_found": ("?", "tone.warn.strong"), "error": ("!", "tone.error.strong"),
    "invalid": ("!", "tone.special.strong"),
}
MATCHED_BY = {
    "window": "in the date range searched",
    "row_dates": "in the claim's own service dates",
    "widened_window": "in a wider window of the look-back",
    "claim_lookup": "by claim-number inquiry",
}


def _date(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else "—"


def _label(text: str) -> Text:
    return Text(f"{text:<11}", style="dim", end="")


def result_text(lookup: ClaimLookup, *, revealed: bool) -> Text:
    """The normalised result, every payer value through the sanitiser."""
    result: ClaimResult = lookup.result
    request: LookupRequest = lookup.request
    icon, style = CLASS_STYLE.get(result.status_class, ("?", "bold"))
    text = Text(end="")
    text.append_text(untrusted(request.claim_number, max_len=40, style="bold"))
    text.append("  ")
    text.append(f"{icon} ", style=style)
    text.append_text(untrusted(result.status, max_len=40, style=style))
    text.append(f" ({result.status_class})", style="dim")
    calls = f"{lookup.payer_calls} payer call{'s' if lookup.payer_calls != 1 else ''}"
    text.append(f"  · {calls} in {lookup.seconds:.1f} s", style="dim")
    if not result.success:
        text.append("\n")
        text.append_text(_label("reason"))
        text.append_text(untrusted(result.error_message or "—", max_len=500, style=style))
    else:
        first, last = result.patient_first_name, result.patient_last_name
        text.append("\n")
        text.append_text(_label("patient"))
        for i, part in enumerate(p for p in (first, last) if p):
            if i:
                text.append(" ")
            text.append_text(masked(part, "name", revealed=revealed, max_len=60))
        text.append("  (ctrl+r hides)" if revealed else "  (ctrl+r reveals, audited)", style="dim")
        text.append("\n")
        text.append_text(_label("status"))
        text.append_text(untrusted(result.status_category or "—", max_len=8, style="bold"))
        text.append("  ")
        text.append_text(untrusted(category_meaning(result.status_category) or "no category given", max_len=200))
        text.append("\n")
        text.append_text(_label(""))
        text.append_text(untrusted(result.status_code or "—", max_len=8, style="bold"))
        text.append("  ")
        text.append_text(untrusted(status_code_meaning(result.status_code) or "no status code given", max_len=200))
        text.append("\n")
        text.append_text(_label("amounts"))
        for i, (name, value) in enumerate((
            ("charged", result.total_charged), ("allowed", result.allowed_amount), ("paid", result.total_paid),
            ("patient", result.patient_responsibility),
        )):
            if i:
                text.append(" · ")
            text.append(f"{name} ", style="dim")
            text.append(money(value) or "—", style="bold" if name == "paid" else "")
        text.append("\n")
        text.append_text(_label("dates"))
        text.append("service ", style="dim")
        text.append(_date(result.first_service_date))
        if result.last_service_date and result.last_service_date != result.first_service_date:
            text.append(f"–{_date(result.last_service_date)}")
        text.append(" · processed ", style="dim")
        text.append(_date(result.processed_date))
        text.append("\n")
        text.append_text(_label("check/EFT"))
        text.append_text(untrusted(result.check_number or "—", max_len=64))
        text.append("\n")
        text.append_text(_label("matched"))
        text.append_text(untrusted(result.matched_by or "—", max_len=20, style="bold"))
        if result.matched_by in MATCHED_BY:
            text.append(f" — found {MATCHED_BY[result.matched_by]}", style="dim")
    text.append("\n")
    text.append_text(_label("searched"))
    text.append(f"TIN {request.tin} · payer ")
    text.append_text(untrusted(request.payer_id, max_len=16))
    if request.dated:
        assert request.start is not None and request.end is not None
        text.append(f" · {request.start.isoformat()} … {request.end.isoformat()}")
        if request.end > request.today:
            text.append(f" (searched up to today, {request.today.isoformat()})", style="dim")
    else:
        text.append(" · no dates: claim-number inquiry", style="dim")
    return text


@dataclass(frozen=True)
class LookupForm:
    claim_number: str
    start: date | None
    end: date | None
    tin: str
    payer_id: str
    today: date


class LookedUp(Message, bubble=False):
    def __init__(self, form: LookupForm, outcome: Outcome | None, lookup: ClaimLookup | None,
                 form_error: str = "") -> None:
        super().__init__()
        self.form = form
        self.outcome = outcome
        self.lookup = lookup
        self.form_error = form_error


class ClaimField(SafeInput):
    """A field of the look-up form: `enter` looks the claim up."""

    BINDINGS = [Binding("enter", "submit", "Look up", show=False, tooltip="look the claim up at the payer (audited)", id="claims.field-lookup")]


class ClaimsView(Widget):
    """Tab 6. Not a live view: it shows what the operator looked up."""

    BINDINGS = [
        Binding("enter", "lookup", "Look up", tooltip="look the claim up at the payer (audited)", id="claims.lookup"),
        Binding("ctrl+r", "reveal", "Reveal", tooltip="show the patient's name (audited)", id="claims.reveal"),
        Binding("escape", "leave_form", "Leave form", show=False, tooltip="move out of the fields (1–7 switch tabs)", id="claims.leave-form"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = TONES
    poller = None  # the tab switch does not refresh it

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.busy = False
        self.lookup: ClaimLookup | None = None
        self.revealed = False
        self._revealing: ClaimLookup | None = None  # the look-up whose name a reveal was asked for

    def compose(self) -> ComposeResult:
        yield Static(id="claims-source", classes="status-line")
        with Horizontal(classes="claims-row"):
            yield Label("Claim #", classes="claims-label")
            yield ClaimField(placeholder="e.g. FG53171076", id="claims-number", max_length=64, compact=True)
            yield Label("TIN", classes="claims-label-short")
            yield ClaimField(placeholder="configured", id="claims-tin", restrict=r"[0-9\-]*", max_length=11,
                            compact=True)
        with Horizontal(classes="claims-row"):
            yield Label("From", classes="claims-label")
            yield ClaimField(placeholder="YYYY-MM-DD", id="claims-start", max_length=10, compact=True, classes="date")
            yield Label("To", classes="claims-label-short")
            yield ClaimField(placeholder="YYYY-MM-DD", id="claims-end", max_length=10, compact=True, classes="date")
        yield Static(id="claims-message")
        with VerticalScroll(id="claims-result-box", can_focus=True):
            yield Static(id="claims-result")

    def on_mount(self) -> None:
        ctx = context(self)
        if ctx.settings.payer_tin:
            self.query_one("#claims-tin", Input).value = ctx.settings.payer_tin
        self._show_source()
        self._show_message(Text(
            "enter looks up · dates optional (without them: claim-number inquiry) · tab next field · "
            "esc leaves the form", style="dim",
        ))
        self.query_one("#claims-result", Static).update(Text("No look-up yet.", style="dim"))

    def _show_source(self) -> None:
        text = Text("Look up one claim at the ", end="")
        text.append_text(untrusted(host(self).payer.describe(), max_len=120, style="bold"))
        if not context(self).operator.can_act:
            text.append(" · read-only: look-ups are refused", style="tone.warn")
        self.query_one("#claims-source", Static).update(text)

    def _show_message(self, text: Text) -> None:
        self.query_one("#claims-message", Static).update(text)

    def refresh_data(self, *, invalidate: bool = False) -> None:
        """Nothing refreshes by itself here (the palette's "Refresh now" is harmless)."""

    def focus_main(self) -> None:
        self.query_one("#claims-number", Input).focus()

    # -- look-up --

    def _read_form(self) -> LookupForm:
        ctx = context(self)
        values = {name: self.query_one(f"#claims-{name}", Input).value.strip() for name in ("number", "start", "end", "tin")}
        try:
            start = parse_date(values["start"]) if values["start"] else None
            end = parse_date(values["end"]) if values["end"] else None
        except ValueError as exc:
            raise LookupInputError(f"dates: {exc}") from None
        today = ctx.now().astimezone(ctx.tz).date()
        return LookupForm(values["number"], start, end, values["tin"], ctx.settings.payer_id, today)

    def action_lookup(self) -> None:
        app = host(self)
        if self.busy:
            app.say("a look-up is already running")
            return
        number = self.query_one("#claims-number", Input).value.strip()
        if not app.ctx.operator.can_act:
            self.post_message(RefusedAction("claim.lookup", f"claim {number}" if number else "claim look-up"))
            return
        try:
            form = self._read_form()
            if not form.claim_number:
                raise LookupInputError("claim number: type the claim number to look up")
        except LookupInputError as exc:
            self._show_message(untrusted(describe(exc), max_len=300, style=tone(self, "error")))
            self.focus_main()
            return
        self.busy = True
        self._show_message(Text.assemble(("looking up ", "dim"), untrusted(form.claim_number, max_len=40),
                                         ("… (the payer may take a few seconds)", "dim")))
        self._lookup(form)

    @work(thread=True, exclusive=True, exit_on_error=False, group="claim-lookup")
    def _lookup(self, form: LookupForm) -> None:
        worker = get_current_worker()  # cancelled when the console closes: the look-up stops too
        ctx = context(self)
        source = host(self).payer
        try:
            tin = form.tin or source.default_tin()
            request = check_request(form.claim_number, tin=tin, payer_id=form.payer_id, start=form.start,
                                    end=form.end, today=form.today)
        except LookupInputError as exc:
            self.post_message(LookedUp(form, None, None, describe(exc)))
            return
        except Exception as exc:  # the sandbox could not start its data set: say so in the form
            self.post_message(LookedUp(form, None, None, describe(exc)))
            return
        holder: list[ClaimLookup] = []

        def do() -> str:
            payer = source.get()
            lookup = lookup_claim(payer, request.claim_number, tin=request.tin, payer_id=request.payer_id,
                                  start=request.start, end=request.end, today=request.today,
                                  cancel=worker.cancelled_event, window_limit=source.window_limit)
            holder.append(lookup)
            return lookup.summary()

        outcome = attempt(ctx, "claim.lookup", f"claim {request.claim_number}", do)
        if not worker.is_cancelled:
            self.post_message(LookedUp(form, outcome, holder[0] if holder else None))

    def on_looked_up(self, message: LookedUp) -> None:
        message.stop()
        self.busy = False
        if message.form_error:
            self._show_message(untrusted(message.form_error, max_len=300, style=tone(self, "error")))
            return
        outcome = message.outcome
        if outcome is None or not outcome.ok or message.lookup is None:
            text = outcome.message if outcome is not None else "the look-up did not run"
            self._show_message(untrusted(text, max_len=500, style=tone(self, "error")))
            return
        self.lookup = message.lookup
        self.revealed = False
        status = Text.assemble(("looked up ", "dim"), untrusted(message.lookup.request.claim_number, max_len=40),
                               (" · audited · ctrl+r reveals the patient's name · enter looks up again", "dim"))
        self._show_message(status)
        self._show_result()

    def _show_result(self) -> None:
        if self.lookup is None:
            return
        self.query_one("#claims-result", Static).update(result_text(self.lookup, revealed=self.revealed))

    # -- reveal --

    def action_reveal(self) -> None:
        app = host(self)
        lookup = self.lookup
        if lookup is None or not lookup.found:
            app.say("no patient name to reveal: look a claim up first", "warning")
            return
        if self.revealed:
            self.revealed = False
            self._show_result()
            return
        self._revealing = lookup
        self.post_message(Reveal(self, f"claim {lookup.request.claim_number}", "patient name"))

    def on_revealed(self, message: Revealed) -> None:
        message.stop()
        if self.lookup is not None and self.lookup is self._revealing:
            self.revealed = True
            self._show_result()

    def action_leave_form(self) -> None:
        self.query_one("#claims-result-box").focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_lookup()
