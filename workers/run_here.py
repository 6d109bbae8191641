"""`submit --wait` with no worker alive: this process runs the job itself, as service "cli";
Ctrl-C stops it gracefully (the rows looked up so far are kept) and is then raised again."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from engine.config import Settings
from engine.db import Database
from engine.leases import process_owner
from engine.payer.client import PayerClient
from engine.payer.limits import LocalLimits
from engine.runner import run_job
from workers.service import Process, run_service

PROGRESS_SECONDS = 0.5


def run_job_here(settings: Settings, db: Database, job_id: int, progress: Callable[[], None] | None = None) -> None:
    """Run the job in this process, calling `progress` (in a thread) every half second."""
    interrupted = False

    def run(process: Process) -> int:
        nonlocal interrupted
        try:
            asyncio.run(_run(process, job_id, progress))
        finally:
            interrupted = process.stop.is_set()
        return 0

    run_service("cli", settings, main=run, headless=False, signals=(signal.SIGINT,), db=db)
    if interrupted:
        raise KeyboardInterrupt


async def _run(process: Process, job_id: int, progress: Callable[[], None] | None) -> None:
    settings = process.settings
    limits = LocalLimits(settings.payer_rate_per_second, settings.payer_concurrency)
    async with PayerClient(process.payer(), limits=limits) as client:
        task = asyncio.create_task(
            run_job(process.db, job_id, client, owner=process_owner("cli"), lease_seconds=settings.lease_seconds,
                    max_attempts=settings.max_attempts, stopping=process.stop.is_set)
        )
        while not task.done():
            await asyncio.wait({task}, timeout=PROGRESS_SECONDS)
            if progress is not None:
                await asyncio.to_thread(progress)
        task.result()
