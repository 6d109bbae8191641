"""Upload: pick a CSV (browse from the current directory, or type a path), the date window
(default: the last 90 days), TIN and strategy; checked in the form, then submitted through
engine.actions.perform -> engine.submit.submit_file in a worker. Intake and parameter errors
are shown in the form."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Select, Static

from console.app.context import ConsoleContext
from console.app.host import context
from console.app.inputs import SafeInput
from console.app.ops import Outcome, attempt
from console.app.render import untrusted
from console.app.tone import TONES, tone
from engine.dates import parse_date
from engine.errors import OperatorError, describe
from engine.submit import DEFAULT_WINDOW_DAYS, STRATEGIES, JobParams, submit_file
from engine.text import safe_text


class SafeDirectoryTree(DirectoryTree):
    """File names are untrusted too: shown through the sanitiser; hidden files left out."""

    def process_label(self, label: str | Text) -> Text:
        plain = label.plain if isinstance(label, Text) else label
        return Text(safe_text(plain, max_len=200))

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".")]


class FormError(OperatorError, ValueError):
    """A field the operator must correct; the message names it."""


def check_form(
    ctx: ConsoleContext, path_text: str, start_text: str, end_text: str, tin_text: str, strategy: str,
    *, picked: Path | None = None,
) -> tuple[Path, JobParams]:
    """The form's values -> (file, job parameters), or FormError naming the field. `picked`
    is the file chosen in the browser (its name may hold characters the field shows as
    symbols)."""
    today = ctx.now().astimezone(ctx.tz).date()
    if not path_text.strip():
        raise FormError("file: choose a CSV file (browse, or type a path)")
    path = picked or ctx.resolve_path(path_text)
    if not path.exists():
        raise FormError(f"file: {safe_text(str(path))} does not exist")
    if not path.is_file():
        raise FormError(f"file: {safe_text(str(path))} is not a file")
    try:
        start = parse_date(start_text) if start_text.strip() else None
        end = parse_date(end_text) if end_text.strip() else None
    except ValueError as exc:
        raise FormError(f"dates: {safe_text(str(exc))}") from None
    end_date = end or today
    if end_date > today:
        raise FormError(f"dates: the end date {end_date.isoformat()} is in the future")
    if start is not None and start > end_date:
        raise FormError(f"dates: the start date {start.isoformat()} is after the end date {end_date.isoformat()}")
    tin = tin_text.replace("-", "").strip()
    if tin and (len(tin) != 9 or not tin.isdigit()):
        raise FormError("TIN: 9 digits (or empty for the configured TIN)")
    if strategy not in STRATEGIES:
        raise FormError(f"strategy: one of {', '.join(STRATEGIES)}")
    return path, JobParams(start, end, tin, "", strategy, today)


def default_window(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_WINDOW_DAYS), today


class Submitted(Message, bubble=False):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome


class UploadForm(ModalScreen[int | None]):
    """Dismisses with the new job's id, or None."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="upload.close"),
        Binding("ctrl+s", "submit", "Submit", id="upload.submit"),
        Binding("ctrl+o", "browse", "Browse", id="upload.browse"),
    ]
    AUTO_FOCUS = "#upload-path"
    COMPONENT_CLASSES: ClassVar[set[str]] = TONES

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.busy = False
        self._picked: tuple[str, Path] | None = None

    def compose(self) -> ComposeResult:
        ctx = context(self)
        start, end = default_window(ctx.now().astimezone(ctx.tz).date())
        with Vertical(id="upload-box", classes="dialog"):
            yield Static(Text("Upload a CSV of claims", style="bold"), id="upload-title")
            with Horizontal(classes="form-row"):
                yield Label("File", classes="form-label")
                yield SafeInput(placeholder="path to a .csv (relative to the current directory)", id="upload-path")
                yield Button("Browse (ctrl+o)", id="upload-browse", compact=True)
            yield SafeDirectoryTree(ctx.cwd, id="upload-tree")
            with Horizontal(classes="form-row"):
                yield Label("From", classes="form-label")
                yield SafeInput(start.isoformat(), id="upload-start", classes="date")
                yield Label("To", classes="form-label-short")
                yield SafeInput(end.isoformat(), id="upload-end", classes="date")
            with Horizontal(classes="form-row"):
                yield Label("TIN", classes="form-label")
                yield SafeInput(ctx.settings.payer_tin, placeholder="9 digits", id="upload-tin", classes="tin")
                yield Label("Strategy", classes="form-label-short")
                yield Select(
                    [(s, s) for s in STRATEGIES], value="auto", allow_blank=False, id="upload-strategy", compact=True
                )
            yield Static(id="upload-error")
            yield Static(
                Text("ctrl+o browse · tab next field · ctrl+s or enter submit · esc close", style="dim"),
                id="upload-keys",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (esc)", id="upload-close")
                yield Button("Submit (ctrl+s)", id="upload-submit", variant="primary")

    def show_error(self, message: str) -> None:
        self.query_one("#upload-error", Static).update(untrusted(message, max_len=600, style=tone(self, "error")))

    def action_close(self) -> None:
        tree = self.query_one("#upload-tree")
        if tree.display:
            tree.display = False
            self.query_one("#upload-path", Input).focus()
            return
        self.dismiss(None)

    def action_browse(self) -> None:
        tree = self.query_one("#upload-tree", SafeDirectoryTree)
        tree.display = not tree.display
        if tree.display:
            tree.focus()
        else:
            self.query_one("#upload-path", Input).focus()

    @on(DirectoryTree.FileSelected, "#upload-tree")
    def _file_picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        ctx = context(self)
        try:
            shown = str(event.path.relative_to(ctx.cwd))
        except ValueError:
            shown = str(event.path)
        field = self.query_one("#upload-path", Input)
        field.value = shown
        self._picked = (field.value, event.path)
        self.query_one("#upload-tree").display = False
        self.query_one("#upload-path", Input).focus()
        self.show_error("")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "upload-submit":
            self.action_submit()
        elif event.button.id == "upload-browse":
            self.action_browse()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        if self.busy:
            return
        ctx = context(self)
        strategy = self.query_one("#upload-strategy", Select).value
        typed = self.query_one("#upload-path", Input).value
        picked = self._picked[1] if self._picked is not None and self._picked[0] == typed else None
        try:
            path, params = check_form(
                ctx,
                typed,
                self.query_one("#upload-start", Input).value,
                self.query_one("#upload-end", Input).value,
                self.query_one("#upload-tin", Input).value,
                strategy if isinstance(strategy, str) else "",
                picked=picked,
            )
        except FormError as exc:
            self.show_error(describe(exc))
            return
        self.busy = True
        self.query_one("#upload-submit", Button).disabled = True
        self.show_error("")
        self.query_one("#upload-error", Static).update(Text("submitting…", style="dim"))
        self._submit(path, params)

    @work(thread=True, exclusive=True, exit_on_error=False, group="upload")
    def _submit(self, path: Path, params: JobParams) -> None:
        ctx = context(self)
        op = ctx.operator
        outcome = attempt(
            ctx, "submit", str(path),
            lambda: submit_file(ctx.db, ctx.settings, path, params, op.user, op.client_addr),
        )
        self.post_message(Submitted(outcome))

    def on_submitted(self, message: Submitted) -> None:
        message.stop()
        self.busy = False
        self.query_one("#upload-submit", Button).disabled = False
        if message.outcome.ok:
            self.dismiss(int(message.outcome.value))
        else:
            self.show_error(message.outcome.message)
