"""Throw-away services for benchmarks: a private redis-server and worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (needed by this scenario)")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def worker_env(workdir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update({f"CLAIMSOPS_{k.upper()}": str(v) for k, v in settings.items()})
    env["CLAIMSOPS_HOME"] = str(workdir / "home")
    return env


def spawn_worker(env: dict[str, str], workdir: Path, concurrency: int = 1, name: str = "worker") -> subprocess.Popen:
    log = open(workdir / f"{name}-{len(list(workdir.glob('*.log')))}.log", "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "console.cli", "worker", "--concurrency", str(concurrency)],
                            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
