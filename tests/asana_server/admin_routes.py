"""The admin API under /_admin: request counts, fault switches, mutations and the snapshot."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from .server import AsanaServer

MUTATIONS = {
    "/tasks/touch": "touch_tasks",
    "/tasks/add": "add_tasks",
    "/tasks/delete": "delete_tasks",
    "/stories/add": "add_stories",
    "/projects/delete": "delete_projects",
}


def handle_admin(
    app: AsanaServer, method: str, path: str, query: str, body: bytes
) -> tuple[int, Any]:
    """Run one admin request; return the status and the JSON payload."""
    try:
        arguments = json.loads(body) if body else {}
    except json.JSONDecodeError as error:
        return 400, _error(f"request body is not valid JSON: {error}")
    if not isinstance(arguments, dict):
        return 400, _error("request body must be a JSON object")
    arguments.update(parse_qsl(query))

    if method == "GET" and path == "/info":
        return 200, app.describe()
    if method == "GET" and path == "/counts":
        with app.counts_lock:
            return 200, dict(app.counts)
    if method in ("POST", "DELETE") and path in ("/counts", "/counts/reset"):
        with app.counts_lock:
            app.counts.clear()
        return 200, {}
    if method == "GET" and path == "/faults":
        return 200, _faults(app)
    if method == "POST" and path == "/faults":
        try:
            app.faults.update(**arguments)
        except ValueError as error:
            return 400, _error(str(error))
        if "rpm" in arguments:
            app.faults.reset_windows()
        return 200, _faults(app)
    if method == "POST" and path == "/settings":
        return _settings(app, arguments)
    if method == "GET" and path == "/snapshot":
        raw_tables = arguments.get("tables")
        tables = None if not raw_tables else str(raw_tables).split(",")
        try:
            # Serializing outside the lock is safe: mutations replace records, never edit them.
            return 200, app.store.snapshot(tables)
        except ValueError as error:
            return 400, _error(str(error))
    if method == "POST" and path in MUTATIONS:
        return _mutate(app, MUTATIONS[path], arguments)
    return 404, _error(f"no admin route for {method} {path}")


def _faults(app: AsanaServer) -> dict[str, Any]:
    return dict(vars(app.faults.settings))


def _settings(app: AsanaServer, arguments: dict[str, Any]) -> tuple[int, Any]:
    unknown = sorted(set(arguments) - {"offset_ttl", "max_unpaginated"})
    if unknown:
        return 400, _error(
            f"unknown setting(s): {', '.join(unknown)}; known: max_unpaginated, offset_ttl"
        )
    if "offset_ttl" in arguments:
        value = arguments["offset_ttl"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return 400, _error(
                f"offset_ttl must be a non-negative number of seconds, got {value!r}"
            )
        app.codec.ttl_seconds = float(value)
    if "max_unpaginated" in arguments:
        value = arguments["max_unpaginated"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return 400, _error(f"max_unpaginated must be a non-negative integer, got {value!r}")
        app.api.max_unpaginated = value
    return 200, {"offset_ttl": app.codec.ttl_seconds, "max_unpaginated": app.api.max_unpaginated}


def _mutate(app: AsanaServer, name: str, arguments: dict[str, Any]) -> tuple[int, Any]:
    allowed = {"count", "gids", "project"}
    if name == "add_tasks":
        allowed = {"count", "project"}
    elif name == "delete_projects":
        allowed = {"gids"}
    unknown = sorted(set(arguments) - allowed)
    if unknown:
        return 400, _error(f"unknown argument(s) {', '.join(unknown)}; known: {sorted(allowed)}")
    count = arguments.get("count", 0)
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return 400, _error(f"count must be a non-negative integer, got {count!r}")
    gids = arguments.get("gids")
    if gids is not None and (
        not isinstance(gids, list) or not all(isinstance(g, str) for g in gids)
    ):
        return 400, _error(f"gids must be a list of strings, got {gids!r}")
    project = arguments.get("project")
    kwargs: dict[str, Any] = {"count": count, "project": project}
    if name != "add_tasks":
        kwargs["gids"] = gids
    if name == "delete_projects":
        if gids is None:
            return 400, _error("gids is required: the projects to delete")
        kwargs = {"gids": gids}
    try:
        changed = getattr(app.store, name)(**kwargs)
    except KeyError as error:
        return 404, _error(str(error.args[0]))
    except ValueError as error:
        return 400, _error(str(error))
    return 200, {"gids": changed}


def _error(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}
