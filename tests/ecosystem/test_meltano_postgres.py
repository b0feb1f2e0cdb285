"""The Meltano configuration for PostgreSQL in docs/other-targets.md works as written."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg import sql

from tests.ecosystem.ground_truth import STREAMS, extracted_records
from tests.ecosystem.meltano_project import MeltanoError, MeltanoProject
from tests.ecosystem.plugin_venvs import REPO_ROOT, PluginVenv
from tests.ecosystem.postgres import PostgresServer

pytestmark = pytest.mark.ecosystem

GUIDE = REPO_ROOT / "docs" / "other-targets.md"


def documented_loaders() -> list[dict[str, Any]]:
    """Return the loaders of the first YAML block in the guide that defines target-postgres."""
    for block in re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL):
        parsed = yaml.safe_load(block)
        loaders = parsed.get("loaders", []) if isinstance(parsed, dict) else []
        if any(loader.get("name") == "target-postgres" for loader in loaders):
            return loaders
    raise AssertionError(f"{GUIDE} has no YAML block defining the target-postgres loader")


@pytest.fixture(scope="module")
def postgres_meltano_project(
    plugin_venv: Callable[[str], PluginVenv], tmp_path_factory: pytest.TempPathFactory
) -> MeltanoProject:
    project = MeltanoProject.prepare(plugin_venv("meltano"), extra_loaders=documented_loaders())
    try:
        project.run("install", workdir=tmp_path_factory.mktemp("meltano-install"))
    except MeltanoError as error:
        pytest.fail(str(error), pytrace=False)
    return project


def test_guide_loader_runs_into_postgres(
    postgres_meltano_project: MeltanoProject,
    postgres_server: PostgresServer,
    postgres_schema: str,
    asana_server: Any,
    tmp_path: Path,
) -> None:
    env = {
        "TAP_ASANA_ACCESS_TOKEN": asana_server.token,
        "TAP_ASANA_API_URL": asana_server.base_url,
        "TARGET_POSTGRES_HOST": postgres_server.host,
        "TARGET_POSTGRES_PORT": str(postgres_server.port),
        "TARGET_POSTGRES_USER": postgres_server.user,
        "TARGET_POSTGRES_PASSWORD": postgres_server.password,
        "TARGET_POSTGRES_DATABASE": postgres_server.database,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": postgres_schema,
    }

    result = postgres_meltano_project.run(
        "run", "tap-asana", "target-postgres", workdir=tmp_path, env=env
    )
    truth = extracted_records(asana_server)

    with postgres_server.connect() as connection:
        for stream in STREAMS:
            query = sql.SQL("SELECT count(*), count(DISTINCT gid) FROM {}.{}").format(
                sql.Identifier(postgres_schema), sql.Identifier(stream)
            )
            rows, gids = connection.execute(query).fetchone()
            assert (rows, gids) == (len(truth[stream]), len(truth[stream])), stream
    output = result.stdout + result.stderr
    assert asana_server.token not in output
    assert postgres_server.password not in output
