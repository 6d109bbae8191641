"""Thread-safe counters of what the simulator saw, for tests and the CLI."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

OUTCOMES = (
    "ok", "not_found", "throttled", "error_5xx", "auth_401", "bad_request", "stalled", "unsupported",
    "malformed", "down",
)


@dataclass(frozen=True)
class StatsSnapshot:
    requests: dict[str, int]  # endpoint -> count ("token", "summary", "inquiry", "other")
    outcomes: dict[str, dict[str, int]]  # endpoint -> outcome -> count
    codes: dict[str, int]  # error code -> count ("LCLM_PS_112", "429", "GRAPHQL_VALIDATION_FAILED", ...)
    in_flight: int
    peak_in_flight: int
    max_rate_1s: int  # most data calls started within any sliding 1-second window
    data_starts: tuple[float, ...] = field(default=())  # time.monotonic() of recent data-call starts

    def outcome(self, outcome: str, endpoint: str | None = None) -> int:
        if endpoint:
            return self.outcomes.get(endpoint, {}).get(outcome, 0)
        return sum(o.get(outcome, 0) for o in self.outcomes.values())

    @property
    def data_requests(self) -> int:
        return self.requests.get("summary", 0) + self.requests.get("inquiry", 0)


class SimStats:
    def __init__(self, max_starts: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._max_starts = max_starts
        self._in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter; calls in flight stay counted as in flight."""
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._outcomes: dict[str, Counter[str]] = {}
            self._codes: Counter[str] = Counter()
            self._peak = self._in_flight
            self._starts: deque[float] = deque(maxlen=self._max_starts)
            self._last_second: deque[float] = deque()
            self._max_rate = 0

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests[endpoint] += 1

    def data_started(self) -> int:
        """A data call arrived; returns the number now in flight (including it)."""
        now = time.monotonic()
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            self._starts.append(now)
            window = self._last_second
            window.append(now)
            while window and window[0] <= now - 1.0:
                window.popleft()
            self._max_rate = max(self._max_rate, len(window))
            return self._in_flight

    def data_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def outcome(self, endpoint: str, outcome: str, code: str = "") -> None:
        with self._lock:
            self._outcomes.setdefault(endpoint, Counter())[outcome] += 1
            if code:
                self._codes[code] += 1

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                requests=dict(self._requests),
                outcomes={k: dict(v) for k, v in self._outcomes.items()},
                codes=dict(self._codes),
                in_flight=self._in_flight,
                peak_in_flight=self._peak,
                max_rate_1s=self._max_rate,
                data_starts=tuple(self._starts),
            )
