"""Real processes for worker tests: a private redis-server on a free port (so a test may stop or
kill it), worker processes started through the CLI, and condition waits."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.common import wait_for as bench_wait_for
from bench.processes import CliProcesses, free_port

REPO = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    return bench_wait_for(condition, timeout, what, interval)


class RedisServer:
    """A throw-away redis-server; `stop()`/`start()` keep the same port."""

    def __init__(self, tmp: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary, self.tmp, self.port = binary, tmp, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self._ping, 10, what="redis-server to start")
        return self

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class Processes(CliProcesses):
    """Worker processes started as an operator would (`claimsops worker` / `claimsops up`)."""


def worker_env(tmp: Path, *, database_url: str, broker_url: str = "", payer_url: str, client_id: str,
               client_secret: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update(
        CLAIMSOPS_HOME=str(tmp / "home"), CLAIMSOPS_DATABASE_URL=database_url, CLAIMSOPS_PAYER_URL=payer_url,
        CLAIMSOPS_PAYER_CLIENT_ID=client_id, CLAIMSOPS_PAYER_CLIENT_SECRET=client_secret, PYTHONUNBUFFERED="1",
    )
    if broker_url:
        env["CLAIMSOPS_BROKER_URL"] = broker_url
    env.update({f"CLAIMSOPS_{k.upper()}": str(v) for k, v in extra.items()})
    return env
