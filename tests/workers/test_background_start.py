"""`claimsops up` starts its services behind the console: none before the console has painted
(or at the latest BEGIN_AT_LATEST_S), each in order, stopped newest first after the console
quits; a start that fails is said, and quitting before the start starts nothing."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

from bench.common import wait_for
from workers.embedded import BackgroundStart


def services(events: list[str], fail: str = ""):
    def service(name: str):
        def start(_process: object):
            if name == fail:
                raise OSError(f"cannot start {name}")
            events.append(f"start {name}")
            return lambda: events.append(f"stop {name}")
        return start
    return [service("workers"), service("scheduler")]


PROCESS = SimpleNamespace(log=logging.getLogger("claimsops.test"))


def test_nothing_starts_before_the_console_has_painted_then_all_in_order() -> None:
    events: list[str] = []
    startup = BackgroundStart(PROCESS, services(events))
    time.sleep(0.1)
    assert startup.starting and events == []
    startup.begin()
    wait_for(lambda: not startup.starting, 5, "the services to start")
    assert startup.failure == ""
    startup.stop()
    assert events == ["start workers", "start scheduler", "stop scheduler", "stop workers"]


def test_quitting_before_the_start_starts_nothing() -> None:
    events: list[str] = []
    startup = BackgroundStart(PROCESS, services(events))
    startup.stop()
    assert events == [] and not startup.starting


def test_a_start_that_fails_is_said_and_what_started_is_stopped(caplog) -> None:
    events: list[str] = []
    startup = BackgroundStart(PROCESS, services(events, fail="scheduler"))
    startup.begin()
    wait_for(lambda: not startup.starting, 5, "the start to end")
    assert startup.failure == "cannot start scheduler" and not startup.starting
    assert "could not start its workers: cannot start scheduler" in caplog.text
    startup.stop()
    assert events == ["start workers", "stop workers"]
