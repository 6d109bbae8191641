"""CLI commands of the maintenance scheduler and health: `tasks`, `task …`, `health`.

`register(subparsers)` adds them to the `claimsops` parser (console/cli.py). Human output fits
80 columns; `--json` prints objects. Errors are `CliError` (one line, non-zero exit).
"""

from __future__ import annotations

import argparse
import textwrap
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from console.commands import CliError, Context, _print_json, _short
from engine.errors import OperatorError
from engine.text import safe_text

# The task modules (and engine.health, which imports httpx) are imported by the commands that
# use them: the parser is built for every command, and listing jobs must not load them.
if TYPE_CHECKING:
    from engine.tasks import controls, store

APPLY_WAIT_S = 3.0


def register(subparsers: Any) -> None:
    """Add `tasks`, `task` and `health` to the subparsers object of the `claimsops` parser."""

    def add(parent: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> Any:
        p = parent.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add(subparsers, "tasks", tasks_cmd, "list maintenance tasks: state, schedule, last and next run")
    p.add_argument("--json", action="store_true")

    task = subparsers.add_parser("task", help="run, pause, resume or reschedule a maintenance task",
                                 description="run, pause, resume or reschedule a maintenance task")
    actions = task.add_subparsers(dest="task_action", metavar="ACTION", parser_class=type(task), required=True)
    p = add(actions, "run", task_run, "run a task now (refused while it runs)")
    p.add_argument("name")
    p.add_argument("--wait", action="store_true", help="wait for the run to finish and show its outcome")
    p.add_argument("--json", action="store_true")
    for name, handler, text in (("pause", task_pause, "pause a task's schedule"),
                                ("resume", task_resume, "resume a paused task (no catch-up of missed runs)")):
        p = add(actions, name, handler, text)
        p.add_argument("name")
        p.add_argument("--json", action="store_true")
    p = add(actions, "schedule", task_schedule,
            "change a task's schedule: 'every 15m', 'daily 02:00' or a cron expression")
    p.add_argument("name")
    p.add_argument("spec", nargs="+", help="e.g. every 15m | every 30s | daily 02:00 | '0 */6 * * *'")
    p.add_argument("--json", action="store_true")
    p = add(actions, "history", task_history, "a task's recent runs, newest first")
    p.add_argument("name")
    p.add_argument("-n", type=int, default=20, help="how many runs (default 20)")
    p.add_argument("--json", action="store_true")
    p = add(actions, "logs", task_logs, "the log lines of one run")
    p.add_argument("run_id", type=int)
    p.add_argument("--json", action="store_true")

    p = add(subparsers, "health", health_cmd, "check database, broker, workers, disk and payer "
            "(exit 0 healthy, 1 degraded, 2 unhealthy)")
    p.add_argument("--json", action="store_true")


def register_scheduler(subparsers: Any) -> None:
    """Add `scheduler` (the service process; `claimsops up` runs it in a thread instead)."""
    text = "run the maintenance scheduler (one leader at a time; another instance waits as standby)"
    p = subparsers.add_parser("scheduler", help=text, description=text)
    p.add_argument("--lease-seconds", type=float, default=None, help="leader lease time (default 15)")
    p.set_defaults(handler=scheduler_cmd)


def scheduler_cmd(args: argparse.Namespace) -> int:
    from workers.scheduler import main

    return main(["--lease-seconds", str(args.lease_seconds)] if args.lease_seconds else [])


# ---- formatting ----


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def _ago(when: datetime, now: datetime) -> str:
    return f"{_span((now - when).total_seconds())} ago"


def _until(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    delta = (when - now).total_seconds()
    return f"in {_span(delta)}" if delta >= 0 else f"due {_span(delta)} ago"


def _last(run: store.RunInfo | None, now: datetime) -> str:
    from engine.tasks import body

    if run is None:
        return "never"
    if run.outcome == body.RUNNING:
        return f"running {_span((now - run.started_at).total_seconds())}"
    return f"{run.outcome} {_ago(run.started_at, now)}"


def _trigger(run: store.RunInfo) -> str:
    from engine.tasks import store

    return f"manual:{run.requested_by}" if run.trigger == store.TRIGGER_MANUAL and run.requested_by else run.trigger


def _fail(exc: OperatorError) -> CliError:
    return CliError(exc.message, hint=exc.hint)


# ---- commands ----


def _leader_line(ctx: Context) -> str:
    from engine.tasks import schedules, store

    leader = store.scheduler_leader(ctx.db)
    if leader is None:
        return "scheduler: not running (start `claimsops scheduler`, or `claimsops up`)"
    tz = schedules.zone(ctx.settings.timezone)
    until = leader.expires_at.astimezone(tz).strftime("%H:%M:%S %Z")
    return _short(f"scheduler: leader {leader.owner} (lease until {until})", 80)


def tasks_cmd(args: argparse.Namespace) -> int:
    from engine.models import utcnow
    from engine.tasks import status

    ctx = Context()
    items = status.list_tasks(ctx.db, ctx.settings)
    if args.json:
        _print_json([status.task_to_dict(t) for t in items])
        return 0
    now = utcnow()
    print(_leader_line(ctx))
    print(f"{'TASK':<20}  {'STATE':<7}  {'SCHEDULE':<19}  {'LAST RUN':<16}  NEXT RUN")
    for t in items:
        nxt = "paused" if t.paused else _until(t.next_run_at, now)
        print(f"{t.name:<20}  {t.state:<7}  {_short(t.schedule_words, 19):<19}  "
              f"{_short(_last(t.last_run, now), 16):<16}  {nxt}")
        if t.last_run is not None and t.last_run.summary:
            print(_short(f"  └ {t.last_run.summary}", 80))
    return 0


def _await_run(ctx: Context, run_id: int) -> store.RunInfo:
    from engine.tasks import status, store

    while True:
        runs = [r for r in store.list_runs(ctx.db, limit=1, before_id=run_id + 1) if r.id == run_id]
        if runs and runs[0].outcome != status.RUNNING:
            return runs[0]
        time.sleep(0.2)


def task_run(args: argparse.Namespace) -> int:
    from engine.tasks import controls, registry, store

    ctx = Context()
    try:
        req = controls.request_run(ctx.db, ctx.settings, ctx.operator, args.name)
    except registry.TaskError as exc:
        raise _fail(exc) from None
    leader = store.scheduler_leader(ctx.db)
    command = store.wait_for_command(ctx.db, req.command_id, APPLY_WAIT_S) if leader and req.command_id else None
    outcome = command.outcome if command is not None else None
    if outcome and not outcome.startswith("started run "):
        raise CliError(safe_text(f"run of {args.name} {outcome}"))
    run = None
    if outcome and args.wait:
        run = _await_run(ctx, int(outcome.removeprefix("started run ")))
    if args.json:
        _print_json({"task": args.name, "command_id": req.command_id, "message": req.message,
                     "outcome": outcome, "run": store.run_to_dict(run) if run else None})
    elif run is not None:
        print(_short(f"run {run.id} of {args.name} {run.outcome} in {run.duration_s or 0:.1f}s: {run.summary}", 80))
    elif outcome:
        print(f"{args.name}: {outcome}")
    else:
        print(req.message if leader is None else f"{req.message}; the scheduler has not started it yet")
    return 1 if run is not None and run.outcome == "error" else 0


def _state_change(args: argparse.Namespace, request: Callable[[Context], controls.Request]) -> int:
    from engine.tasks import registry, schedules, store

    ctx = Context()
    try:
        req = request(ctx)
    except (registry.TaskError, schedules.ScheduleError) as exc:
        raise _fail(exc) from None
    applied = None
    if req.command_id is not None and store.scheduler_leader(ctx.db) is not None:
        applied = store.wait_for_command(ctx.db, req.command_id, APPLY_WAIT_S)
    if args.json:
        _print_json({"task": args.name, "command_id": req.command_id, "message": req.message,
                     "applied": applied.outcome if applied is not None else None})
        return 0
    print(safe_text(req.message))
    if req.command_id is not None and applied is None:
        print("(the scheduler applies it when it next runs)")
    return 0


def task_pause(args: argparse.Namespace) -> int:
    from engine.tasks import controls

    return _state_change(args, lambda ctx: controls.request_pause(ctx.db, ctx.settings, ctx.operator, args.name))


def task_resume(args: argparse.Namespace) -> int:
    from engine.tasks import controls

    return _state_change(args, lambda ctx: controls.request_resume(ctx.db, ctx.settings, ctx.operator, args.name))


def task_schedule(args: argparse.Namespace) -> int:
    from engine.tasks import controls

    spec = " ".join(args.spec)
    return _state_change(
        args, lambda ctx: controls.request_schedule(ctx.db, ctx.settings, ctx.operator, args.name, spec)
    )


def task_history(args: argparse.Namespace) -> int:
    from engine.tasks import registry, schedules, store

    ctx = Context()
    try:
        runs = store.list_runs(ctx.db, args.name, limit=max(1, args.n))
    except registry.TaskError as exc:
        raise _fail(exc) from None
    if args.json:
        _print_json([store.run_to_dict(r) for r in runs])
        return 0
    tz = schedules.zone(ctx.settings.timezone)
    print(f"{'RUN':>6}  {'STARTED':<14}  {'TRIGGER':<12}  {'OUTCOME':<7}  {'TOOK':>6}  SUMMARY")
    for r in runs:
        took = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        print(_short(f"{r.id:>6}  {r.started_at.astimezone(tz):%m-%d %H:%M:%S}  {_short(_trigger(r), 12):<12}  "
                     f"{r.outcome:<7}  {took:>6}  {r.summary}", 80))
    if not runs:
        print("(no runs yet)")
    return 0


def task_logs(args: argparse.Namespace) -> int:
    from engine.logsink import level_name
    from engine.tasks import schedules, store

    ctx = Context()
    lines = store.run_logs(ctx.db, args.run_id)
    if args.json:
        _print_json([{"id": r.id, "at": r.at.isoformat(), "level": level_name(r.level), "host": r.host,
                      "pid": r.pid, "message": r.message} for r in lines])
        return 0
    tz = schedules.zone(ctx.settings.timezone)
    for r in lines:
        print(f"{r.at.astimezone(tz):%Y-%m-%d %H:%M:%S} {level_name(r.level):<7} "
              f"{safe_text(r.message, keep_newlines=True)}")
    if not lines:
        print(f"(no log lines for run {args.run_id})")
    return 0


def health_cmd(args: argparse.Namespace) -> int:
    from console.json_output import check_to_dict
    from engine import health
    from engine.alerts import open_alerts
    from engine.db import DatabaseError

    ctx = Context()
    try:
        db = ctx.db
    except DatabaseError as exc:
        results = [health.CheckResult("database", health.FAILING, safe_text(str(exc), max_len=200))]
        alerts: list[Any] = []
    else:
        results = health.run_checks(db, ctx.settings)
        alerts = open_alerts(db) if results[0].state != health.FAILING else []
    overall = health.overall(results)
    if args.json:
        _print_json({"status": overall, "checks": [check_to_dict(r) for r in results],
                     "open_alerts": [{"check": a.check, "message": a.message, "raised_at": a.raised_at.isoformat()}
                                     for a in alerts]})
    else:
        for r in results:
            latency = f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else ""
            # the detail wraps rather than being cut: its end is often the fix
            lead = f"{r.name:<9} {r.state:<8} {latency:>8}  "
            print(textwrap.fill(safe_text(r.detail), 80, initial_indent=lead, subsequent_indent=" " * len(lead),
                                break_on_hyphens=False))
        for a in alerts:
            print(_short(f"open alert since {a.raised_at:%Y-%m-%d %H:%M}: {a.message}", 80))
        print(f"overall: {overall}")
    return health.EXIT_CODES[overall]
