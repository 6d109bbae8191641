"""What every scenario shares: its outcome (figures, correctness checks, targets), waits,
percentiles and a description of the machine."""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SEED = 2026


@dataclass(frozen=True)
class Target:
    """A figure the issue sets a target for: `value <= limit` (at_most) or `value >= limit`."""

    figure: str
    value: float | None
    limit: float
    at_most: bool = True
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def to_json(self) -> dict[str, Any]:
        return {"figure": self.figure, "value": self.value, "target": f"{'<=' if self.at_most else '>='} {self.limit:g}{self.unit}",
                "met": self.met}


@dataclass
class Outcome:
    """One scenario's result. `checks` are correctness (a False one fails the run); `targets`
    are times and ratios (reported, never failing the run)."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    lines: list[tuple[str, str]] = field(default_factory=list)  # what the table shows
    checks: dict[str, bool] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and all(self.checks.values())

    def show(self, label: str, value: str) -> None:
        self.lines.append((label, value))

    def to_json(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped, "error": self.error, "ok": self.ok, "seconds": round(self.seconds, 1),
            "checks": self.checks, "targets": [t.to_json() for t in self.targets], "notes": self.notes,
            **self.figures,
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    memory = 0.0
    try:
        with open("/proc/meminfo") as fh:
            kib = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal"))
            memory = round(kib / 2**20, 1)
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(), "cpu_model": model or platform.processor(), "memory_gib": memory,
        "python": platform.python_version(), "os": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt_s(seconds: float | None, digits: int = 2) -> str:
    return "-" if seconds is None else f"{seconds:.{digits}f} s"


def correct_rows(db: Any, job_id: int, expected: list) -> tuple[int, int]:
    """(rows whose stored result equals the simulator's truth, rows in the job)."""
    from engine.jobs.queries import rows_page
    from engine.jobs.rows import row_result

    rows = rows_page(db, job_id, limit=len(expected) + 10)
    correct = sum(
        1 for r in rows
        if (result := row_result(r)) is not None and result.comparable() == expected[r.row_number - 1].comparable()
    )
    return correct, len(rows)
