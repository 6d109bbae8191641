"""Sandbox payer simulator: a deterministic data set and an HTTP server speaking
docs/payer-api.md (claims summary by provider + claim inquiry)."""

from engine.payersim.config import SimConfig, latency_cdf, sample_latency
from engine.payersim.csvgen import load_expected_json, write_expected_json, write_input_csv
from engine.payersim.dataset import Dataset, lookback_start
from engine.payersim.server import PayerSimulator, run_forever

__all__ = [
    "Dataset",
    "PayerSimulator",
    "SimConfig",
    "latency_cdf",
    "load_expected_json",
    "lookback_start",
    "run_forever",
    "sample_latency",
    "write_expected_json",
    "write_input_csv",
]
