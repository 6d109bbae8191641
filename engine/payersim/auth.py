"""OAuth 2.0 client credentials: the token endpoint and bearer-token checks."""

from __future__ import annotations

import base64
import hmac
import math
import secrets
import threading
import time
from urllib.parse import parse_qs

from engine.payersim.config import SimConfig
from engine.payersim.replies import Reply


class TokenStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self, lifetime_s: float) -> str:
        token = secrets.token_hex(24)
        now = time.monotonic()
        with self._lock:
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
            self._expiry[token] = now + lifetime_s
        return token

    def valid(self, authorization: str | None) -> bool:
        """True for `Bearer <token>` with a live token."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        with self._lock:
            expiry = self._expiry.get(token.strip())
        return expiry is not None and expiry > time.monotonic()

    def revoke_all(self) -> None:
        with self._lock:
            self._expiry.clear()


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return None
    return user, password


def token_reply(body: bytes, authorization: str | None, cfg: SimConfig, store: TokenStore) -> Reply:
    """POST /v1/oauthtoken with a form body (client id/secret in the body or HTTP Basic)."""
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        form = {}
    if form.get("grant_type") != "client_credentials":
        return Reply(400, {"error": "unsupported_grant_type",
                           "error_description": "grant_type must be client_credentials"},
                     "bad_request", "unsupported_grant_type")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    basic = _basic_credentials(authorization)
    if basic and not client_id:
        client_id, secret = basic
    ok = hmac.compare_digest(client_id.encode(), cfg.client_id.encode()) and hmac.compare_digest(
        secret.encode(), cfg.client_secret.encode()
    )
    if not ok:
        return Reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"},
                     "auth_401", "invalid_client")
    token = store.issue(cfg.token_lifetime_s)
    expires_in = max(1, math.ceil(cfg.token_lifetime_s))
    return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in})
