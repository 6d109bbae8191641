"""Health checks and alerts: each check's states, alerts on changes only, and the webhook and
an Apprise json:// destination (a local HTTP server) receiving one alert when a check fails and
one recovery when it passes; the heartbeat pinged after every run."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine import alerts, health
from engine.models import Alert, HealthState
from engine.tasks.body import OK, WARN, TaskContext
from engine.tasks.healthcheck import health_check_alert
from tests.conftest import NO_REDIS, REDIS_URL


class _Server:
    """A loopback HTTP server: a fake payer token endpoint and a webhook receiver."""

    def __init__(self) -> None:
        self.payer_status = 200
        self.posts: list[dict] = []  # the legacy webhook's
        self.apprise: list[dict] = []  # what Apprise's json:// destination sent to /apprise/…
        self.pings: list[str] = []  # heartbeat GETs, by path
        self.delay = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.pings.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v1/oauthtoken":
                    status = outer.payer_status
                    reply = {"access_token": "tok-secret", "expires_in": 3600} if status == 200 else {}
                elif self.path.startswith("/apprise/"):
                    time.sleep(outer.delay)
                    outer.apprise.append(json.loads(body))
                    status, reply = 200, {"ok": True}
                else:
                    outer.posts.append(json.loads(body))
                    status, reply = 200, {"ok": True}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _closed_port() -> str:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = srv.server_address[1]
    srv.server_close()
    return f"http://127.0.0.1:{port}"


def test_default_embedded_sandbox_setup_is_healthy(db, settings) -> None:
    results = health.run_checks(db, settings)
    assert [r.name for r in results] == list(health.CHECKS)
    assert {r.state for r in results} == {health.OK}, results
    assert health.overall(results) == health.HEALTHY
    assert results[0].latency_ms is not None


def test_unreachable_broker_and_no_workers_are_failing(sqlite_db, settings) -> None:
    bad = replace(settings, broker_url="redis://:hunter2@127.0.0.1:1/0")
    broker = health.check_broker(bad)
    assert broker.state == health.FAILING
    assert "127.0.0.1:1" in broker.detail and "hunter2" not in broker.detail
    assert health.check_workers(sqlite_db, bad).state == health.FAILING
    assert health.overall(health.run_checks(sqlite_db, bad)) == health.UNHEALTHY


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason=NO_REDIS)
def test_a_live_redis_broker_answers(settings) -> None:
    result = health.check_broker(replace(settings, broker_url=REDIS_URL))
    assert result.state == health.OK and "answered PING" in result.detail and result.latency_ms is not None


def test_payer_check_requests_a_token(settings, server: _Server) -> None:
    payer = replace(settings, payer_url=server.url, payer_client_id="id", payer_client_secret="s3cret")
    ok = health.check_payer(payer)
    assert ok.state == health.OK and ok.latency_ms is not None and "tok-secret" not in ok.detail
    server.payer_status = 401
    refused = health.check_payer(payer)
    assert refused.state == health.FAILING and "refused the client credentials" in refused.detail
    server.payer_status = 429
    assert health.check_payer(payer).state == health.DEGRADED
    gone = health.check_payer(replace(payer, payer_url=_closed_port()))
    assert gone.state == health.FAILING and "unreachable" in gone.detail


def test_disk_thresholds(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    gib = 1024**3

    def usage(total: float, free: float) -> None:
        monkeypatch.setattr(health.shutil, "disk_usage", lambda _p: SimpleNamespace(total=total, free=free, used=0))

    usage(100 * gib, 50 * gib)
    assert health.check_disk(settings).state == health.OK
    usage(100 * gib, 8 * gib)
    assert health.check_disk(settings).state == health.DEGRADED
    usage(20 * gib, 1.5 * gib)
    assert health.check_disk(settings).state == health.DEGRADED
    usage(1000 * gib, 1.5 * gib)
    assert health.check_disk(settings).state == health.FAILING
    usage(100 * gib, 0.4 * gib)
    assert health.check_disk(settings).state == health.FAILING


def test_webhook_gets_one_alert_and_one_recovery(db, settings, server: _Server, caplog) -> None:
    caplog.set_level(logging.INFO)
    configured = replace(settings, payer_url=server.url, payer_client_id="id", payer_client_secret="s3cret",
                         alert_webhook=server.url + "/hooks/T000/B000/XXXX", site_name="claimsops-test")
    ctx = TaskContext(db, configured)

    assert health_check_alert(ctx) == (OK, "all 6 checks ok")
    server.payer_status = 503
    outcome, summary = health_check_alert(ctx)
    assert outcome == WARN and summary == "payer failing; 1 alert raised (1/1 sent to the webhook)"
    assert health_check_alert(ctx) == (WARN, "payer failing")  # still failing: no new alert
    server.payer_status = 200
    assert health_check_alert(ctx)[1] == "all 6 checks ok; 1 recovery (1/1 sent to the webhook)"
    assert health_check_alert(ctx) == (OK, "all 6 checks ok")

    assert [p["kind"] for p in server.posts] == ["alert", "recovery"]
    alert, recovery = server.posts
    assert alert["text"].startswith("[claimsops-test] ALERT: payer is failing:")
    assert "HTTP 503" in alert["text"] and (alert["check"], alert["state"]) == ("payer", "failing")
    assert recovery["text"].startswith("[claimsops-test] RECOVERED: payer is ok again after")
    with db.read() as session:
        rows = list(session.scalars(select(Alert).order_by(Alert.id)))
        state = session.get(HealthState, "payer")
    assert [(a.check, a.kind) for a in rows] == [("payer", "alert"), ("payer", "recovery")]
    assert all(a.resolved_at is not None for a in rows)
    assert state.state == "ok" and alerts.open_alerts(db) == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].getMessage().startswith("ALERT: payer is failing")
    # our lines never carry the webhook URL (httpx's own INFO lines are silenced by setup_logging)
    assert all("hooks/T000" not in r.getMessage() for r in caplog.records if r.name.startswith("claimsops"))


def test_a_dead_webhook_is_logged_never_fatal(db, settings, caplog) -> None:
    caplog.set_level(logging.WARNING)
    hook = _closed_port() + "/hooks/secret-token"
    bad = replace(settings, broker_url="redis://127.0.0.1:1/0", alert_webhook=hook)
    outcome, summary = health_check_alert(TaskContext(db, bad))
    assert outcome == WARN
    assert summary == "broker failing, workers failing; 2 alerts raised (0/2 sent to the webhook)"
    failures = [r.getMessage() for r in caplog.records if "alert webhook failed" in r.getMessage()]
    assert failures == ["alert webhook failed: ConnectError"] * 2
    assert all("secret-token" not in r.getMessage() for r in caplog.records if r.name.startswith("claimsops"))
    assert len(alerts.open_alerts(db)) == 2


def _our_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured line but the HTTP clients' debug and info lines, which setup_logging keeps
    out (Apprise's own lines never propagate)."""
    quiet = ("httpx", "httpcore", "urllib3")
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING or not r.name.startswith(quiet)]


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def test_apprise_destination_webhook_and_heartbeat_see_each_change_once(db, settings, server: _Server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    port = _port(server.url)
    configured = replace(
        settings, payer_url=server.url, payer_client_id="id", payer_client_secret="s3cret",
        alert_webhook=server.url + "/hooks/T000/B000/XXXX", site_name="claimsops-test",
        alert_urls=(f"json://127.0.0.1:{port}/apprise/tok3nPath",),
        heartbeat_url=server.url + "/ping/5bf66975-uuid",
    )
    ctx = TaskContext(db, configured)
    health_check_alert(ctx)
    server.payer_status = 503
    health_check_alert(ctx)
    health_check_alert(ctx)  # still failing: no new alert
    server.payer_status = 200
    health_check_alert(ctx)
    health_check_alert(ctx)

    assert [p["kind"] for p in server.posts] == ["alert", "recovery"]
    assert [(m["type"], m["title"]) for m in server.apprise] == [
        ("failure", "[claimsops-test] payer failing"), ("success", "[claimsops-test] payer ok"),
    ]
    assert server.apprise[0]["message"].startswith("ALERT: payer is failing:")
    assert server.apprise[1]["message"].startswith("RECOVERED: payer is ok again after")
    ping = "/ping/5bf66975-uuid"
    assert server.pings == [ping, ping + "/fail", ping + "/fail", ping, ping]
    for secret in ("tok3nPath", "5bf66975", "hooks/T000", "s3cret"):
        assert all(secret not in m for m in _our_lines(caplog)), secret


def test_a_dead_destination_and_heartbeat_are_logged_without_tokens_and_never_block(db, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    dead = _closed_port()
    bad = replace(
        settings, broker_url="redis://127.0.0.1:1/0",
        alert_urls=(f"json://user:pa55word@127.0.0.1:{_port(dead)}/hooks/secret-token?token=qu3ry",
                    "nosuchservice://T0SLACKTOK/B0SLACKTOK"),
        heartbeat_url=dead + "/ping/secret-uuid",
    )
    started = time.monotonic()
    outcome, summary = health_check_alert(TaskContext(db, bad))
    assert time.monotonic() - started < 5
    assert outcome == WARN and summary == "broker failing, workers failing; 2 alerts raised"
    lines = _our_lines(caplog)
    assert [m for m in lines if m.startswith("alert destination json:")] == [
        "alert destination json://127.0.0.1 failed: broker alert not delivered",
        "alert destination json://127.0.0.1 failed: workers alert not delivered",
    ]
    assert "heartbeat http://127.0.0.1 failed: ConnectError" in lines
    assert "alert destination nosuchservice:// is not a URL Apprise knows" in lines
    for secret in ("secret-token", "qu3ry", "pa55word", "user:", "secret-uuid", "SLACKTOK"):
        assert all(secret not in m for m in lines), secret


def test_a_slow_destination_holds_the_run_up_only_so_long(server: _Server, caplog) -> None:
    server.delay = 3.0
    event = alerts.AlertEvent("disk", alerts.ALERT, health.DEGRADED, None, "ALERT: disk is degraded: low")
    started = time.monotonic()
    alerts.send_to_destinations([f"json://127.0.0.1:{_port(server.url)}/apprise/slow"], "site", [event], bound=0.5)
    assert time.monotonic() - started < 2
    assert [r.getMessage() for r in caplog.records] == ["alert destination json://127.0.0.1 did not answer within 0 s"]


def test_destination_names_keep_tokens_out() -> None:
    assert alerts.destination_name("jsons://u:p@hooks.example.com:8443/a/b?x=1") == "jsons://hooks.example.com"
    assert alerts.destination_name("pagerduty://integrationkey@apikey/") == "pagerduty://"
    assert alerts.destination_name("no-scheme-token") == "a malformed URL"


def test_site_status(db) -> None:
    from tests.console.data import add_alert

    status = alerts.site_status(db)
    assert status.open_alerts == 0 and status.live_workers == 0 and status.db_latency_ms >= 0
    add_alert(db)
    assert alerts.site_status(db).open_alerts == 1


def test_alert_pages(db) -> None:
    assert alerts.site_status(db).newest_alert_id == 0
    alerts.record(db, [health.CheckResult("disk", health.DEGRADED, "low")])
    alerts.record(db, [health.CheckResult("disk", health.OK, "fine")])
    first, second = (a.id for a in reversed(alerts.recent_alerts(db)))
    assert alerts.site_status(db).newest_alert_id == second
    assert [a.kind for a in alerts.alerts_after(db, 0)] == ["alert", "recovery"]  # oldest first
    assert [a.id for a in alerts.alerts_after(db, first)] == [second]
    assert alerts.alerts_by_ids(db, [first, 999])[first].resolved_at is not None


def test_alerts_containing_a_text(db) -> None:
    alerts.record(db, [health.CheckResult("disk", health.DEGRADED, "low on space")])
    alerts.record(db, [health.CheckResult("workers", health.FAILING, "no workers alive")])
    (workers,) = alerts.recent_alerts(db, text="WORKERS")  # the check or the message, case ignored
    assert workers.check == "workers"
    (disk,) = alerts.recent_alerts(db, text="on spa")
    assert disk.check == "disk"
    assert alerts.recent_alerts(db, text="d_sk") == [] and alerts.recent_alerts(db, text="%") == []  # literal
    assert [a.check for a in alerts.alerts_after(db, 0, text="disk")] == ["disk"]
    assert [a.id for a in alerts.alerts_after(db, disk.id, text="work")] == [workers.id]
