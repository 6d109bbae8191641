"""Knobs of the payer simulator and its latency distribution."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

# Real-payer latency shape (payer-api.md section 5: ~1.5 s median, 5 s p95, 14 s p99):
# a lognormal body plus a 4 % heavy tail. Mixture quantiles: p50 1.50 s, p95 5.01 s, p99 14.0 s.
LATENCY_BODY_MEDIAN_S = 1.46
LATENCY_BODY_SIGMA = 0.56
LATENCY_TAIL_WEIGHT = 0.04
LATENCY_TAIL_MEDIAN_S = 10.0
LATENCY_TAIL_SIGMA = 0.5
LATENCY_MAX_S = 120.0  # before scaling

_NORMAL = NormalDist()


def sample_latency(rng: random.Random, scale: float = 1.0) -> float:
    """One data-call delay in seconds: the real-payer shape times `scale` (0 = none)."""
    if scale <= 0:
        return 0.0
    if rng.random() < LATENCY_TAIL_WEIGHT:
        value = rng.lognormvariate(math.log(LATENCY_TAIL_MEDIAN_S), LATENCY_TAIL_SIGMA)
    else:
        value = rng.lognormvariate(math.log(LATENCY_BODY_MEDIAN_S), LATENCY_BODY_SIGMA)
    return min(value, LATENCY_MAX_S) * scale


def latency_cdf(seconds: float) -> float:
    """P(delay <= seconds) at scale 1.0 (closed form of the mixture)."""
    if seconds <= 0:
        return 0.0
    body = _NORMAL.cdf(math.log(seconds / LATENCY_BODY_MEDIAN_S) / LATENCY_BODY_SIGMA)
    tail = _NORMAL.cdf(math.log(seconds / LATENCY_TAIL_MEDIAN_S) / LATENCY_TAIL_SIGMA)
    return (1 - LATENCY_TAIL_WEIGHT) * body + LATENCY_TAIL_WEIGHT * tail


@dataclass
class SimConfig:
    """Everything a test or an operator may turn. Change it at runtime through
    `PayerSimulator.configure(**changes)` (atomic swap) or by setting attributes."""

    seed: int = 0
    today: date = field(default_factory=date.today)
    # Data set built by the simulator when none is given.
    tin_count: int = 4
    claims_per_month: int = 90
    dense_tin_count: int = 1
    dense_claims_per_month: int = 600
    # Contract rules (payer-api.md sections 2 and 5).
    window_limit_days: int = 31
    page_size: int = 50
    search_cap: int = 500
    lookback_months: int = 24
    token_lifetime_s: float = 3600.0
    page_token_ttl_s: float = 300.0
    client_id: str = "claimsops-sandbox"
    client_secret: str = "sandbox-secret"
    unsupported_claim_numbers: frozenset[str] = frozenset()
    # Faults, applied to data calls (summary and inquiry), never to the token endpoint.
    latency_scale: float = 0.0
    fixed_latency_s: float | None = None
    error_rate_5xx: float = 0.0
    timeout_rate: float = 0.0
    timeout_hang_s: float = 30.0
    max_in_flight: int | None = None
    # A 200 answer the client cannot read, to every data call of `malformed_surfaces`:
    # "html" (a proxy's page) or "shape" (JSON of another shape); "" answers well.
    malformed: str = ""
    malformed_surfaces: frozenset[str] = frozenset({"summary", "inquiry"})
    down: bool = False  # every request, the token endpoint's too, answers 503
    # Text the payer echoes into every error message it writes (e.g. what it was sent).
    echo_in_errors: str = ""
