"""The `startup` scenario: `claimsops up` from spawn to its first painted Jobs page, cold (a new,
empty home each time: the database is created, the sandbox payer's data set generated behind the
first paint), in a real pseudo-terminal of 120×40, the median of several starts. The page is
painted when the terminal shows the empty Jobs table's "no jobs"; the header then says
"starting workers…" until the workers are up ("1 worker" there: one in-process worker).

The processes compile the checkout's modules into a private cache once (a first start that is
not counted), as an installed package has its bytecode."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import Outcome, Target
from bench.processes import REPO

PAINTED = "no jobs"
STARTING = "starting workers"
WORKERS_UP = "1 worker"
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Start:
    painted_s: float
    workers_s: float | None  # "1 worker" in the header
    said_starting: bool  # the header said "starting workers…" before it counted the worker
    clean_exit: bool


def start_up(work: Path, cache: Path) -> Start:
    """One cold `claimsops up` in a pty; quits it with `q` once its worker is counted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(CLAIMSOPS_HOME=str(work / "home"), PYTHONPYCACHEPREFIX=str(cache), TERM="xterm-256color",
               COLUMNS="120", LINES="40")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "console.cli", "up", "--concurrency", "1"], cwd=REPO, env=env,
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
    os.close(slave)
    screen = _Screen(master)
    try:
        painted = screen.until(PAINTED, started) - started
        up = screen.until(WORKERS_UP, started)
        said = screen.text.find(STARTING) != -1 and screen.text.find(STARTING) < screen.text.find(WORKERS_UP)
        os.write(master, b"q")
        clean = proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        os.close(master)
    return Start(painted, up - started, said, clean)


class _Screen:
    def __init__(self, master: int) -> None:
        self.master, self.text = master, ""

    def until(self, text: str, started: float) -> float:
        """When `text` first appeared on the terminal (perf_counter)."""
        while text not in self.text:
            if time.perf_counter() - started > TIMEOUT_S:
                raise TimeoutError(f"{text!r} never appeared on the terminal of claimsops up")
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.text += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    raise RuntimeError("claimsops up exited before it painted") from None
        return time.perf_counter()


def run(quick: bool) -> Outcome:
    out = Outcome("startup")
    count = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        cache = Path(tmp) / "pycache"
        starts = []
        warm_up = 0 if quick else 1  # the first start fills the bytecode cache: not counted
        for n in range(count + warm_up):
            work = Path(tmp) / f"start-{n}"
            work.mkdir()
            starts.append(start_up(work, cache))
    counted = starts[warm_up:]
    painted = [s.painted_s for s in counted]
    workers = [s.workers_s for s in counted if s.workers_s is not None]
    out.figures = {"starts": len(counted), "first_paint_s": [round(s, 3) for s in painted],
                   "workers_up_s": [round(s, 3) for s in workers]}
    out.show("claimsops up, cold: first Jobs page", f"median {statistics.median(painted):.2f} s "
             f"({', '.join(f'{s:.2f}' for s in painted)})")
    out.show("header counts the worker", f"median {statistics.median(workers):.2f} s after the start")
    out.checks = {
        "the header said 'starting workers…' before it counted the worker": all(s.said_starting for s in starts),
        "`q` quit claimsops up with exit 0": all(s.clean_exit for s in starts),
    }
    out.targets = [Target("startup: claimsops up to the first Jobs page, cold", round(statistics.median(painted), 3),
                          1.5, unit=" s")]
    return out
