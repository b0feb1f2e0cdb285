"""Responses of every endpoint validate against the full response schemas of Asana's spec."""

from __future__ import annotations

from typing import Any

import pytest

from tests.asana_server import AsanaServer, ServerConfig
from tests.asana_server.fields import COMPACT_FIELDS, OPT_IN_FIELDS

from .conftest import Client, Spec

SCHEMAS = {
    "workspace": "WorkspaceResponse",
    "user": "UserResponse",
    "team": "TeamResponse",
    "project": "ProjectResponse",
    "section": "SectionResponse",
    "tag": "TagResponse",
    "task": "TaskResponse",
    "story": "StoryResponse",
}

# List endpoints per resource; placeholders are filled from the ground truth.
LIST_ENDPOINTS = [
    ("workspace", "/workspaces", {}),
    ("user", "/users", {"workspace": "{workspace}"}),
    ("user", "/workspaces/{workspace}/users", {}),
    ("team", "/workspaces/{organization}/teams", {}),
    ("team", "/users/{user}/teams", {"organization": "{organization}"}),
    ("project", "/projects", {"workspace": "{workspace}"}),
    ("project", "/workspaces/{workspace}/projects", {}),
    ("project", "/teams/{team}/projects", {}),
    ("section", "/projects/{project}/sections", {}),
    ("tag", "/tags", {"workspace": "{workspace}"}),
    ("tag", "/workspaces/{workspace}/tags", {}),
    ("task", "/tasks", {"project": "{project}"}),
    ("task", "/projects/{project}/tasks", {}),
    ("task", "/sections/{section}/tasks", {}),
    ("task", "/tags/{tag}/tasks", {}),
    ("task", "/tasks", {"assignee": "{user}", "workspace": "{workspace}"}),
    ("task", "/tasks/{parent_task}/subtasks", {}),
    ("story", "/tasks/{task}/stories", {}),
]
OBJECT_ENDPOINTS = {
    "workspace": "/workspaces/{gid}",
    "user": "/users/{gid}",
    "team": "/teams/{gid}",
    "project": "/projects/{gid}",
    "section": "/sections/{gid}",
    "tag": "/tags/{gid}",
    "task": "/tasks/{gid}",
    "story": "/stories/{gid}",
}
TABLES = {
    "workspace": "workspaces",
    "user": "users",
    "team": "teams",
    "project": "projects",
    "section": "sections",
    "tag": "tags",
    "task": "tasks",
    "story": "stories",
}


@pytest.fixture(scope="module")
def server() -> Any:
    # Enough data that every story subtype, custom field type and task shape occurs.
    with AsanaServer(ServerConfig(seed=3, projects=5, tasks_per_project=40)) as running:
        yield running


@pytest.fixture(scope="module")
def truth(server: AsanaServer) -> dict[str, list[dict[str, Any]]]:
    return server.admin.snapshot()


@pytest.fixture
def api(server: AsanaServer, make_client: Any) -> Client:
    return make_client(server)


def allowed_missing(spec: Spec, resource: str, record: dict[str, Any]) -> set[str]:
    """Fields a record may lack even when named: the spec's conditional fields.

    Stories carry change fields only for their own subtype. `sticker_name`, `old_dates` and
    `new_dates` have non-nullable schemas, so they too can only be left out where they do not
    apply. Projects outside an organization have no team.
    """
    if resource == "story":
        conditional = {
            key
            for key, prop in spec.properties("StoryResponse").items()
            if "Conditional" in str(prop)
        }
        return conditional | {"sticker_name", "old_dates", "new_dates"}
    if resource == "project" and record.get("team") is None:
        return {"team"}
    return set()


