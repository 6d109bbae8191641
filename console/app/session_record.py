"""This console's operator session (engine.operator_sessions), written off the UI thread."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from console.app.context import ConsoleContext
from engine.errors import describe
from engine.operator_sessions import end_session, start_session

log = logging.getLogger("claimsops.console")


class SessionRecord:
    """Started when the app mounts, ended when it unmounts. One writer thread keeps the two in
    order; its thread is joined at interpreter exit, so the end is written before the process
    ends. A database that cannot be written is logged, never shown: the console works without."""

    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        self._writer: ThreadPoolExecutor | None = None
        self._started: Future[int | None] | None = None

    def start(self) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="operator-session")
            self._started = self._writer.submit(self._start)

    def end(self) -> Future[None] | None:
        """Queue the end; returns its future (None when the session was never started)."""
        writer, started = self._writer, self._started
        if writer is None or started is None:
            return None
        self._writer = self._started = None
        done = writer.submit(self._end, started)
        writer.shutdown(wait=False)
        return done

    def _start(self) -> int | None:
        try:
            return start_session(self.ctx.db, self.ctx.operator)
        except Exception as exc:
            log.warning("operator session of %s not recorded: %s", self.ctx.operator.user, describe(exc))
            return None

    def _end(self, started: Future[int | None]) -> None:
        session_id = started.result()  # done: it ran first on this one thread
        if session_id is None:
            return
        try:
            end_session(self.ctx.db, session_id)
        except Exception as exc:
            log.warning("end of operator session %d not recorded: %s", session_id, describe(exc))
