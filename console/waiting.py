"""`submit --wait`: process the job in this process when no worker is alive, otherwise wait for
the workers; progress goes to stderr."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from typing import Any

from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.logsink import setup_logging
from engine.payer.client import PayerClient
from engine.payer.limits import LocalLimits
from engine.runner import run_job
from engine.sandbox import payer_settings, start_sandbox
from engine.workers_registry import count_live


def _progress(job: Any) -> str:
    pct = 100 * job.done_rows / job.total_rows if job.total_rows else 100
    return (
        f"\rjob {job.id} {job.status:<10} {job.done_rows}/{job.total_rows} ({pct:3.0f}%)  "
        f"found {job.found_rows}  not found {job.not_found_rows}  errors {job.error_rows}  "
        f"invalid {job.invalid_rows}  payer calls {job.payer_calls}"
    )


def wait_for_job(ctx: Any, job_id: int, *, quiet: bool = False) -> None:
    if count_live(ctx.db) == 0:
        _run_here(ctx, job_id, quiet)
    _await_finish(ctx.db, job_id, quiet)


def _await_finish(db: Any, job_id: int, quiet: bool) -> None:
    while True:
        job = get_job(db, job_id)
        if not quiet:
            sys.stderr.write(_progress(job))
            sys.stderr.flush()
        if job.status in lifecycle.FINISHED:
            if not quiet:
                sys.stderr.write("\n")
            return
        time.sleep(0.5)


def _run_here(ctx: Any, job_id: int, quiet: bool) -> None:
    settings, db = ctx.settings, ctx.db
    setup_logging(db, "cli", stderr=False)
    interrupted = False

    def on_sigint(*_: object) -> None:
        nonlocal interrupted
        interrupted = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    sandbox = start_sandbox() if settings.sandbox else None
    owner = f"{socket.gethostname()}:{os.getpid()}:cli"

    async def main() -> None:
        limits = LocalLimits(settings.payer_rate_per_second, settings.payer_concurrency)
        async with PayerClient(payer_settings(settings, sandbox), limits=limits) as client:
            task = asyncio.create_task(
                run_job(db, job_id, client, owner=owner, lease_seconds=settings.lease_seconds,
                        max_attempts=settings.max_attempts, stopping=lambda: interrupted)
            )
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                if not quiet:
                    job = await asyncio.to_thread(get_job, db, job_id)
                    sys.stderr.write(_progress(job))
                    sys.stderr.flush()
            task.result()

    try:
        asyncio.run(main())
    finally:
        signal.signal(signal.SIGINT, previous)
        if sandbox is not None:
            sandbox.stop()
    if interrupted:
        raise KeyboardInterrupt
