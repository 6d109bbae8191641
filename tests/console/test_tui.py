"""console.tui: the entry point the CLI calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import ConsoleApp
from console.tui import build_app, run_console
from engine.config import Settings


def test_build_app_opens_the_configured_database(settings: Settings, tmp_path: Path) -> None:
    app = build_app(settings=settings, cwd=tmp_path)
    try:
        assert isinstance(app, ConsoleApp)
        assert app.ctx.db.sqlite_path == settings.home / "claimsops.db"
        assert app.ctx.operator.can_act  # the settings fixture lists this user as an operator
        assert app.ctx.cwd == tmp_path
    finally:
        app.ctx.db.dispose()
    app = build_app(settings=settings, read_only=True)
    try:
        assert not app.ctx.operator.can_act and app.ctx.operator.role == "read-only"
    finally:
        app.ctx.db.dispose()


def test_a_configuration_error_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAIMSOPS_REFRESH_SECONDS", "often")
    assert run_console() == 1
    err = capsys.readouterr().err
    assert err.startswith("claimsops: CLAIMSOPS_REFRESH_SECONDS must be a number") and err.count("\n") == 1


def test_logging_is_set_up_once(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """`claimsops console` routes logs to the database without stderr; inside `claimsops up`
    (already logging to the database only) the console keeps up's set-up."""
    import logging

    from console import tui
    from engine.db import Database
    from engine.logsink import setup_logging

    ran: list[str] = []
    monkeypatch.setattr(ConsoleApp, "run", lambda self, *a, **k: ran.append(self.ctx.operator.user))
    db = Database(settings.effective_database_url)
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        setup_logging(db, "up", stderr=True)  # a headless-style set-up: the console must replace it
        assert not tui._logging_ready()
        assert run_console(settings=settings, db=db) == 0
        assert not any(getattr(h, "_claimsops", False) for h in root.handlers)  # undone on exit
        handler = setup_logging(db, "up", stderr=False)
        assert tui._logging_ready()
        assert run_console(settings=settings, db=db) == 0
        assert handler in root.handlers  # up's handler kept, not replaced
        assert len(ran) == 2
    finally:
        for h in list(root.handlers):
            if getattr(h, "_claimsops", False):
                root.removeHandler(h)
                h.close()
        root.handlers[:] = saved
        db.dispose()
