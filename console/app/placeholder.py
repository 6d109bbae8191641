"""Tabs 3–7 until part 2 of the console lands: each says so plainly."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

PART_TWO = {
    "stats": "job counts and rates, worker and payer statistics",
    "schedulers": "the maintenance tasks: run now, pause, resume, change schedule, run history",
    "health": "database, broker, workers, payer and disk checks, and open alerts",
    "claims": "look up one claim at the payer",
    "audit": "who did what, from where, and the outcome",
}


class ComingLater(Static):
    def __init__(self, name: str, what: str) -> None:
        text = Text(end="")
        text.append(f"{name}\n\n", style="bold")
        text.append(f"{name} — {what} — is coming with part 2 of the console.\n\n")
        text.append("Press 1 for Jobs or 2 for Logs.", style="dim")
        super().__init__(text, classes="coming-later")
