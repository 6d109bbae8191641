"""health_check_alert: run every health check; alert on changes only; ping the heartbeat
(its /fail when the run is unhealthy: a check failing, not merely degraded)."""

from __future__ import annotations

from engine import alerts, health
from engine.tasks.body import OK, WARN, TaskContext, TaskResult, plural


def health_check_alert(ctx: TaskContext) -> TaskResult:
    results = health.run_checks(ctx.db, ctx.settings)
    events = alerts.record(ctx.db, results)
    sent = alerts.notify(ctx.settings, events)
    alerts.ping_heartbeat(ctx.settings, healthy=health.overall(results) != health.UNHEALTHY)
    bad = [f"{r.name} {r.state}" for r in results if r.state != health.OK]
    summary = ", ".join(bad) if bad else f"all {len(results)} checks ok"
    raised = sum(e.kind == alerts.ALERT for e in events)
    recovered = len(events) - raised
    if raised:
        summary += f"; {plural(raised, 'alert')} raised"
    if recovered:
        summary += f"; {plural(recovered, 'recovery', 'recoveries')}"
    if events and ctx.settings.alert_webhook:
        summary += f" ({sent}/{len(events)} sent to the webhook)"
    return TaskResult(WARN if bad else OK, summary)
