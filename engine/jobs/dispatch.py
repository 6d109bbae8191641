"""Dispatch bookkeeping: which jobs need a broker message, decided by compare-and-set so that
any number of dispatchers send each needed message once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from engine.db import Database
from engine.jobs.lifecycle import PENDING, PROCESSING
from engine.models import Job, Lease, utcnow

EPOCH_LEASE = "broker-epoch"


def _needs_dispatch(now):  # noqa: ANN001, ANN202
    return or_(
        and_(Job.status == PENDING, Job.dispatched_at.is_(None)),
        and_(
            Job.status == PROCESSING,
            or_(
                Job.lease_expires_at.is_(None),  # released by a worker that shut down
                and_(
                    Job.lease_expires_at <= now,
                    or_(Job.dispatched_at.is_(None), Job.dispatched_at < Job.lease_expires_at),
                ),
            ),
        ),
    )


def take_dispatch(db: Database, job_id: int) -> bool:
    """True when this caller won the right to send the job's message now."""
    now = utcnow()
    with db.write() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, _needs_dispatch(now)).values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def undo_dispatch(db: Database, job_id: int) -> None:
    """The send failed (broker away): leave the job for the next pass."""
    with db.write() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(dispatched_at=None).execution_options(synchronize_session=False)
        )


def broker_epoch_changed(db: Database, epoch: str) -> bool:
    """Record the broker's identity (e.g. Redis run_id). When it differs from the recorded one the
    broker restarted and lost its messages: every PENDING job is marked for dispatch again.
    Exactly one caller sees True per change."""
    far = utcnow() + timedelta(days=36500)
    with db.write() as session:
        row = session.get(Lease, EPOCH_LEASE)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(Lease(name=EPOCH_LEASE, owner=epoch, expires_at=far))
            except IntegrityError:
                return False
            changed = True
        else:
            changed = session.execute(
                update(Lease).where(Lease.name == EPOCH_LEASE, Lease.owner != epoch).values(owner=epoch, acquired_at=utcnow())
                .execution_options(synchronize_session=False)
            ).rowcount == 1
        if changed:
            session.execute(
                update(Job).where(Job.status == PENDING).values(dispatched_at=None)
                .execution_options(synchronize_session=False)
            )
        return changed


def dispatchable(db: Database, limit: int = 500) -> list[int]:
    now = utcnow()
    with db.read() as session:
        return list(session.scalars(select(Job.id).where(_needs_dispatch(now)).order_by(Job.id).limit(limit)))
