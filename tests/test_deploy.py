"""deploy/: the systemd units run claimsops commands that exist with flags they accept, and every
CLAIMSOPS_* variable the units and the environment template name is one claimsops reads."""

from __future__ import annotations

import configparser
import inspect
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest

from console.cli import build_parser
from engine.config import PREFIX, Settings
from workers.stack import WorkerStack

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = {"claimsops-worker.service": "worker", "claimsops-scheduler.service": "scheduler",
         "claimsops-metrics.service": "metrics"}
ENV_TEMPLATE = DEPLOY / "claimsops.env.example"
EXECUTABLE = "/opt/claimsops/.venv/bin/claimsops"
HOME = "/var/lib/claimsops"
# Read by engine.config.load_settings besides the Settings fields.
EXTRA_VARIABLES = {f"{PREFIX}CONFIG", f"{PREFIX}PAYER_CLIENT_SECRET_FILE"}
# After the graceful wait WorkerStack.stop gives the broker consumer 5 s and each of its two
# threads 5 s more.
WORKER_STOP_AFTER_WAIT = 15


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string((DEPLOY / name).read_text())
    return unit


def _variables(text: str) -> set[str]:
    return set(re.findall(rf"\b{PREFIX}[A-Z0-9_]+", text))


def _known_variables() -> set[str]:
    return {f"{PREFIX}{f.name.upper()}" for f in fields(Settings)} | EXTRA_VARIABLES


def _template() -> dict[str, str]:
    """Uncommented assignments of the environment template."""
    pairs = (line.split("=", 1) for line in ENV_TEMPLATE.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_runs_an_existing_command_with_accepted_flags(name: str) -> None:
    argv = shlex.split(_unit(name)["Service"]["ExecStart"])
    assert argv[0] == EXECUTABLE and argv[1] == UNITS[name]
    try:
        args = build_parser().parse_args(argv[1:])
    except SystemExit:
        pytest.fail(f"{name}: `claimsops {shlex.join(argv[1:])}` is not accepted by the CLI")
    assert args.command == UNITS[name] and callable(args.handler)


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_runs_confined_as_claimsops(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["User"] == "claimsops"
    assert service["EnvironmentFile"] == "/etc/claimsops/claimsops.env"
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    assert service["NoNewPrivileges"] == "true" and service["PrivateTmp"] == "true"
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == HOME
    assert _template()[f"{PREFIX}HOME"] == HOME
    assert _unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_worker_gets_time_to_stop_gracefully() -> None:
    graceful = inspect.signature(WorkerStack.stop).parameters["timeout"].default
    timeout = int(_unit("claimsops-worker.service")["Service"]["TimeoutStopSec"])
    assert timeout > graceful + WORKER_STOP_AFTER_WAIT


@pytest.mark.parametrize("path", [ENV_TEMPLATE, *(DEPLOY / n for n in sorted(UNITS))], ids=lambda p: p.name)
def test_every_variable_named_is_read_by_claimsops(path: Path) -> None:
    """Commented-out lines too: an operator uncommenting one must get a variable that works."""
    unknown = _variables(path.read_text()) - _known_variables()
    assert not unknown, f"{path.name} names variables claimsops does not read: {sorted(unknown)}"


def test_template_sets_every_variable_the_units_name() -> None:
    named = set().union(*(_variables((DEPLOY / n).read_text()) for n in UNITS))
    assert named <= _variables(ENV_TEMPLATE.read_text())
    assert {f"{PREFIX}HOME", f"{PREFIX}DATABASE_URL", f"{PREFIX}BROKER_URL"} <= _template().keys()


def test_template_keeps_secrets_out_of_the_file() -> None:
    """Secrets are placeholders, and a secret with a _FILE variant is set through the file."""
    values = _template()
    assert "<password>" in values[f"{PREFIX}DATABASE_URL"]
    secret = f"{PREFIX}PAYER_CLIENT_SECRET"
    assert secret not in values and values[f"{secret}_FILE"].startswith("/etc/claimsops/")


def test_readme_covers_every_unit_and_the_two_scheduler_hosts() -> None:
    text = (DEPLOY / "README.md").read_text()
    assert all(name in text for name in UNITS) and ENV_TEMPLATE.name in text
    assert "systemctl enable --now" in text and "0700" in text and "standby" in text
