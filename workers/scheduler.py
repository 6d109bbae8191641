"""The scheduler service: APScheduler 3 in exactly one process, guarded by a database lease.

Every instance loops: a standby tries to take the `scheduler` lease (logging once who leads and
until when) and takes over as soon as it lapses; the leader renews it every third of the lease
time, rebuilds an in-memory APScheduler from `task_state` (our source of truth), acts on task
commands from the database every half second, and records every run. If the lease is lost the
leader stops its APScheduler at once; a run only starts while its process holds the lease.

`run_scheduler` blocks (a thread in `claimsops up`); `main` is the `claimsops scheduler` process.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from datetime import datetime, tzinfo
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine import leases
from engine.config import Settings
from engine.db import Database
from engine.errors import describe
from engine.models import Command, TaskState, utcnow
from engine.tasks import leading, schedules, store
from engine.tasks.execution import execute_run, run_task
from engine.tasks.registry import TASKS
from workers.metrics_server import with_metrics
from workers.service import Process, run_service

SCHEDULER_LEASE_SECONDS = 15.0
POLL_SECONDS = 0.5
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
log = logging.getLogger("claimsops.scheduler")


def build_trigger(schedule: schedules.Schedule, tz: tzinfo) -> BaseTrigger:
    """The APScheduler trigger of a parsed schedule (fields passed expanded: APScheduler 3
    numbers weekdays from Monday, cron from Sunday, so weekdays go by name)."""
    if schedule.interval_s is not None:
        return IntervalTrigger(seconds=schedule.interval_s, start_date=schedules.interval_anchor(tz), timezone=tz)

    def field(raw: str, values: frozenset[int], names: tuple[str, ...] | None = None) -> str:
        if raw == "*":
            return "*"
        return ",".join(names[v] if names else str(v) for v in sorted(values))

    minute, hour, day, month, weekday = schedule.cron_fields
    return CronTrigger(
        minute=field(minute, schedule.minutes), hour=field(hour, schedule.hours), day=field(day, schedule.days),
        month=field(month, schedule.months), day_of_week=field(weekday, schedule.weekdays, _WEEKDAYS),
        timezone=tz,
    )


class Leader:
    """The APScheduler of the lease holder: jobs from task_state, commands, run records."""

    def __init__(self, settings: Settings, db: Database, owner: str, tz: tzinfo) -> None:
        self.settings, self.db, self.owner, self.tz = settings, db, owner, tz
        self.locks = {name: threading.Lock() for name in TASKS}
        self.applied: dict[str, tuple[str, bool]] = {}
        self.published: dict[str, datetime | None] = {}
        self.scheduler = BackgroundScheduler(
            timezone=tz,
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=len(TASKS) + 2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    # -- lifecycle --

    def start(self) -> None:
        stale = store.interrupt_stale_runs(self.db)
        states = store.ensure_states(self.db)
        self.scheduler.start()
        for name, row in states.items():
            self._apply(name, row, takeover=True)
        self._publish()
        paused = [name for name, row in states.items() if row.paused]
        log.info(
            "leader: %d tasks scheduled (time zone %s)%s%s", len(states) - len(paused), self.settings.timezone,
            f"; paused: {', '.join(paused)}" if paused else "",
            f"; {stale} interrupted runs closed" if stale else "",
        )

    def stop(self, *, wait: bool) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)

    def tick(self) -> None:
        """Apply task_state changes, act on pending commands, publish next run times."""
        for name, row in store.load_states(self.db).items():
            if self.applied.get(name) != (row.schedule, bool(row.paused)):
                self._apply(name, row)
        for command in store.pending_commands(self.db):
            try:
                outcome = self._handle(command)
            except Exception as exc:
                log.exception("command %d (%s %s) failed", command.id, command.kind, command.target)
                outcome = f"failed: {type(exc).__name__}"
            store.complete_command(self.db, command.id, outcome)
        self._publish()

    # -- jobs --

    def _apply(self, name: str, row: TaskState, *, takeover: bool = False) -> None:
        paused = bool(row.paused)
        if paused:
            if self.scheduler.get_job(name) is not None:
                self.scheduler.remove_job(name)
        else:
            schedule = leading.effective_schedule(name, row)
            grace = schedules.misfire_grace(schedule, self.tz)
            extra: dict[str, Any] = {}
            due = leading.owed_at_takeover(self.db, name, schedule, row, grace, self.tz, utcnow()) if takeover else None
            if due is None and takeover and TASKS[name].at_takeover:
                due = datetime.now(self.tz)
            if due is not None:
                extra["next_run_time"] = due
            # A new or replaced job's next run is computed from now: resuming or rescheduling
            # never replays the triggers that passed meanwhile.
            self.scheduler.add_job(
                self._scheduled, trigger=build_trigger(schedule, self.tz), args=[name], id=name, name=name,
                replace_existing=True, misfire_grace_time=grace, coalesce=True, max_instances=1, **extra,
            )
        self.applied[name] = (row.schedule, paused)

    def _publish(self) -> None:
        for name in TASKS:
            job = self.scheduler.get_job(name)
            when = job.next_run_time if job is not None else None
            if name not in self.published or self.published[name] != when:
                store.publish_next_run(self.db, name, when)
                self.published[name] = when

    def _clock(self, when: datetime) -> str:
        return schedules.clock(when, self.tz)

    # -- runs --

    def _scheduled(self, name: str) -> None:
        lock = self.locks[name]
        if not lock.acquire(blocking=False):
            store.record_missed(self.db, name, utcnow(), "skipped: a run now was still running")
            return
        try:
            result = run_task(self.db, self.settings, name, trigger=store.TRIGGER_SCHEDULED, lease_owner=self.owner)
            if result is None:
                log.warning("%s not started: this process no longer holds the scheduler lease", name)
        finally:
            lock.release()

    def _manual(self, run_id: int, name: str, requested_by: str) -> None:
        try:
            execute_run(self.db, self.settings, run_id, name, store.TRIGGER_MANUAL, requested_by)
        finally:
            self.locks[name].release()

    def _handle(self, command: Command) -> str:
        name = command.target
        refusal = leading.command_refusal(command, utcnow())
        if refusal is not None:
            return refusal
        if command.kind != store.CMD_RUN:
            job = self.scheduler.get_job(name)
            if job is None:
                return "applied: paused"
            return f"applied: {self.applied[name][0]}; next run {self._clock(job.next_run_time)}"
        lock = self.locks[name]
        if not lock.acquire(blocking=False):
            return "refused: already running"
        run_id = None
        try:
            run_id = store.start_run(self.db, name, store.TRIGGER_MANUAL, command.requested_by, lease_owner=self.owner)
            if run_id is None:
                lock.release()
                return "refused: this scheduler no longer holds the lease"
            self.scheduler.add_job(
                self._manual, trigger="date", run_date=datetime.now(self.tz), args=[run_id, name, command.requested_by],
                id=f"run-{run_id}", name=f"{name} (run now)", misfire_grace_time=None,
            )
        except Exception as exc:
            lock.release()
            if run_id is not None:
                store.finish_run(self.db, run_id, "error", f"could not start: {type(exc).__name__}", 0.0)
            raise
        log.info("run now of %s by %s: run %d started", name, command.requested_by, run_id)
        return f"started run {run_id}"

    def _on_event(self, event: JobEvent) -> None:
        if event.job_id not in TASKS:
            return
        if event.code == EVENT_JOB_MISSED:
            when = event.scheduled_run_time  # type: ignore[attr-defined]
            late = int((utcnow() - when).total_seconds())
            job = self.scheduler.get_job(event.job_id)
            grace = f" (grace {job.misfire_grace_time} s)" if job is not None else ""
            reason = f"missed: due {self._clock(when)} but the scheduler got to it {late} s late{grace}"
        else:
            when = event.scheduled_run_times[-1]  # type: ignore[attr-defined]
            reason = "skipped: the previous run was still running"
        try:
            store.record_missed(self.db, event.job_id, when, reason)
        except Exception:
            log.exception("could not record a missed run of %s", event.job_id)


class SchedulerService:
    """Standby or leader, switching on the lease; see the module docstring."""

    def __init__(self, settings: Settings, db: Database, *, lease_seconds: float, poll_seconds: float,
                 owner: str) -> None:
        self.settings, self.db, self.owner = settings, db, owner
        self.lease_seconds, self.poll_seconds = lease_seconds, min(poll_seconds, lease_seconds / 4)
        self.tz = schedules.zone(settings.timezone)
        self.leader: Leader | None = None
        self._lease_until = self._next_renew = 0.0
        self._seen_leader: str | None = None
        self._db_trouble = False

    def run(self, stop: threading.Event) -> None:
        log.info("scheduler %s starting (lease %.0f s, time zone %s)", self.owner, self.lease_seconds,
                 self.settings.timezone)
        try:
            while not stop.is_set():
                delay = self._lead_step() if self.leader is not None else self._standby_step()
                stop.wait(delay)
        finally:
            self._step_down(wait=True, release=True)
            log.info("scheduler %s stopped", self.owner)

    def _db_error(self, what: str, exc: Exception) -> None:
        if not self._db_trouble:
            log.error("scheduler: %s failed: %s: %s", what, type(exc).__name__, exc)
        self._db_trouble = True

    def _standby_step(self) -> float:
        try:
            started = time.monotonic()
            if leases.acquire(self.db, leases.SCHEDULER, self.owner, self.lease_seconds):
                self._lease_until = started + self.lease_seconds
                self._next_renew = started + self.lease_seconds / 3
                self._become_leader()
                return self.poll_seconds
            info = leases.holder(self.db, leases.SCHEDULER)
        except Exception as exc:
            self._db_error("taking the lease", exc)
            return self.poll_seconds
        self._db_trouble = False
        if info is None:
            return 0.05
        if info.owner != self._seen_leader:
            until = info.expires_at.astimezone(self.tz).isoformat(timespec="seconds")
            log.info("standby: scheduler leader is %s until %s", info.owner, until)
            self._seen_leader = info.owner
        remaining = (info.expires_at - utcnow()).total_seconds()
        return max(0.02, min(self.poll_seconds, remaining + 0.02))

    def _become_leader(self) -> None:
        previous = f" from {self._seen_leader}" if self._seen_leader else ""
        log.info("leader: %s took the scheduler lease%s", self.owner, previous)
        self.leader = Leader(self.settings, self.db, self.owner, self.tz)
        try:
            self.leader.start()
        except Exception as exc:
            self._db_error("starting as leader", exc)
            self._step_down(wait=False, release=True)

    def _lead_step(self) -> float:
        now = time.monotonic()
        if now >= self._next_renew:
            try:
                renewed: bool | None = leases.renew(self.db, leases.SCHEDULER, self.owner, self.lease_seconds)
            except Exception as exc:
                self._db_error("renewing the lease", exc)
                renewed = None
            if renewed:
                self._db_trouble = False
                self._lease_until = now + self.lease_seconds
                self._next_renew = now + self.lease_seconds / 3
            elif renewed is False:
                log.error("leader: lost the scheduler lease to another process: stopping at once")
                self._step_down(wait=False, release=False)
                return self.poll_seconds
        if time.monotonic() >= self._lease_until - self.poll_seconds:
            log.error("leader: cannot renew the scheduler lease before it lapses: stopping at once")
            self._step_down(wait=False, release=False)
            return self.poll_seconds
        if self.leader is None:
            return self.poll_seconds
        try:
            self.leader.tick()
        except Exception as exc:
            self._db_error("acting on task commands", exc)
        return self.poll_seconds

    def _step_down(self, *, wait: bool, release: bool) -> None:
        leader, self.leader = self.leader, None
        self._seen_leader = None
        if leader is None:
            return
        leader.stop(wait=wait)
        if release:
            try:
                leases.release(self.db, leases.SCHEDULER, self.owner)
            except Exception as exc:
                self._db_error("releasing the lease", exc)


def run_scheduler(
    settings: Settings, db: Database, *, stop_event: threading.Event | None = None,
    lease_seconds: float = SCHEDULER_LEASE_SECONDS, poll_seconds: float = POLL_SECONDS, owner: str | None = None,
) -> None:
    """Run as standby or leader until `stop_event` is set; then stop gracefully (waiting for
    running tasks) and release the lease."""
    service = SchedulerService(
        settings, db, lease_seconds=lease_seconds, poll_seconds=poll_seconds, owner=owner or leases.process_owner("scheduler")
    )
    service.run(stop_event or threading.Event())


def main(argv: list[str] | None = None) -> int:
    """`claimsops scheduler`: log to the database and stderr; SIGTERM, SIGINT or SIGHUP stops
    gracefully."""
    import argparse

    from engine.config import ConfigError, load_settings
    from engine.db import DatabaseError

    parser = argparse.ArgumentParser(prog="claimsops scheduler", description="the maintenance scheduler")
    parser.add_argument("--lease-seconds", type=float, default=None,
                        help=f"leader lease time (default {SCHEDULER_LEASE_SECONDS:.0f})")
    args = parser.parse_args(argv or [])
    try:
        settings = load_settings()
        schedules.zone(settings.timezone)
        db = Database(settings.effective_database_url)
    except (ConfigError, DatabaseError, schedules.ScheduleError) as exc:
        sys.stderr.write(f"claimsops: {describe(exc)}\n")
        return 1
    lease = args.lease_seconds or float(getattr(settings, "scheduler_lease_seconds", SCHEDULER_LEASE_SECONDS))
    if lease < 2:
        sys.stderr.write("claimsops: the scheduler lease must be at least 2 seconds\n")
        return 2

    def lead_or_stand_by(process: Process) -> int:
        run_scheduler(process.settings, process.db, stop_event=process.stop, lease_seconds=lease)
        return 0

    try:
                return run_service("scheduler", settings, with_metrics(settings, []), main=lead_or_stand_by, db=db)
    finally:
        db.dispose()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
