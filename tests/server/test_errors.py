"""Error statuses and their bodies: 400, 401, 403 and 404."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.asana_server import AsanaServer

from .conftest import Client


def errors(response: requests.Response) -> list[dict[str, Any]]:
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    return response.json()["errors"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer ", "{token}"],
    ids=["missing", "wrong", "basic", "empty-bearer", "no-scheme"],
)
def test_bad_token_gets_401(asana_server: AsanaServer, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header.format(token=asana_server.token)}
    response = requests.get(asana_server.base_url + "/workspaces", headers=headers, timeout=10)
    assert response.status_code == 401
    assert errors(response)[0]["message"] == "Not Authorized"


def test_limited_token_sees_one_workspace(asana_server: AsanaServer, make_client: Any) -> None:
    limited = make_client(asana_server, asana_server.limited_token)
    organization = asana_server.workspace_gids[0]
    assert [w["gid"] for w in limited.data("/workspaces")] == [organization]
    assert limited.data(f"/workspaces/{organization}")["gid"] == organization
    assert limited.data("/projects", workspace=organization)


def test_limited_token_gets_403_on_other_workspace(
    asana_server: AsanaServer, make_client: Any
) -> None:
    limited = make_client(asana_server, asana_server.limited_token)
    full = make_client(asana_server)
    plain = asana_server.workspace_gids[1]
    project = full.data("/projects", workspace=plain)[0]["gid"]
    task = full.data("/tasks", project=project)[0]["gid"]
    cases = {
        f"/workspaces/{plain}": "You do not have access to this workspace.",
        f"/projects?workspace={plain}": "You do not have access to this workspace.",
        f"/tags?workspace={plain}": "You do not have access to this workspace.",
        f"/users?workspace={plain}": "You do not have access to this workspace.",
        f"/projects/{project}": "You do not have access to this project.",
        f"/projects/{project}/sections": "You do not have access to this project.",
        f"/tasks?project={project}": "You do not have access to this project.",
        f"/tasks/{task}": "You do not have access to this task.",
        f"/tasks/{task}/stories": "You do not have access to this task.",
    }
    for path, expected in cases.items():
        response = limited.get(path)
        assert response.status_code == 403, path
        assert errors(response)[0]["message"] == expected, path


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/workspaces/{gid}", "workspace"),
        ("/users/{gid}", "user"),
        ("/teams/{gid}", "team"),
        ("/projects/{gid}", "project"),
        ("/projects/{gid}/sections", "project"),
        ("/sections/{gid}", "section"),
        ("/tags/{gid}", "tag"),
        ("/tasks/{gid}", "task"),
        ("/tasks/{gid}/stories", "task"),
        ("/tasks/{gid}/subtasks", "task"),
        ("/stories/{gid}", "story"),
        ("/tasks?project={gid}", "project"),
    ],
)
def test_unknown_gid_gets_404(client: Client, path: str, resource: str) -> None:
    gid = "1099511627776"
    response = client.get(path.format(gid=gid))
    assert response.status_code == 404
    assert errors(response)[0]["message"] == f"{resource}: Unknown object: {gid}"


def test_unknown_route_gets_404(client: Client) -> None:
    response = client.get("/portfolios")
    assert response.status_code == 404
    assert errors(response)[0]["message"] == "No matching route for request"


def test_write_method_gets_404(asana_server: AsanaServer) -> None:
    response = requests.post(
        asana_server.base_url + "/tasks",
        json={"data": {"name": "x"}},
        headers={"Authorization": f"Bearer {asana_server.token}"},
        timeout=10,
    )
    assert response.status_code == 404
    assert errors(response)[0]["message"] == "No matching route for request"


def test_path_outside_api_gets_404(asana_server: AsanaServer) -> None:
    response = requests.get(f"{asana_server.root_url}/api/2.0/workspaces", timeout=10)
    assert response.status_code == 404


def test_teams_of_plain_workspace_gets_400(client: Client, asana_server: AsanaServer) -> None:
    plain = asana_server.workspace_gids[1]
    response = client.get(f"/workspaces/{plain}/teams")
    assert response.status_code == 400
    assert errors(response)[0]["message"] == f"workspace: Not an organization: {plain}"


def test_user_teams_without_organization_gets_400(client: Client) -> None:
    response = client.get("/users/me/teams")
    assert response.status_code == 400
    assert errors(response)[0]["message"] == "organization: Missing input"


def test_bad_archived_value_gets_400(client: Client, asana_server: AsanaServer) -> None:
    response = client.get("/projects", workspace=asana_server.workspace_gids[0], archived="maybe")
    assert response.status_code == 400
    assert errors(response)[0]["message"].startswith("archived: Not a boolean")


def test_archived_filter_splits_projects(client: Client, asana_server: AsanaServer) -> None:
    workspace = asana_server.workspace_gids[0]
    every = {p["gid"] for p in client.data("/projects", workspace=workspace)}
    archived = {p["gid"] for p in client.data("/projects", workspace=workspace, archived="true")}
    active = {p["gid"] for p in client.data("/projects", workspace=workspace, archived="false")}
    assert archived | active == every
    assert not archived & active


def test_unbalanced_opt_fields_gets_400(client: Client) -> None:
    response = client.get("/workspaces", opt_fields="name,(email")
    assert response.status_code == 400
    assert errors(response)[0]["message"].startswith("opt_fields: ")


def test_unknown_opt_field_ignored_by_default(client: Client) -> None:
    records = client.data("/workspaces", opt_fields="name,colour")
    assert all(set(r) == {"gid", "name"} for r in records)


def test_unknown_opt_field_rejected_when_strict(make_asana_server: Any, make_client: Any) -> None:
    api = make_client(make_asana_server(unknown_opt_fields="error"))
    response = api.get("/workspaces", opt_fields="name,colour")
    assert response.status_code == 400
    assert (
        errors(response)[0]["message"]
        == "opt_fields: Unknown field colour for resource type workspace"
    )
    assert api.get("/workspaces", opt_fields="name,is_organization").status_code == 200


def test_error_body_has_help(client: Client) -> None:
    error = errors(client.get("/tasks"))[0]
    assert set(error) == {"message", "help"}
    assert error["help"].startswith("For more information")


def test_opt_fields_select_nested_paths(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    task = next(t for t in truth["tasks"] if t["assignee"] is not None and t["projects"])
    record = client.data(
        f"/tasks/{task['gid']}",
        opt_fields="this.assignee.name,projects,memberships.section.name,due_on",
    )
    assert record == {
        "gid": task["gid"],
        "assignee": {"gid": task["assignee"]["gid"], "name": task["assignee"]["name"]},
        "projects": [{"gid": p["gid"], "resource_type": "project"} for p in task["projects"]],
        "memberships": [
            {"section": {"gid": m["section"]["gid"], "name": m["section"]["name"]}}
            for m in task["memberships"]
        ],
        "due_on": task["due_on"],
    }


def test_opt_fields_group_operator(client: Client, asana_server: AsanaServer) -> None:
    truth = asana_server.admin.snapshot()
    user = truth["users"][0]
    record = client.data(f"/users/{user['gid']}", opt_fields="(name|email),workspaces.(name)")
    assert record == {
        "gid": user["gid"],
        "name": user["name"],
        "email": user["email"],
        "workspaces": [{"gid": w["gid"], "name": w["name"]} for w in user["workspaces"]],
    }


def test_opt_in_field_only_when_named(client: Client, asana_server: AsanaServer) -> None:
    task = asana_server.admin.snapshot()["tasks"][0]
    default = client.data(f"/tasks/{task['gid']}")
    assert "html_notes" not in default
    assert "num_subtasks" not in default
    named = client.data(f"/tasks/{task['gid']}", opt_fields="html_notes,num_subtasks")
    assert named == {
        "gid": task["gid"],
        "html_notes": task["html_notes"],
        "num_subtasks": task["num_subtasks"],
    }


def test_opt_pretty_indents_json(client: Client) -> None:
    response = client.get("/workspaces", opt_pretty="true")
    assert response.status_code == 200
    assert "\n  " in response.text


def test_stopped_server_closes_keep_alive(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server()
    api = make_client(server)
    url = server.base_url + "/workspaces"
    assert api.get(url).status_code == 200
    server.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(url)


def test_empty_opt_fields_gives_default(client: Client) -> None:
    assert client.data("/workspaces", opt_fields="") == client.data("/workspaces")
