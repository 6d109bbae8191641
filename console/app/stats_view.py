"""Stats: the original system's "System Statistics" page, live.

Every figure comes from `engine.stats.collect` (one indexed query each) in a worker thread:
jobs today with shares and success rate, failures by reason, job time average and P95, rows
per minute, payer latency percentiles and calls by outcome class over the last hour, workers
and queue, database, Redis and disk figures, and two sparklines of the last hour; the
follow-up's claims (`engine.followup.queries.follow_up_stats`: open, stale, due, closed this
week, median days to close). Transactions per second (PostgreSQL) are the difference between
two refreshes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widgets import Sparkline, Static

from console.app.host import context, host, in_worker, mark_stale
from console.app.live import LiveWidget
from console.app.render import STATUS_STYLE, seconds_text, size, untrusted
from engine import stats as statslib
from engine.followup.queries import FollowUpStats, follow_up_stats
from engine.followup.recheck import rules_from
from engine.jobs.lifecycle import CANCELLED, CANCELLING, COMPLETED, FAILED, PENDING, PROCESSING

STATS_MIN_INTERVAL = 5.0  # per-minute and per-hour figures: no need to recount every second
FOLLOWUP_EVERY = 60.0  # s: claims open and close when jobs run, not by the second
JOB_ROWS: tuple[tuple[str, str], ...] = (
    (COMPLETED, "completed"), (FAILED, "failed"), (CANCELLED, "cancelled"), (PROCESSING, "processing"),
    (PENDING, "pending"), (CANCELLING, "cancelling"),
)
OUTCOMES: tuple[tuple[str, str, str], ...] = (
    ("ok", "ok", "tone.ok"), ("not_found", "not found", ""), ("throttled", "throttled", "tone.warn"),
    ("payer_error", "payer error", "tone.error"), ("timeout", "timeout", "tone.error"), ("client_error", "client error", "tone.special"),
)
SHARE_WIDTH = 8


def share_bar(part: int, total: int, style: str) -> Text:
    """A short bar for a share of the total (whole cells; empty for none)."""
    cells = 0 if total <= 0 else round(SHARE_WIDTH * part / total)
    if part and not cells:
        cells = 1
    return Text("█" * cells, style=style.replace("bold ", ""), end="")


def jobs_text(s: statslib.Stats) -> Text:
    today = s.jobs_today
    total = int(today.get("total", 0))
    text = Text(end="")
    text.append(f"{total:,}", style="bold")
    text.append(" submitted today")
    for status, label in JOB_ROWS:
        count = int(today.get(status, 0))
        if status == CANCELLING and not count:
            continue
        icon, style = STATUS_STYLE.get(status, ("", ""))
        share = f"{100 * count / total:.0f}%" if total else "—"
        text.append(f"\n{icon} ", style=style)
        text.append(f"{label:<10}", style=style if count else "dim")
        text.append(f"{count:>6,} {share:>4} ")
        text.append_text(share_bar(count, total, style))
    text.append("\nsuccess rate ")
    if s.success_rate is None:
        text.append("— (none finished)", style="dim")
    else:
        style = "tone.ok" if s.success_rate >= 0.9 else "tone.warn" if s.success_rate >= 0.7 else "tone.error"
        text.append(f"{100 * s.success_rate:.1f}%", style=f"{style}.strong")
        text.append(" of finished", style="dim")
    return text


def failures_text(s: statslib.Stats) -> Text:
    if not s.failed_by_reason:
        return Text("no job failed today", style="dim", end="")
    text = Text(end="")
    for i, (reason, count) in enumerate(s.failed_by_reason):
        if i:
            text.append("\n")
        text.append(f"{count:>5,}  ", style="tone.error.strong")
        text.append_text(untrusted(reason, max_len=120))
    return text


def performance_text(s: statslib.Stats) -> Text:
    text = Text(end="")
    text.append("job time  avg ", style="dim")
    text.append(seconds_text(s.duration_avg_s), style="bold")
    text.append(" · p95 ", style="dim")
    text.append(seconds_text(s.duration_p95_s), style="bold")
    text.append("\nrows/min  ", style="dim")
    text.append(f"{s.rows_per_minute:,.1f}", style="bold")
    text.append(" over the last hour", style="dim")
    return text


def payer_text(s: statslib.Stats) -> Text:
    latency = s.latency_ms
    text = Text(end="")
    for i, key in enumerate(("p50", "p95", "p99")):
        text.append(" · " if i else "", style="dim")
        text.append(f"{key} ", style="dim")
        value = latency.get(key)
        text.append("—" if value is None else f"{value:,.0f}", style="bold")
    text.append(" ms", style="dim")
    calls = s.calls_by_outcome
    total = sum(calls.values())
    text.append("\ncalls ", style="dim")
    text.append(f"{total:,}", style="bold")
    for i, (key, label, style) in enumerate(OUTCOMES):
        count = int(calls.get(key, 0))
        text.append("\n" if i % 2 == 0 else "  ")
        text.append(f"{label} ", style="dim")
        text.append(f"{count:,}", style=style if count else "")
    return text


@dataclass(frozen=True)
class Rates:
    """Per-second rates between two refreshes (PostgreSQL transactions)."""

    transactions_per_s: float | None = None


def system_text(s: statslib.Stats, rates: Rates, redis_used: bool) -> Text:
    text = Text(end="")
    text.append("workers   ", style="dim")
    text.append(f"{s.workers_alive} alive", style="bold" if s.workers_alive else "tone.warn")
    text.append(f" · {s.workers_busy} busy")
    text.append("\nqueue     ", style="dim")
    text.append("—" if s.queue_length is None else f"{s.queue_length:,}")
    db = s.database
    text.append("\ndatabase  ", style="dim")
    text.append_text(untrusted(db.get("backend", "?"), max_len=16))
    text.append(" ")
    text.append(size(db.get("size_bytes")), style="bold")
    if "wal_bytes" in db:
        text.append(f"\n          WAL {size(db['wal_bytes'])}")
    if "connections" in db:
        tps = rates.transactions_per_s
        text.append(f"\n          {db['connections']} connections · ")
        text.append("— tx/s" if tps is None else f"{tps:,.1f} tx/s")
    if "error" in db:
        text.append("\n          unreadable: ", style="tone.warn")
        text.append_text(untrusted(db["error"], max_len=40, style="tone.warn"))
    text.append("\nredis     ", style="dim")
    if not redis_used:
        text.append("not used", style="dim")
    elif s.redis_memory_bytes is None:
        text.append("unreachable", style="tone.error")
    else:
        text.append(f"{size(s.redis_memory_bytes)} used")
    text.append("\ndisk      ", style="dim")
    text.append(f"{size(s.disk_free_bytes)} free" if s.disk_free_bytes is not None else "—", style="bold")
    return text


def followup_text(f: FollowUpStats) -> Text:
    text = Text(end="")
    text.append("open      ", style="dim")
    text.append(f"{f.open_claims:,}", style="bold")
    text.append(" claims", style="dim")
    if f.due_now:
        text.append(f" · {f.due_now:,} due for a re-check")
    text.append("\nstale     ", style="dim")
    text.append(f"{f.stale_claims:,}", style="tone.warn.strong" if f.stale_claims else "bold")
    text.append(" need a person (8 Follow-up, s)" if f.stale_claims else " need a person", style="dim")
    text.append("\nclosed    ", style="dim")
    text.append(f"{f.closed_this_week:,}", style="tone.ok.strong" if f.closed_this_week else "bold")
    text.append(" this week (since Monday)", style="dim")
    text.append("\nto close  ", style="dim")
    if f.median_days_to_close is None:
        text.append("— (none closed in 90 days)", style="dim")
    else:
        text.append(f"{f.median_days_to_close:,.1f} days", style="bold")
        text.append(" median, claims closed in the last 90 days", style="dim")
    return text


def spark_label(title: str, values: list[float], unit: str) -> Text:
    peak = max(values, default=0.0)
    text = Text(title, end="")
    text.append(f" · 60 min · peak {peak:,.0f}{unit}" if peak else " · 60 min · none yet", style="dim")
    return text


class Panel(Vertical):
    def __init__(self, title: str, *children: Any, id: str | None = None) -> None:
        super().__init__(*children, id=id, classes="stats-panel")
        self.border_title = title


class StatsView(LiveWidget):
    """Tab 3."""

    MIN_INTERVAL: ClassVar[float] = STATS_MIN_INTERVAL

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.stats: statslib.Stats | None = None
        self.followup: FollowUpStats | None = None
        self._counted_at = 0.0
        self._counting = False
        self.rates = Rates()
        self._last_tx: tuple[float, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id="stats-status", classes="status-line")
        with VerticalScroll(id="stats-scroll", can_focus=True), Grid(id="stats-grid"):
            yield Panel("Jobs today", Static(id="stats-jobs"), id="stats-jobs-panel")
            yield Panel(
                "Payer API · last hour", Static(id="stats-payer"), Static(id="stats-latency-label"),
                Sparkline([], id="stats-latency-spark", summary_function=max), id="stats-payer-panel",
            )
            yield Panel(
                "Throughput", Static(id="stats-performance"), Static(id="stats-throughput-label"),
                Sparkline([], id="stats-throughput-spark", summary_function=max), id="stats-throughput-panel",
            )
            yield Panel("System", Static(id="stats-system"), id="stats-system-panel")
            yield Panel("Follow-up · claims", Static(Text("counting the claims…", style="dim"), id="stats-followup"),
                        id="stats-followup-panel")
            yield Panel("Failed today, by reason", Static(id="stats-failures"), id="stats-failures-panel")

    def fetch(self, request: Any) -> statslib.Stats:
        ctx = context(self)
        # "today" starts at midnight in the site's time zone
        return statslib.collect(ctx.db, ctx.settings, now=ctx.now().astimezone(ctx.tz))

    def render_data(self, request: Any, data: statslib.Stats) -> None:
        self.stats = data
        self._update_rates(data)
        self.call_after_refresh(self._count_claims)  # once the other panels are painted
        ctx = context(self)
        self.query_one("#stats-jobs", Static).update(jobs_text(data))
        self.query_one("#stats-failures", Static).update(failures_text(data))
        self.query_one("#stats-performance", Static).update(performance_text(data))
        self.query_one("#stats-payer", Static).update(payer_text(data))
        self.query_one("#stats-system", Static).update(system_text(data, self.rates, bool(ctx.settings.broker_url)))
        self.query_one("#stats-throughput-label", Static).update(
            spark_label("rows/min", data.throughput_spark, ""))
        self.query_one("#stats-latency-label", Static).update(
            spark_label("latency", data.latency_spark, " ms"))
        self.query_one("#stats-throughput-spark", Sparkline).data = list(data.throughput_spark)
        self.query_one("#stats-latency-spark", Sparkline).data = list(data.latency_spark)
        self._show_status()

    def render_failure(self, error: BaseException) -> None:
        self._show_status()

    def _count_claims(self) -> None:
        """The follow-up's figures count every claim: in a worker of their own, so the other
        panels do not wait for them, and at most once a minute."""
        if self._counting or (self.followup is not None and time.monotonic() - self._counted_at < FOLLOWUP_EVERY):
            return
        ctx = context(self)
        self._counting = True
        in_worker(self, lambda: follow_up_stats(ctx.db, now=ctx.now(), rules=rules_from(ctx.settings)),
                  self._show_followup, self._followup_failed, group="stats-followup", exclusive=True)

    def _show_followup(self, figures: FollowUpStats) -> None:
        self._counting = False
        self.followup, self._counted_at = figures, time.monotonic()
        self.query_one("#stats-followup", Static).update(followup_text(figures))

    def _followup_failed(self, error: BaseException) -> None:
        self._counting = False
        host(self).report_error(error)

    def _update_rates(self, data: statslib.Stats) -> None:
        transactions = data.database.get("transactions")
        if not isinstance(transactions, int):
            return
        now = time.monotonic()
        previous, self._last_tx = self._last_tx, (now, transactions)
        if previous is not None and now > previous[0]:
            self.rates = Rates(max(0.0, (transactions - previous[1]) / (now - previous[0])))

    def _show_status(self) -> None:
        ctx = context(self)
        text = Text(end="")
        if self.stats is None:
            text.append("loading…", style="dim")
        else:
            text.append("figures at ")
            text.append(self.stats.at.astimezone(ctx.tz).strftime("%H:%M:%S"), style="bold")
            zone = self.stats.at.astimezone(ctx.tz).strftime("%Z")
            text.append(f" · today since 00:00 {zone} · refreshed every {self.poller_interval():.0f} s", style="dim")
        mark_stale(self, text)
        self.query_one("#stats-status", Static).update(text)

    def poller_interval(self) -> float:
        return self.poller.interval if self.poller is not None else context(self).refresh_seconds

    def focus_main(self) -> None:
        self.query_one("#stats-scroll").focus()

