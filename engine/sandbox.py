"""The built-in sandbox payer: the simulator, started in-process when no payer is configured."""

from __future__ import annotations

import functools
from datetime import date

from engine.config import Settings
from engine.payer.client import PayerSettings
from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.known import SAMPLE_TIN, known_occurrences
from engine.payersim.server import PayerSimulator

SANDBOX_SEED = 7


def sandbox_config(**overrides: object) -> SimConfig:
    return SimConfig(seed=SANDBOX_SEED, **overrides)  # type: ignore[arg-type]


def sandbox_dataset(today: date | None = None, seed: int = SANDBOX_SEED) -> Dataset:
    """The sandbox payer's claims as of `today`: its generated TINs (the first is the samples'
    TIN), every claim of the shipped samples and the original system's example (known.py), and
    the bulk population that large test files draw on (bulk.py)."""
    return _dataset(today or date.today(), seed)


@functools.lru_cache(maxsize=2)
def _dataset(today: date, seed: int) -> Dataset:
    cfg = sandbox_config()
    return Dataset.generate(
        seed=seed, today=today, tin_count=cfg.tin_count,
        claims_per_month=cfg.claims_per_month, dense_tin_count=cfg.dense_tin_count,
        dense_claims_per_month=cfg.dense_claims_per_month,
        tins=(SAMPLE_TIN,), extra=known_occurrences(today), bulk=True,
    )


def sandbox_tin() -> str:
    """The TIN jobs search under in the sandbox when none is configured (the samples' TIN,
    the data set's first)."""
    return SAMPLE_TIN


def start_sandbox(**overrides: object) -> PayerSimulator:
    """A simulator on a free loopback port (stop it when done)."""
    return PayerSimulator(sandbox_config(**overrides), dataset=sandbox_dataset()).start()


def payer_settings(settings: Settings, sandbox: PayerSimulator | None = None) -> PayerSettings:
    """Where and how to reach the payer: the configured one, or the given sandbox."""
    if sandbox is not None:
        cfg = sandbox.config
        return PayerSettings(sandbox.url, sandbox.url, cfg.client_id, cfg.client_secret,
                             timeout_s=settings.payer_timeout_seconds, hedge_quantile=settings.payer_hedge_quantile,
                             outage_s=settings.payer_outage_seconds)
    return PayerSettings(
        settings.payer_url, settings.effective_inquiry_url, settings.payer_client_id,
        settings.payer_client_secret, timeout_s=settings.payer_timeout_seconds,
        hedge_quantile=settings.payer_hedge_quantile, outage_s=settings.payer_outage_seconds,
    )
