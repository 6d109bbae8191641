"""What each CLI command does: parse nothing, print for humans (80 columns) or JSON."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from datetime import datetime
from functools import cached_property
from typing import Any

from console.json_output import audit_to_dict, job_to_dict
from engine.actions import Operator, current_operator, perform
from engine.audit import AuditQuery, audit_page, record
from engine.config import Settings, load_settings
from engine.db import Database
from engine.errors import OperatorError, describe
from engine.jobs import lifecycle
from engine.jobs.liveness import ATTENDED, START_WORKERS, Liveness, liveness_of
from engine.jobs.queries import JobQuery, get_job, jobs_page
from engine.text import safe_text


class CliError(OperatorError):
    """A command refuses: one line on stderr and exit status `code` (no JSON error object)."""

    def __init__(self, message: str, code: int = 1, hint: str = "") -> None:
        super().__init__(message, hint)
        self.code = code


class Context:
    """Settings, database and operator, opened on first use."""

    def __init__(self, read_only: bool = False) -> None:
        self.read_only = read_only

    @cached_property
    def settings(self) -> Settings:
        return load_settings()

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.effective_database_url)

    @cached_property
    def operator(self) -> Operator:
        return current_operator(self.settings, self.db, read_only=self.read_only)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _short(text: str, width: int) -> str:
    text = safe_text(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _tail(text: str, width: int) -> str:
    """The end of a long value (a path's file name matters more than its folders)."""
    text = safe_text(text)
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _job_line(job: Any, live: Liveness = ATTENDED) -> str:
    progress = f"{job.done_rows}/{job.total_rows}"
    when = job.created_at.strftime("%m-%d %H:%M")
    return (
        f"{job.id:>6}  {live.status(job.status):<10}  {progress:>13}  {job.found_rows:>6}  "
        f"{_short(job.file_name, 22):<22}  {when}"
    )


JOB_HEADER = f"{'ID':>6}  {'STATUS':<10}  {'DONE/TOTAL':>13}  {'FOUND':>6}  {'FILE':<22}  CREATED"


def _clock(when: datetime | None) -> str:
    return f"{when:%H:%M} UTC" if when else ""


def _unattended_line(live: Liveness) -> str | None:
    """What nobody does for a job, and the fix, or None."""
    note = live.note(_clock(live.since))
    return f"{note}: {START_WORKERS}" if note else None


def _job_detail(job: Any, live: Liveness = ATTENDED) -> str:
    lines = [
        f"job {job.id}  {live.status(job.status)}  {safe_text(job.file_name)}",
        f"  rows      {job.done_rows}/{job.total_rows} done: {job.found_rows} found, "
        f"{job.not_found_rows} not found, {job.error_rows} errors, {job.invalid_rows} invalid",
        f"  window    {job.start_date} .. {job.end_date}   strategy {job.strategy}",
        f"  payer     {job.payer_id}   TIN {job.tin or '(per row)'}",
        f"  submitted {job.created_at:%Y-%m-%d %H:%M:%S} by {safe_text(job.submitted_by)}",
    ]
    if job.started_at:
        lines.append(f"  started   {job.started_at:%Y-%m-%d %H:%M:%S}   attempts {job.attempts}")
    if job.finished_at:
        lines.append(f"  finished  {job.finished_at:%Y-%m-%d %H:%M:%S}   payer calls {job.payer_calls}")
    if job.cancel_requested_at:
        latency = f" ({job.cancel_latency_ms} ms)" if job.cancel_latency_ms is not None else ""
        lines.append(
            f"  cancel    asked {job.cancel_requested_at:%H:%M:%S} by "
            f"{safe_text(job.cancel_requested_by or '?')}{latency}"
        )
    if job.failure_reason:
        lines.append(f"  reason    {safe_text(job.failure_reason)}")
    for warning in job.warnings or []:
        lines.append(f"  warning   {safe_text(warning)}")
    unattended = _unattended_line(live)
    if unattended:
        lines.insert(1, textwrap.fill(unattended, 80, initial_indent="  worker    ", subsequent_indent=" " * 12))
    payer_wait = live.payer_note(_clock(live.payer_down_since))
    if payer_wait:
        lines.insert(1, f"  payer     {payer_wait}")
    return "\n".join(lines)


# ---- commands ----


def submit(args: argparse.Namespace) -> int:
    from engine.submit import JobParams, submit_file

    ctx = Context()
    params = JobParams(args.start_date, args.end_date, args.tin, args.payer_id, args.strategy)
    op = ctx.operator
    job_id = perform(
        ctx.db, op, "submit", args.file,
        lambda: submit_file(ctx.db, ctx.settings, args.file, params, op.user, op.client_addr),
    )
    if args.wait:
        from console.waiting import wait_for_job

        wait_for_job(ctx, job_id, quiet=args.json)
    job = get_job(ctx.db, job_id)
    live = liveness_of(ctx.db, [job])[job.id]
    if args.json:
        data = job_to_dict(job, live)
        if live.unattended:
            data["warning"] = f"no worker is running: {START_WORKERS}, or submit with --wait"
        _print_json(data)
    else:
        print(_job_detail(job, live))
    if live.unattended:
        sys.stderr.write(f"claimsops: no worker is running, so job {job_id} waits: {START_WORKERS} "
                         "(or submit with --wait to run it here)\n")
    return 0 if job.status != lifecycle.FAILED else 1


def jobs(args: argparse.Namespace) -> int:
    ctx = Context()
    rows = jobs_page(ctx.db, JobQuery(statuses=tuple(args.status)), limit=args.n)
    live = liveness_of(ctx.db, rows)
    if args.json:
        _print_json([job_to_dict(j, live[j.id]) for j in rows])
        return 0
    print(JOB_HEADER)
    for job in rows:
        print(_job_line(job, live[job.id]))
    if not rows:
        print("(no jobs yet: claimsops submit FILE)")
    stalled = [j.id for j in rows if live[j.id].stalled]
    if stalled:
        print(_short(f"stalled (nothing runs them): {', '.join(map(str, stalled))}; {START_WORKERS}", 80))
    elif any(live[j.id].unattended for j in rows):
        print(f"queued, no worker running: {START_WORKERS}")
    return 0


def show_job(db: Database, item: Any, as_json: bool) -> Liveness:
    """One job as `claimsops job` prints it (`--json`: with its history); returns its liveness."""
    live = liveness_of(db, [item])[item.id]
    if as_json:
        data = job_to_dict(item, live)
        data["history"] = list(item.history or [])
        _print_json(data)
    else:
        print(_job_detail(item, live))
    return live


def job(args: argparse.Namespace) -> int:
    ctx = Context()
    show_job(ctx.db, get_job(ctx.db, args.id), args.json)
    return 0


CANCEL_WAIT_S = 10.0  # `cancel --wait`: a running job's worker confirms within a second
EXIT_TIMED_OUT = 1


def cancel(args: argparse.Namespace) -> int:
    """Audited cancel. A running job's worker confirms it: without --wait the command waits a
    little for that and says when it has not come; with --wait it returns once the job is
    CANCELLED, or exits 1 saying it timed out."""
    ctx = Context()
    op = ctx.operator
    status = perform(ctx.db, op, "cancel", f"job {args.id}", lambda: lifecycle.cancel(ctx.db, args.id, op.user))
    waited = args.timeout if args.wait else 5.0
    if status == lifecycle.CANCELLING:
        status = _await_cancelled(ctx.db, args.id, waited)
    item = get_job(ctx.db, args.id)
    late = args.wait and item.status != lifecycle.CANCELLED
    live = liveness_of(ctx.db, [item])[item.id] if args.json or late else ATTENDED
    if args.json:
        _print_json(job_to_dict(item, live))
    elif item.status == lifecycle.CANCELLED:
        latency = f" in {item.cancel_latency_ms} ms" if item.cancel_latency_ms else ""
        print(f"job {args.id} CANCELLED{latency}; {item.done_rows}/{item.total_rows} rows kept")
    elif not late:
        print(f"job {args.id} is {status}: its worker will stop it")
    if late:
        why = f"; {START_WORKERS}" if live.stalled else ": its worker has not confirmed it yet"
        sys.stderr.write(f"claimsops: timed out after {waited:g} s waiting for job {args.id} to be CANCELLED "
                         f"(it is {live.status(item.status)}{why})\n")
        return EXIT_TIMED_OUT
    return 0


def _await_cancelled(db: Database, job_id: int, timeout: float) -> str:
    """Poll until the job's worker has confirmed the cancel (every 20 ms: the confirmation
    itself takes at most a second), or `timeout` seconds."""
    deadline = time.monotonic() + timeout
    status = lifecycle.CANCELLING
    while time.monotonic() < deadline:
        status = lifecycle.status_of(db, job_id)
        if status != lifecycle.CANCELLING:
            break
        time.sleep(0.02)
    return status


def retry(args: argparse.Namespace) -> int:
    ctx = Context()
    op = ctx.operator
    todo = perform(
        ctx.db, op, "retry", f"job {args.id}",
        lambda: lifecycle.retry(ctx.db, args.id, op.user, errors=args.errors),
    )
    item = get_job(ctx.db, args.id)
    if args.json:
        _print_json(job_to_dict(item))
    else:
        print(f"job {args.id} is PENDING again: {todo} rows to look up")
    return 0


def export(args: argparse.Namespace) -> int:
    from engine.exporting import default_export_path, export_job
    from engine.private_files import shown

    ctx = Context()
    out = args.output or str(default_export_path(ctx.db, ctx.settings.home, args.id))
    count = perform(ctx.db, ctx.operator, "export", f"job {args.id} -> {shown(out)}",
                    lambda: export_job(ctx.db, args.id, out, overwrite=args.force))
    print(f"wrote {count} rows to {shown(out)}")
    return 0


def logs(args: argparse.Namespace) -> int:
    from engine.logsink import LogFilter, LogTail, last_lines, level_name, parse_level

    ctx = Context()
    try:
        level = parse_level(args.level) if args.level else 0
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    flt = LogFilter(service=args.service, level=level, job_id=args.job, text=args.grep)

    def show(rows: list) -> None:
        for r in rows:
            if args.json:
                print(json.dumps({"id": r.id, "at": r.at.isoformat(), "service": r.service, "host": r.host,
                                  "pid": r.pid, "level": level_name(r.level), "job_id": r.job_id,
                                  "message": r.message}))
            else:
                job = f" job={r.job_id}" if r.job_id else ""
                print(f"{r.at:%Y-%m-%d %H:%M:%S} {level_name(r.level):<7} {safe_text(r.service)}{job}: "
                      f"{safe_text(r.message, keep_newlines=True)}")
        sys.stdout.flush()

    rows = last_lines(ctx.db, flt, args.n)
    if args.json and not args.follow:
        _print_json([{"id": r.id, "at": r.at.isoformat(), "service": r.service, "host": r.host, "pid": r.pid,
                      "level": level_name(r.level), "job_id": r.job_id, "message": r.message} for r in rows])
        return 0
    show(rows)
    tail = LogTail.following(ctx.db, flt, rows, args.n)
    while args.follow:
        time.sleep(0.5)
        show(tail.poll())
    return 0


def audit_cmd(args: argparse.Namespace) -> int:
    ctx = Context()
    entries = audit_page(ctx.db, AuditQuery(user=args.user, action=args.action), limit=args.n)
    if args.json:
        _print_json([audit_to_dict(e) for e in entries])
        return 0
    # FROM is what the SSH client claims (SSH_CONNECTION), not a verified address
    print(f"{'WHEN':<11}  {'USER':<8}  {'FROM (CLAIMED)':<15}  {'ACTION':<12}  {'OUTCOME':<7}  TARGET")
    for e in entries:
        print(f"{e.at:%m-%d %H:%M}  {_short(e.user, 8):<8}  {_short(e.client_addr, 15):<15}  "
              f"{_short(e.action, 12):<12}  {_short(e.outcome, 7):<7}  {_tail(e.target, 17)}")
    if not entries:
        print("(no audit entries)")
    return 0


def payer_sim(args: argparse.Namespace) -> int:
    from console.payer_sim_command import run_payer_sim

    return run_payer_sim(args)


def stats(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from engine.followup.queries import follow_up_stats
    from engine.followup.recheck import rules_from
    from engine.stats import collect

    ctx = Context()
    figures = collect(ctx.db, ctx.settings)
    follow = follow_up_stats(ctx.db, rules=rules_from(ctx.settings))
    if args.json:
        _print_json({**figures.to_dict(), "followup": asdict(follow)})
        return 0
    today = figures.jobs_today
    total = today["total"] or 1
    print(f"jobs today    {today['total']} total")
    for status in ("COMPLETED", "FAILED", "CANCELLED", "PROCESSING", "PENDING"):
        print(f"  {status.lower():<12}{today[status]:>6}  ({100 * today[status] / total:.0f}%)")
    rate = f"{100 * figures.success_rate:.1f}%" if figures.success_rate is not None else "-"
    print(f"success rate  {rate}")
    for reason, count in figures.failed_by_reason:
        print(f"  failed {count:>4}  {_short(reason, 64)}")
    avg = f"{figures.duration_avg_s:.1f} s" if figures.duration_avg_s is not None else "-"
    p95 = f"{figures.duration_p95_s:.1f} s" if figures.duration_p95_s is not None else "-"
    print(f"job duration  avg {avg}   p95 {p95}   rows/min {figures.rows_per_minute:.0f}")
    lat = figures.latency_ms
    print("payer (1 h)   " + "   ".join(f"{k} {v:.0f} ms" if v is not None else f"{k} -" for k, v in lat.items()))
    print("  calls       " + "  ".join(f"{k} {v}" for k, v in figures.calls_by_outcome.items()))
    queue = figures.queue_length if figures.queue_length is not None else "-"
    print(f"workers       {figures.workers_alive} alive, {figures.workers_busy} busy, queue {queue}")
    median = f"{follow.median_days_to_close:.1f} d" if follow.median_days_to_close is not None else "-"
    print(f"follow-up     {follow.open_claims} open ({follow.due_now} due, {follow.stale_claims} stale), "
          f"{follow.closed_this_week} closed this week, median to close {median}")
    db = figures.database
    size = f"{db.get('size_bytes', 0) / 1e6:.1f} MB" if db.get("size_bytes") is not None else "-"
    extra = f", WAL {db['wal_bytes'] / 1e6:.1f} MB" if "wal_bytes" in db else (
        f", {db.get('connections')} connections" if "connections" in db else "")
    print(f"database      {db.get('backend')} {size}{extra}")
    if figures.disk_free_bytes is not None:
        print(f"disk free     {figures.disk_free_bytes / 1e9:.1f} GB")
    return 0


def console(args: argparse.Namespace) -> int:
    from console.tui import run_console

    return run_console(read_only=args.read_only)


def worker(args: argparse.Namespace) -> int:
    from workers.stack import run_worker

    return run_worker(load_settings(), args.concurrency)


def up(args: argparse.Namespace) -> int:
    from workers.embedded import run_up

    return run_up(load_settings(), sandbox=args.sandbox, headless=args.headless, concurrency=args.concurrency,
                  console=_console_runner())


def _console_runner():  # noqa: ANN202
    try:
        from console.tui import run_console
    except ImportError:
        return None
    return lambda settings, db, payer=None, startup=None: run_console(
        settings=settings, db=db, payer=payer, embedded=True, startup=startup)


OPERATORS_REVISION = "0003"  # the migration that adds the operators table


def db_cmd(args: argparse.Namespace) -> int:
    """`db upgrade` needs an operator; on a database older than the operators table, whoever
    upgrades it becomes its first admin (the migration records them)."""
    from engine import migrate

    ctx = Context()
    db = Database(ctx.settings.effective_database_url, migrate=False)
    before = _revision(db)
    if before is not None and before >= OPERATORS_REVISION:
        operator = current_operator(ctx.settings, db)
        applied = perform(db, operator, "db.upgrade", db.display_url, db.upgrade)
    else:
        applied = db.upgrade()
        record(db, current_operator(ctx.settings, db), "db.upgrade", db.display_url, "ok",
               f"from revision {before or 'none'}")
    state = "upgraded to" if applied else "already at"
    print(f"database {db.display_url} {state} revision {migrate.head_revision()}")
    return 0


def _revision(db: Database) -> str | None:
    from engine.migrate import current_revision

    try:
        return current_revision(db.engine)
    except Exception as exc:
        raise CliError(f"cannot read database {db.display_url}: {describe(exc)}") from None


def operators_cmd(args: argparse.Namespace) -> int:
    from engine import operators

    ctx = Context()
    if args.operators_action == "list":
        grants = operators.list_grants(ctx.db)
        if args.json:
            _print_json([{"user": g.user, "role": g.role, "granted_by": g.granted_by,
                          "granted_at": g.granted_at.isoformat()} for g in grants])
            return 0
        print(f"{'USER':<20}  {'ROLE':<8}  {'GRANTED BY':<20}  GRANTED")
        for g in grants:
            print(f"{_short(g.user, 20):<20}  {g.role:<8}  {_short(g.granted_by, 20):<20}  "
                  f"{g.granted_at:%Y-%m-%d %H:%M}")
        print("everyone else may read but not act")
        return 0
    op = ctx.operator
    if args.operators_action == "add":
        role = operators.ADMIN if args.admin else operators.OPERATOR
        said = perform(ctx.db, op, "role.grant", f"{args.user} as {role}",
                       lambda: operators.grant(ctx.db, args.user, role, op.user))
    else:
        said = perform(ctx.db, op, "role.revoke", args.user,
                       lambda: operators.revoke(ctx.db, args.user))
    print(safe_text(said))
    return 0


def metrics(args: argparse.Namespace) -> int:
    from workers.metrics_server import metrics_service
    from workers.service import run_service

    settings = load_settings()
    return run_service("metrics", settings, [metrics_service(args.host, args.port)])
