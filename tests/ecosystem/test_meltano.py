"""Meltano from PyPI runs the repository's meltano.yml: both plugins, pipelines, a stream map."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.ecosystem.ground_truth import STREAMS, extracted_records, pick_tasks
from tests.ecosystem.meltano_project import LOCAL_PLUGIN_FOLDERS, MeltanoProject
from tests.ecosystem.plugin_venvs import REPO_ROOT

pytestmark = pytest.mark.ecosystem

SCHEMA = "tap_asana"  # default_target_schema of target-duckdb in meltano.yml
# default_target_schema of the `without-notes` environment, which loads apart from `dev`.
WITHOUT_NOTES_SCHEMA = "tap_asana_without_notes"


def pipeline_env(server: Any, db_path: Path) -> dict[str, str]:
    return {
        "TAP_ASANA_ACCESS_TOKEN": server.token,
        "TAP_ASANA_API_URL": server.base_url,
        "TARGET_DUCKDB_PATH": str(db_path),
    }


def table_counts(db_path: Path, schema: str = SCHEMA) -> dict[str, tuple[int, int]]:
    """Return (rows, distinct gids) per stream table."""
    counts = {}
    with duckdb.connect(str(db_path), read_only=True) as connection:
        for stream in STREAMS:
            counts[stream] = connection.execute(
                f"SELECT count(*), count(DISTINCT gid) FROM {schema}.{stream}"  # noqa: S608
            ).fetchone()
    return counts


def column_names(db_path: Path, table: str, schema: str = SCHEMA) -> set[str]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    return {row[0] for row in rows}


@pytest.mark.parametrize("plugin", ["tap-asana", "target-duckdb"])
def test_meltano_invoke_about(meltano_project: MeltanoProject, tmp_path: Path, plugin: str) -> None:
    result = meltano_project.run("invoke", plugin, "--about", "--format=json", workdir=tmp_path)
    about = json.loads(result.stdout)

    assert about["name"] == plugin
    assert about["settings"]["properties"]


def test_meltano_config_redacts_token(
    meltano_project: MeltanoProject, tmp_path: Path, asana_server: Any
) -> None:
    env = pipeline_env(asana_server, tmp_path / "unused.duckdb")

    result = meltano_project.run("config", "print", "tap-asana", workdir=tmp_path, env=env)
    config = json.loads(result.stdout)

    assert asana_server.token not in result.stdout + result.stderr
    assert config["api_url"] == asana_server.base_url
    assert config["access_token"] != asana_server.token


def test_meltano_run_loads_then_updates(
    meltano_project: MeltanoProject, tmp_path: Path, asana_server: Any
) -> None:
    db_path = tmp_path / "out" / "asana.duckdb"
    env = pipeline_env(asana_server, db_path)

    first = meltano_project.run("run", "tap-asana", "target-duckdb", workdir=tmp_path, env=env)
    expected = extracted_records(asana_server)
    counts = table_counts(db_path)

    for stream in STREAMS:
        assert counts[stream] == (len(expected[stream]), len(expected[stream])), stream
    assert asana_server.token not in first.stdout + first.stderr

    # The second run starts from the state Meltano stored after the first one.
    touched = asana_server.admin.touch_tasks(gids=pick_tasks(asana_server, 3))
    meltano_project.run("run", "tap-asana", "target-duckdb", workdir=tmp_path, env=env)
    tasks = {task["gid"]: task for task in extracted_records(asana_server)["tasks"]}

    with duckdb.connect(str(db_path), read_only=True) as connection:
        names = dict(connection.execute(f"SELECT gid, name FROM {SCHEMA}.tasks").fetchall())  # noqa: S608
        rows = connection.execute(f"SELECT count(*) FROM {SCHEMA}.tasks").fetchone()  # noqa: S608
    assert rows == (len(tasks),)
    for gid in touched:
        assert names[gid] == tasks[gid]["name"]
    state = meltano_project.run("state", "list", workdir=tmp_path, env=env)
    assert "tap-asana-to-target-duckdb" in state.stdout


def test_meltano_stream_map_drops_notes(
    meltano_project: MeltanoProject, tmp_path: Path, asana_server: Any
) -> None:
    db_path = tmp_path / "asana.duckdb"

    meltano_project.run(
        "--environment=without-notes",
        "run",
        "tap-asana",
        "target-duckdb",
        workdir=tmp_path,
        env=pipeline_env(asana_server, db_path),
    )
    task_columns = column_names(db_path, "tasks", WITHOUT_NOTES_SCHEMA)
    counts = table_counts(db_path, WITHOUT_NOTES_SCHEMA)

    assert "notes" not in task_columns
    assert "html_notes" not in task_columns
    assert {"gid", "name", "modified_at"} <= task_columns
    assert counts["tasks"][0] == len(extracted_records(asana_server)["tasks"])
    # The map names only tasks, so another stream with a notes field keeps it.
    assert "notes" in column_names(db_path, "projects", WITHOUT_NOTES_SCHEMA)
    assert column_names(db_path, "tasks") == set(), "nothing lands in the dev schema"


def test_meltano_run_with_env_example(
    meltano_project: MeltanoProject, tmp_path: Path, asana_server: Any
) -> None:
    """Follow the README: copy .env.example to .env, set the token, run."""
    env_file = meltano_project.root / ".env"
    db_path = meltano_project.root / "output" / "asana.duckdb"
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    filled = [
        f"TAP_ASANA_ACCESS_TOKEN={asana_server.token}"
        if line == "TAP_ASANA_ACCESS_TOKEN="
        else line
        for line in lines
    ]
    env_file.write_text("\n".join([*filled, f"TAP_ASANA_API_URL={asana_server.base_url}", ""]))
    db_path.unlink(missing_ok=True)
    try:
        meltano_project.run("run", "tap-asana", "target-duckdb", workdir=tmp_path)
        counts = table_counts(db_path)
    finally:
        env_file.unlink()
        db_path.unlink(missing_ok=True)

    expected = extracted_records(asana_server)
    for stream in STREAMS:
        assert counts[stream] == (len(expected[stream]), len(expected[stream])), stream


def test_meltano_leaves_committed_meltano_yml_unchanged(
    meltano_project: MeltanoProject, tmp_path: Path
) -> None:
    # Meltano writes meltano.yml back in its own layout; the committed file is in that layout,
    # so a user's checkout stays clean after `meltano run`.
    root = tmp_path / "project"
    root.mkdir()
    committed = (REPO_ROOT / "meltano.yml").read_text()
    (root / "meltano.yml").write_text(committed)
    for folder in LOCAL_PLUGIN_FOLDERS:
        (root / folder).symlink_to(REPO_ROOT / folder, target_is_directory=True)
    project = MeltanoProject(root, meltano_project.meltano)

    project.run("config", "list", "tap-asana", workdir=tmp_path)
    project.run("--environment=without-notes", "config", "list", "target-duckdb", workdir=tmp_path)

    assert (root / "meltano.yml").read_text() == committed
