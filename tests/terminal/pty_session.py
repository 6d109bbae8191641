"""A claimsops process in a real pseudo-terminal of a given size, with everything it wrote to
the terminal kept, so a test can check what the terminal was left in."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

# what a full-screen program switches on, and the sequence that switches each back off
ALT_SCREEN = ("\x1b[?1049h", "\x1b[?1049l")
MOUSE = ("\x1b[?1000h", "\x1b[?1000l")
HIDDEN_CURSOR = ("\x1b[?25l", "\x1b[?25h")


def left_on(output: str, on_off: tuple[str, str]) -> bool:
    """Whether the terminal is still in the mode `on_off` switches: the last `on` comes after
    the last `off`."""
    on, off = on_off
    return output.rfind(on) > output.rfind(off)


class PtySession:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, size: tuple[int, int] = (80, 24)) -> None:
        self.master, slave = os.openpty()
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", *args], stdin=slave, stdout=slave, stderr=slave,
            cwd=cwd, env={**env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)},
            start_new_session=True, close_fds=True,
        )
        os.close(slave)
        self.output = ""

    def _read(self, timeout: float) -> bool:
        """Read what is there within `timeout`; False once the terminal is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every process holding the terminal has gone
            return False
        if not chunk:
            return False
        self.output += chunk.decode("utf-8", "replace")
        return True

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or self.proc.poll() is not None and not self._read(0.1):
                raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{self.output[-3000:]!r}")
            self._read(0.1)

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def kill(self, sig: signal.Signals) -> None:
        os.kill(self.proc.pid, sig)

    def finish(self, timeout: float = 30.0) -> int:
        """Read until every holder of the terminal has gone; the process's exit code."""
        deadline = time.monotonic() + timeout
        while self._read(0.1):
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"still running after {timeout} s; the terminal shows:\n{self.output[-3000:]!r}")
        os.close(self.master)
        return self.proc.wait(10)
