"""Fixtures for tests that run third-party Singer plugins and Meltano installed from PyPI."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.asana_server import AsanaServer, ServerConfig
from tests.ecosystem.meltano_project import MeltanoError, MeltanoProject
from tests.ecosystem.plugin_venvs import (
    PLUGIN_REQUIREMENTS,
    PluginInstallError,
    PluginVenv,
    ensure_plugin_venv,
)
from tests.ecosystem.postgres import PostgresServer, fresh_schema

PG_ENV_PREFIX = "OMNILOAD_TEST_PG_"


@pytest.fixture(scope="session")
def plugin_venv() -> Iterator[Callable[[str], PluginVenv]]:
    """Return a function that returns a plugin's virtualenv, built once per pin set.

    The first use starts building every plugin's virtualenv at once, because pip spends much
    of its time waiting on downloads. The session waits for all builds before it ends.
    """
    with ThreadPoolExecutor(max_workers=len(PLUGIN_REQUIREMENTS)) as pool:
        builds = {name: pool.submit(ensure_plugin_venv, name) for name in PLUGIN_REQUIREMENTS}

        def get(name: str) -> PluginVenv:
            try:
                return builds[name].result()
            except PluginInstallError as error:
                pytest.fail(str(error), pytrace=False)

        yield get


def _unavailable(reason: str) -> None:
    # CI starts a server in .ci/run, so a missing one there is a failure, not a skip.
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is an error rather than a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """Return the server named by the OMNILOAD_TEST_PG_* variables, skipping when unreachable."""
    names = ("HOST", "PORT", "USER", "PASSWORD", "DATABASE")
    missing = [PG_ENV_PREFIX + name for name in names if not os.environ.get(PG_ENV_PREFIX + name)]
    if missing:
        _unavailable(
            f"no PostgreSQL server configured: set {', '.join(missing)} "
            "(.ci/run starts one and sets them)"
        )
    server = PostgresServer(
        host=os.environ[PG_ENV_PREFIX + "HOST"],
        port=int(os.environ[PG_ENV_PREFIX + "PORT"]),
        user=os.environ[PG_ENV_PREFIX + "USER"],
        password=os.environ[PG_ENV_PREFIX + "PASSWORD"],
        database=os.environ[PG_ENV_PREFIX + "DATABASE"],
    )
    try:
        with server.connect() as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        _unavailable(
            f"PostgreSQL at {server.host}:{server.port} is not reachable as "
            f"{server.user}: {first_line}"
        )
    return server


@pytest.fixture
def postgres_schema(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Return the name of a fresh schema for one test and drop it afterwards."""
    with fresh_schema(postgres_server, request.node.name) as schema:
        yield schema


@pytest.fixture(scope="module")
def module_asana_server() -> Iterator[AsanaServer]:
    """Return a server with the default data set shared by one module's read-only tests."""
    with AsanaServer(ServerConfig()) as server:
        yield server


@pytest.fixture(scope="session")
def meltano_project(
    plugin_venv: Callable[[str], PluginVenv], tmp_path_factory: pytest.TempPathFactory
) -> MeltanoProject:
    """Return the Meltano project copy with both local plugins installed."""
    project = MeltanoProject.prepare(plugin_venv("meltano"))
    try:
        project.run("install", workdir=tmp_path_factory.mktemp("meltano-install"))
    except MeltanoError as error:
        pytest.fail(str(error), pytrace=False)
    return project
