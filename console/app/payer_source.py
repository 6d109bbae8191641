"""Where the Claims tab looks claims up: the payer handed to the console (the sandbox that
`claimsops up` runs), the configured payer, or — with no payer configured — the built-in
sandbox simulator, started on the first look-up and stopped when the console exits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.config import Settings
from engine.health import display_url
from engine.payer.windows import WindowLimit

if TYPE_CHECKING:  # the sandbox's modules load on the first look-up, not before the first paint
    from engine.payer.client import PayerSettings
    from engine.payersim.server import PayerSimulator


class PayerSource:
    """`payer` may be a function giving it (`claimsops up`'s sandbox, which starts with the
    workers after the console has painted): called on the first look-up."""

    def __init__(self, settings: Settings, payer: PayerSettings | Callable[[], PayerSettings] | None = None) -> None:
        self.settings = settings
        self._given = payer if not callable(payer) else None
        self._later = payer if callable(payer) else None
        self._sandbox: PayerSimulator | None = None
        self._lock = threading.Lock()
        self.window_limit = WindowLimit()  # the payer's widest window, learned once for every look-up

    @property
    def uses_sandbox(self) -> bool:
        return self._given is None and self._later is None and self.settings.sandbox

    def describe(self) -> str:
        """For the screen: which payer answers (never credentials)."""
        if self._given is None and self._later is not None:
            return "the sandbox payer of claimsops up" if self.settings.sandbox else "the payer of claimsops up"
        if self._given is not None:
            where = display_url(self._given.summary_url)
            return f"sandbox payer at {where}" if self.settings.sandbox else f"payer {where}"
        if self.settings.sandbox:
            return "built-in sandbox payer (no payer configured)"
        return f"payer {display_url(self.settings.payer_url)}"

    def get(self) -> PayerSettings:
        """The payer to call (blocking the first time the sandbox starts: call it in a worker)."""
        from engine.sandbox import payer_settings, start_sandbox

        if self._given is None and self._later is not None:
            with self._lock:
                if self._given is None:
                    self._given = self._later()
        if self._given is not None:
            return self._given
        if not self.settings.sandbox:
            return payer_settings(self.settings)
        with self._lock:
            if self._sandbox is None:
                self._sandbox = start_sandbox()
            return payer_settings(self.settings, self._sandbox)

    def default_tin(self) -> str:
        """The TIN to search under when none is typed: the configured one, or in the sandbox the
        sandbox's first TIN (as a job would use); "" when there is none."""
        from engine.sandbox import sandbox_tin

        if self.settings.payer_tin:
            return self.settings.payer_tin
        return sandbox_tin() if self.settings.sandbox else ""

    @property
    def started_sandbox(self) -> bool:
        return self._sandbox is not None

    def close(self) -> None:
        with self._lock:
            sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            sandbox.stop()
