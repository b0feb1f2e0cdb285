"""tap-asana piped into meltanolabs-target-postgres, loading into a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql
from psycopg.rows import dict_row

from tests.asana_server import AsanaServer
from tests.ecosystem.ground_truth import (
    STREAMS,
    extracted_records,
    pick_tasks,
    sample,
    scalar_mismatches,
    tasks_in_several_projects,
)
from tests.ecosystem.plugin_venvs import PluginVenv
from tests.ecosystem.postgres import PostgresServer, fresh_schema
from tests.ecosystem.singer_pipe import OWN_BIN_DIR, PipeResult, run_tap_into_target, write_config

pytestmark = pytest.mark.ecosystem


class Loader:
    """Runner of tap-asana into target-postgres for one test, which keeps the state between runs."""

    def __init__(
        self,
        workdir: Path,
        server: Any,
        target: PluginVenv,
        postgres: PostgresServer,
        schema: str,
    ) -> None:
        self.workdir = workdir
        self.server = server
        self.target = target
        self.postgres = postgres
        self.schema = schema
        self.state: dict[str, Any] | None = None
        self.runs = 0

    def run(self, **target_overrides: Any) -> PipeResult:
        self.runs += 1
        run_dir = self.workdir / f"run-{self.runs}"
        run_dir.mkdir()
        tap_config = write_config(
            run_dir,
            "tap-asana",
            {"access_token": self.server.token, "api_url": self.server.base_url},
        )
        target_config = write_config(
            run_dir, "target-postgres", self.postgres.target_config(self.schema, **target_overrides)
        )
        tap_command = [str(OWN_BIN_DIR / "tap-asana"), "--config", str(tap_config)]
        if self.state is not None:
            state_path = run_dir / "state.json"
            state_path.write_text(json.dumps(self.state))
            tap_command += ["--state", str(state_path)]
        result = run_tap_into_target(
            tap_command,
            [str(self.target.executable("target-postgres")), "--config", str(target_config)],
            run_dir,
        )
        if result.final_state is not None:
            self.state = result.final_state
        return result

    def rows(self, table: str, where: str = "TRUE") -> list[dict[str, Any]]:
        query = sql.SQL("SELECT * FROM {}.{} WHERE " + where).format(  # noqa: S608
            sql.Identifier(self.schema), sql.Identifier(table)
        )
        with self.postgres.connect(row_factory=dict_row) as connection:
            return connection.execute(query).fetchall()

    def live_rows(self, table: str) -> list[dict[str, Any]]:
        return self.rows(table, "_sdc_deleted_at IS NULL")


@pytest.fixture
def loader(
    tmp_path: Path,
    asana_server: Any,
    plugin_venv: Callable[[str], PluginVenv],
    postgres_server: PostgresServer,
    postgres_schema: str,
) -> Loader:
    return Loader(
        tmp_path, asana_server, plugin_venv("target-postgres"), postgres_server, postgres_schema
    )


@pytest.fixture(scope="module")
def loaded_once(
    module_asana_server: AsanaServer,
    plugin_venv: Callable[[str], PluginVenv],
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Loader]:
    """Return a Loader after one run, shared by the tests that only read what it loaded."""
    with fresh_schema(postgres_server, "loaded_once") as schema:
        loader = Loader(
            tmp_path_factory.mktemp("loaded-once"),
            module_asana_server,
            plugin_venv("target-postgres"),
            postgres_server,
            schema,
        )
        loader.run()
        yield loader


def test_all_streams_match_server(loaded_once: Loader) -> None:
    loader = loaded_once
    truth = extracted_records(loader.server)

    for stream in STREAMS:
        rows = loader.rows(stream)
        gids = [row["gid"] for row in rows]
        assert len(gids) == len(set(gids)), f"{stream}: duplicate gids"
        assert sorted(gids) == sorted(record["gid"] for record in truth[stream]), stream

        by_gid = {row["gid"]: row for row in rows}
        for expected in sample(truth[stream]):
            loaded = by_gid[expected["gid"]]
            assert scalar_mismatches(loaded, expected) == [], f"{stream} {expected['gid']}"


def test_sample_values_keep_types(loaded_once: Loader) -> None:
    loader = loaded_once
    truth = {task["gid"]: task for task in extracted_records(loader.server)["tasks"]}

    rows = loader.rows("tasks")
    completed = [row for row in rows if truth[row["gid"]]["completed"]]
    with_due_on = [row for row in rows if truth[row["gid"]].get("due_on")]
    assert completed, "the server data set has no completed task to compare"
    assert with_due_on, "the server data set has no task with due_on to compare"
    for row in completed:
        assert row["completed"] is True
        assert row["completed_at"] is not None
    for row in with_due_on:
        assert str(row["due_on"]) == truth[row["gid"]]["due_on"]
    for row in rows:
        project_gids = sorted(membership["project"]["gid"] for membership in row["memberships"])
        expected_gids = sorted(m["project"]["gid"] for m in truth[row["gid"]]["memberships"])
        assert project_gids == expected_gids, row["gid"]


def test_task_in_two_projects_is_one_row(loaded_once: Loader) -> None:
    loader = loaded_once
    shared = tasks_in_several_projects(extracted_records(loader.server)["tasks"])
    assert shared, "the server data set has no task in two projects"

    for task in shared:
        rows = loader.rows("tasks", f"gid = '{task['gid']}'")
        assert len(rows) == 1, task["gid"]


def bookmark_tasks(rows: list[dict[str, Any]]) -> set[str]:
    """Return gids of the tasks whose modified_at is the latest in one of their projects.

    Asana's modified_since is inclusive, so the tap may send these again on the next run.
    """
    latest: dict[str, Any] = {}
    for row in rows:
        for membership in row["memberships"]:
            project = membership["project"]["gid"]
            latest[project] = max(latest.get(project, row["modified_at"]), row["modified_at"])
    return {
        row["gid"]
        for row in rows
        if any(row["modified_at"] == latest[m["project"]["gid"]] for m in row["memberships"])
    }


def test_second_run_updates_touched_tasks(loader: Loader) -> None:
    loader.run()
    first_rows = loader.rows("tasks")
    first_extracted = max(row["_sdc_extracted_at"] for row in first_rows)

    touched = loader.server.admin.touch_tasks(gids=pick_tasks(loader.server, 3))
    second = loader.run()
    truth = {task["gid"]: task for task in extracted_records(loader.server)["tasks"]}
    rows = loader.rows("tasks")
    by_gid = {row["gid"]: row for row in rows}
    rewritten = {row["gid"] for row in rows if row["_sdc_extracted_at"] > first_extracted}

    assert len(touched) == 3
    assert second.final_state is not None
    assert len(rows) == len(first_rows)
    assert len(by_gid) == len(rows)
    for gid in touched:
        assert by_gid[gid]["name"] == truth[gid]["name"]
        assert "(edited" in by_gid[gid]["name"]
    # Only the touched tasks and those at a project's bookmark were sent again.
    assert set(touched) <= rewritten
    assert rewritten - set(touched) <= bookmark_tasks(first_rows)


def delete_tasks_with_stories(loader: Loader) -> tuple[list[str], set[str]]:
    """Delete two extracted tasks that have stories; return their gids and their stories' gids."""
    stories_before = extracted_records(loader.server)["stories"]
    deleted_tasks = loader.server.admin.delete_tasks(
        gids=pick_tasks(loader.server, 2, with_stories=True)
    )
    deleted_stories = {
        story["gid"] for story in stories_before if story["target"]["gid"] in deleted_tasks
    }
    assert deleted_stories, "the deleted tasks had no stories"
    return deleted_tasks, deleted_stories


