"""Claims: one claim — first what is stored of it, then, when asked, the payer's answer now.

The tab opens with the focus out of the form, so 1–8, `q` and `?` work as everywhere; `i` or `/`
go into the form (`enter` too while the claim number is empty), `esc` leaves it. `enter` searches the stored
observations (no payer call: instant, nothing audited; the TIN narrows it) and shows the
claim's timeline (claim_timeline.py). `ctrl+l` asks the payer now (optional date range and
TIN): an operator action (requests.AskPayer, performed by actions.py through
engine.actions.perform as "claim.lookup", role-checked and audited, refused for a read-only
session) that spends the organisation's payer credentials. Its result is the normalised one —
status and class, the X12 codes with their meanings, amounts, dates, check number, how it was
matched — with the patient's name masked until ctrl+r reveals it (audited).
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from console.app.claim_timeline import Timeline, find_timelines, timeline_text
from console.app.host import context, host, in_worker
from console.app.inputs import SafeInput
from console.app.keys import field_opener, step_aside_while_typing
from console.app.render import masked, money, untrusted
from console.app.requests import AskPayer, ClaimQuestion, PayerAnswered, Reveal, Revealed
from console.app.tone import TONES, tone
from engine.claim_lookup import ClaimLookup, LookupInputError, LookupRequest
from engine.dates import parse_date
from engine.errors import describe
from engine.followup.recheck import rules_from
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
    return value.isoformat() if value else "—"


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


MAX_STORED = 5  # timelines shown for one claim number (one per TIN and payer)
ASK_HINT = "ctrl+l asks the payer now (audited)"


class ClaimField(SafeInput):
    """A field of the form: `enter` searches what is stored."""

    BINDINGS = [Binding("enter", "submit", "Search", show=False, tooltip="search the stored observations (no payer call)",
                        id="claims.field-search")]


class ClaimsView(Widget):
    """Tab 6. Not a live view: it shows what the operator searched for or asked."""

    BINDINGS = [
        field_opener("i", "edit", "Edit", tooltip="type in the form (also /); enter there searches what is stored",
                id="claims.edit"),
        field_opener("slash", "edit", "Edit", show=False, id="claims.edit-slash"),
        Binding("enter", "search", "Search", tooltip="search the stored observations (no payer call)",
                id="claims.search"),
        Binding("ctrl+l", "ask_payer", "Ask payer", tooltip="look the claim up at the payer now (audited)",
                id="claims.ask-payer"),
        Binding("ctrl+r", "reveal", "Reveal", tooltip="show the patient's name (audited)", id="claims.reveal"),
        Binding("escape", "leave_form", "Leave form", show=False, tooltip="move out of the fields (1–8 switch tabs)",
                id="claims.leave-form"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = TONES
    poller = None  # the tab switch does not refresh it

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.busy = False
        self.lookup: ClaimLookup | None = None  # the payer's answer
        self.stored: list[Timeline] | None = None  # what is stored of the claim searched
        self.searched = ""  # the claim number those are of
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
            f"enter searches what is stored (no payer call) · {ASK_HINT}; dates optional (without them: "
            "claim-number inquiry) · esc leaves the form", style="dim",
        ))
        self.query_one("#claims-result", Static).update(Text(
            "Type a claim number and press enter: every result a job got for it is shown, oldest first.",
            style="dim"))

    def _show_source(self) -> None:
        text = Text("Stored observations · ask the ", end="")
        text.append_text(untrusted(host(self).payer.describe(), max_len=120, style="bold"))
        if not context(self).operator.can_act:
            text.append(" · read-only: payer look-ups are refused", style="tone.warn")
        self.query_one("#claims-source", Static).update(text)

    def _show_message(self, text: Text) -> None:
        self.query_one("#claims-message", Static).update(text)

    def _error(self, message: str) -> None:
        """An error: no result from before stays under it."""
        self._show_message(untrusted(message, max_len=500, style=tone(self, "error")))
        self.lookup, self.stored, self.revealed = None, None, False
        self.query_one("#claims-result", Static).update(Text("No result.", style="dim"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # in the form already, the keys type there
        return not (action == "edit" and isinstance(self.screen.focused, ClaimField))

    def refresh_data(self, *, invalidate: bool = False) -> None:
        """Nothing refreshes by itself here (the palette's "Refresh now" is harmless)."""

    def focus_main(self) -> None:
        """Out of the form: the keys of the console work until `i` (or `/`, `enter`) goes in."""
        self.query_one("#claims-result-box").focus()

    def action_edit(self) -> None:
        step_aside_while_typing(self)
        # at once, not after the queued keys: a claim number typed fast must all land in the field
        self.screen.set_focus(self.query_one("#claims-number", Input))

    def _value(self, name: str) -> str:
        return self.query_one(f"#claims-{name}", Input).value.strip()

    # -- what is stored --

    def action_search(self) -> None:
        number, tin = self._value("number"), self._value("tin").replace("-", "")
        if not number:  # nothing to search for yet: into the form
            self._show_message(Text("type the claim number, then enter", style="dim"))
            self.action_edit()
            return
        ctx = context(self)
        db, now, rules = ctx.db, ctx.now(), rules_from(ctx.settings)
        self._show_message(Text.assemble(("searching the stored observations for ", "dim"),
                                         untrusted(number, max_len=40)))

        def found(timelines: list[Timeline]) -> None:
            self.stored, self.searched = timelines, number
            if self.lookup is not None and self.lookup.request.claim_number != number:
                self.lookup = None
            self._say_stored()
            self._show_result()

        in_worker(self, lambda: find_timelines(db, number, tin=tin, now=now, rules=rules, limit=MAX_STORED),
                  found, self._search_failed, group="claims-search", exclusive=True)

    def _search_failed(self, error: BaseException) -> None:
        host(self).report_error(error)
        self._error(describe(error))

    def _say_stored(self) -> None:
        stored, number = self.stored or [], self.searched
        if not stored:
            text = Text.assemble(untrusted(number, max_len=40, style="bold"),
                                 " is not stored: no job has seen it (or not under this TIN) · ", end="")
            text.append(ASK_HINT, style="bold")
            self._show_message(text)
            return
        count = sum(len(t.observations) for t in stored)
        text = Text.assemble(("stored: ", "dim"), f"{count:,} observation{'s' if count != 1 else ''}",
                             (" · no payer call · ", "dim"), end="")
        text.append(ASK_HINT, style="bold")
        self._show_message(text)

    # -- the payer, now --

    def _question(self) -> ClaimQuestion:
        ctx = context(self)
        start, end = self._value("start"), self._value("end")
        try:
            first = parse_date(start) if start else None
            last = parse_date(end) if end else None
        except ValueError as exc:
            raise LookupInputError(f"dates: {exc}") from None
        today = ctx.now().astimezone(ctx.tz).date()
        return ClaimQuestion(self._value("number"), first, last, self._value("tin"), ctx.settings.payer_id, today)

    def action_ask_payer(self) -> None:
        app = host(self)
        if self.busy:
            app.say("a look-up is already running")
            return
        try:
            question = self._question()
            if not question.claim_number:
                raise LookupInputError("claim number: type the claim number to look up")
        except LookupInputError as exc:
            self._error(describe(exc))
            self.focus_main()
            return
        if app.ctx.operator.can_act:  # else refused (and audited) at once: no answer to wait for
            self.busy = True
            self._show_message(Text.assemble(("asking the payer about ", "dim"),
                                             untrusted(question.claim_number, max_len=40),
                                             ("… (it may take a few seconds)", "dim")))
        self.post_message(AskPayer(self, question))

    def on_payer_answered(self, message: PayerAnswered) -> None:
        message.stop()
        self.busy = False
        if message.form_error:
            self._error(message.form_error)
            return
        outcome = message.outcome
        if outcome is None or not outcome.ok or message.lookup is None:
            self._error(outcome.message if outcome is not None else "the look-up did not run")
            return
        self.lookup = message.lookup
        self.revealed = False
        if self.searched != message.lookup.request.claim_number:
            self.stored = None
        status = Text.assemble(("asked the payer about ", "dim"),
                               untrusted(message.lookup.request.claim_number, max_len=40),
                               (" · audited · ctrl+r reveals the patient's name · ctrl+l asks again", "dim"))
        self._show_message(status)
        self._show_result()

    def _show_result(self) -> None:
        ctx = context(self)
        text = Text(end="")
        if self.lookup is not None:
            text.append("The payer now\n", style="bold")
            text.append_text(result_text(self.lookup, revealed=self.revealed))
        for timeline in self.stored or []:
            if text.plain:
                text.append("\n\n")
            text.append_text(timeline_text(timeline, ctx.now(), ctx.tz))
        if not text.plain:
            text = Text.assemble(untrusted(self.searched, max_len=40, style="bold"), " is not stored. ",
                                 (ASK_HINT, "bold"), end="")
        self.query_one("#claims-result", Static).update(text)

    # -- reveal --

    def action_reveal(self) -> None:
        app = host(self)
        lookup = self.lookup
        if lookup is None or not lookup.found:
            app.say("no patient name to reveal: ask the payer first (ctrl+l); stored observations hold none",
                    "warning")
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
        self.action_search()
