"""`claimsops bench --quick --json` as CI runs it: every scenario small, correctness checked, times
never. The Redis scenarios (recovery, scale) need CLAIMSOPS_TEST_REDIS_URL, PostgreSQL in the
write scenario CLAIMSOPS_TEST_DATABASE_URL; without them they are skipped, saying so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NO_PG, NO_REDIS, PG_URL, REDIS_URL

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _bench(*scenarios: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "console.cli", "bench", *scenarios, "--quick", "--json"],
        cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=280,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {proc.stderr[-2000:]}"
    return proc.returncode, json.loads(lines[-1]), proc.stderr


def _assert_ok(result: dict[str, Any], name: str) -> dict[str, Any]:
    scenario = result[name]
    assert scenario["error"] is None, scenario["error"]
    assert scenario["skipped"] is None, scenario["skipped"]
    failed = [check for check, passed in scenario["checks"].items() if not passed]
    assert failed == [], f"{name}: {failed}"
    assert scenario["ok"]
    return scenario


def test_quick_bench_checks_correctness() -> None:
    code, result, stderr = _bench("lookup", "cancel", "write", "console")
    assert code == 0, stderr[-3000:]
    assert result["meta"]["quick"] is True and result["meta"]["ok"] is True

    lookup = _assert_ok(result, "lookup")
    assert lookup["auto"]["correct_share"] == 1.0 and lookup["auto"]["status"] == "COMPLETED"
    assert lookup["dated_file"]["correct_share"] == 1.0
    assert lookup["auto"]["payer_calls"] < lookup["rows"]  # fewer calls than one per row, even on a small file
    assert lookup["original"]["sample_rows"] > 0 and lookup["speedup_vs_original"] > 1
    assert lookup["targets"] == []  # --quick: sizes too small to judge targets

    cancel = _assert_ok(result, "cancel")
    assert cancel["cancels"] == 3 and cancel["late_payer_calls"] == 0

    write = _assert_ok(result, "write")
    assert write["sqlite"]["rows_per_s"] > 0
    if PG_URL:
        assert write["postgresql"]["rows_per_s"] > 0
    else:
        assert write["postgresql"] == {"skipped": "no PostgreSQL configured"}
        print(f"write scenario ran on SQLite only: {NO_PG}")

    console = _assert_ok(result, "console")
    assert console["first_paint_s"] > 0 and console["peak_rss_mb"] > 0
    assert console["targets"] == []


def test_quick_metrics_bench_scrapes_the_console_data() -> None:
    code, result, stderr = _bench("metrics")
    assert code == 0, stderr[-3000:]
    metrics = _assert_ok(result, "metrics")
    assert metrics["sizes"]["jobs"] == 2000 and 0 < metrics["scrape_median_s"] < 5
    assert metrics["targets"] == []


def test_quick_bench_with_redis_workers() -> None:
    if not REDIS_URL:
        pytest.skip(f"bench scenarios recovery and scale skipped: {NO_REDIS}")
    code, result, stderr = _bench("recovery", "scale")
    assert code == 0, stderr[-3000:]
    recovery = _assert_ok(result, "recovery")
    assert recovery["job_status"] == "COMPLETED" and recovery["correct_rows"] == recovery["rows"]
    scale = _assert_ok(result, "scale")
    assert all(scale[f"{n}_workers"]["completed"] for n in scale["workers"])
    for n in scale["workers"]:  # a worker's start-up (to its first job) is counted apart from its jobs
        run = scale[f"{n}_workers"]
        assert 0 < run["worker_startup_cpu_s"] < run["worker_cpu_s"]
        assert run["worker_cpu_per_job_s"] > 0


def test_quick_cli_and_startup_benches_run_the_real_commands() -> None:
    code, result, stderr = _bench("cli", "startup")
    assert code == 0, stderr[-3000:]
    cli = _assert_ok(result, "cli")
    assert set(cli["ratios"]) == {"jobs --json", "job N --json", "cancel N"} and cli["baseline_s"] > 0
    assert len(cli["cancel_wait_s"]) == 1 and cli["targets"] == []
    startup = _assert_ok(result, "startup")
    assert startup["starts"] == 1 and startup["first_paint_s"][0] > 0 and startup["targets"] == []


def test_an_unknown_scenario_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "console.cli", "bench", "nosuch"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown scenario nosuch" in proc.stderr


def test_quick_followup_bench() -> None:
    code, result, stderr = _bench("followup")
    assert code == 0, stderr[-3000:]
    follow = _assert_ok(result, "followup")
    calls = follow["calls"]
    assert calls["open_claims_rechecked"] > 0 and calls["claim_by_claim_per_claim"] == 1.0
    assert calls["calls_per_claim"] < calls["claim_by_claim_per_claim"]  # window pages, not inquiries
    assert follow["sqlite"]["due"] == 200 and follow["targets"] == []
