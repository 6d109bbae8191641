"""The `claimsops` command line. Any error is one line on stderr and a non-zero exit."""

from __future__ import annotations

from engine import collector

# Importing SQLAlchemy and mapping the models builds some 95,000 objects that live as long as
# the process. The cycle collector walked them again and again while they were built, and once
# more as the process exited: about a third of a light command's CPU time (`jobs`, `job`,
# `cancel`). It is off during these imports, and what they built is then frozen (left out of
# every later collection, as the console freezes what its first paint built).
with collector.paused():
    import argparse
    import gc
    import json
    import sys
    from collections.abc import Callable, Sequence
    from datetime import date
    from typing import Any

    from console import commands
    from engine.actions import unaudited
    from engine.config import ignored_settings
    from engine.errors import describe
    from engine.text import safe_text

    gc.freeze()

EXIT_ERROR = 1
EXIT_USAGE = 2


def _date(value: str) -> date:
    from engine.dates import parse_date

    try:
        return parse_date(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)") from None


def _upload_rows(value: str) -> int:
    from engine.intake import DEFAULT_MAX_ROWS

    number = _positive_int(value)
    if number > DEFAULT_MAX_ROWS:
        raise argparse.ArgumentTypeError(f"at most {DEFAULT_MAX_ROWS:,} (the most rows a job takes)")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return number


def _port(value: str) -> int:
    number = _positive_int(value)
    if number > 65535:
        raise argparse.ArgumentTypeError("must be a TCP port (at most 65535)")
    return number


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"claimsops: {safe_text(message)} (see --help)\n")
        sys.exit(EXIT_USAGE)


