"""Pagination, task filters and incremental reads over HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.asana_server import AsanaServer

from .conftest import Client

INVALID = "offset: Your pagination token is invalid."
EXPIRED = "offset: Your pagination token has expired."
EXACTLY_ONE = (
    "Must specify exactly one of project, tag, section, user task list, or assignee + workspace"
)
TOO_LARGE = (
    "The result is too large. You should use pagination (may require specifying a workspace)!"
)


def busiest_project(truth: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for task in truth["tasks"]:
        for project in task["projects"]:
            counts[project["gid"]] = counts.get(project["gid"], 0) + 1
    return max(counts, key=lambda gid: counts[gid])


def project_task_gids(truth: dict[str, Any], project: str) -> list[str]:
    gids = [t["gid"] for t in truth["tasks"] if any(p["gid"] == project for p in t["projects"])]
    return sorted(gids, key=int)


def message(response: Any) -> str:
    return response.json()["errors"][0]["message"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5"])
def test_limit_out_of_range_is_rejected(client: Client, limit: str) -> None:
    response = client.get("/workspaces", limit=limit)
    assert response.status_code == 400
    assert message(response).startswith("limit: ")
    assert repr(limit) in message(response)


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limit_bounds_are_accepted(client: Client, limit: str) -> None:
    response = client.get("/workspaces", limit=limit)
    assert response.status_code == 200
    assert len(response.json()["data"]) == min(int(limit), 2)


def test_next_page_absent_without_limit(client: Client, asana_server: AsanaServer) -> None:
    body = client.get("/projects", workspace=asana_server.workspace_gids[0]).json()
    assert "next_page" not in body
    assert body["data"]


def test_next_page_null_on_last_page(client: Client) -> None:
    body = client.get("/workspaces", limit=100).json()
    assert body["next_page"] is None


def test_next_page_keeps_query_and_adds_offset(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    body = client.get("/tasks", project=project, limit=5, opt_fields="name,modified_at").json()
    next_page = body["next_page"]
    assert next_page["uri"] == asana_server.base_url + next_page["path"]
    path, _, query = next_page["path"].partition("?")
    assert path == "/tasks"
    params = parse_qs(query)
    assert params == {
        "project": [project],
        "limit": ["5"],
        "opt_fields": ["name,modified_at"],
        "offset": [next_page["offset"]],
    }


def test_pages_cover_collection_once(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    records = client.all_pages("/tasks", project=project, limit=7)
    gids = [r["gid"] for r in records]
    assert gids == project_task_gids(truth, project)


def test_unknown_offset_is_rejected(client: Client, asana_server: AsanaServer) -> None:
    response = client.get(
        "/projects",
        workspace=asana_server.workspace_gids[0],
        limit=1,
        offset="eyJ0b2tlbiI6Im1hZGUgdXAifQ",
    )
    assert response.status_code == 400
    assert message(response) == INVALID


def test_empty_offset_is_rejected(client: Client, asana_server: AsanaServer) -> None:
    response = client.get("/projects", workspace=asana_server.workspace_gids[0], limit=1, offset="")
    assert response.status_code == 400
    assert message(response) == INVALID


def test_offset_from_other_query_is_rejected(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    offset = client.get("/tasks", project=project, limit=2).json()["next_page"]["offset"]
    response = client.get(f"/projects/{project}/sections", limit=2, offset=offset)
    assert response.status_code == 400
    assert message(response) == INVALID


def test_tampered_offset_is_rejected(client: Client, asana_server: AsanaServer) -> None:
    project = busiest_project(asana_server.admin.snapshot())
    offset = client.get("/tasks", project=project, limit=2).json()["next_page"]["offset"]
    body, _, signature = offset.partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    response = client.get("/tasks", project=project, limit=2, offset=tampered)
    assert response.status_code == 400
    assert message(response) == INVALID


def test_expired_offset_is_rejected(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(offset_ttl=0)
    api = make_client(server)
    response = api.get("/workspaces", limit=1)
    next_uri = response.json()["next_page"]["uri"]
    response = api.get(next_uri)
    assert response.status_code == 400
    assert message(response) == EXPIRED


def test_offset_ttl_changes_at_run_time(asana_server: AsanaServer, client: Client) -> None:
    first = client.get("/workspaces", limit=1).json()["next_page"]["uri"]
    asana_server.admin.set_settings(offset_ttl=0)
    assert message(client.get(first)) == EXPIRED
    asana_server.admin.set_settings(offset_ttl=600)
    second = client.get("/workspaces", limit=1).json()["next_page"]["uri"]
    assert client.get(second).status_code == 200


def test_large_list_without_limit_is_rejected(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(projects=1, tasks_per_project=30, max_unpaginated=20)
    api = make_client(server)
    project = busiest_project(server.admin.snapshot())
    response = api.get("/tasks", project=project)
    assert response.status_code == 400
    assert message(response) == TOO_LARGE
    assert len(api.all_pages("/tasks", project=project, limit=100)) > 20


def test_deleted_task_between_pages_is_skipped(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    expected = project_task_gids(truth, project)
    first = client.get("/tasks", project=project, limit=5).json()
    gone = expected[6]
    asana_server.admin.delete_tasks(gids=[gone])
    added = asana_server.admin.add_tasks(1, project=project)
    rest = client.all_pages(first["next_page"]["uri"])
    gids = [r["gid"] for r in first["data"]] + [r["gid"] for r in rest]
    assert gone not in gids
    assert gids == [g for g in expected if g != gone] + added


def test_modified_since_is_inclusive(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    tasks = [t for t in truth["tasks"] if any(p["gid"] == project for p in t["projects"])]
    pivot = sorted(t["modified_at"] for t in tasks)[len(tasks) // 2]
    listed = {r["gid"] for r in client.all_pages("/tasks", project=project, modified_since=pivot)}
    assert listed == {t["gid"] for t in tasks if t["modified_at"] >= pivot}
    assert any(t["modified_at"] == pivot and t["gid"] in listed for t in tasks)


def test_modified_since_accepts_other_iso_forms(client: Client, asana_server: AsanaServer) -> None:
    project = busiest_project(asana_server.admin.snapshot())
    everything = client.all_pages("/tasks", project=project)
    for value in ("2020-01-01", "2020-01-01T00:00:00Z", "2020-01-01T02:00:00+02:00"):
        assert client.all_pages("/tasks", project=project, modified_since=value) == everything


def test_modified_since_invalid_is_rejected(client: Client, asana_server: AsanaServer) -> None:
    project = busiest_project(asana_server.admin.snapshot())
    response = client.get("/tasks", project=project, modified_since="yesterday")
    assert response.status_code == 400
    assert message(response).startswith("modified_since: ")
    assert "yesterday" in message(response)


def test_completed_since_now_lists_incomplete(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    tasks = [t for t in truth["tasks"] if any(p["gid"] == project for p in t["projects"])]
    listed = {r["gid"] for r in client.all_pages("/tasks", project=project, completed_since="now")}
    assert listed == {t["gid"] for t in tasks if not t["completed"]}
    assert len(listed) < len(tasks)


def test_completed_since_time_keeps_recent(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    project = busiest_project(truth)
    tasks = [t for t in truth["tasks"] if any(p["gid"] == project for p in t["projects"])]
    done = sorted(t["completed_at"] for t in tasks if t["completed"])
    pivot = done[len(done) // 2]
    listed = {
        r["gid"] for r in client.all_pages(f"/projects/{project}/tasks", completed_since=pivot)
    }
    assert listed == {t["gid"] for t in tasks if not t["completed"] or t["completed_at"] >= pivot}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "You should specify one of workspace, project, tag, section, user_task_list"),
        (
            {"workspace": "{workspace}"},
            EXACTLY_ONE,
        ),
        (
            {"assignee": "me"},
            EXACTLY_ONE,
        ),
        (
            {"project": "{project}", "tag": "{tag}"},
            EXACTLY_ONE,
        ),
        ({"project": ""}, "project: Not a Long"),
        ({"project": "abc"}, "project: Not a Long"),
    ],
    ids=[
        "none",
        "workspace-only",
        "assignee-only",
        "project-and-tag",
        "empty-project",
        "text-project",
    ],
)
def test_task_filter_errors(
    client: Client, asana_server: AsanaServer, params: dict[str, str], expected: str
) -> None:
    truth = asana_server.admin.snapshot()
    values = {
        "workspace": asana_server.workspace_gids[0],
        "project": busiest_project(truth),
        "tag": truth["tags"][0]["gid"],
    }
    response = client.get("/tasks", **{k: v.format(**values) for k, v in params.items()})
    assert response.status_code == 400
    assert message(response) == expected


def test_tasks_by_assignee_and_workspace(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    workspace = asana_server.workspace_gids[0]
    user = truth["users"][0]["gid"]
    listed = [r["gid"] for r in client.all_pages("/tasks", assignee=user, workspace=workspace)]
    expected = [
        t["gid"]
        for t in truth["tasks"]
        if t["workspace"]["gid"] == workspace and (t["assignee"] or {}).get("gid") == user
    ]
    assert listed == sorted(expected, key=int)
    assert listed
    assert [
        r["gid"] for r in client.all_pages("/tasks", assignee="me", workspace=workspace)
    ] == listed


def test_user_task_list_lists_assigned_tasks(client: Client, asana_server: AsanaServer) -> None:
    workspace = asana_server.workspace_gids[0]
    task_list = client.data("/users/me/user_task_list", workspace=workspace)
    by_list = client.all_pages("/tasks", user_task_list=task_list["gid"])
    by_route = client.all_pages(f"/user_task_lists/{task_list['gid']}/tasks")
    by_assignee = client.all_pages("/tasks", assignee="me", workspace=workspace)
    assert by_list == by_route == by_assignee


def test_subtask_without_project_not_in_listing(
    client: Client, make_asana_server: Any, make_client: Any
) -> None:
    server = make_asana_server(projects=2, tasks_per_project=60)
    api = make_client(server)
    truth = server.admin.snapshot()
    orphans = [t for t in truth["tasks"] if t["parent"] is not None and not t["projects"]]
    assert orphans
    listed = set()
    for project in truth["projects"]:
        listed |= {r["gid"] for r in api.all_pages("/tasks", project=project["gid"])}
    assert not listed & {t["gid"] for t in orphans}
    parent = orphans[0]["parent"]["gid"]
    assert orphans[0]["gid"] in {r["gid"] for r in api.all_pages(f"/tasks/{parent}/subtasks")}


def test_multi_homed_task_in_both_listings(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(projects=3, tasks_per_project=60)
    api = make_client(server)
    truth = server.admin.snapshot()
    multi = next(t for t in truth["tasks"] if len(t["projects"]) == 2)
    for project in multi["projects"]:
        assert multi["gid"] in {r["gid"] for r in api.all_pages("/tasks", project=project["gid"])}
    assert [m["project"]["gid"] for m in multi["memberships"]] == [
        p["gid"] for p in multi["projects"]
    ]


def test_next_page_uri_points_to_this_server(client: Client, asana_server: AsanaServer) -> None:
    uri = client.get("/workspaces", limit=1).json()["next_page"]["uri"]
    parts = urlsplit(uri)
    assert (parts.scheme, parts.hostname, parts.port) == ("http", "127.0.0.1", asana_server.port)
