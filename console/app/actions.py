"""The one handler of operator requests (requests.py), owned by the App.

Each request is checked against what the console knows first (a finished job cannot be
cancelled), refused at once for a read-only operator (perform() audits the refusal), confirmed
where it must be (the dialog opens with No focused), then run in a worker thread: through
engine.actions.perform, or through an engine function that checks the role and audits by
itself (the task controls of engine.tasks). The outcome is said, and what is on screen
refreshed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.text import Text
from textual.screen import Screen
from textual.worker import get_current_worker

from console.app import requests as rq
from console.app.confirm import ConfirmDialog
from console.app.host import ConsoleHost, in_worker
from console.app.ops import Outcome, attempt, guarded, refuse
from console.app.prompt import PathPrompt
from console.app.render import untrusted
from console.app.schedule_form import SchedulePrompt
from console.app.upload import UploadForm
from engine.claim_lookup import ClaimLookup, check_request, lookup_claim
from engine.errors import describe, is_database_error
from engine.exporting import default_export_path, export_job
from engine.followup.export import default_changes_path, export_changes
from engine.jobs import lifecycle
from engine.private_files import shown
from engine.tasks import body, controls, store

APPLY_WAIT_S = 3.0  # how long to wait for the scheduler to act on a task command


class ActionHost(ConsoleHost, Protocol):
    """What the handler asks of the App."""

    def push_screen(self, screen: Screen[Any], callback: Callable[[Any], None] | None = None) -> Any: ...

    def run_worker(self, work: Callable[[], None], *, thread: bool, group: str, exit_on_error: bool) -> Any: ...

    def refresh_active(self) -> None: ...

    def select_new_job(self, job_id: int) -> None: ...


@dataclass(frozen=True)
class RunRequested:
    """What run now achieved: the request, and the scheduler's answer if it came in time."""

    request: controls.Request
    applied: str | None
    leader: bool


