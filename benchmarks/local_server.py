"""Start the local Asana server for a benchmark and read its request counters.

The server runs in a thread of the benchmark process and binds to 127.0.0.1 only. Benchmarks
restart it before every run, so each run starts with empty request counters and an empty
rate-limit window, on the same generated data (the data depends only on the seed and sizes).
Everything the benchmarks need from the server goes through this module.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


def _sum_counts(counts: object) -> int:
    if isinstance(counts, bool):
        return 0
    if isinstance(counts, int):
        return counts
    if isinstance(counts, dict):
        return sum(_sum_counts(value) for value in counts.values())
    if isinstance(counts, list):
        return sum(_sum_counts(value) for value in counts)
    return 0


@dataclass
class BenchServer:
    """A local Asana server that keeps its token and knobs across restarts."""

    knobs: dict
    token: str = field(default_factory=lambda: "0/" + secrets.token_hex(16))
    server: Any = None

    def restart(self) -> None:
        # Imported here so the target benchmarks run without the server package.
        from tests.asana_server import AsanaServer, ServerConfig

        self.stop()
        self.server = AsanaServer(ServerConfig(token=self.token, **self.knobs))
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _running(self) -> Any:
        if self.server is None:
            raise RuntimeError("the local Asana server is not running; call restart() first")
        return self.server

    @property
    def base_url(self) -> str:
        return self._running().base_url

    @property
    def workspace_gid(self) -> str:
        return self._running().workspace_gid

    @property
    def admin(self):
        return self._running().admin

    def total_requests(self) -> int:
        """Return the number of API requests served since the last restart."""
        return _sum_counts(self._running().admin.counts())

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rate_limit_floor_s(requests: int, rpm: int | None, latency_s: float) -> float:
    """Estimate the shortest wall time in which ``requests`` can pass a sliding-window limit.

    The server admits ``rpm`` requests in any 60-second window, so a client may send the first
    ``rpm`` at once and each further block of ``rpm`` one window later. The last request still
    takes one latency. This is a lower bound that ignores pages which must be fetched in order.
    """
    if not rpm or requests <= 0:
        return latency_s
    return 60.0 * ((requests - 1) // rpm) + latency_s
