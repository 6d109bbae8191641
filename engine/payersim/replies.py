"""A response before it is written, and the error bodies of both surfaces."""

from __future__ import annotations

from dataclasses import dataclass, field

_5XX_TEXT = {
    500: ("Internal server error", "INTERNAL_SERVER_ERROR"),
    502: ("Bad gateway", "BAD_GATEWAY"),
    503: ("Service unavailable", "SERVICE_UNAVAILABLE"),
    504: ("Gateway timeout", "GATEWAY_TIMEOUT"),
}


@dataclass
class Reply:
    status: int
    body: dict | list | str  # JSON, or a text page (str) sent as text/html
    outcome: str = "ok"  # one of stats.OUTCOMES
    code: str = ""  # error code for the counters
    headers: dict[str, str] = field(default_factory=dict)


def lclm(status: int, code: str, text: str, outcome: str = "bad_request") -> Reply:
    """Claims-summary error: {"code": "LCLM_PS_xxx", "message": "[LCLM_PS_xxx] …"}."""
    return Reply(status, {"code": code, "message": f"[{code}] {text}"}, outcome, code)


def gql_error(status: int, code: str, text: str, outcome: str = "bad_request") -> Reply:
    """Claim-inquiry error: {"errors": [{"code": …, "description": …}]}."""
    return Reply(status, {"errors": [{"code": code, "description": text}]}, outcome, code)


def unauthorized(surface: str) -> Reply:
    if surface == "inquiry":
        return gql_error(401, "AUTH_FAILURE", "Invalid or expired token", "auth_401")
    return lclm(401, "401", "Invalid or expired token", "auth_401")


def throttled(retry_after: int | None) -> Reply:
    reply = lclm(429, "429", "Too many requests", "throttled")
    if retry_after is not None:
        reply.headers["Retry-After"] = str(retry_after)
    return reply


def server_error(surface: str, status: int) -> Reply:
    text, gql_code = _5XX_TEXT[status]
    if surface == "inquiry":
        return gql_error(status, gql_code, text, "error_5xx")
    return lclm(status, f"LCLM_PS_{status}", text, "error_5xx")


_HTML = "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>"
# JSON a client of the contract cannot read, per surface
_WRONG_SHAPE: dict[str, dict | list] = {
    "summary": [{"claims": []}],
    "inquiry": {"data": {"searchClaim": ["claims"]}},
}


def malformed(surface: str, kind: str) -> Reply:
    """A 200 whose body is a web page ("html") or JSON of the wrong shape ("shape")."""
    return Reply(200, _HTML if kind == "html" else _WRONG_SHAPE[surface], "malformed")


def echoed(reply: Reply, text: str) -> Reply:
    """`reply` with `text` added to its error message (a payer echoing what it was sent)."""
    body = reply.body
    if isinstance(body, dict) and "message" in body:
        body = {**body, "message": f"{body['message']} ({text})"}
    elif isinstance(body, dict) and isinstance(body.get("errors"), list):
        body = {**body, "errors": [{**e, "description": f"{e.get('description', '')} ({text})"}
                                   for e in body["errors"]]}
    else:
        return reply
    return Reply(reply.status, body, reply.outcome, reply.code, reply.headers)
