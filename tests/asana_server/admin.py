"""HTTP client for the admin API, usable against an in-process or a standalone server."""

from __future__ import annotations

import json
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen


class AdminError(RuntimeError):
    """An admin request that the server rejected, with the server's message."""


class AdminClient:
    """Client for `/_admin` on a running server, given its root URL (`http://127.0.0.1:PORT`)."""

    def __init__(self, root_url: str, timeout: float = 60.0) -> None:
        if not root_url.startswith(("http://", "https://")):
            raise ValueError(
                f"root_url must be an http:// URL such as http://127.0.0.1:8080, got {root_url!r}"
            )
        self.root_url = root_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        # The scheme was checked in __init__, so this never opens a file: URL.
        request = Request(  # noqa: S310
            f"{self.root_url}/_admin{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (local URL)
                return json.loads(response.read())
        except HTTPError as error:
            body = error.read()
            try:
                message = json.loads(body)["errors"][0]["message"]
            except (ValueError, KeyError, IndexError, TypeError):
                message = body.decode(errors="replace")
            raise AdminError(f"admin {method} {path} failed with {error.code}: {message}") from None

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/info")

    def counts(self) -> dict[str, int]:
        """Return API request counts per route template, such as `GET /tasks`."""
        return self._call("GET", "/counts")

    def reset_counts(self) -> None:
        self._call("POST", "/counts/reset", {})

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault settings and return all of them.

        The names are latency_ms, rpm, rate_window_seconds, retry_after, max_concurrent, p500,
        p503 and p_drop.
        """
        return self._call("POST", "/faults", changes)

    def set_settings(self, **changes: Any) -> dict[str, Any]:
        """Change offset_ttl (seconds) or max_unpaginated at run time."""
        return self._call("POST", "/settings", changes)

    def touch_tasks(
        self, count: int = 0, gids: list[str] | None = None, project: str | None = None
    ) -> list[str]:
        """Rename `count` random tasks (or `gids`) and set their modified_at to now."""
        return self._mutate("/tasks/touch", count=count, gids=gids, project=project)

    def add_tasks(self, count: int, project: str | None = None) -> list[str]:
        return self._mutate("/tasks/add", count=count, project=project)

    def delete_tasks(
        self, count: int = 0, gids: list[str] | None = None, project: str | None = None
    ) -> list[str]:
        return self._mutate("/tasks/delete", count=count, gids=gids, project=project)

    def delete_projects(self, gids: list[str]) -> list[str]:
        """Delete projects with their sections; tasks in no other project go with them."""
        return self._mutate("/projects/delete", gids=gids)

    def add_stories(
        self, count: int = 0, gids: list[str] | None = None, project: str | None = None
    ) -> list[str]:
        """Add a comment to `count` random tasks (or `gids`); return the new story gids."""
        return self._mutate("/stories/add", count=count, gids=gids, project=project)

    def snapshot(self, tables: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Return the ground truth of `tables` (default: all eight), such as `["projects"]`."""
        query = f"?tables={','.join(tables)}" if tables else ""
        return self._call("GET", f"/snapshot{query}")

    def _mutate(self, path: str, **arguments: Any) -> list[str]:
        payload = {k: v for k, v in arguments.items() if v is not None}
        return self._call("POST", path, payload)["gids"]
