"""The dispatcher: turns jobs that need a message into broker messages carrying only the job id,
within half a second of their submission by any process; re-sends after a broker restart and for
jobs whose worker's lease expired."""

from __future__ import annotations

import logging
import threading
import time

import dramatiq
from dramatiq.broker import Broker

from engine.db import Database
from engine.jobs.dispatch import broker_epoch_changed, dispatchable, take_dispatch, undo_dispatch
from workers.broker import broker_epoch

log = logging.getLogger("claimsops.dispatcher")


class Dispatcher:
    def __init__(self, db: Database, broker: Broker, actor: dramatiq.Actor, *, interval: float = 0.5) -> None:
        self.db, self.broker, self.actor, self.interval = db, broker, actor, interval
        self.sent = 0
        self._epoch_checked = 0.0
        self._healthy = True

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.once()
                if not self._healthy:
                    log.warning("dispatcher: broker and database reachable again")
                    self._healthy = True
            except Exception as exc:  # database or broker away: keep trying, say so once
                if self._healthy:
                    log.warning("dispatcher paused: %s: %s", type(exc).__name__, exc)
                    self._healthy = False
            stop.wait(self.interval)

    def once(self) -> int:
        now = time.monotonic()
        if now - self._epoch_checked > 5:
            if broker_epoch_changed(self.db, broker_epoch(self.broker)):
                log.info("dispatcher: broker (re)started; re-sending every pending job")
            self._epoch_checked = now
        sent = 0
        for job_id in dispatchable(self.db):
            if not take_dispatch(self.db, job_id):
                continue
            try:
                self.actor.send(job_id)
            except Exception:
                undo_dispatch(self.db, job_id)
                self._epoch_checked = 0.0  # the broker may come back empty
                raise
            sent += 1
        self.sent += sent
        return sent
