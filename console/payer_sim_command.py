"""`claimsops payer-sim`: the sandbox payer on loopback, or a test file drawn from its claims."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_expected_json, write_input_csv
from engine.payersim.server import run_forever
from engine.sandbox import SANDBOX_SEED, sandbox_dataset


def run_payer_sim(args: argparse.Namespace) -> int:
    """With --write-csv: write the file and its expected results, then exit (serve too with
    --serve). The file's claims are those of the sandbox `claimsops up` runs (same seed)."""
    seed = args.seed if args.seed is not None else SANDBOX_SEED
    dataset = sandbox_dataset(seed=seed)
    if args.write_csv:
        out = Path(args.write_csv)
        expected = write_input_csv(dataset, out, rows=args.rows)
        expected_path = out.with_suffix(".expected.json")
        write_expected_json(expected, expected_path)
        print(f"wrote {len(expected):,} rows to {out} and the expected results to {expected_path}", flush=True)
        if not args.serve:
            return 0
    config = SimConfig(seed=seed, today=dataset.today, latency_scale=args.latency_scale,
                       window_limit_days=args.window_days)
    client_id = os.environ.get("CLAIMSOPS_PAYER_CLIENT_ID")
    secret = os.environ.get("CLAIMSOPS_PAYER_CLIENT_SECRET")
    if client_id:
        config.client_id = client_id
    if secret:
        config.client_secret = secret
    run_forever(args.host, args.port, config, dataset)
    return 0
