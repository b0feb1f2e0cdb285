"""A full sync against the local Asana server, checked against the server's ground truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import TapRun, catalog_selecting, run_tap, server_config

STREAMS = ("workspaces", "users", "teams", "projects", "sections", "tags", "tasks", "stories")
FULL_TABLE_STREAMS = ("workspaces", "users", "teams", "projects", "sections", "tags", "stories")


@pytest.fixture(scope="module")
def server() -> Iterator[AsanaServer]:
    with AsanaServer(ServerConfig(seed=7, projects=5, tasks_per_project=30)) as running:
        yield running


@pytest.fixture(scope="module")
def truth(server: AsanaServer) -> dict[str, list[dict[str, Any]]]:
    return server.admin.snapshot()


@pytest.fixture(scope="module")
def full_run(server: AsanaServer, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    server.admin.reset_counts()
    run = run_tap(tmp_path_factory.mktemp("full"), server_config(server))
    assert run.returncode == 0, run.stderr
    run.request_counts = server.admin.counts()
    return run


def project_task_gids(truth: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {task["gid"] for task in truth["tasks"] if task.get("projects")}


def test_sync_logs_no_warning(full_run: TapRun) -> None:
    warnings = [line for line in full_run.stderr.splitlines() if "| WARNING" in line]
    assert warnings == []


def test_every_stream_returns_records(full_run: TapRun) -> None:
    counts = {stream: len(full_run.records(stream)) for stream in STREAMS}
    assert all(counts.values()), counts


def test_every_record_validates_against_its_schema(full_run: TapRun) -> None:
    for stream in STREAMS:
        validator = jsonschema.Draft7Validator(
            full_run.schema(stream), format_checker=jsonschema.FormatChecker()
        )
        for record in full_run.records(stream):
            errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(record)]
            assert not errors, f"{stream} {record['gid']}: {errors[:3]}"


def test_records_match_the_servers_tables(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    for stream in ("workspaces", "users", "teams", "projects", "sections", "tags"):
        emitted = {record["gid"] for record in full_run.records(stream)}
        assert emitted == {row["gid"] for row in truth[stream]}, stream


def test_top_level_values_match_the_server(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    for stream in STREAMS:
        expected = {row["gid"]: row for row in truth[stream]}
        for record in full_run.records(stream):
            row = expected[record["gid"]]
            assert record["resource_type"] == row["resource_type"], stream
            for name, value in record.items():
                if name in row and not isinstance(value, (dict, list)):
                    assert value == row[name], f"{stream} {record['gid']} {name}"


def test_multi_homed_tasks_are_emitted_once(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    multi_homed = {t["gid"] for t in truth["tasks"] if len(t.get("projects") or []) > 1}
    assert multi_homed, "the data set has no task in two projects"
    gids = Counter(record["gid"] for record in full_run.records("tasks"))
    assert set(gids) == project_task_gids(truth)
    assert max(gids.values()) == 1
    for gid in multi_homed:
        assert gids[gid] == 1


def test_tasks_in_no_project_are_not_emitted(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    orphans = {t["gid"] for t in truth["tasks"] if not t.get("projects")}
    assert orphans, "the data set has no task outside projects"
    assert not orphans & {record["gid"] for record in full_run.records("tasks")}


def test_users_in_two_workspaces_are_emitted_once(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    shared = {u["gid"] for u in truth["users"] if len(u.get("workspaces") or []) > 1}
    assert shared, "the data set has no user in two workspaces"
    gids = Counter(record["gid"] for record in full_run.records("users"))
    for gid in shared:
        assert gids[gid] == 1


def test_tasks_carry_fields_users_join_on(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    expected = {t["gid"]: t for t in truth["tasks"]}
    for record in full_run.records("tasks"):
        source = expected[record["gid"]]
        assert record["modified_at"] == source["modified_at"]
        assert record["due_on"] == source["due_on"]
        assert [p["gid"] for p in record["projects"]] == [p["gid"] for p in source["projects"]]
        assert record["workspace"]["gid"] == record["workspace_gid"]
        if source["assignee"] is not None:
            assert record["assignee"]["gid"] == source["assignee"]["gid"]
            assert record["assignee"]["name"] == source["assignee"]["name"]
        assert len(record["custom_fields"]) == len(source["custom_fields"])


def test_sections_carry_their_project_gid(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    project_of = {s["gid"]: s["project"]["gid"] for s in truth["sections"]}
    workspace_of = {p["gid"]: p["workspace"]["gid"] for p in truth["projects"]}
    for record in full_run.records("sections"):
        assert record["project_gid"] == project_of[record["gid"]]
        assert record["workspace_gid"] == workspace_of[record["project_gid"]]


def test_stories_carry_their_task_gid(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    task_of = {s["gid"]: s["target"]["gid"] for s in truth["stories"]}
    in_projects = project_task_gids(truth)
    expected = {gid for gid, task in task_of.items() if task in in_projects}
    records = full_run.records("stories")
    assert {record["gid"] for record in records} == expected
    for record in records:
        assert record["task_gid"] == task_of[record["gid"]]


def test_workspace_children_carry_workspace_gid(
    full_run: TapRun, truth: dict[str, list[dict[str, Any]]]
) -> None:
    organization_of_team = {t["gid"]: t["organization"]["gid"] for t in truth["teams"]}
    for record in full_run.records("teams"):
        assert record["workspace_gid"] == organization_of_team[record["gid"]]
    for stream in ("projects", "tags"):
        for record in full_run.records(stream):
            assert record["workspace_gid"] == record["workspace"]["gid"], stream


def test_full_table_streams_send_activate_version(full_run: TapRun) -> None:
    for stream in FULL_TABLE_STREAMS:
        types = full_run.message_types(stream)
        assert types.count("ACTIVATE_VERSION") == 2, stream
        assert types[0:2] == ["SCHEMA", "ACTIVATE_VERSION"], stream
        last_record = len(types) - 1 - types[::-1].index("RECORD")
        assert types.index("ACTIVATE_VERSION", 2) > last_record, stream
    assert "ACTIVATE_VERSION" not in full_run.message_types("tasks")


def test_closing_activate_version_repeats_the_version(full_run: TapRun) -> None:
    for stream in FULL_TABLE_STREAMS:
        versions = [
            m["version"]
            for m in full_run.messages
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
        ]
        assert len(versions) == 2, stream
        assert versions[0] == versions[1], stream


def test_activate_version_can_be_turned_off(server: AsanaServer, tmp_path) -> None:
    config = server_config(server, emit_activate_version_messages=False)
    catalog = catalog_selecting(tmp_path, config, {"tags"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert "ACTIVATE_VERSION" not in run.message_types("tags")
    assert run.records("tags")


def test_teams_skip_plain_workspaces_with_one_info_line(
    full_run: TapRun, server: AsanaServer
) -> None:
    plain = server.workspace_gids[1]
    lines = [line for line in full_run.stderr.splitlines() if f"workspace {plain}" in line]
    assert len(lines) == 1
    assert "INFO" in lines[0]
    assert "not an organization" in lines[0]


def test_requests_ask_for_full_pages(full_run: TapRun) -> None:
    counts = full_run.request_counts
    # 150 tasks in 5 projects fit one page per project. The tasks stream and the stories
    # stream each list every project once, and only stories take one GET per task.
    assert counts["GET /tasks"] == 2 * 5
    assert counts.get("GET /tasks/{task_gid}", 0) == 0
    assert counts["GET /workspaces"] == 1
    # One listing of stories per task, each task once however many projects hold it.
    assert counts["GET /tasks/{task_gid}/stories"] == len(full_run.records("tasks"))


def test_workspace_gid_limits_every_stream(server: AsanaServer, tmp_path) -> None:
    organization = server.workspace_gids[0]
    run = run_tap(tmp_path, server_config(server, workspace_gid=organization))
    assert run.returncode == 0, run.stderr
    assert [w["gid"] for w in run.records("workspaces")] == [organization]
    for stream in ("teams", "projects", "tags", "tasks", "sections", "stories"):
        records = run.records(stream)
        assert records, stream
        assert {r["workspace_gid"] for r in records} == {organization}, stream
    for user in run.records("users"):
        assert organization in {w["gid"] for w in user["workspaces"]}


def test_tasks_alone_skip_the_workspace_request(server: AsanaServer, tmp_path) -> None:
    organization = server.workspace_gids[0]
    config = server_config(server, workspace_gid=organization)
    catalog = catalog_selecting(tmp_path, config, {"tasks"})
    server.admin.reset_counts()

    run = run_tap(tmp_path, config, catalog=catalog)

    assert run.returncode == 0, run.stderr
    counts = server.admin.counts()
    # Listing projects needs only the configured gid, so no request reads the workspace.
    assert counts.get("GET /workspaces/{workspace_gid}", 0) == 0
    assert counts["GET /projects"] == 1
    assert run.records("tasks")
