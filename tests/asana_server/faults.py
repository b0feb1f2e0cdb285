"""Rate limits, concurrency limits and injected failures, per token."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict, deque

from .config import FaultSettings

RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. "
    "Please retry after the given amount of time."
)
# Retry-After sent when the concurrent-request limit rejects a request: long enough for requests
# in flight to finish at this server's latencies.
CONCURRENCY_RETRY_AFTER = 1

PHRASE_WORDS = (
    ["sad", "happy", "sleepy", "brave", "quiet", "fuzzy", "gentle", "wild"],
    ["squid", "otter", "panda", "heron", "lynx", "koala", "walrus", "gecko"],
    ["snuggle", "dance", "wander", "ponder", "giggle", "hum", "drift", "paddle"],
    ["softly", "boldly", "slowly", "swiftly", "happily", "sweetly", "calmly", "oddly"],
)


class Rejection(Exception):
    """A request turned away by a limit or an injected failure, with the status to send."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        phrase: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.phrase = phrase


class FaultInjector:
    """Apply the current FaultSettings to each API request.

    The rate limit counts every request in a sliding window of `rate_window_seconds` (60 by
    default), rejected ones included, as Asana documents. Random draws come from one RNG seeded
    by the server seed.
    """

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._rng = random.Random(seed * 104_729 + 3)  # noqa: S311 (reproducible faults)
        self._history: dict[str, deque[float]] = defaultdict(deque)
        self._in_flight: dict[str, int] = defaultdict(int)

    def update(self, **changes: object) -> None:
        with self._lock:
            self.settings.update(**changes)

    def reset_windows(self) -> None:
        with self._lock:
            self._history.clear()

    def admit(self, token: str) -> None:
        """Apply the rate and concurrency limits; raise Rejection or count the request in flight.

        A request that returns normally must be followed by `release(token)`.
        """
        settings = self.settings
        with self._lock:
            now = time.monotonic()
            if settings.rpm:
                history = self._history[token]
                window = settings.rate_window_seconds
                while history and history[0] <= now - window:
                    history.popleft()
                history.append(now)
                if len(history) > settings.rpm:
                    # The next request fits once all but rpm - 1 entries have left the window,
                    # so wait for the entry at index len - rpm to expire.
                    blocking = history[len(history) - settings.rpm]
                    wait = max(1, math.ceil(blocking + window - now))
                    raise self._too_many(wait)
            if self._in_flight[token] >= settings.max_concurrent:
                raise self._too_many(CONCURRENCY_RETRY_AFTER)
            self._in_flight[token] += 1

    def release(self, token: str) -> None:
        with self._lock:
            self._in_flight[token] -= 1

    def _too_many(self, wait_seconds: int) -> Rejection:
        headers = {"Retry-After": str(wait_seconds)} if self.settings.retry_after else {}
        return Rejection(429, RATE_LIMIT_MESSAGE, headers)

    def delay(self) -> None:
        if self.settings.latency_ms:
            time.sleep(self.settings.latency_ms / 1000)

    def maybe_fail(self) -> None:
        """Raise a 500 or 503 Rejection with the configured probabilities."""
        settings = self.settings
        if not settings.p500 and not settings.p503:
            return
        with self._lock:
            roll = self._rng.random()
            words = " ".join(self._rng.choice(choices) for choices in PHRASE_WORDS)
            phrase = f"{self._rng.randrange(2, 99)} {words}"
        if roll < settings.p500:
            raise Rejection(500, "Server Error", phrase=phrase)
        if roll < settings.p500 + settings.p503:
            raise Rejection(503, "Service Unavailable: the API is temporarily unavailable.")

    def should_drop(self) -> bool:
        if not self.settings.p_drop:
            return False
        with self._lock:
            return self._rng.random() < self.settings.p_drop
