"""What the views ask the App to do, as typed messages.

A view posts a request and goes on; the App performs it: operator actions (`OperatorRequest`)
through one handler (actions.py) that refuses for a read-only operator, asks where it must,
runs the engine action in a worker behind the role check and the audit, says the outcome and
refreshes; navigation (`Navigate`) by switching screens or tabs. Requests bubble from the view
to the App.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rich.text import Text
from textual.message import Message
from textual.widget import Widget

from console.app.ops import Outcome
from engine.claim_lookup import ClaimLookup
from engine.tasks import status


@dataclass(frozen=True)
class JobSummary:
    """What the actions need to know about a job without asking the database ("" when the
    console does not know)."""

    id: int
    status: str = ""
    file_name: str = ""


class OperatorRequest(Message):
    """An operator action; `action` and `target` are what the audit records."""

    action = ""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target


class JobRequest(OperatorRequest):
    def __init__(self, job: JobSummary) -> None:
        super().__init__(f"job {job.id}")
        self.job = job


class UploadJob(OperatorRequest):
    action = "submit"

    def __init__(self) -> None:
        super().__init__("upload form")


class CancelJob(JobRequest):
    action = "cancel"


class RetryJob(JobRequest):
    action = "retry"


class ExportJob(JobRequest):
    action = "export"


class ExportChanges(OperatorRequest):
    """The claims whose status changed since `since` (the Follow-up view's list), as a CSV file."""

    action = "export"

    def __init__(self, label: str, since: datetime) -> None:
        super().__init__(f"changes {label}")
        self.label = label
        self.since = since


class TaskRequest(OperatorRequest):
    def __init__(self, task: status.TaskStatus) -> None:
        super().__init__(task.name)
        self.task = task


class RunTaskNow(TaskRequest):
    action = "task.run"


class PauseTask(TaskRequest):
    action = "task.pause"


class ResumeTask(TaskRequest):
    action = "task.resume"


class Reschedule(TaskRequest):
    action = "task.schedule"


class Reveal(OperatorRequest):
    """Show the PHI on `requester` (audited); granted, `requester` gets `Revealed`."""

    action = "reveal"

    def __init__(self, requester: Widget, target: str, what: str) -> None:
        super().__init__(target)
        self.requester = requester
        self.what = what


class Revealed(Message, bubble=False):
    """The reveal was audited: show the PHI."""


@dataclass(frozen=True)
class ClaimQuestion:
    """What the Claims form asks the payer about one claim ("" TIN: the configured one)."""

    claim_number: str
    start: date | None
    end: date | None
    tin: str
    payer_id: str
    today: date


class AskPayer(OperatorRequest):
    """Ask the payer about one claim now: it spends the organisation's payer credentials, so it
    is role-checked and audited ("claim.lookup"); `requester` gets `PayerAnswered`."""

    action = "claim.lookup"

    def __init__(self, requester: Widget, question: ClaimQuestion) -> None:
        super().__init__(f"claim {question.claim_number}")
        self.requester = requester
        self.question = question


class PayerAnswered(Message, bubble=False):
    """The payer's answer (`outcome.ok` with `lookup` set), why it failed (`outcome`), or why the
    question could not be asked (`form_error`: not audited)."""

    def __init__(self, outcome: Outcome | None = None, lookup: ClaimLookup | None = None,
                 form_error: str = "") -> None:
        super().__init__()
        self.outcome = outcome
        self.lookup = lookup
        self.form_error = form_error


class Navigate(Message):
    """Show another screen or tab."""


class OpenJob(Navigate):
    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id


class ShowJobLogs(Navigate):
    """The Logs tab, showing this job's lines (the other filters stay as they were)."""

    def __init__(self, job_id: int) -> None:
        super().__init__()
        self.job_id = job_id


class OpenTaskHistory(Navigate):
    def __init__(self, task: str) -> None:
        super().__init__()
        self.task = task


class OpenRecord(Navigate):
    """The whole of one entry on a screen of its own (`detail_screen.RecordScreen`): a title and
    labelled fields, every value in full."""

    def __init__(self, title: Text | str, fields: Sequence[tuple[str, Text | str]], *, help_name: str = "") -> None:
        super().__init__()
        self.title = title
        self.fields = list(fields)
        self.help_name = help_name