class OperatorActions:
    def __init__(self, app: ActionHost) -> None:
        self.app = app
        self._perform: dict[type[rq.OperatorRequest], Callable[[Any], None]] = {
            rq.UploadJob: self.upload,
            rq.CancelJob: self.cancel,
            rq.RetryJob: self.retry,
            rq.ExportJob: self.export,
            rq.ExportChanges: self.export_changes,
            rq.RunTaskNow: self.run_now,
            rq.PauseTask: self.pause_or_resume,
            rq.ResumeTask: self.pause_or_resume,
            rq.Reschedule: self.reschedule,
            rq.Reveal: self.reveal,
            rq.AskPayer: self.ask_payer,
        }

    # -- the one way in --

    def handle(self, request: rq.OperatorRequest) -> None:
        reason = self._why_not(request)
        if reason:
            self.app.say(reason, "warning")
            return
        if not self.app.ctx.operator.can_act:
            self._work(lambda: refuse(self.app.ctx, request.action, request.target), self._failed_only)
            return
        self._perform[type(request)](request)

    def _why_not(self, request: rq.OperatorRequest) -> str:
        """Why the request cannot be done, from what the console knows ("" when it can)."""
        if isinstance(request, rq.CancelJob | rq.RetryJob):
            job = request.job
            allowed = (lifecycle.PENDING, lifecycle.PROCESSING) if isinstance(request, rq.CancelJob) else (
                lifecycle.FAILED, lifecycle.CANCELLED)
            if job.status and job.status not in allowed:
                verb = "cancelled" if isinstance(request, rq.CancelJob) else "retried"
                return f"job {job.id} is {job.status}: only a {' or '.join(allowed)} job can be {verb}"
        if isinstance(request, rq.RunTaskNow):
            task = request.task
            if task.state == body.RUNNING and task.last_run is not None:
                run = task.last_run
                by = f" by {run.requested_by}" if run.requested_by else ""
                started = run.started_at.astimezone(self.app.ctx.tz).strftime("%H:%M:%S")
                return f"{task.name} is already running (run {run.id}, {run.trigger}{by}, started {started})"
        return ""

    # -- workers --

    def _work(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        in_worker(self.app, fn, done, self._read_failed, group="operator-action")

    def _perform_audited(self, request: rq.OperatorRequest, do: Callable[[], Any],
                         done: Callable[[Outcome], None]) -> None:
        """Through engine.actions.perform (role check and audit row)."""
        self._work(lambda: attempt(self.app.ctx, request.action, request.target, do), self._after(done))

    def _perform_guarded(self, do: Callable[[], Any], done: Callable[[Outcome], None]) -> None:
        """An engine action that checks the role and audits by itself."""
        self._work(lambda: guarded(do), self._after(done))

    def _after(self, done: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
        def finished(outcome: Outcome) -> None:
            self._failed_only(outcome)
            done(outcome)

        return finished

    def _failed_only(self, outcome: Outcome) -> None:
        if not outcome.ok:
            self.app.say(outcome.message, "error")

    def _changed(self, text: str) -> Callable[[Outcome], None]:
        """After a state change: say what happened and refresh what is on screen."""

        def done(outcome: Outcome) -> None:
            if outcome.ok:
                self.app.say(text.format(value=outcome.value))
            self.app.refresh_active()

        return done

    def _read_failed(self, error: BaseException) -> None:
        """A read the next step needed (a default file name) failed; the outcome of an action
        never raises."""
        if is_database_error(error):
            self.app.report_error(error)
        self.app.say(describe(error), "error")

    def _confirm(self, question: Text, detail: Text, yes_label: str, then: Callable[[], None]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmDialog(question, detail, yes_label=yes_label), answered)

    # -- jobs --

    def upload(self, request: rq.UploadJob) -> None:
        app = self.app

        def submitted(job_id: int | None) -> None:
            if job_id is None:
                return
            app.say(f"job {job_id} submitted")
            app.select_new_job(job_id)

        app.push_screen(UploadForm(), submitted)

    def cancel(self, request: rq.CancelJob) -> None:
        job, db, user = request.job, self.app.ctx.db, self.app.ctx.operator.user
        question = Text.assemble(("Cancel job ", "bold"), (str(job.id), "bold"), ("?", "bold"))
        detail = Text.assemble(untrusted(job.file_name, max_len=60), f"\n{job.status or 'status unknown'}: "
                               "rows already looked up keep their results.")
        self._confirm(question, detail, "Cancel job", lambda: self._perform_audited(
            request, lambda: lifecycle.cancel(db, job.id, user), self._changed(f"job {job.id}: {{value}}")))

    def retry(self, request: rq.RetryJob) -> None:
        job, db, user = request.job, self.app.ctx.db, self.app.ctx.operator.user
        question = Text.assemble(("Retry job ", "bold"), (str(job.id), "bold"), ("?", "bold"))
        detail = Text.assemble(untrusted(job.file_name, max_len=60), "\nrows without a result are looked up again.")
        self._confirm(question, detail, "Retry", lambda: self._perform_audited(
            request, lambda: lifecycle.retry(db, job.id, user),
            self._changed(f"job {job.id} queued again: {{value}} rows to look up")))

    def export(self, request: rq.ExportJob) -> None:
        """Ask where (default: the data directory's private exports/), ask again before
        replacing a file (default No), then write it 0600 through the audited action."""
        ctx, job_id = self.app.ctx, request.job.id
        self._export_to(
            request, Text(f"Export the results of job {job_id} to", style="bold"), "this job's results",
            lambda: default_export_path(ctx.db, ctx.settings.home, job_id),
            lambda path, overwrite: export_job(ctx.db, job_id, path, overwrite=overwrite),
            lambda path, rows: f"exported {rows} rows to {shown(path)}")

    def export_changes(self, request: rq.ExportChanges) -> None:
        """The Follow-up view's changes, through the same dialog and the same safe write."""
        ctx = self.app.ctx
        self._export_to(
            request, Text(f"Export the claims changed {request.label} to", style="bold"), "these changes",
            lambda: default_changes_path(ctx.settings.home, ctx.now()),
            lambda path, overwrite: export_changes(ctx.db, path, since=request.since, overwrite=overwrite),
            lambda path, rows: f"exported {rows} changes to {shown(path)}")

    def _export_to(self, request: rq.OperatorRequest, title: Text, what: str, default_path: Callable[[], Path],
                   write_file: Callable[[Path, bool], int], said: Callable[[Path, int], str]) -> None:
        app, ctx = self.app, self.app.ctx

        def exported(path: Path) -> Callable[[Outcome], None]:
            def done(outcome: Outcome) -> None:
                if outcome.ok:
                    app.say(said(path, outcome.value))

            return done

        def write(path: Path, overwrite: bool) -> None:
            self._perform_audited(request, lambda: write_file(path, overwrite), exported(path))

        def ask(default: Path) -> None:
            def chosen(typed: str | None) -> None:
                if not typed:
                    return
                path = ctx.resolve_path(typed)
                if path.is_dir():
                    path = path / default.name
                if not (path.exists() or path.is_symlink()):
                    write(path, overwrite=False)
                    return
                # the name on a line of its own: a long directory wraps below it, never through it
                question = Text.assemble(untrusted(shown(path.name), max_len=120, style="bold"), (" already exists in", "bold"))
                detail = Text.assemble(untrusted(shown(path.parent), max_len=200), f"\nReplace it with {what}?")
                app.push_screen(ConfirmDialog(question, detail, yes_label="Replace"),
                                lambda yes: write(path, overwrite=True) if yes else None)

            hint = Text("the file holds PHI: it is written readable by you only (0600)", style="dim")
            app.push_screen(PathPrompt(title, str(default), hint=hint), chosen)

        self._work(default_path, ask)

    # -- PHI --

    def reveal(self, request: rq.Reveal) -> None:
        def done(outcome: Outcome) -> None:
            if outcome.ok:
                request.requester.post_message(rq.Revealed())

        self._perform_audited(request, lambda: request.what, done)

    # -- claims --

    def ask_payer(self, request: rq.AskPayer) -> None:
        """The claim checked (a form error is shown, not audited), then looked up at the payer
        through perform(); the answer goes back to the Claims form. Closing the console cancels
        the worker, and the look-up stops with it."""
        ctx, source, question = self.app.ctx, self.app.payer, request.question

        def run() -> rq.PayerAnswered:
            cancel = get_current_worker().cancelled_event
            try:
                checked = check_request(question.claim_number, tin=question.tin or source.default_tin(),
                                        payer_id=question.payer_id, start=question.start, end=question.end,
                                        today=question.today)
            except Exception as exc:  # a bad field, or the sandbox could not start its data set
                return rq.PayerAnswered(form_error=describe(exc))
            answers: list[ClaimLookup] = []

            def do() -> str:
                answers.append(lookup_claim(
                    source.get(), checked.claim_number, tin=checked.tin, payer_id=checked.payer_id,
                    start=checked.start, end=checked.end, today=checked.today, cancel=cancel,
                    window_limit=source.window_limit))
                return answers[0].summary()

            outcome = attempt(ctx, request.action, f"claim {checked.claim_number}", do)
            return rq.PayerAnswered(outcome, answers[0] if answers else None)

        in_worker(self.app, run, request.requester.post_message, self._read_failed, group="claim-lookup",
                  exclusive=True)

    # -- tasks --

    def _said(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.app.say(str(outcome.value))
        self.app.refresh_active()

    def run_now(self, request: rq.RunTaskNow) -> None:
        app, ctx, task = self.app, self.app.ctx, request.task
        name = task.name

        def run() -> RunRequested:
            req = controls.request_run(ctx.db, ctx.settings, ctx.operator, name)
            leader = store.scheduler_leader(ctx.db) is not None
            command = store.wait_for_command(ctx.db, req.command_id, APPLY_WAIT_S) if leader and req.command_id else None
            return RunRequested(req, command.outcome if command is not None else None, leader)

        def done(outcome: Outcome) -> None:
            if outcome.ok:
                result: RunRequested = outcome.value
                if result.applied and result.applied.startswith("started run"):
                    app.say(f"{name}: {result.applied}")
                elif result.applied:
                    app.say(f"run of {name} {result.applied}", "warning")
                elif not result.leader:
                    app.say(result.request.message, "warning")
                else:
                    app.say(f"{result.request.message}; the scheduler has not started it yet")
            app.refresh_active()

        question = Text.assemble(("Run ", "bold"), (name, "bold"), (" now?", "bold"))
        detail = untrusted(task.title, max_len=120)
        if task.paused:
            detail.append("\nthe task is paused: this runs it once, and it stays paused.")
        self._confirm(question, detail, "Run now", lambda: self._perform_guarded(run, done))

    def pause_or_resume(self, request: rq.PauseTask | rq.ResumeTask) -> None:
        ctx, name = self.app.ctx, request.task.name
        control = controls.request_resume if isinstance(request, rq.ResumeTask) else controls.request_pause
        self._perform_guarded(lambda: control(ctx.db, ctx.settings, ctx.operator, name).message, self._said)

    def reschedule(self, request: rq.Reschedule) -> None:
        app, ctx, task = self.app, self.app.ctx, request.task
        name = task.name

        def chosen(spec: str | None) -> None:
            if spec is None:
                return
            if spec == task.schedule:
                app.say(f"{name} already runs {task.schedule_words} ({spec}): nothing changed")
                return
            self._perform_guarded(
                lambda: controls.request_schedule(ctx.db, ctx.settings, ctx.operator, name, spec).message, self._said)

        app.push_screen(SchedulePrompt(name, task.title, task.schedule, task.schedule_words), chosen)
