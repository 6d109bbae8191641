"""Log-spaced latency buckets for the per-minute histograms (`metric_buckets`).

Bucket b holds values in [FLOOR·RATIO^b, FLOOR·RATIO^(b+1)): each bucket is 4 % wide, and its
representative value (the geometric middle) is within 2 % of every value it holds. Values at
or below FLOOR (0.1 ms) fall in bucket 0, values above ~4 h in the last bucket.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

RATIO = 1.04
FLOOR = 1e-4  # seconds
LAST = 650  # FLOOR · RATIO^650 ≈ 12,700 s
_LOG_RATIO = math.log(RATIO)


def bucket_of(value: float) -> int:
    """The bucket index of a value (seconds)."""
    if not value > FLOOR:  # also catches NaN
        return 0
    return min(LAST, int(math.log(value / FLOOR) / _LOG_RATIO))


def bucket_value(bucket: int) -> float:
    """The representative value of a bucket: the geometric middle of its bounds."""
    return FLOOR * RATIO ** (bucket + 0.5)


def percentiles(counts: Iterable[tuple[int, int]], qs: Iterable[float]) -> list[float | None]:
    """Nearest-rank percentiles from (bucket, count) pairs: the representative value of the
    bucket holding rank round(q·(n−1)), so within 2 % of that exact order statistic."""
    ordered = sorted((b, c) for b, c in counts if c > 0)
    total = sum(c for _, c in ordered)
    out: list[float | None] = []
    for q in qs:
        if not total:
            out.append(None)
            continue
        rank = min(total - 1, int(q * (total - 1) + 0.5))
        seen = 0
        for bucket, count in ordered:
            seen += count
            if seen > rank:
                out.append(bucket_value(bucket))
                break
    return out
