"""The human table of a bench run (at most 100 columns)."""

from __future__ import annotations

import textwrap
from typing import Any

from bench.common import Outcome, Target

WIDTH = 100
NAME, LABEL = 10, 38
VALUE = WIDTH - NAME - LABEL - 2


def _row(name: str, label: str, value: str) -> list[str]:
    """One table row; a long value wraps under its column."""
    label = label if len(label) <= LABEL else label[: LABEL - 1] + "…"
    chunks = textwrap.wrap(value, VALUE) or [""]
    lines = [f"{name:<{NAME}}{label:<{LABEL}}  {chunks[0]}"]
    lines += [" " * (NAME + LABEL + 2) + chunk for chunk in chunks[1:]]
    return lines


def _target(t: Target) -> str:
    verdict = {True: "met", False: "MISSED", None: "not measured"}[t.met]
    value = "-" if t.value is None else f"{t.value:g}{t.unit}"
    return f"{value}  (target {'≤' if t.at_most else '≥'} {t.limit:g}{t.unit}): {verdict}"


def render(result: dict[str, Any]) -> str:
    meta = result["meta"]
    m = meta["machine"]
    lines = [
        f"claimsops bench{' --quick' if meta['quick'] else ''}: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB, Python {m['python']}, {m['date']}",
        "-" * WIDTH,
    ]
    outcomes: list[Outcome] = result["_outcomes"]
    for outcome in outcomes:
        head = f"{outcome.seconds:.0f} s"
        if outcome.skipped:
            lines += _row(outcome.name, "skipped", outcome.skipped)
        elif outcome.error:
            lines += _row(outcome.name, "ERROR", outcome.error)
        else:
            lines += _row(outcome.name, "scenario time", head)
        for label, value in outcome.lines:
            lines += _row("", label, value)
        for name, passed in outcome.checks.items():
            if not passed:
                lines += _row("", "CHECK FAILED", name)
        for target in outcome.targets:
            lines += _row("", target.figure.split(": ", 1)[-1], _target(target))
        for note in outcome.notes:
            if outcome.error or not note.startswith("Traceback"):
                lines += _row("", "note", note.strip().splitlines()[-1] if note.startswith("Traceback") else note)
        lines.append("-" * WIDTH)
    failed = [o.name for o in outcomes if not o.ok]
    lines.append(f"{'FAILED: ' + ', '.join(failed) if failed else 'all correctness checks passed'} "
                 f"({meta['seconds']:.0f} s in all)")
    return "\n".join(lines)
