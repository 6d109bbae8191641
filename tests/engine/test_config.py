"""Configuration: TOML file, environment on top, one clear message for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, load_settings


def test_defaults_are_embedded_and_sandbox() -> None:
    settings = load_settings({"CLAIMSOPS_HOME": "/tmp/x"})
    assert settings.mode == "embedded" and settings.sandbox
    assert settings.effective_database_url == "sqlite:////tmp/x/claimsops.db"
    assert settings.payer_id == "87726"
    assert settings.payer_hedge_quantile == 0.95


def test_hedging_can_be_turned_off_for_the_payer_client() -> None:
    from engine.sandbox import payer_settings

    settings = load_settings({"CLAIMSOPS_PAYER_URL": "https://payer.example", "CLAIMSOPS_PAYER_HEDGE_QUANTILE": "0"})
    assert payer_settings(settings).hedge_quantile == 0


def test_the_payer_outage_wait_is_configured() -> None:
    from engine.sandbox import payer_settings

    assert payer_settings(load_settings({"CLAIMSOPS_PAYER_URL": "https://payer.example"})).outage_s == 300
    settings = load_settings({"CLAIMSOPS_PAYER_URL": "https://payer.example", "CLAIMSOPS_PAYER_OUTAGE_SECONDS": "2"})
    assert payer_settings(settings).outage_s == 2
    with pytest.raises(ConfigError, match="CLAIMSOPS_PAYER_OUTAGE_SECONDS must be a number"):
        load_settings({"CLAIMSOPS_PAYER_OUTAGE_SECONDS": "soon"})


def test_the_metrics_port_is_off_by_default_and_loopback_when_set() -> None:
    settings = load_settings({})
    assert (settings.metrics_port, settings.metrics_host) == (0, "127.0.0.1")
    settings = load_settings({"CLAIMSOPS_METRICS_PORT": "9464"})
    assert (settings.metrics_port, settings.metrics_host) == (9464, "127.0.0.1")
    assert load_settings({"CLAIMSOPS_METRICS_PORT": "1", "CLAIMSOPS_METRICS_HOST": "0.0.0.0"}).metrics_host == "0.0.0.0"
    with pytest.raises(ConfigError, match="CLAIMSOPS_METRICS_PORT must be a TCP port"):
        load_settings({"CLAIMSOPS_METRICS_PORT": "70000"})
    with pytest.raises(ConfigError, match="CLAIMSOPS_METRICS_PORT must be a whole number"):
        load_settings({"CLAIMSOPS_METRICS_PORT": "http"})


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    file = tmp_path / "claimsops.toml"
    file.write_text('[claimsops]\npayer_tin = "111111111"\noperators = ["ann", "bob"]\nlease_seconds = 20\n')
    settings = load_settings({"CLAIMSOPS_CONFIG": str(file), "CLAIMSOPS_PAYER_TIN": "222-22-2222"})
    assert settings.payer_tin == "222222222"
    assert settings.lease_seconds == 20
    assert not hasattr(settings, "operators")  # who may act is stored in the database


def test_secret_from_a_file_and_never_in_repr(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    settings = load_settings({"CLAIMSOPS_PAYER_CLIENT_SECRET_FILE": str(secret)})
    assert settings.payer_client_secret == "s3cr3t"
    assert "s3cr3t" not in repr(settings)


def test_alert_urls_heartbeat_and_log_format() -> None:
    settings = load_settings({
        "CLAIMSOPS_ALERT_URLS": " json://127.0.0.1:8080/hook, mailtos://u:p@mail.example\tpagerduty://key@api ,",
        "CLAIMSOPS_HEARTBEAT_URL": "https://hc-ping.example/5bf66975-uuid/",
        "CLAIMSOPS_LOG_FORMAT": "JSON",
    })
    assert settings.alert_urls == ("json://127.0.0.1:8080/hook", "mailtos://u:p@mail.example", "pagerduty://key@api")
    assert settings.heartbeat_url == "https://hc-ping.example/5bf66975-uuid"
    assert settings.log_format == "json"
    assert "5bf66975" not in repr(settings) and "pagerduty" not in repr(settings)
    defaults = load_settings({})
    assert (defaults.alert_urls, defaults.heartbeat_url, defaults.log_format) == ((), "", "text")


@pytest.mark.parametrize("name,value", [
    ("CLAIMSOPS_ALERT_URLS", "json://hooks.example/a slack-tok3nSecret"),
    ("CLAIMSOPS_HEARTBEAT_URL", "hc-ping.example/tok3nSecret"),
])
def test_bad_alert_and_heartbeat_urls_are_never_echoed(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({name: value})
    assert str(err.value) == f"{name} must be a URL like scheme://host/… (value not shown)"


@pytest.mark.parametrize("env,needle", [
    ({"CLAIMSOPS_LEASE_SECONDS": "soon"}, "CLAIMSOPS_LEASE_SECONDS must be a whole number"),
    ({"CLAIMSOPS_LEASE_SECONDS": "1"}, "CLAIMSOPS_LEASE_SECONDS must be at least 2"),
    ({"CLAIMSOPS_PAYER_TIN": "12345"}, "CLAIMSOPS_PAYER_TIN must be 9 digits"),
    ({"CLAIMSOPS_PAYER_TIN": "１２３４５６７８９"}, "CLAIMSOPS_PAYER_TIN must be 9 digits"),
    ({"CLAIMSOPS_PAYER_ID": "８７７２６"}, "CLAIMSOPS_PAYER_ID: payer id must be at most 16 ASCII letters"),
    ({"CLAIMSOPS_PAYER_ID": "8" * 17}, "CLAIMSOPS_PAYER_ID: payer id must be at most 16 ASCII letters"),
    ({"CLAIMSOPS_READ_ONLY": "maybe"}, "CLAIMSOPS_READ_ONLY must be true or false"),
    ({"CLAIMSOPS_PAYER_URL": "payer.example"}, "CLAIMSOPS_PAYER_URL must be a URL"),
    ({"CLAIMSOPS_LOG_FORMAT": "xml"}, "CLAIMSOPS_LOG_FORMAT must be text or json"),
    ({"CLAIMSOPS_PAYER_RATE_PER_SECOND": "fast"}, "CLAIMSOPS_PAYER_RATE_PER_SECOND must be a number"),
    ({"CLAIMSOPS_PAYER_HEDGE_QUANTILE": "1"}, "CLAIMSOPS_PAYER_HEDGE_QUANTILE must be below 1 (0 turns it off)"),
    ({"CLAIMSOPS_PAYER_HEDGE_QUANTILE": "-0.5"}, "CLAIMSOPS_PAYER_HEDGE_QUANTILE must be at least 0"),
    ({"CLAIMSOPS_CONFIG": "/nonexistent.toml"}, "CLAIMSOPS_CONFIG names /nonexistent.toml"),
    ({"CLAIMSOPS_THEME": "solarized"}, "CLAIMSOPS_THEME must be one of dark, light, high-contrast, got 'solarized'"),
    ({"CLAIMSOPS_KEYS": "jobs.upload"}, "CLAIMSOPS_KEYS: 'jobs.upload' is not id=keys"),
    ({"CLAIMSOPS_KEYS": "jobs.upload="}, "CLAIMSOPS_KEYS: 'jobs.upload' needs keys"),
    ({"CLAIMSOPS_PAYER_CLIENT_SECRET_FILE": "/nonexistent"}, "CLAIMSOPS_PAYER_CLIENT_SECRET_FILE cannot be read"),
])
def test_malformed_values_name_the_variable(env: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_bad_toml_and_unknown_keys(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("payer_tin = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"CLAIMSOPS_CONFIG": str(broken)})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('payer_tinn = "123456789"\n')
    with pytest.raises(ConfigError, match="unknown keys: payer_tinn"):
        load_settings({"CLAIMSOPS_CONFIG": str(unknown)})


def test_the_console_theme_and_keymap_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load_settings({}).theme == "dark" and load_settings({}).keys == ()
    path = tmp_path / "claimsops.toml"
    path.write_text('[claimsops]\ntheme = "High-Contrast"\n\n[claimsops.keys]\n"jobs.upload" = "U"\n'
                    '"app.quit" = "ctrl+q, f10"\n')
    settings = load_settings({"CLAIMSOPS_CONFIG": str(path)})
    assert settings.theme == "high-contrast"
    assert settings.keys == (("jobs.upload", "U"), ("app.quit", "ctrl+q,f10"))
    env = {"CLAIMSOPS_CONFIG": str(path), "CLAIMSOPS_THEME": "light", "CLAIMSOPS_KEYS": "tab.logs=L; app.help=f1"}
    settings = load_settings(env)
    assert settings.theme == "light" and settings.keys == (("tab.logs", "L"), ("app.help", "f1"))