def test_vanished_stories_flagged_without_hard_delete(loader: Loader) -> None:
    loader.run()
    _, deleted_stories = delete_tasks_with_stories(loader)

    loader.run()
    rows = loader.rows("stories")
    flagged = {row["gid"] for row in rows if row["_sdc_deleted_at"] is not None}

    assert {row["gid"] for row in rows} >= deleted_stories
    assert flagged == deleted_stories
    assert len(loader.live_rows("stories")) == len(extracted_records(loader.server)["stories"])


def test_vanished_stories_removed_with_hard_delete(loader: Loader) -> None:
    loader.run(hard_delete=True)
    deleted_tasks, deleted_stories = delete_tasks_with_stories(loader)

    loader.run(hard_delete=True)
    story_gids = {row["gid"] for row in loader.rows("stories")}
    task_gids = {row["gid"] for row in loader.rows("tasks")}

    assert story_gids.isdisjoint(deleted_stories)
    assert story_gids == {story["gid"] for story in extracted_records(loader.server)["stories"]}
    # tasks is incremental and sends no ACTIVATE_VERSION, so a task deleted in Asana is never
    # sent again and its row stays until a full refresh.
    assert set(deleted_tasks) <= task_gids


def test_resource_type_is_loaded(loaded_once: Loader) -> None:
    loader = loaded_once
    expected = extracted_records(loader.server)

    for stream in STREAMS:
        loaded = {row["gid"]: row["resource_type"] for row in loader.rows(stream)}
        for record in sample(expected[stream]):
            assert loaded[record["gid"]] == record["resource_type"], stream


def test_postgres_column_types(loaded_once: Loader) -> None:
    loader = loaded_once
    with loader.postgres.connect() as connection:
        rows = connection.execute(
            "SELECT column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'tasks'",
            [loader.schema],
        ).fetchall()
    types = dict(rows)

    assert types["gid"] == "text"
    assert types["completed"] == "bool"
    assert types["num_subtasks"] == "int8"
    assert types["modified_at"] == "timestamp"
    assert types["due_on"] == "date"
    assert types["assignee"] == "jsonb"
    assert types["memberships"] == "_jsonb"
    for column in ("_sdc_extracted_at", "_sdc_deleted_at", "_sdc_table_version"):
        assert column in types, column
