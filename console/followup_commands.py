"""CLI commands of the claim follow-up: `recheck`, `changes`, `claim`.

`register(subparsers)` adds them to the `claimsops` parser (console/cli.py). Human output fits
80 columns; `--json` prints objects (console/json_output.py)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from console.commands import CliError, Context, _print_json, _short, show_job
from console.json_output import change_to_dict, observation_to_dict
from engine.actions import perform
from engine.followup import queries
from engine.followup.recheck import Recheck, create_followup_job, rules_from
from engine.jobs.liveness import START_WORKERS
from engine.jobs.queries import get_job
from engine.models import utcnow
from engine.text import safe_text

DEFAULT_SINCE = "7d"
_RELATIVE = re.compile(r"^(\d+)\s*([dhm])$")


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `24h`, `90m`, a date (`2026-12-01`, midnight UTC) or an ISO time."""
    value = text.strip().lower()
    match = _RELATIVE.match(value)
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"--since {text!r}: give 7d, 24h, 90m, a date (2026-12-01) or a time "
                       "(2026-12-01T08:00)", 2) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def register(subparsers: Any) -> None:
    def add(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = subparsers.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("recheck", recheck, "re-check the open claims that are due now, as a follow-up job")
    p.add_argument("--all", action="store_true", help="every open claim, due or not")
    p.add_argument("--wait", action="store_true", help="wait for the job to finish, showing progress")
    p.add_argument("--json", action="store_true")

    p = add("changes", changes, "claims whose status changed, newest first")
    p.add_argument("--since", default=DEFAULT_SINCE, help="7d, 24h, a date or a time (default 7d)")
    p.add_argument("-n", type=int, default=100, help="how many (default 100; the export takes all)")
    p.add_argument("-o", "--output", help="write them all to this CSV file instead (0600)")
    p.add_argument("--export", action="store_true",
                   help="write them all to $CLAIMSOPS_HOME/exports/changes-<time>.csv")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.add_argument("--json", action="store_true")

    p = add("claim", claim, "a claim's timeline: every status it was seen with, oldest first (no payer call)")
    p.add_argument("number")
    p.add_argument("--tin", default="", help="only under this TIN")
    p.add_argument("--json", action="store_true")


def recheck(args: argparse.Namespace) -> int:
    ctx = Context()
    op = ctx.operator
    target = "all open claims" if args.all else "open claims due"
    made: Recheck = perform(ctx.db, op, "recheck", target, lambda: create_followup_job(
        ctx.db, ctx.settings, requested_by=op.user, requested_from=op.client_addr, everything=args.all))
    if made.job_id is None:
        if args.json:
            _print_json(None)
        print(made.summary(), file=sys.stderr if args.json else sys.stdout)
        return 0
    if args.wait:
        from console.waiting import wait_for_job

        wait_for_job(ctx, made.job_id, quiet=args.json)
    job = get_job(ctx.db, made.job_id)
    if not args.json:
        print(made.summary())
    live = show_job(ctx.db, job, args.json)
    if live.unattended:
        sys.stderr.write(f"claimsops: no worker is running, so job {job.id} waits: {START_WORKERS} "
                         "(or recheck with --wait to run it here)\n")
    return 0


def changes(args: argparse.Namespace) -> int:
    ctx = Context()
    now = utcnow()
    since = parse_since(args.since, now)
    if args.output or args.export:
        from engine.followup.export import default_changes_path, export_changes
        from engine.private_files import shown

        out = args.output or str(default_changes_path(ctx.settings.home, now))
        count = perform(ctx.db, ctx.operator, "export", f"changes since {since:%Y-%m-%d %H:%M} -> {shown(out)}",
                        lambda: export_changes(ctx.db, out, since=since, overwrite=args.force))
        print(f"wrote {count} changes to {shown(out)}")
        return 0
    items = queries.changes_page(ctx.db, since=since, limit=max(1, args.n))
    if args.json:
        _print_json([change_to_dict(c) for c in items])
        return 0
    print(f"{'WHEN':<16}  {'CLAIM':<14}  {'TIN':<9}  {'JOB':>5}  CHANGE")
    for c in items:
        print(f"{c.observed_at:%Y-%m-%d %H:%M}  {_short(c.claim_number, 14):<14}  {_short(c.tin, 9):<9}  "
              f"{c.job_id:>5}  {_short(c.summary, 42)}")
    if not items:
        print(f"(no status changes since {since:%Y-%m-%d %H:%M} UTC)")
    return 0


def claim(args: argparse.Namespace) -> int:
    ctx = Context()
    steps = queries.timeline(ctx.db, args.number, tin=args.tin)
    if args.json:
        _print_json([observation_to_dict(o) for o in steps])
        return 0 if steps else 1
    if not steps:
        where = f" under TIN {safe_text(args.tin)}" if args.tin else ""
        raise CliError(f"claim {safe_text(args.number)} was never seen{where}",
                       hint="look it up in a job first (claimsops submit), or in the console's Claims tab")
    rules = rules_from(ctx.settings)
    states = {c.claim_id: c for c in queries.find_claims(ctx.db, args.number, tin=args.tin, rules=rules)}
    current = None
    for o in steps:
        if o.claim_id != current:
            current = o.claim_id
            state = states.get(o.claim_id)
            heading = f"claim {safe_text(o.claim_number)}  TIN {safe_text(o.tin)}  payer {safe_text(o.payer_id)}"
            if state is not None:
                heading += f"  {state.state}"
                if state.next_check_at and state.state == "open":
                    heading += f", next check {state.next_check_at:%Y-%m-%d}"
            print(heading)
            print(f"  {'OBSERVED':<16}  {'JOB':>5}  {'STATUS':<16}  {'CAT':<4}  {'PAID':>10}  CODES")
        paid = "" if o.total_paid is None else f"{o.total_paid:,.2f}"
        print(f"  {o.observed_at:%Y-%m-%d %H:%M}  {o.job_id:>5}  {_short(o.status, 16):<16}  "
              f"{_short(o.status_category or '-', 4):<4}  {paid:>10}  {_short(' '.join(o.adjudication_codes), 20)}")
    return 0
