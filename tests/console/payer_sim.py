"""A payer simulator for a test module: its data set and server (module-scoped) and the payer
settings of each test (each console learns the payer's window limit anew: it is kept by the
console's own PayerSource)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from engine.payer.client import PayerSettings
from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator


def simulator_fixtures(seed: int, today: date) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """The fixtures `dataset`, `simulator` and `payer`: assign them to those names in the module."""

    @pytest.fixture(scope="module")
    def dataset() -> Dataset:
        return Dataset.generate(seed=seed, today=today, tin_count=1, dense_tin_count=0)

    @pytest.fixture(scope="module")
    def simulator(dataset: Dataset) -> Iterator[PayerSimulator]:
        with PayerSimulator(SimConfig(seed=seed, today=today), dataset=dataset) as sim:
            yield sim

    @pytest.fixture
    def payer(simulator: PayerSimulator) -> PayerSettings:
        simulator.configure(fixed_latency_s=None)  # whatever a test before set
        cfg = simulator.config
        return PayerSettings(simulator.url, simulator.url, cfg.client_id, cfg.client_secret, timeout_s=5)

    return dataset, simulator, payer
