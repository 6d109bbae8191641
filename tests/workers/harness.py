"""The environment of worker tests' processes. The processes themselves (a private
redis-server a test may stop and start again, `claimsops` processes, condition waits) are the
benchmarks' own: bench.processes and bench.common."""

from __future__ import annotations

from pathlib import Path

from bench.processes import worker_env as bench_worker_env


def worker_env(tmp: Path, *, database_url: str, broker_url: str = "", payer_url: str, client_id: str,
               client_secret: str, **extra: str) -> dict[str, str]:
    """A worker's environment with the database, the payer and its credentials, and the broker
    when one is given (none: the embedded in-process broker); `extra` as CLAIMSOPS_* settings."""
    settings = {"database_url": database_url, "payer_url": payer_url, "payer_client_id": client_id,
                "payer_client_secret": client_secret, **extra}
    if broker_url:
        settings["broker_url"] = broker_url
    return bench_worker_env(tmp, **settings)
