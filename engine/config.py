"""Configuration: environment variables, or a TOML file named by CLAIMSOPS_CONFIG; the
environment wins. A malformed value raises ConfigError naming the variable."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import OperatorError
from engine.identifiers import PAYER_ID_RULE, clean_tin, is_valid_payer_id, is_valid_tin

PREFIX = "CLAIMSOPS_"
# Who may act is stored in the database (engine.operators): these settings grant nothing now.
IGNORED = ("operators",)
IGNORED_NOTICE = (
    "CLAIMSOPS_OPERATORS is ignored: who may act is stored in the database "
    "(claimsops operators list)"
)


class ConfigError(OperatorError):
    """A configuration value is missing or malformed; the message names the variable."""


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "claimsops"


def _as_number(name: str, raw: Any, kind: type[int] | type[float], minimum: float) -> Any:
    try:
        value = kind(str(raw).strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{PREFIX}{name.upper()} must be {what}, got {str(raw)!r}") from None
    if value < minimum:
        raise ConfigError(f"{PREFIX}{name.upper()} must be at least {minimum}, got {value}")
    return value


def _as_int(name: str, raw: Any, minimum: int = 0) -> int:
    return _as_number(name, raw, int, minimum)


def _as_port(name: str, raw: Any) -> int:
    value = _as_int(name, raw, 0)
    if value > 65535:
        raise ConfigError(f"{PREFIX}{name.upper()} must be a TCP port (at most 65535), got {value}")
    return value


def _as_float(name: str, raw: Any, minimum: float = 0.0) -> float:
    return _as_number(name, raw, float, minimum)


def _as_fraction(name: str, raw: Any) -> float:
    value = _as_float(name, raw)
    if value >= 1:
        raise ConfigError(f"{PREFIX}{name.upper()} must be below 1 (0 turns it off), got {value}")
    return value


def _as_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{PREFIX}{name.upper()} must be true or false, got {str(raw)!r}")


def _as_tin(name: str, raw: Any) -> str:
    text = clean_tin(str(raw))
    if text and not is_valid_tin(text):
        raise ConfigError(f"{PREFIX}{name.upper()} must be 9 digits, got {len(text)} characters")
    return text


def _as_payer_id(name: str, raw: Any) -> str:
    text = str(raw).strip()
    if text and not is_valid_payer_id(text):
        raise ConfigError(f"{PREFIX}{name.upper()}: {PAYER_ID_RULE}")
    return text


def _as_str(name: str, raw: Any) -> str:
    return str(raw).strip()


def _as_url(name: str, raw: Any) -> str:
    text = str(raw).strip()
    if text and "://" not in text:
        # never the value: a URL may carry a password or a token
        raise ConfigError(f"{PREFIX}{name.upper()} must be a URL like scheme://host/… (value not shown)")
    return text.rstrip("/") if text.startswith("http") else text


def _as_url_list(name: str, raw: Any) -> tuple[str, ...]:
    """Comma- or space-separated URLs (a TOML list works too), each checked like one URL."""
    items = raw if isinstance(raw, list | tuple) else str(raw).replace(",", " ").split()
    return tuple(_as_url(name, item) for item in items if str(item).strip())


LOG_FORMATS = ("text", "json")


def _as_log_format(name: str, raw: Any) -> str:
    text = str(raw).strip().lower() or "text"
    if text not in LOG_FORMATS:
        raise ConfigError(f"{PREFIX}{name.upper()} must be text or json, got {str(raw)!r}")
    return text


THEMES = ("dark", "light", "high-contrast")


def _as_theme(name: str, raw: Any) -> str:
    text = str(raw).strip().lower() or "dark"
    if text not in THEMES:
        raise ConfigError(f"{PREFIX}{name.upper()} must be one of {', '.join(THEMES)}, got {str(raw)!r}")
    return text


def _as_keymap(name: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """Key binding id -> keys (Textual's key names, several joined by commas). A TOML table,
    or in the environment `id=keys` pairs separated by semicolons or spaces:
    `jobs.upload=U; app.quit=ctrl+q`. Which ids exist is the console's to check."""
    if isinstance(raw, Mapping):
        pairs = [(str(k), v) for k, v in raw.items()]
    else:
        pairs = []
        for item in str(raw).replace(";", " ").split():
            binding_id, sep, keys = item.partition("=")
            if not sep:
                raise ConfigError(f"{PREFIX}{name.upper()}: {item!r} is not id=keys")
            pairs.append((binding_id, keys))
    out: list[tuple[str, str]] = []
    for binding_id, keys in pairs:
        if not isinstance(keys, str) or not keys.strip() or not binding_id.strip():
            raise ConfigError(f"{PREFIX}{name.upper()}: {binding_id!r} needs keys, like \"ctrl+u\"")
        out.append((binding_id.strip(), keys.replace(" ", "")))
    return tuple(out)


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=_default_home)
    database_url: str = ""
    broker_url: str = ""
    payer_url: str = ""
    inquiry_url: str = ""
    payer_client_id: str = ""
    payer_client_secret: str = field(default="", repr=False)
    payer_tin: str = ""
    payer_id: str = "87726"
    alert_webhook: str = ""
    alert_urls: tuple[str, ...] = field(default=(), repr=False)  # Apprise URLs carry tokens
    heartbeat_url: str = field(default="", repr=False)
    log_format: str = "text"
    site_name: str = "claimsops"
    timezone: str = "UTC"
    max_upload_bytes: int = 10 * 1024 * 1024
    max_upload_rows: int = 100_000
    lease_seconds: int = 30
    scheduler_lease_seconds: int = 15
    max_attempts: int = 5
    payer_concurrency: int = 50
    payer_rate_per_second: float = 50.0
    payer_timeout_seconds: float = 30.0
    payer_hedge_quantile: float = 0.95  # 0: never send a second copy of a slow call
    payer_outage_seconds: float = 300.0  # a job waits this long for a payer that answers nothing
    refresh_seconds: float = 1.0
    read_only: bool = False
    metrics_port: int = 0  # 0: `up`, `worker` and `scheduler` serve no /metrics
    metrics_host: str = "127.0.0.1"
    followup_max_claims: int = 5000  # claims in one follow-up job (the rest wait for the next run)
    followup_stale_days: int = 180  # an open claim this old is stale: reported, no longer re-checked
    followup_not_found_days: int = 30  # a claim the payer does not know is re-checked this long
    theme: str = "dark"  # the console's: dark, light or high-contrast
    keys: tuple[tuple[str, str], ...] = ()  # the console's keymap: (binding id, keys)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'claimsops.db'}"

    @property
    def effective_inquiry_url(self) -> str:
        return self.inquiry_url or self.payer_url

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def mode(self) -> str:
        return "production" if self.broker_url else "embedded"

    @property
    def sandbox(self) -> bool:
        """No payer configured: the built-in simulator stands in."""
        return not self.payer_url


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "home": lambda n, v: Path(str(v)).expanduser(),
    "database_url": _as_url,
    "broker_url": _as_url,
    "payer_url": _as_url,
    "inquiry_url": _as_url,
    "payer_client_id": _as_str,
    "payer_client_secret": _as_str,
    "payer_tin": _as_tin,
    "payer_id": _as_payer_id,
    "alert_webhook": _as_url,
    "alert_urls": _as_url_list,
    "heartbeat_url": _as_url,
    "log_format": _as_log_format,
    "site_name": _as_str,
    "timezone": _as_str,
    "max_upload_bytes": lambda n, v: _as_int(n, v, 1),
    "max_upload_rows": lambda n, v: _as_int(n, v, 1),
    "lease_seconds": lambda n, v: _as_int(n, v, 2),
    "scheduler_lease_seconds": lambda n, v: _as_int(n, v, 2),
    "max_attempts": lambda n, v: _as_int(n, v, 1),
    "payer_concurrency": lambda n, v: _as_int(n, v, 1),
    "payer_rate_per_second": lambda n, v: _as_float(n, v, 0.1),
    "payer_timeout_seconds": lambda n, v: _as_float(n, v, 0.1),
    "payer_hedge_quantile": lambda n, v: _as_fraction(n, v),
    "payer_outage_seconds": lambda n, v: _as_float(n, v, 1.0),
    "refresh_seconds": lambda n, v: _as_float(n, v, 0.1),
    "read_only": _as_bool,
    "metrics_port": _as_port,
    "metrics_host": _as_str,
    "followup_max_claims": lambda n, v: _as_int(n, v, 1),
    "followup_stale_days": lambda n, v: _as_int(n, v, 1),
    "followup_not_found_days": lambda n, v: _as_int(n, v, 1),
    "theme": _as_theme,
    "keys": _as_keymap,
}


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib  # only with CLAIMSOPS_CONFIG: every command loads the settings

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{PREFIX}CONFIG names {path}, which does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{PREFIX}CONFIG file {path} is not valid TOML: {exc}") from None
    section = data.get("claimsops", data)
    known = {f.name for f in fields(Settings)} | {"payer_client_secret_file", *IGNORED}
    unknown = sorted(k for k in section if k.lower() not in known)
    if unknown:
        raise ConfigError(f"{PREFIX}CONFIG file {path} has unknown keys: {', '.join(unknown)}")
    return {k.lower(): v for k, v in section.items() if k.lower() not in IGNORED}


def ignored_settings(environ: Mapping[str, str] | None = None) -> str:
    """The notice to print once when the caller sets a variable that no longer grants
    anything ("" when none is set)."""
    env = os.environ if environ is None else environ
    return IGNORED_NOTICE if any(env.get(f"{PREFIX}{name.upper()}") for name in IGNORED) else ""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the TOML file (if any), then the environment on top."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if env.get(f"{PREFIX}CONFIG"):
        raw.update(_read_toml(env[f"{PREFIX}CONFIG"]))
    for name in _PARSERS:
        key = f"{PREFIX}{name.upper()}"
        if key in env:
            raw[name] = env[key]
    secret_file = env.get(f"{PREFIX}PAYER_CLIENT_SECRET_FILE") or raw.pop("payer_client_secret_file", "")
    if secret_file and "payer_client_secret" not in raw:
        try:
            raw["payer_client_secret"] = Path(secret_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"{PREFIX}PAYER_CLIENT_SECRET_FILE cannot be read: {exc.strerror}"
            ) from None
    values = {name: _PARSERS[name](name, value) for name, value in raw.items() if name in _PARSERS}
    return Settings(**values)
