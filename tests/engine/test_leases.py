"""The leader lease: compare-and-set acquire, renew and release (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import update

from engine import leases
from engine.models import Lease, utcnow


def test_one_owner_at_a_time_until_it_lapses(db) -> None:
    assert leases.acquire(db, "scheduler", "a", 30)
    assert leases.acquire(db, "scheduler", "a", 30)  # re-acquiring our own lease renews it
    assert not leases.acquire(db, "scheduler", "b", 30)
    info = leases.holder(db, "scheduler")
    assert info is not None and info.owner == "a" and info.live()
    with db.write() as session:
        session.execute(update(Lease).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not leases.renew(db, "scheduler", "a", 30)  # lapsed: renew does not resurrect it
    assert leases.acquire(db, "scheduler", "b", 30)
    assert not leases.held_by(db, "scheduler", "a") and leases.held_by(db, "scheduler", "b")


def test_renew_extends_and_release_frees_at_once(db) -> None:
    assert leases.acquire(db, "scheduler", "a", 2)
    first = leases.holder(db, "scheduler")
    assert leases.renew(db, "scheduler", "a", 30)
    renewed = leases.holder(db, "scheduler")
    assert renewed.expires_at > first.expires_at + timedelta(seconds=20)
    assert renewed.acquired_at == first.acquired_at
    assert not leases.release(db, "scheduler", "b")  # only the owner releases
    assert leases.release(db, "scheduler", "a")
    assert leases.holder(db, "scheduler") is None
    assert leases.acquire(db, "scheduler", "b", 30)


def test_racing_acquirers_get_exactly_one_winner(db) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def contend(owner: str) -> None:
        barrier.wait()
        if leases.acquire(db, "race", owner, 30):
            winners.append(owner)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert leases.holder(db, "race").owner == winners[0]


def test_a_short_lease_lapses_by_itself(db) -> None:
    assert leases.acquire(db, "scheduler", "a", 0.3)
    time.sleep(0.4)
    assert not leases.held_by(db, "scheduler", "a")
    assert leases.acquire(db, "scheduler", "b", 30)
