"""A claim's timeline: what the follow-up knows of it (open, closed, or stale and needing a
person; since when; when it is asked again) and every observation the payer gave of it, oldest
first, with the status changes marked. The Claims tab shows it for a claim it finds stored; the
Follow-up view opens it on a screen of its own (`enter`), live, `esc` back.

Observations hold no patient names, birth dates or member ids: nothing here needs a reveal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.app.detail_screen import DetailScreen
from console.app.host import context, host, mark_stale
from console.app.live import LiveWidget
from console.app.render import money, untrusted, when
from console.app.requests import OpenJob
from console.app.tone import tone
from engine.db import Database
from engine.followup import queries as fq
from engine.followup.finality import Rules
from engine.followup.recheck import rules_from
from engine.followup.wording import change_summary
from engine.text import safe_text
from engine.x12 import category_meaning

STATE_STYLE = {"open": ("◷", "tone.info.strong"), "closed": ("✓", "tone.ok.strong"), "stale": ("!", "tone.warn.strong")}
CLASS_STYLE = {"finalized": "tone.ok", "denied": "tone.error", "rejected": "tone.error", "pending": "tone.info", "not_found": "tone.warn",
               "error": "tone.error.strong"}


TIMELINE_LIMIT = 500  # observations shown of one claim (a claim asked daily for over a year)


@dataclass(frozen=True)
class ClaimKey:
    """Which stored claim: its id (the screen's name) and its number, TIN and payer."""

    claim_id: int
    claim_number: str
    tin: str
    payer_id: str


@dataclass
class Timeline:
    """A stored claim and its observations, oldest first (`claim` None: not stored)."""

    claim: fq.ClaimState | None
    observations: list[fq.Observation] = field(default_factory=list)

    @property
    def cut(self) -> bool:
        return len(self.observations) >= TIMELINE_LIMIT


def find_timelines(db: Database, claim_number: str, *, tin: str = "", payer_id: str = "", now: datetime,
                   rules: Rules, limit: int) -> list[Timeline]:
    """The stored claims of this number (one per TIN and payer) with their observations; no
    payer call."""
    claims = [c for c in fq.find_claims(db, claim_number, tin=tin, now=now, rules=rules, limit=limit)
              if not payer_id or c.payer_id == payer_id]
    return [Timeline(c, fq.timeline(db, c.claim_number, tin=c.tin, payer_id=c.payer_id, limit=TIMELINE_LIMIT))
            for c in claims]


def state_text(state: str) -> Text:
    icon, style = STATE_STYLE.get(state, ("?", ""))
    words = "stale, needs a person" if state == "stale" else state
    return Text.assemble((f"{icon} {words}", style), end="")


def _days(start: datetime, end: datetime) -> str:
    days = max(0, (end - start).days)
    return "1 day" if days == 1 else f"{days} days"


def claim_heading(claim: fq.ClaimState, now: datetime, tz: ZoneInfo) -> Text:
    state = claim.state
    text = Text(end="")
    text.append_text(untrusted(claim.claim_number, max_len=64, style="bold"))
    text.append("  ")
    text.append_text(state_text(state))
    text.append(" · TIN ", style="dim")
    text.append_text(untrusted(claim.tin, max_len=16))
    text.append(" · payer ", style="dim")
    text.append_text(untrusted(claim.payer_id, max_len=16))
    text.append("\nnow ", style="dim")
    text.append_text(untrusted(claim.status_category or "—", max_len=8, style="bold"))
    text.append(" ")
    text.append_text(untrusted(claim.status, max_len=32, style=CLASS_STYLE.get(claim.status_class, "")))
    text.append(f" since {when(claim.status_since, tz, '%Y-%m-%d')}", style="dim")
    if claim.total_paid is not None:
        text.append(f" · paid {money(claim.total_paid)}")
    text.append("\nfirst seen ", style="dim")
    text.append(f"{when(claim.first_seen_at, tz, '%Y-%m-%d')} ({_days(claim.first_seen_at, now)} ago)")
    if claim.closed_at is not None:
        text.append(" · closed ", style="dim")
        text.append(when(claim.closed_at, tz, "%Y-%m-%d"))
        text.append(f" after {_days(claim.first_seen_at, claim.closed_at)}", style="dim")
    elif state == "stale":
        text.append(" · open too long: no longer re-checked by itself; ask the payer, or call them",
                    style="tone.warn")
    elif claim.next_check_at is not None:
        text.append(" · next re-check ", style="dim")
        text.append(when(claim.next_check_at, tz, "%Y-%m-%d"))
    if claim.first_service_date is not None:
        text.append("\nservice ", style="dim")
        text.append(claim.first_service_date.isoformat())
        if claim.last_service_date and claim.last_service_date != claim.first_service_date:
            text.append(f"–{claim.last_service_date.isoformat()}")
    return text


def change_text(observation: fq.Observation) -> Text:
    """"P1 → F1 paid $812.40", "A2 → F2 denied (CARC 50)" (engine.followup.wording)."""
    words = change_summary(observation.previous_category or observation.previous_status,
                           observation.status_category or observation.status, observation.status_class,
                           observation.total_paid, observation.adjudication_codes)
    style = CLASS_STYLE.get(observation.status_class, "")
    return untrusted(words, max_len=200, style=style.removesuffix(".strong") + ".strong" if style else "bold")


def observation_text(observation: fq.Observation, tz: ZoneInfo) -> Text:
    text = Text(end="")
    text.append(when(observation.observed_at, tz, "%Y-%m-%d %H:%M"), style="dim")
    text.append(f"  job {observation.job_id:<6} ")
    if observation.changed:
        text.append("changed ", style="tone.special.strong")
        text.append_text(change_text(observation))
    else:
        text.append_text(untrusted(observation.status_category or "—", max_len=8, style="bold"))
        text.append(" ")
        text.append_text(untrusted(observation.status, max_len=32,
                                   style=CLASS_STYLE.get(observation.status_class, "")))
    meaning = category_meaning(observation.status_category)
    if meaning:
        text.append("\n    ")
        text.append_text(untrusted(meaning, max_len=120, style="dim"))
    text.append("\n    charged ", style="dim")
    text.append(money(observation.total_charged) or "—")
    text.append(" · paid ", style="dim")
    text.append(money(observation.total_paid) or "—")
    if observation.processed_date is not None:
        text.append(" · processed ", style="dim")
        text.append(observation.processed_date.isoformat())
    if observation.check_number:
        text.append(" · check ", style="dim")
        text.append_text(untrusted(observation.check_number, max_len=64))
    if observation.adjudication_codes:
        text.append(" · codes ", style="dim")
        text.append_text(untrusted(", ".join(observation.adjudication_codes), max_len=200))
    if observation.matched_by:
        text.append(" · matched by ", style="dim")
        text.append_text(untrusted(observation.matched_by, max_len=20))
    return text


def timeline_text(timeline: Timeline, now: datetime, tz: ZoneInfo) -> Text:
    claim = timeline.claim
    if claim is None:
        return Text("not stored", style="dim", end="")
    text = claim_heading(claim, now, tz)
    count = len(timeline.observations)
    text.append(f"\n\nTimeline · {count:,} observation{'s' if count != 1 else ''}, oldest first", style="bold")
    if timeline.cut:
        text.append(f" (the first {count:,} of {claim.observations:,})", style="dim")
    for observation in timeline.observations:
        text.append("\n")
        text.append_text(observation_text(observation, tz))
    return text


class TimelineView(LiveWidget):
    """One claim's timeline, refreshed while shown (a follow-up job may add to it)."""

    def __init__(self, claim: ClaimKey) -> None:
        super().__init__(id="timeline")
        self.claim = claim
        self.timeline: Timeline | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="timeline-status", classes="status-line")
        with VerticalScroll(id="timeline-box", can_focus=True):
            yield Static(id="timeline-text")

    def fetch(self, request: object) -> Timeline:
        ctx, claim = context(self), self.claim
        found = find_timelines(ctx.db, claim.claim_number, tin=claim.tin, payer_id=claim.payer_id, now=ctx.now(),
                               rules=rules_from(ctx.settings), limit=1)
        return found[0] if found else Timeline(None)

    def render_data(self, request: object, data: Timeline) -> None:
        ctx = context(self)
        self.timeline = data
        if data.claim is None:
            self.query_one("#timeline-text", Static).update(
                Text("This claim is no longer stored.", style=tone(self, "error")))
        else:
            self.query_one("#timeline-text", Static).update(timeline_text(data, ctx.now(), ctx.tz))
        self._show_status()

    def render_failure(self, error: BaseException) -> None:
        self._show_status()

    def _show_status(self) -> None:
        timeline = self.timeline
        text = Text("Claim timeline", style="bold", end="")
        if timeline is not None and timeline.observations:
            text.append(f" · latest from job {timeline.observations[-1].job_id} (j opens it) · esc back", style="dim")
        else:
            text.append(" · esc back", style="dim")
        self.query_one("#timeline-status", Static).update(mark_stale(self, text))

    def focus_main(self) -> None:
        self.query_one("#timeline-box").focus()


class TimelineScreen(DetailScreen[TimelineView]):
    BINDINGS = [Binding("j", "open_job", "Job", tooltip="the job of the latest observation", id="timeline.job")]
    AUTO_FOCUS = "#timeline-box"

    def __init__(self, claim: ClaimKey) -> None:
        super().__init__(TimelineView(claim), help_name=f"Claim {safe_text(claim.claim_number, max_len=64)}",
                         id=f"claim-timeline-{claim.claim_id}")

    def action_open_job(self) -> None:
        timeline = self.view.timeline
        if timeline is None or not timeline.observations:
            host(self).say("no observation of this claim yet", "warning")
            return
        self.post_message(OpenJob(timeline.observations[-1].job_id))
