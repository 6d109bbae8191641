"""The Prometheus `/metrics` endpoint as one of a process's services (workers.service): started by
`claimsops metrics`, and by `up`, `worker` and `scheduler` when CLAIMSOPS_METRICS_PORT is set."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from prometheus_client import start_http_server

from engine.config import Settings
from engine.errors import OperatorError
from engine.metrics_export import LimiterReader, registry_for
from engine.sandbox import payer_settings
from workers.payer_limits import payer_key, shared_limits_state
from workers.service import Process, Stop


class MetricsPortError(OperatorError):
    pass


def metrics_service(host: str, port: int) -> Callable[[Process], Stop]:
    def start(process: Process) -> Stop:
        try:
            registry = registry_for(process.db, process.settings, limiter_reader(process.settings))
            server, thread = start_http_server(port, host, registry=registry)
        except OSError as exc:
            raise MetricsPortError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or type(exc).__name__}",
                "choose another port (--port or CLAIMSOPS_METRICS_PORT)") from None
        process.log.info("serving Prometheus metrics at http://%s:%d/metrics", host, server.server_port)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop

    return start


def limiter_reader(settings: Settings) -> LimiterReader | None:
    """The shared limiter's live state, read from Redis: in production with a configured payer
    (each process's sandbox payer has a limiter of its own, under a name only that process knows)."""
    if not settings.broker_url.startswith("redis") or settings.sandbox:
        return None
    key = payer_key(payer_settings(settings).summary_url)
    return functools.partial(shared_limits_state, settings.broker_url, key)


def with_metrics(settings: Settings, services: Sequence[Callable[[Process], Stop]]) -> list[Callable[[Process], Stop]]:
    """The services, with the metrics endpoint first (stopped last) when CLAIMSOPS_METRICS_PORT is set."""
    if not settings.metrics_port:
        return list(services)
    return [metrics_service(settings.metrics_host, settings.metrics_port), *services]
