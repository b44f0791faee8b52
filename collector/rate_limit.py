"""Per-IP token buckets for the public write endpoints (docs/api.md#limits): `429 rate_limited`.

Each client address has a bucket of `RATE_LIMIT_BURST` tokens refilled at
`RATE_LIMIT_PER_IP` tokens a second; a request takes one. The client address is the
socket peer, or behind a reverse proxy named in `CONVTRACK_FORWARDED_ALLOW_IPS` the
address it forwards (collector/proxy.py): a client cannot choose its own key.

State lives on the app (one limiter per app instance), bounded: a bucket idle long enough
to be full again is the same as no bucket and is dropped; past `max_buckets` the least
recently seen address loses its bucket (and so starts again with a full burst).

Under `convtrack serve --workers N` each worker process has its own buckets, and the
kernel hands each new connection to any worker: a client gets at most N x the burst at
once and N x the rate sustained (docs/api.md#limits). Sharing buckets would cost every
request a round trip to shared state; the limit is a guard against floods, not a quota.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """`take(key)` → 0 when allowed, else the whole seconds to wait (≥ 1)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = DEFAULT_MAX_BUCKETS,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a limiter needs rate > 0 and burst >= 1 (rate 0 means no limiter)")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_buckets = max_buckets
        # Oldest use first: the idle buckets are at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._refill_time = burst / rate

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> int:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def _make_room(self, now: float) -> None:
        # Drop buckets that have refilled completely: forgetting them changes nothing.
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.updated < self._refill_time:
                break
            del self._buckets[key]
        while len(self._buckets) >= self.max_buckets:
            self._buckets.popitem(last=False)


def limiter_from_settings(rate: float, burst: int) -> TokenBucketLimiter | None:
    """The limiter for these settings; None when `RATE_LIMIT_PER_IP` is 0 (off)."""
    return TokenBucketLimiter(rate, burst) if rate > 0 else None


def install_rate_limit(app) -> None:
    """The app's own limiter on `app.state.rate_limiter` (None when switched off)."""
    settings = app.state.settings
    app.state.rate_limiter = limiter_from_settings(
        settings.rate_limit_per_ip, settings.rate_limit_burst
    )