def expand(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def endpoint_values(
    truth: dict[str, list[dict[str, Any]]], server: AsanaServer
) -> list[dict[str, str]]:
    """Placeholder values, once per workspace, chosen so that each listing is not empty."""
    organization = server.workspace_gids[0]
    values = []
    for workspace in server.workspace_gids:
        projects = [p for p in truth["projects"] if p["workspace"]["gid"] == workspace]
        tasks = [t for t in truth["tasks"] if t["workspace"]["gid"] == workspace]
        project = max(
            projects,
            key=lambda p: sum(1 for t in tasks if any(m["gid"] == p["gid"] for m in t["projects"])),
        )
        tagged = [tag["gid"] for t in tasks for tag in t["tags"]]
        parents = [t for t in tasks if t["num_subtasks"] > 0] or tasks
        story_counts = {s["target"]["gid"] for s in truth["stories"]}
        values.append(
            {
                "workspace": workspace,
                "organization": organization,
                "user": next(
                    u["gid"]
                    for u in truth["users"]
                    if any(w["gid"] == workspace for w in u["workspaces"])
                    and any((t["assignee"] or {}).get("gid") == u["gid"] for t in tasks)
                ),
                "team": truth["teams"][0]["gid"],
                "project": project["gid"],
                "section": next(
                    t["memberships"][0]["section"]["gid"]
                    for t in tasks
                    if t["memberships"] and t["memberships"][0]["project"]["gid"] == project["gid"]
                ),
                "tag": max(set(tagged), key=tagged.count),
                "parent_task": parents[0]["gid"],
                "task": next(t["gid"] for t in tasks if t["gid"] in story_counts),
            }
        )
    return values


def test_server_opt_in_fields_match_spec(spec: Spec) -> None:
    for resource, schema in SCHEMAS.items():
        assert OPT_IN_FIELDS[resource] == spec.opt_in_fields(schema), resource


def test_server_compact_fields_match_spec(spec: Spec) -> None:
    for resource, schema in SCHEMAS.items():
        compact_schema = schema.replace("Response", "Compact")
        expected = set(spec.properties(compact_schema)) - spec.opt_in_fields(compact_schema)
        assert set(COMPACT_FIELDS[resource]) == expected, resource


@pytest.mark.parametrize("full", [False, True], ids=["compact", "full"])
@pytest.mark.parametrize(
    ("resource", "path", "params"),
    LIST_ENDPOINTS,
    ids=[f"{path}?{'&'.join(params)}" for _, path, params in LIST_ENDPOINTS],
)
def test_list_records_match_spec(
    spec: Spec,
    server: AsanaServer,
    truth: dict[str, Any],
    api: Client,
    resource: str,
    path: str,
    params: dict[str, str],
    full: bool,
) -> None:
    schema = SCHEMAS[resource]
    every_field = list(spec.properties(schema))
    compact = set(COMPACT_FIELDS[resource])
    checked = 0
    for values in endpoint_values(truth, server):
        if (
            "{organization}" in path + "".join(params.values())
            and values["workspace"] != values["organization"]
        ):
            continue
        query = {key: expand(value, values) for key, value in params.items()}
        if full:
            query["opt_fields"] = ",".join(every_field)
        records = api.all_pages(expand(path, values), **query)
        for record in records:
            assert spec.errors(schema, record) == [], record["gid"]
            if full:
                missing = set(every_field) - set(record)
                assert missing <= allowed_missing(spec, resource, record), (record["gid"], missing)
                assert set(record) <= set(every_field)
            else:
                assert set(record) == compact, record["gid"]
        checked += len(records)
    assert checked > 0


@pytest.mark.parametrize("full", [False, True], ids=["default", "full"])
@pytest.mark.parametrize("resource", list(SCHEMAS))
def test_object_records_match_spec(
    spec: Spec, truth: dict[str, Any], api: Client, resource: str, full: bool
) -> None:
    schema = SCHEMAS[resource]
    every_field = set(spec.properties(schema))
    opt_in = spec.opt_in_fields(schema)
    for stored in truth[TABLES[resource]]:
        query = {"opt_fields": ",".join(sorted(every_field))} if full else {}
        record = api.data(OBJECT_ENDPOINTS[resource].format(gid=stored["gid"]), **query)
        assert spec.errors(schema, record) == [], stored["gid"]
        expected = every_field if full else every_field - opt_in
        missing = expected - set(record)
        assert missing <= allowed_missing(spec, resource, record), (stored["gid"], missing)
        assert set(record) <= expected, stored["gid"]


def test_snapshot_records_match_spec(spec: Spec, truth: dict[str, Any]) -> None:
    for resource, schema in SCHEMAS.items():
        rows = truth[TABLES[resource]]
        assert rows, resource
        for row in rows:
            assert spec.errors(schema, row) == [], (resource, row["gid"])
            assert set(row) <= set(spec.properties(schema)), (resource, row["gid"])


def test_full_object_equals_snapshot_row(truth: dict[str, Any], spec: Spec, api: Client) -> None:
    task = truth["tasks"][0]
    record = api.data(
        f"/tasks/{task['gid']}",
        opt_fields=",".join(
            f"{key}.name" if isinstance(value, dict) else key for key, value in task.items()
        ),
    )
    assert record["name"] == task["name"]
    assert record["notes"] == task["notes"]
    assert record["modified_at"] == task["modified_at"]
    assert record["num_subtasks"] == task["num_subtasks"]
    if task["assignee"] is not None:
        assert record["assignee"] == {
            "gid": task["assignee"]["gid"],
            "name": task["assignee"]["name"],
        }
    else:
        assert record["assignee"] is None


def test_every_story_subtype_validates(spec: Spec, truth: dict[str, Any]) -> None:
    subtypes = {story["resource_subtype"] for story in truth["stories"]}
    assert {
        "comment_added",
        "assigned",
        "due_date_changed",
        "name_changed",
        "added_to_project",
        "added_follower",
        "marked_complete",
    } <= subtypes


def test_validator_rejects_records_that_break_spec(spec: Spec, truth: dict[str, Any]) -> None:
    task = dict(truth["tasks"][0])
    assert spec.errors("TaskResponse", task) == []
    assert (
        spec.errors("TaskResponse", {**task, "assignee": None, "parent": None, "due_on": None})
        == []
    )
    broken = {
        "modified_at": "2024-05-24T19:50:18Z",  # no milliseconds
        "due_on": "2024-5-4",
        "workspace": None,  # not nullable
        "resource_subtype": "epic",
        "num_likes": "3",
        "assignee": "1234",
    }
    for key, value in broken.items():
        assert spec.errors("TaskResponse", {**task, key: value}) != [], key


@pytest.mark.parametrize(
    "knobs",
    [
        {"seed": 1},
        {"seed": 2, "projects": 7, "tasks_per_project": 30, "stories_per_task": 4},
        {"seed": 8, "teams": 0, "tags": 0, "users": 1, "sections_per_project": 1},
        {"seed": 13, "workspace_gid": "workspace-1337"},
    ],
    ids=["default", "larger", "sparse", "named-workspace"],
)
def test_other_data_sets_match_spec(spec: Spec, knobs: dict[str, Any]) -> None:
    with AsanaServer(ServerConfig(**knobs)) as other:
        other.admin.touch_tasks(3)
        other.admin.add_tasks(2)
        other.admin.add_stories(2)
        other.admin.delete_tasks(1)
        truth = other.admin.snapshot()
    for resource, schema in SCHEMAS.items():
        for row in truth[TABLES[resource]]:
            assert spec.errors(schema, row) == [], (resource, row["gid"])
