"""The Dramatiq broker: Redis when CLAIMSOPS_BROKER_URL is set, else the in-process StubBroker
(safe as the embedded default because the database re-dispatches whatever it held)."""

from __future__ import annotations

import uuid

import dramatiq
from dramatiq.broker import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO

from engine.config import Settings

QUEUE = "claimsops"
NAMESPACE = "claimsops"


def build_broker(settings: Settings) -> Broker:
    if settings.broker_url:
        broker: Broker = RedisBroker(url=settings.broker_url, namespace=NAMESPACE)
    else:
        broker = StubBroker()
    broker.add_middleware(AsyncIO())
    dramatiq.set_broker(broker)
    return broker


def broker_epoch(broker: Broker) -> str:
    """Changes whenever the broker may have lost its messages: the Redis server's run_id, or a new
    id for every in-process broker."""
    if isinstance(broker, RedisBroker):
        return "redis:" + str(broker.client.info("server")["run_id"])
    epoch = getattr(broker, "_claimsops_epoch", None)
    if epoch is None:
        epoch = f"stub:{uuid.uuid4().hex}"
        broker._claimsops_epoch = epoch  # type: ignore[attr-defined]
    return epoch


def queue_length(broker: Broker) -> int:
    if isinstance(broker, RedisBroker):
        return int(broker.client.hlen(f"{NAMESPACE}:{QUEUE}.msgs"))
    if isinstance(broker, StubBroker):
        queue = broker.queues.get(QUEUE)
        return queue.qsize() if queue is not None else 0
    return 0
