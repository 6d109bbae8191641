"""Throw-away services for the benchmarks and the worker tests: a private redis-server on a
free port, `claimsops` processes started as an operator would (`claimsops worker`), and CPU
accounting from /proc."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

from bench.common import wait_for

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


class PrivateRedis:
    """A redis-server of our own (no persistence, its files in `workdir`), started at once;
    stop() ends it and start() brings it back on the same port (an outage and its end)."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (needed by this scenario)")
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(self._answers_ping, 10, "redis-server to start")
        except TimeoutError:
            self.stop()
            raise RuntimeError("redis-server did not start") from None
        return self

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def worker_env(workdir: Path, **settings: object) -> dict[str, str]:
    """The environment of a worker process: no CLAIMSOPS_* of the caller, its home in `workdir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update({f"CLAIMSOPS_{k.upper()}": str(v) for k, v in settings.items()})
    env["CLAIMSOPS_HOME"] = str(workdir / "home")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class CliProcesses:
    """`claimsops …` processes started as an operator would, each logging to its own file in
    `workdir` (the benchmarks and the worker tests both use them)."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.procs: list[subprocess.Popen] = []
        self._logs: list[IO[bytes]] = []

    def spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.workdir / f"proc-{len(self._logs)}.log", "wb")  # noqa: SIM115 - closed in stop_all
        self._logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "console.cli", *args],
                                cwd=REPO, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def spawn_worker(self, concurrency: int = 1) -> subprocess.Popen:
        return self.spawn("worker", "--concurrency", str(concurrency))

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for log in self._logs:
            log.close()

    def output(self, chars: int = 3000) -> str:
        return "\n".join(p.read_text(errors="replace")[-chars:] for p in sorted(self.workdir.glob("proc-*.log")))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks
