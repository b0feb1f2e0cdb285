"""Admin API: request counts, mutations for incremental reads, and the ground-truth snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.asana_server import AdminClient, AdminError, AsanaServer

from .conftest import Client


def utc_now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_counts_group_requests_by_route(asana_server: AsanaServer, client: Client) -> None:
    truth = asana_server.admin.snapshot()
    task = truth["tasks"][0]["gid"]
    client.get("/workspaces")
    client.get("/workspaces")
    client.get(f"/tasks/{task}")
    client.get(f"/tasks/{task}/stories")
    client.get("/tasks")  # 400, still counted
    assert asana_server.admin.counts() == {
        "GET /workspaces": 2,
        "GET /tasks/{task_gid}": 1,
        "GET /tasks/{task_gid}/stories": 1,
        "GET /tasks": 1,
    }
    asana_server.admin.reset_counts()
    assert asana_server.admin.counts() == {}


def test_touch_moves_modified_at_and_renames(asana_server: AsanaServer, client: Client) -> None:
    before = utc_now()
    old = {t["gid"]: t for t in asana_server.admin.snapshot()["tasks"]}
    touched = asana_server.admin.touch_tasks(3)
    assert len(touched) == 3
    for gid in touched:
        record = client.data(f"/tasks/{gid}")
        assert record["modified_at"] >= before
        assert record["name"] != old[gid]["name"]
    project_of = {gid: old[gid]["projects"][0]["gid"] for gid in touched if old[gid]["projects"]}
    for gid, project in project_of.items():
        changed = client.all_pages("/tasks", project=project, modified_since=before)
        assert gid in {r["gid"] for r in changed}
        assert {r["gid"] for r in changed} <= set(touched)


def test_touch_given_gids(asana_server: AsanaServer) -> None:
    gids = [t["gid"] for t in asana_server.admin.snapshot()["tasks"][:2]]
    assert asana_server.admin.touch_tasks(gids=gids) == gids


def test_touch_unknown_gid_fails(asana_server: AsanaServer) -> None:
    with pytest.raises(AdminError, match="task: Unknown object: 42"):
        asana_server.admin.touch_tasks(gids=["42"])


def test_add_tasks_appear_in_listing(asana_server: AsanaServer, client: Client) -> None:
    before = utc_now()
    project = asana_server.admin.snapshot()["projects"][0]["gid"]
    added = asana_server.admin.add_tasks(2, project=project)
    listed = [r["gid"] for r in client.all_pages("/tasks", project=project)]
    assert listed[-2:] == added
    recent = client.all_pages(
        "/tasks", project=project, modified_since=before, opt_fields="created_at,modified_at"
    )
    assert [r["gid"] for r in recent] == added
    assert all(r["created_at"] == r["modified_at"] >= before for r in recent)


def test_delete_tasks_removes_them(asana_server: AsanaServer, client: Client) -> None:
    deleted = asana_server.admin.delete_tasks(2)
    truth = asana_server.admin.snapshot()
    assert not {t["gid"] for t in truth["tasks"]} & set(deleted)
    assert not {s["target"]["gid"] for s in truth["stories"]} & set(deleted)
    for gid in deleted:
        response = client.get(f"/tasks/{gid}")
        assert response.status_code == 404
        assert response.json()["errors"][0]["message"] == f"task: Unknown object: {gid}"
    for project in truth["projects"]:
        listed = {r["gid"] for r in client.all_pages("/tasks", project=project["gid"])}
        assert not listed & set(deleted)


def test_delete_keeps_parent_counts_right(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(projects=2, tasks_per_project=60)
    api = make_client(server)
    truth = server.admin.snapshot()
    child = next(t for t in truth["tasks"] if t["parent"] is not None)
    parent = child["parent"]["gid"]
    before = api.data(f"/tasks/{parent}", opt_fields="num_subtasks")["num_subtasks"]
    server.admin.delete_tasks(gids=[child["gid"]])
    assert api.data(f"/tasks/{parent}", opt_fields="num_subtasks")["num_subtasks"] == before - 1
    assert child["gid"] not in {r["gid"] for r in api.all_pages(f"/tasks/{parent}/subtasks")}


def test_add_stories_bumps_task(asana_server: AsanaServer, client: Client) -> None:
    before = utc_now()
    stories = asana_server.admin.add_stories(2)
    truth = asana_server.admin.snapshot()
    by_gid = {s["gid"]: s for s in truth["stories"]}
    for story_gid in stories:
        story = by_gid[story_gid]
        assert story["type"] == "comment"
        task = story["target"]["gid"]
        listed = client.all_pages(f"/tasks/{task}/stories")
        assert listed[-1]["gid"] == story_gid
        assert client.data(f"/tasks/{task}")["modified_at"] >= before


def test_mutation_rejects_bad_arguments(asana_server: AsanaServer) -> None:
    admin = AdminClient(asana_server.root_url)
    with pytest.raises(AdminError, match="count must be a non-negative integer"):
        admin.touch_tasks(count=-1)
    with pytest.raises(AdminError, match="project: Unknown object: 7"):
        admin.add_tasks(1, project="7")


def test_snapshot_has_every_table(asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    assert set(truth) == {
        "workspaces",
        "users",
        "teams",
        "projects",
        "sections",
        "tags",
        "tasks",
        "stories",
    }
    assert len(truth["tasks"]) == 4 * 25
    assert len(truth["workspaces"]) == 2


def test_snapshot_matches_listings(asana_server: AsanaServer, client: Client) -> None:
    truth = asana_server.admin.snapshot()
    for workspace in asana_server.workspace_gids:
        listed = {p["gid"] for p in client.all_pages("/projects", workspace=workspace)}
        assert listed == {p["gid"] for p in truth["projects"] if p["workspace"]["gid"] == workspace}
    listed_sections = set()
    for project in truth["projects"]:
        listed_sections |= {
            s["gid"] for s in client.all_pages(f"/projects/{project['gid']}/sections")
        }
    assert listed_sections == {s["gid"] for s in truth["sections"]}


def test_info_describes_server(asana_server: AsanaServer) -> None:
    info = asana_server.admin.info()
    assert info["base_url"] == asana_server.base_url
    assert info["workspace_gids"] == asana_server.workspace_gids


def test_unknown_admin_route_fails(asana_server: AsanaServer) -> None:
    admin = AdminClient(asana_server.root_url)
    with pytest.raises(AdminError, match="no admin route for GET /nothing"):
        admin._call("GET", "/nothing")


def test_touch_renames_references(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(projects=2, tasks_per_project=60)
    api = make_client(server)
    truth = server.admin.snapshot()
    parent = next(t["parent"]["gid"] for t in truth["tasks"] if t["parent"] is not None)
    server.admin.touch_tasks(gids=[parent])
    name = api.data(f"/tasks/{parent}")["name"]
    for child in api.all_pages(f"/tasks/{parent}/subtasks", opt_fields="parent.name"):
        assert child["parent"] == {"gid": parent, "name": name}
    for story in api.all_pages(f"/tasks/{parent}/stories", opt_fields="target.name"):
        assert story["target"] == {"gid": parent, "name": name}


def test_delete_parent_and_child_together(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(projects=2, tasks_per_project=60)
    api = make_client(server)
    truth = server.admin.snapshot()
    child = next(t for t in truth["tasks"] if t["parent"] is not None)
    parent = child["parent"]["gid"]
    assert server.admin.delete_tasks(gids=[parent, child["gid"]]) == [parent, child["gid"]]
    remaining = {t["gid"] for t in server.admin.snapshot()["tasks"]}
    assert parent not in remaining
    assert child["gid"] not in remaining
    assert api.get(f"/tasks/{parent}").status_code == 404


def test_snapshot_of_named_tables(asana_server: AsanaServer) -> None:
    part = asana_server.admin.snapshot(["projects", "sections"])
    whole = asana_server.admin.snapshot()
    assert part == {"projects": whole["projects"], "sections": whole["sections"]}
    with pytest.raises(AdminError, match="unknown table"):
        asana_server.admin.snapshot(["epics"])
