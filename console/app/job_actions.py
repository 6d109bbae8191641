"""The actions on a job, from the Jobs list and from the job detail.

Each checks what the console knows first (a finished job cannot be cancelled), refuses at
once for a read-only operator (perform() audits the refusal), asks for confirmation where it
must (the dialog opens with No focused), and runs through engine.actions.perform in a worker
(ConsoleApp.run_op).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from console.app.confirm import ConfirmDialog
from console.app.ops import Outcome
from console.app.prompt import PathPrompt
from console.app.render import untrusted
from console.app.upload import UploadForm
from engine.exporting import default_export_name, export_job
from engine.jobs import lifecycle

if TYPE_CHECKING:
    from console.app.app import ConsoleApp


class JobActions:
    def __init__(self, app: ConsoleApp) -> None:
        self.app = app

    def _changed(self, text: str) -> Callable[[Outcome], None]:
        """After a state change: say what happened and refresh what is on screen."""

        def done(outcome: Outcome) -> None:
            if outcome.ok:
                self.app.say(text.format(value=outcome.value))
            self.app.refresh_active()

        return done

    def upload(self) -> None:
        app = self.app
        if not app.ctx.operator.can_act:
            app.refuse_op("submit", "upload form")
            return

        def submitted(job_id: int | None) -> None:
            if job_id is None:
                return
            app.say(f"job {job_id} submitted")
            app.show_tab("jobs")
            app.jobs_view.select_when_seen(job_id)

        app.push_screen(UploadForm(), submitted)

    def cancel(self, job_id: int, file_name: str, status: str) -> None:
        app = self.app
        target = f"job {job_id}"
        if status and status not in (lifecycle.PENDING, lifecycle.PROCESSING):
            app.say(f"job {job_id} is {status}: only a PENDING or PROCESSING job can be cancelled", "warning")
            return
        if not app.ctx.operator.can_act:
            app.refuse_op("cancel", target)
            return
        db, user = app.ctx.db, app.ctx.operator.user

        def answered(yes: bool | None) -> None:
            if yes:
                app.run_op("cancel", target, lambda: lifecycle.cancel(db, job_id, user),
                           self._changed(f"job {job_id}: {{value}}"))

        question = Text.assemble(("Cancel job ", "bold"), (str(job_id), "bold"), ("?", "bold"))
        detail = Text.assemble(untrusted(file_name, max_len=60), f"\n{status or 'status unknown'}: "
                               "rows already looked up keep their results.")
        app.push_screen(ConfirmDialog(question, detail, yes_label="Cancel job"), answered)

    def retry(self, job_id: int, file_name: str, status: str) -> None:
        app = self.app
        target = f"job {job_id}"
        if status and status not in (lifecycle.FAILED, lifecycle.CANCELLED):
            app.say(f"job {job_id} is {status}: only a FAILED or CANCELLED job can be retried", "warning")
            return
        if not app.ctx.operator.can_act:
            app.refuse_op("retry", target)
            return
        db, user = app.ctx.db, app.ctx.operator.user

        def answered(yes: bool | None) -> None:
            if yes:
                app.run_op("retry", target, lambda: lifecycle.retry(db, job_id, user),
                           self._changed(f"job {job_id} queued again: {{value}} rows to look up"))

        question = Text.assemble(("Retry job ", "bold"), (str(job_id), "bold"), ("?", "bold"))
        detail = Text.assemble(untrusted(file_name, max_len=60), "\nrows without a result are looked up again.")
        app.push_screen(ConfirmDialog(question, detail, yes_label="Retry"), answered)

    def export(self, job_id: int) -> None:
        app = self.app
        target = f"job {job_id}"
        if not app.ctx.operator.can_act:
            app.refuse_op("export", target)
            return
        ctx = app.ctx

        def ask(name: str) -> None:
            def chosen(typed: str | None) -> None:
                if not typed:
                    return
                path = ctx.resolve_path(typed)
                if path.is_dir():
                    path = path / name
                app.run_op("export", target, lambda: export_job(ctx.db, job_id, path), self._exported(path))

            hint = Text("the file holds PHI: it is written readable by you only (0600)", style="dim")
            title = Text(f"Export the results of job {job_id} to", style="bold")
            app.push_screen(PathPrompt(title, str(ctx.cwd / name), hint=hint), chosen)

        app.run_read(lambda: default_export_name(ctx.db, job_id), ask)

    def _exported(self, path: Path) -> Callable[[Outcome], None]:
        def done(outcome: Outcome) -> None:
            if outcome.ok:
                self.app.say(f"exported {outcome.value} rows to {path}")

        return done

    def logs(self, job_id: int) -> None:
        """The Logs tab, showing this job's lines (the other filters stay as they were)."""
        self.app.show_tab("logs")
        self.app.logs_view.set_job(job_id)
