"""Shape of the generated data: deterministic, and as varied as real workspaces."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest

from tests.asana_server import AsanaServer, ServerConfig


@pytest.fixture(scope="module")
def truth() -> dict[str, list[dict[str, Any]]]:
    with AsanaServer(ServerConfig(seed=5, projects=6, tasks_per_project=80)) as server:
        return server.admin.snapshot()


def test_same_seed_same_data() -> None:
    with AsanaServer(ServerConfig(seed=9)) as first, AsanaServer(ServerConfig(seed=9)) as second:
        assert first.admin.snapshot() == second.admin.snapshot()


def test_other_seed_other_data() -> None:
    with AsanaServer(ServerConfig(seed=9)) as first, AsanaServer(ServerConfig(seed=10)) as second:
        assert first.admin.snapshot()["tasks"] != second.admin.snapshot()["tasks"]


def test_workspaces_organization_and_plain(truth: dict[str, Any]) -> None:
    organization, plain = truth["workspaces"]
    assert organization["is_organization"] is True
    assert plain["is_organization"] is False
    assert all(t["organization"]["gid"] == organization["gid"] for t in truth["teams"])
    assert any(p["workspace"]["gid"] == plain["gid"] for p in truth["projects"])
    assert all(re.fullmatch(r"\d+", w["gid"]) for w in truth["workspaces"])


def test_workspace_gid_knob(make_asana_server: Any) -> None:
    server = make_asana_server(workspace_gid="workspace-1337", plain_workspace_gid="home")
    assert server.workspace_gids == ["workspace-1337", "home"]
    truth = server.admin.snapshot()
    assert {p["workspace"]["gid"] for p in truth["projects"]} == {"workspace-1337", "home"}


def test_sizes_follow_knobs(make_asana_server: Any) -> None:
    truth = make_asana_server(
        projects=3,
        tasks_per_project=7,
        stories_per_task=0,
        users=4,
        teams=2,
        tags=5,
        sections_per_project=2,
    ).admin.snapshot()
    assert len(truth["projects"]) == 3
    assert len(truth["tasks"]) == 21
    assert truth["stories"] == []
    assert len(truth["users"]) == 4
    assert len(truth["teams"]) == 2
    assert len(truth["tags"]) == 10
    assert len(truth["sections"]) == 6


def test_tasks_cover_hard_cases(truth: dict[str, Any]) -> None:
    tasks = truth["tasks"]
    assert any(len(t["projects"]) == 2 for t in tasks), "multi-homed"
    assert any(t["parent"] is not None and not t["projects"] for t in tasks), (
        "subtask in no project"
    )
    assert any(t["parent"] is not None and t["projects"] for t in tasks), "subtask in a project"
    assert any(t["assignee"] is None for t in tasks)
    assert any(t["resource_subtype"] == "milestone" for t in tasks)
    assert any(t["resource_subtype"] == "approval" for t in tasks)
    assert any(t["tags"] == [] for t in tasks)
    assert any(t["followers"] == [] for t in tasks)
    assert any(len(t["notes"]) > 10_000 for t in tasks)
    assert any("\n" in t["name"] for t in tasks)
    assert any('"' in t["name"] for t in tasks)
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", t["name"]) for t in tasks), "emoji"
    assert any(re.search(r"[\u4e00-\u9fff]", t["name"]) for t in tasks), "CJK"
    assert any(t["due_on"] is not None for t in tasks)
    assert any(t["due_at"] is not None for t in tasks)
    assert not any(t["due_on"] is not None and t["due_at"] is not None for t in tasks)
    assert any(t["completed"] for t in tasks)
    assert all(t["completed_at"] is None for t in tasks if not t["completed"])


def test_custom_fields_of_every_type(truth: dict[str, Any]) -> None:
    values = [f for t in truth["tasks"] for f in t["custom_fields"]]
    assert {f["type"] for f in values} == {"text", "number", "enum", "multi_enum", "date", "people"}
    filled = {f["type"] for f in values if f["display_value"] is not None}
    assert filled == {"text", "number", "enum", "multi_enum", "date", "people"}
    assert any(t["custom_fields"] == [] for t in truth["tasks"])


def test_timestamps_in_asana_form(truth: dict[str, Any]) -> None:
    pattern = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
    for table in ("projects", "sections", "tags", "tasks", "stories"):
        for row in truth[table]:
            assert pattern.fullmatch(row["created_at"]), (table, row["gid"])
    for task in truth["tasks"]:
        assert pattern.fullmatch(task["modified_at"])
        assert task["created_at"] <= task["modified_at"]
        if task["due_on"] is not None:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", task["due_on"])


def test_projects_archived_and_active(truth: dict[str, Any]) -> None:
    assert {p["archived"] for p in truth["projects"]} == {True, False}


def test_stories_comments_and_system(truth: dict[str, Any]) -> None:
    stories = truth["stories"]
    assert {s["type"] for s in stories} == {"comment", "system"}
    task_gids = {t["gid"] for t in truth["tasks"]}
    assert {s["target"]["gid"] for s in stories} <= task_gids
    with_stories = {s["target"]["gid"] for s in stories}
    assert task_gids - with_stories, "some tasks have no stories"


def test_references_point_to_existing_records(truth: dict[str, Any]) -> None:
    projects = {p["gid"] for p in truth["projects"]}
    sections = {s["gid"]: s["project"]["gid"] for s in truth["sections"]}
    users = {u["gid"] for u in truth["users"]}
    tags = {t["gid"] for t in truth["tags"]}
    tasks = {t["gid"] for t in truth["tasks"]}
    for task in truth["tasks"]:
        assert {p["gid"] for p in task["projects"]} <= projects
        for membership in task["memberships"]:
            assert sections[membership["section"]["gid"]] == membership["project"]["gid"]
        assert {t["gid"] for t in task["tags"]} <= tags
        if task["assignee"] is not None:
            assert task["assignee"]["gid"] in users
        if task["parent"] is not None:
            assert task["parent"]["gid"] in tasks
    counts: dict[str, int] = {}
    for task in truth["tasks"]:
        if task["parent"] is not None:
            counts[task["parent"]["gid"]] = counts.get(task["parent"]["gid"], 0) + 1
    assert all(t["num_subtasks"] == counts.get(t["gid"], 0) for t in truth["tasks"])


def test_bad_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="projects must be a non-negative integer"):
        ServerConfig(projects=-1)
    with pytest.raises(ValueError, match="p500 must be a probability"):
        ServerConfig(p500=2)
    with pytest.raises(ValueError, match=re.escape("host must be 127.0.0.1")):
        ServerConfig(host="0.0.0.0")  # noqa: S104 (checks that it is refused)
    with pytest.raises(ValueError, match="token and limited_token must differ"):
        ServerConfig(token="t", limited_token="t")  # noqa: S106 (placeholder tokens)


def test_workspace_gid_with_spaces_and_unicode(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(workspace_gid="wörkspace 1337")
    api = make_client(server)
    record = api.data("/workspaces/" + quote("wörkspace 1337"))
    assert record["gid"] == "wörkspace 1337"
    assert api.data("/projects", workspace="wörkspace 1337")
