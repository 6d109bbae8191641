"""`claimsops payer-sim`: the sandbox payer on loopback, optionally writing a test file first."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_expected_json, write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import run_forever
from engine.sandbox import SANDBOX_SEED


def run_payer_sim(args: argparse.Namespace) -> int:
    import os

    seed = args.seed if args.seed is not None else SANDBOX_SEED
    config = SimConfig(seed=seed, latency_scale=args.latency_scale, window_limit_days=args.window_days)
    client_id = os.environ.get("CLAIMSOPS_PAYER_CLIENT_ID")
    secret = os.environ.get("CLAIMSOPS_PAYER_CLIENT_SECRET")
    if client_id:
        config.client_id = client_id
    if secret:
        config.client_secret = secret
    if args.write_csv:
        dataset = Dataset.generate(seed=seed, today=date.today())
        out = Path(args.write_csv)
        expected = write_input_csv(dataset, out, rows=args.rows)
        expected_path = out.with_suffix(".expected.json")
        write_expected_json(expected, expected_path)
        print(f"wrote {len(expected)} rows to {out} and the expected results to {expected_path}")
    run_forever(args.host, args.port, config)
    return 0
