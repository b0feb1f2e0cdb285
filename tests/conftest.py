"""Shared fixtures: local Asana servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.asana_server import AsanaServer, ServerConfig


@pytest.fixture
def asana_server() -> Iterator[AsanaServer]:
    """A server with the small default data set and a random token, stopped after the test."""
    with AsanaServer(ServerConfig()) as server:
        yield server


@pytest.fixture
def make_asana_server() -> Iterator[Callable[..., AsanaServer]]:
    """Factory: `make_asana_server(tasks_per_project=500, rpm=60)` starts a server with those
    ServerConfig knobs; every server it started is stopped after the test."""
    servers: list[AsanaServer] = []

    def make(**knobs: Any) -> AsanaServer:
        server = AsanaServer(ServerConfig(**knobs)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
