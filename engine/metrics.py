"""Metrics rows (payer call latency and outcome, job duration, throughput) for the Stats tab,
buffered in memory and written in batches."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import insert

from engine.db import Database
from engine.models import Metric

PAYER_CALL = "payer_call"  # value: seconds; label: "<surface>:<outcome>"
JOB_DURATION = "job_duration"  # value: seconds; label: final status
JOB_ROWS_PER_SECOND = "job_rows_per_s"
ROWS_DONE = "rows_done"  # value: rows written in one batch
QUEUE_LENGTH = "queue_length"


class MetricsBuffer:
    """Thread-safe; `record` is cheap, `flush` writes everything buffered in one insert."""

    def __init__(self, db: Database, limit: int = 100_000) -> None:
        self.db = db
        self.limit = limit
        self._rows: list[dict] = []
        self._lock = threading.Lock()

    def record(self, name: str, value: float, label: str = "") -> None:
        with self._lock:
            if len(self._rows) < self.limit:
                self._rows.append({"at": datetime.now(UTC), "name": name, "value": float(value), "label": label})

    def payer_call(self, surface: str, outcome: str, seconds: float) -> None:
        self.record(PAYER_CALL, seconds, f"{surface}:{outcome}")

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            try:
                with self.db.write() as session:
                    session.execute(insert(Metric), rows)
            except Exception:
                with self._lock:  # keep them for the next flush
                    self._rows = (rows + self._rows)[: self.limit]
                raise
        return len(rows)
