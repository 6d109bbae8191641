"""The sandbox payer: both surfaces of payer-api.md on one HTTP/1.1 base URL, with faults."""

from __future__ import annotations

import dataclasses
import random
import signal
import socket
import threading
import time
from datetime import date, timedelta
from typing import Any

from engine.payersim.auth import TokenStore, token_reply
from engine.payersim.config import SimConfig, sample_latency
from engine.payersim.dataset import Dataset
from engine.payersim.inquiry import inquiry_reply
from engine.payersim.paging import PageStore
from engine.payersim.replies import Reply, echoed, malformed, server_error, throttled, unauthorized
from engine.payersim.stats import SimStats, StatsSnapshot
from engine.payersim.summary import summary_reply
from engine.payersim.transport import SimHandler, SimHTTPServer

TOKEN_PATH = "/v1/oauthtoken"
SUMMARY_PATH = "/Claims/api/claim/summary/byprovider/v2.0"
INQUIRY_PATH = "/oihub/claim/inquiry/v1"
_ROUTES = {TOKEN_PATH: ("POST", "token"), SUMMARY_PATH: ("GET", "summary"), INQUIRY_PATH: ("POST", "inquiry")}
_5XX = (500, 502, 503, 504)


class PayerSimulator:
    """`PayerSimulator(config).start()`; `.url` is the base URL of both surfaces."""

    def __init__(self, config: SimConfig | None = None, dataset: Dataset | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        if config is None:
            config = SimConfig(seed=dataset.seed, today=dataset.today) if dataset else SimConfig()
        self._config = config
        self.dataset = dataset or Dataset.generate(
            config.seed, config.today, tin_count=config.tin_count,
            claims_per_month=config.claims_per_month, dense_tin_count=config.dense_tin_count,
            dense_claims_per_month=config.dense_claims_per_month,
        )
        self.stats = SimStats()
        self.tokens = TokenStore()
        self.pages = PageStore()
        self._rng = random.Random(config.seed)
        self._lock = threading.Lock()  # rng, throttle state, config swaps
        self._throttle_until = 0.0
        self._throttle_retry_after: int | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server = SimHTTPServer((host, port), SimHandler)
        self._server.sim = self
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> PayerSimulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="payer-sim", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Returns promptly: sleeping requests wake up and drop their connections."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()

    def __enter__(self) -> PayerSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # --- runtime knobs ---------------------------------------------------------------------

    @property
    def config(self) -> SimConfig:
        return self._config

    def configure(self, **changes: Any) -> SimConfig:
        """Swap in a copy of the config with `changes`; a new `seed` reseeds the fault rng."""
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            if "seed" in changes:
                self._rng.seed(changes["seed"])
            return self._config

    def advance_days(self, days: int) -> date:
        """Move the payer's clock `days` forward (claims pending get decided as their days
        come); returns the payer's new today."""
        return self.configure(today=self._config.today + timedelta(days=days)).today

    def throttle_for(self, seconds: float, retry_after: int | None = None) -> None:
        """Answer every data call with 429 for `seconds` from now (with `Retry-After` if given)."""
        with self._lock:
            self._throttle_until = time.monotonic() + seconds
            self._throttle_retry_after = retry_after

    def stop_throttle(self) -> None:
        with self._lock:
            self._throttle_until = 0.0

    def revoke_tokens(self) -> None:
        """Every issued token becomes invalid (the next data call gets 401)."""
        self.tokens.revoke_all()

    def expire_pages(self) -> None:
        """Every issued transactionId becomes unknown (LCLM_PS_203)."""
        self.pages.expire_all()

    def snapshot(self) -> StatsSnapshot:
        return self.stats.snapshot()

    def reset_stats(self) -> None:
        self.stats.reset()

    # --- requests --------------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply | None:
        route = _ROUTES.get(path)
        endpoint = route[1] if route else "other"
        self.stats.request(endpoint)
        cfg = self._config
        if cfg.down:
            reply = Reply(503, {"code": "503", "message": "[503] Service unavailable"}, "down", "503")
        elif route is None:
            reply = Reply(404, {"code": "404", "message": "[404] No such resource"}, "bad_request", "404")
        elif route[0] != method:
            reply = Reply(405, {"code": "405", "message": "[405] Method not allowed"}, "bad_request", "405")
        elif endpoint == "token":
            reply = token_reply(body, headers.get("Authorization"), self._config, self.tokens)
        else:
            reply = self._data_call(endpoint, headers, body)
        if reply is not None and cfg.echo_in_errors:
            reply = echoed(reply, cfg.echo_in_errors)
        if reply is not None:
            self.stats.outcome(endpoint, reply.outcome, reply.code)
        return reply

    def _draw(self, cfg: SimConfig) -> tuple[bool, float, int | None]:
        """(stall?, delay seconds, injected 5xx status) from the seeded rng."""
        with self._lock:
            rng = self._rng
            stall = cfg.timeout_rate > 0 and rng.random() < cfg.timeout_rate
            if cfg.fixed_latency_s is not None:
                delay = cfg.fixed_latency_s
            else:
                delay = sample_latency(rng, cfg.latency_scale)
            fail = rng.choice(_5XX) if cfg.error_rate_5xx > 0 and rng.random() < cfg.error_rate_5xx else None
            return stall, delay, fail

    def _throttle_state(self) -> tuple[bool, int | None]:
        with self._lock:
            return time.monotonic() < self._throttle_until, self._throttle_retry_after

    def _data_call(self, endpoint: str, headers: Any, body: bytes) -> Reply | None:
        cfg = self._config
        in_flight = self.stats.data_started()
        try:
            if cfg.max_in_flight is not None and in_flight > cfg.max_in_flight:
                return throttled(None)
            active, retry_after = self._throttle_state()
            if active:
                return throttled(retry_after)
            if not self.tokens.valid(headers.get("Authorization")):
                return unauthorized(endpoint)
            stall, delay, fail = self._draw(cfg)
            if stall:
                self.stats.outcome(endpoint, "stalled")
                if self._stopping.wait(cfg.timeout_hang_s):
                    return None
            if delay > 0 and self._stopping.wait(delay):
                return None
            if fail is not None:
                return server_error(endpoint, fail)
            if cfg.malformed and endpoint in cfg.malformed_surfaces:
                return malformed(endpoint, cfg.malformed)
            if endpoint == "summary":
                return summary_reply(headers, self.dataset, cfg, self.pages)
            return inquiry_reply(headers, body, self.dataset, cfg)
        finally:
            self.stats.data_finished()


def run_forever(host: str = "127.0.0.1", port: int = 8800, config: SimConfig | None = None,
                dataset: Dataset | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, after printing one line (never the secret)."""
    sim = PayerSimulator(config, dataset=dataset, host=host, port=port).start()
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    ds = sim.dataset
    tins = ", ".join(f"{t} (dense)" if t in ds.dense_tins else t for t in ds.tins)
    if ds.bulk_tins:
        tins += f"; bulk {ds.bulk_tins[0]}–{ds.bulk_tins[-1]}"
    print(f"payer-sim listening on {sim.url} (client_id={sim.config.client_id}, TINs: {tins})", flush=True)
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
