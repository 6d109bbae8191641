"""Named leases in the `leases` table: one owner at a time until the lease expires.

Every change is a compare-and-set inside one write transaction (BEGIN IMMEDIATE on SQLite),
so two processes can never both hold a live lease. Times come from each process's clock:
hosts sharing a lease need synchronised clocks (NTP), as the job leases do.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine.db import Database
from engine.models import Lease, utcnow

SCHEDULER = "scheduler"


def process_owner(role: str) -> str:
    """Who holds a lease (a job's, the scheduler's) or heartbeats: `host:pid:role:nonce`. The pid
    stays the second field: tests and benchmarks find a holder's process by it."""
    return f"{this_process()}{role}:{uuid.uuid4().hex[:6]}"


def this_process() -> str:
    """`host:pid:`, the head every owner id of this process starts with."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:"


@dataclass(frozen=True)
class LeaseInfo:
    name: str
    owner: str
    expires_at: datetime
    acquired_at: datetime

    def live(self, now: datetime | None = None) -> bool:
        return self.expires_at > (now or utcnow())


def acquire(db: Database, name: str, owner: str, seconds: float) -> bool:
    """Take the lease if it is free, expired or already ours; True when `owner` now holds it."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    try:
        with db.write() as session:
            result = session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.owner == owner, Lease.expires_at <= now))
                .values(
                    owner=owner,
                    expires_at=until,
                    acquired_at=case((Lease.owner == owner, Lease.acquired_at), else_=now),
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                return True
            if session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
                return False
            session.add(Lease(name=name, owner=owner, expires_at=until, acquired_at=now))
    except IntegrityError:  # another process inserted the row first (PostgreSQL)
        return False
    return True


def renew(db: Database, name: str, owner: str, seconds: float) -> bool:
    """Extend our lease; False when it is no longer ours (expired and taken, or released)."""
    now = utcnow()
    with db.write() as session:
        result = session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.owner == owner, Lease.expires_at > now)
            .values(expires_at=now + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def release(db: Database, name: str, owner: str) -> bool:
    """Give the lease up at once (graceful stop), if it is still ours."""
    with db.write() as session:
        result = session.execute(
            delete(Lease).where(Lease.name == name, Lease.owner == owner)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def holder(db: Database, name: str) -> LeaseInfo | None:
    """The lease row, live or expired (check `.live()`), or None when nobody ever held it."""
    with db.read() as session:
        row = session.get(Lease, name)
        if row is None:
            return None
        return LeaseInfo(row.name, row.owner, row.expires_at, row.acquired_at)


def held_by(db: Database, name: str, owner: str) -> bool:
    """True when `owner` holds a live lease right now."""
    info = holder(db, name)
    return info is not None and info.owner == owner and info.live()
