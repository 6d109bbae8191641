"""The console records its operator session: a row when it mounts, its end when it exits."""

from __future__ import annotations

import time

from sqlalchemy import select

from engine.actions import current_operator
from engine.config import Settings
from engine.db import Database
from engine.models import OperatorSession
from tests.console.conftest import AppFactory, wait_for


def _rows(db: Database) -> list[OperatorSession]:
    with db.read() as session:
        return list(session.scalars(select(OperatorSession)))


async def test_mounting_starts_a_session_and_exiting_ends_it(make_app: AppFactory, db: Database,
                                                             settings: Settings) -> None:
    operator = current_operator(settings, db)  # the OS user, as `claimsops console` has it
    app = make_app(db=db, operator=operator)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: _rows(db), what="the session row")
        [row] = _rows(db)
        assert (row.user, row.client_addr, row.interface) == (operator.user, operator.client_addr, "console")
        assert row.ended_at is None
    deadline = time.monotonic() + 5
    while _rows(db)[0].ended_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    [row] = _rows(db)
    assert row.ended_at is not None and row.ended_at >= row.started_at
