"""Run the chosen scenarios, each in its own temporary directory, and gather their outcomes."""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import Outcome, machine

# scenario -> module with `run(quick: bool) -> Outcome`, in the order they run
SCENARIOS = {
    "lookup": "bench.lookup",
    "cancel": "bench.cancel",
    "recovery": "bench.recovery",
    "write": "bench.write",
    "console": "bench.console",
    "metrics": "bench.metrics",
    "scale": "bench.scale",
    "followup": "bench.followup",
    "cli": "bench.cli",
    "startup": "bench.startup",
}


def run_scenario(name: str, quick: bool) -> Outcome:
    """One scenario; an exception becomes the outcome's error (a failed run), never a crash."""
    started = time.monotonic()
    try:
        runner: Callable[[bool], Outcome] = importlib.import_module(SCENARIOS[name]).run
        outcome = runner(quick)
        if quick:
            outcome.targets = []  # --quick sizes say nothing about the targets
    except Exception as exc:  # report it and go on with the other scenarios
        outcome = Outcome(name, error=f"{type(exc).__name__}: {exc}")
        outcome.notes.append(traceback.format_exc(limit=6))
    outcome.seconds = time.monotonic() - started
    return outcome


def run_suite(names: Sequence[str], *, quick: bool, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """{"meta": {...}, <scenario>: <outcome JSON>, ...} and the Outcome objects under "_outcomes"."""
    quiet = logging.getLogger("claimsops")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the jobs' own progress lines are not the benchmark's output
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        for name in names:
            if progress:
                progress(f"bench: {name} ...")
            outcome = run_scenario(name, quick)
            if progress:
                state = "skipped" if outcome.skipped else ("ok" if outcome.ok else "FAILED")
                progress(f"bench: {name} {state} in {outcome.seconds:.0f} s")
            outcomes.append(outcome)
    finally:
        quiet.setLevel(level)
    result: dict[str, Any] = {
        "meta": {"machine": machine(), "quick": quick, "scenarios": list(names),
                 "seconds": round(time.monotonic() - started, 1), "ok": all(o.ok for o in outcomes)},
    }
    for outcome in outcomes:
        result[outcome.name] = outcome.to_json()
    result["_outcomes"] = outcomes
    return result
