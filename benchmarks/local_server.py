"""Start the local Asana server for a benchmark and read its request counters.

The server runs in a thread of the benchmark process and binds to 127.0.0.1 only. Benchmarks
restart it before every run, so each run starts with empty request counters and an empty
rate-limit window, on the same generated data (the data depends only on the seed and sizes).
Everything the benchmarks need from the server goes through this module.
"""

from __future__ import annotations

import random
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


def server_projects_for(workspace_projects: int) -> int:
    """Return the ``projects`` knob that puts ``workspace_projects`` in the organization.

    The server puts one project in four (index 3, 7, 11, ...) in its second, plain workspace.
    """
    total = 0
    while sum(1 for index in range(total) if index % 4 != 3) < workspace_projects:
        total += 1
    return total


@dataclass
class BenchServer:
    """A local Asana server that keeps its token and knobs across restarts.

    Benchmarks use the server's limited token, which can read only the organization workspace, so
    that tools without a workspace setting (tap-asana 2.5.1 reads every workspace it can see)
    extract the same data as the others.
    """

    knobs: dict
    token: str = field(default_factory=lambda: "1/" + secrets.token_hex(16))
    server: Any = None

    def restart(self) -> None:
        # Imported here so the target benchmarks run without the server package.
        from tests.asana_server import AsanaServer, ServerConfig

        self.stop()
        self.server = AsanaServer(ServerConfig(limited_token=self.token, **self.knobs))
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
        return self._running().workspace_gids[0]

    @property
    def admin(self):
        return self._running().admin

    def listed_task_gids(self) -> list[str]:
        """Return gids of the organization's tasks that a project listing returns, sorted."""
        store = self._running().store
        organization = self.workspace_gid
        with store.lock:
            return sorted(
                gid for gid, task in store.tasks.items()
                if (task.get("workspace") or {}).get("gid") == organization and task.get("projects")
            )

    def max_task_pages(self, page_size: int = 100) -> int:
        """Return the page count of the organization project with the most tasks."""
        store = self._running().store
        organization = self.workspace_gid
        with store.lock:
            sizes = [
                len(store.project_tasks.get(gid, ()))
                for gid, project in store.projects.items()
                if project["workspace"]["gid"] == organization
            ]
        return max((-(-size // page_size) for size in sizes), default=0)

    def touch_tasks(self, count: int, seed: int = 6) -> list[str]:
        """Change ``count`` of the organization's listed tasks, picked with a seeded generator."""
        gids = random.Random(seed).sample(self.listed_task_gids(), count)
        return self._running().admin.touch_tasks(gids=gids)

    def total_requests(self) -> int:
        """Return the number of API requests served since the last restart."""
        return _sum_counts(self._running().admin.counts())

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def latency_floor_s(task_pages: int, latency_s: float) -> float:
    """Estimate the shortest wall time allowed by latency alone for a per-project extraction.

    Listing projects takes one request, and the pages of one project follow each other because
    each page's offset comes from the previous one, so even with every project fetched at once
    the run lasts at least ``1 + task_pages`` latencies. This is a lower bound.
    """
    return (1 + task_pages) * latency_s


def rate_limit_floor_s(requests: int, rpm: int | None, latency_s: float) -> float:
    """Estimate the shortest wall time in which ``requests`` can pass a sliding-window limit.

    The server admits ``rpm`` requests in any 60-second window, so a client may send the first
    ``rpm`` at once and each further block of ``rpm`` one window later. The last request still
    takes one latency. This is a lower bound that ignores pages which must be fetched in order.
    """
    if not rpm or requests <= 0:
        return latency_s
    return 60.0 * ((requests - 1) // rpm) + latency_s