class _Unbuilt:
    """Stands in for the parser of a command that is not being parsed: drops its arguments."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser. With `only` (the command line's first word), the parser of that
    command alone when it is one of the commands defined here: all a command line naming it
    needs, without building the other commands' parsers or importing the modules that add theirs
    (a few milliseconds of a light command). Any other word gets every command's parser."""
    parser = _Parser(prog="claimsops", description="Bulk claim-status look-ups, operated from a terminal.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, handler: Callable, help_text: str) -> Any:
        if only is not None and name != only:
            return _Unbuilt()
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    p = add("submit", commands.submit, "submit a CSV file of claims as a new job")
    p.add_argument("file")
    p.add_argument("--start-date", type=_date, help="job window start (default: 90 days before the end)")
    p.add_argument("--end-date", type=_date, help="job window end (default: today)")
    p.add_argument("--tin", default="", help="billing TIN to search under (default: CLAIMSOPS_PAYER_TIN)")
    p.add_argument("--payer-id", default="", help="payer id (default: CLAIMSOPS_PAYER_ID or 87726)")
    p.add_argument("--strategy", default="auto", choices=["auto", "batch", "individual"])
    p.add_argument("--wait", action="store_true", help="wait for the job to finish, showing progress")
    p.add_argument("--json", action="store_true")

    p = add("jobs", commands.jobs, "list jobs, newest first")
    p.add_argument("--status", action="append", default=[], help="only this status (repeatable)")
    p.add_argument("-n", type=_positive_int, default=50, help="how many (default 50)")
    p.add_argument("--json", action="store_true")

    p = add("job", commands.job, "show one job")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")

    p = add("cancel", commands.cancel, "cancel a pending or running job")
    p.add_argument("id", type=int)
    p.add_argument("--wait", action="store_true",
                   help="return once the job is CANCELLED (exit 1 when it is not within --timeout)")
    p.add_argument("--timeout", type=_positive_float, default=commands.CANCEL_WAIT_S,
                   help=f"seconds --wait waits (default {commands.CANCEL_WAIT_S:g})")
    p.add_argument("--json", action="store_true")

    p = add("retry", commands.retry, "process a failed or cancelled job again (rows without a result)")
    p.add_argument("id", type=int)
    p.add_argument("--errors", action="store_true", help="also rows that ended in a payer error")
    p.add_argument("--json", action="store_true")

    p = add("export", commands.export, "write a job's results file")
    p.add_argument("id", type=int)
    p.add_argument("-o", "--output",
                   help="file to write (default: $CLAIMSOPS_HOME/exports/<file>-job<ID>-results.csv)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")

    p = add("logs", commands.logs, "show log lines from every process")
    p.add_argument("-n", type=_positive_int, default=100, help="how many lines (default 100)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--service", default="")
    p.add_argument("--level", default="", help="minimum level: DEBUG, INFO, WARNING, ERROR")
    p.add_argument("--job", type=int)
    p.add_argument("--grep", default="", help="only lines containing this text")
    p.add_argument("--json", action="store_true")

    p = add("audit", commands.audit_cmd, "who did what, when, from where")
    p.add_argument("--user", default="")
    p.add_argument("--action", default="")
    p.add_argument("-n", type=_positive_int, default=50)
    p.add_argument("--json", action="store_true")

    p = add("stats", commands.stats, "jobs today, durations, payer latency, workers, database")
    p.add_argument("--json", action="store_true")

    p = add("metrics", commands.metrics, "serve Prometheus /metrics read from the database until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=_port, default=9464, help="port (default 9464)")

    p = add("payer-sim", commands.payer_sim, "run the sandbox payer simulator on loopback")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--latency-scale", type=float, default=0.0, help="1.0 = real payer latency (default 0)")
    p.add_argument("--window-days", type=int, default=31, help="widest search window (default 31)")
    p.add_argument("--seed", type=int, default=None, help="data set seed (default: the sandbox seed)")
    p.add_argument("--write-csv", metavar="FILE",
                   help="write an input CSV of the sandbox's claims (and FILE's .expected.json), then exit")
    p.add_argument("--rows", type=_upload_rows, default=2000, help="rows for --write-csv (1 to 100,000)")
    p.add_argument("--serve", action="store_true", help="with --write-csv: serve the payer after writing")

    p = add("console", commands.console, "the Textual console against the configured database")
    p.add_argument("--read-only", action="store_true", help="refuse every action in this session")

    p = add("worker", commands.worker, "run a worker process (production: needs CLAIMSOPS_BROKER_URL)")
    p.add_argument("--concurrency", type=_positive_int, default=2, help="jobs at a time (default 2)")

    p = add("up", commands.up, "run the embedded stack: workers, scheduler, sandbox payer, console")
    p.add_argument("--sandbox", action="store_true", help="use the sandbox payer even if a payer is configured")
    p.add_argument("--headless", action="store_true", help="no console: run until Ctrl-C")
    p.add_argument("--concurrency", type=_positive_int, default=2, help="jobs at a time (default 2)")

    p = add("db", commands.db_cmd, "database maintenance")
    p.add_argument("action", choices=["upgrade"])

    if only == "operators":
        _add_operators(sub)
    if only is not None:  # a command that the modules below add, or no command's name
        return parser if only in sub.choices else build_parser()
    _add_operators(sub)

    from console import bench_command, followup_commands, keys_command, task_commands

    followup_commands.register(sub)
    task_commands.register(sub)
    task_commands.register_scheduler(sub)
    bench_command.register(sub)
    keys_command.register(sub)
    return parser


def _add_operators(sub: Any) -> None:
    ops = sub.add_parser("operators", help="who may act: list, add or remove operators (admins only change it)",
                         description="who may act: list, add or remove operators (admins only change it)")
    ops.set_defaults(handler=commands.operators_cmd)
    actions = ops.add_subparsers(dest="operators_action", metavar="ACTION", parser_class=_Parser, required=True)
    p = actions.add_parser("list", help="the operators and admins; everyone else is read-only")
    p.add_argument("--json", action="store_true")
    p = actions.add_parser("add", help="let an OS user act (--admin: also change who acts)")
    p.add_argument("user")
    p.add_argument("--admin", action="store_true")
    p = actions.add_parser("remove", help="make an OS user read-only (never the last admin)")
    p.add_argument("user")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    notice = ignored_settings()
    if notice:
        sys.stderr.write(f"claimsops: {notice}\n")
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except commands.CliError as exc:
        sys.stderr.write(f"claimsops: {describe(exc)}\n")
        return exc.code
    except Exception as exc:  # the promise: never a traceback
        message = describe(exc)
        if getattr(args, "json", False):
            json.dump({"error": message}, sys.stdout)
            sys.stdout.write("\n")
        sys.stderr.write(f"claimsops: {message}{_unaudited_note(exc, message)}\n")
        return EXIT_ERROR


def _unaudited_note(exc: BaseException, message: str) -> str:
    """Said on the error's own line when its refusal or failure is not in the audit trail."""
    why = unaudited(exc)
    if not why:
        return ""
    return " (not audited either)" if why == message else f" (not audited: {why})"


if __name__ == "__main__":
    sys.exit(main())
