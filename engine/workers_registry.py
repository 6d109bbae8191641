"""Worker heartbeat rows: who is alive, what they run, what they did (for Stats and Health)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from engine.db import Database
from engine.models import Worker, utcnow

ALIVE_WITHIN = timedelta(seconds=15)


def live_workers(db: Database) -> list[Worker]:
    cutoff = utcnow() - ALIVE_WITHIN
    with db.read() as session:
        return list(
            session.scalars(
                select(Worker).where(Worker.last_seen_at >= cutoff, Worker.stopped_at.is_(None)).order_by(Worker.id)
            )
        )


def count_live(db: Database) -> int:
    cutoff = utcnow() - ALIVE_WITHIN
    with db.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Worker).where(Worker.last_seen_at >= cutoff, Worker.stopped_at.is_(None))
            )
            or 0
        )
