"""`claimsops bench [SCENARIO…] [--json] [--quick]`: the project's speed against the in-process
simulator on loopback, with a fixed seed, writing nothing outside temporary directories.

`register(subparsers)` adds the command to the `claimsops` parser (console/cli.py); `main(argv)`
runs it on its own (`python -m console.bench_command …`). Exit 0 when every correctness check
passed (times and targets never fail a run), 1 otherwise, 2 for a usage error or when the
benchmarks are not there: they live in the source checkout's `bench/` package, which is not
installed with the product, so the command runs them only from a clone.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

SCENARIO_HELP = (
    "lookup: 2,000-row file vs the lower bound and the original approach; cancel: 20 cancels while "
    "payer calls hang; recovery: SIGKILL of a Redis worker mid-job; write: result rows/s into SQLite "
    "and PostgreSQL; console: the console at 100,000 jobs / 1,000,000 log rows / 10,000,000 metric "
    "rows; scale: 1, 2 and 4 Redis workers; cli: jobs/job/cancel and cancel --wait, whole processes; "
    "startup: claimsops up, cold, to its first Jobs page"
)


NOT_PRESENT = "claimsops bench: the benchmarks live in the source checkout's bench/ folder (run it from a clone)"
# the checkout the console package was loaded from (an editable install or PYTHONPATH)
CHECKOUT = Path(__file__).resolve().parents[1]


def load_bench(module: str) -> ModuleType | None:
    """`bench.<module>` from the source checkout, or None when the benchmarks are not present
    (an installed wheel). The checkout's root is added to sys.path when `bench/` sits beside the
    console package, as it does for an editable install run through the `claimsops` script."""
    if (CHECKOUT / "bench" / "__init__.py").is_file() and str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))
    try:
        return importlib.import_module(f"bench.{module}")
    except ModuleNotFoundError as exc:
        if exc.name in ("bench", f"bench.{module}"):
            return None
        raise


def _scenarios() -> tuple[str, ...]:
    suite = load_bench("suite")
    return tuple(suite.SCENARIOS) if suite else ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = _scenarios()
    choices = f"any of {', '.join(names)}" if names else "any scenario of the checkout's bench/ folder"
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"{choices} (default: all). {SCENARIO_HELP}")
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by scenario")
    parser.add_argument("--quick", action="store_true", help="small sizes (CI: checks correctness, not times)")


def register(subparsers: Any) -> None:
    """Add `bench` to the subparsers object of the `claimsops` parser."""
    text = "measure the project's speed against the in-process simulator (see BENCHMARKS.md)"
    parser = subparsers.add_parser("bench", help=text, description=text)
    add_arguments(parser)
    parser.set_defaults(handler=bench)


def bench(args: argparse.Namespace) -> int:
    """Run the scenarios; print the table (or JSON); 0 when every correctness check passed."""
    suite, report = load_bench("suite"), load_bench("report")
    if suite is None or report is None:
        sys.stderr.write(NOT_PRESENT + "\n")
        return 2
    names = list(dict.fromkeys(args.scenarios)) or list(_scenarios())
    unknown = [n for n in names if n not in _scenarios()]
    if unknown:
        sys.stderr.write(f"claimsops: unknown scenario {', '.join(unknown)} (choose from {', '.join(_scenarios())})\n")
        return 2

    def progress(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    result = suite.run_suite(names, quick=args.quick, progress=progress)
    outcomes = result.pop("_outcomes")
    if args.json:
        json.dump(result, sys.stdout, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report.render({**result, "_outcomes": outcomes}) + "\n")
    sys.stdout.flush()
    return 0 if result["meta"]["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claimsops bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return bench(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
