"""The `/api/1.0` routes: request parsing, filters, visibility and pagination."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from .data import Record, Store
from .fields import FieldError, FieldTree, parse_opt_fields, select
from .pagination import OffsetCodec, OffsetError

HELP = (
    "For more information on API status codes and how to handle them, "
    "read the docs on errors: https://developers.asana.com/docs/errors"
)
TOO_LARGE_MESSAGE = (
    "The result is too large. You should use pagination (may require specifying a workspace)!"
)
TASK_FILTER_MESSAGE = (
    "Must specify exactly one of project, tag, section, user task list, or assignee + workspace"
)
NO_TASK_FILTER_MESSAGE = (
    "You should specify one of workspace, project, tag, section, user_task_list"
)


class ApiError(Exception):
    """An error response: status and the message of Asana's `{"errors": [...]}` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ApiRequest:
    """One parsed API request."""

    path: str  # below /api/1.0, for example "/tasks"
    query: list[tuple[str, str]]
    params: dict[str, str]
    path_params: dict[str, str]
    # Workspaces this token may see.
    visible_workspaces: frozenset[str]
    # Token owner's user gid, for "me".
    me_gid: str


@dataclass
class ListResult:
    resource: str
    # Yields matching records with gid greater than the argument (None: from the start).
    source: Callable[[int | None], Iterator[Record]]
    # The integer a page's last record leaves in the offset token; gids are integers elsewhere.
    cursor: Callable[[Record], int] = lambda record: int(record["gid"])


@dataclass
class ObjectResult:
    resource: str
    record: Record


Handler = Callable[["Api", ApiRequest], ListResult | ObjectResult]


class Api:
    """Route table and handlers over a Store."""

    def __init__(
        self, store: Store, codec: OffsetCodec, max_unpaginated: int, strict_fields: bool
    ) -> None:
        self.store = store
        self.codec = codec
        self.max_unpaginated = max_unpaginated
        self.strict_fields = strict_fields
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for template, handler in ROUTES:
            pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
            self.routes.append((template, re.compile(f"^{pattern}$"), handler))

    def match(self, path: str) -> tuple[str, dict[str, str], Handler] | None:
        """Return the route template, path parameters and handler for a path below /api/1.0."""
        for template, pattern, handler in self.routes:
            found = pattern.match(path)
            if found:
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return template, params, handler
        return None

    def respond(self, handler: Handler, request: ApiRequest, base_url: str) -> dict[str, Any]:
        """Run a handler and shape its result into the response body."""
        tree = self._field_tree(request)
        with self.store.lock:
            result = handler(self, request)
            if isinstance(result, ObjectResult):
                return {"data": self._view(result.record, result.resource, tree, full=True)}
            return self._page(result, request, tree, base_url)

    def _field_tree(self, request: ApiRequest) -> FieldTree | None:
        raw = request.params.get("opt_fields")
        if raw is None or not raw.strip():
            # An empty opt_fields selects nothing, so the default fields apply.
            return None
        try:
            return parse_opt_fields(raw)
        except FieldError as error:
            raise ApiError(400, str(error)) from error

    def _view(self, record: Record, resource: str, tree: FieldTree | None, full: bool) -> Record:
        try:
            return select(record, resource, tree, full=full, strict=self.strict_fields)
        except FieldError as error:
            raise ApiError(400, str(error)) from error

    def _page(
        self, result: ListResult, request: ApiRequest, tree: FieldTree | None, base_url: str
    ) -> dict[str, Any]:
        limit = parse_limit(request.params.get("limit"))
        query_key = (
            request.path
            + "?"
            + urlencode(
                sorted(
                    (k, v)
                    for k, v in request.query
                    if k not in ("offset", "limit", "opt_fields", "opt_pretty")
                )
            )
        )
        after = None
        if "offset" in request.params:
            try:
                after = self.codec.check(request.params["offset"], query_key)
            except OffsetError as error:
                raise ApiError(400, str(error)) from error

        cap = limit if limit is not None else self.max_unpaginated
        records = []
        for record in result.source(after):
            records.append(record)
            if len(records) > cap:
                break
        if limit is None:
            if len(records) > cap:
                raise ApiError(400, TOO_LARGE_MESSAGE)
            return {"data": [self._view(r, result.resource, tree, full=False) for r in records]}

        next_page = None
        if len(records) > limit:
            records = records[:limit]
            offset = self.codec.issue(query_key, result.cursor(records[-1]))
            query = [(k, v) for k, v in request.query if k != "offset"] + [("offset", offset)]
            path = f"{request.path}?{urlencode(query)}"
            next_page = {"offset": offset, "path": path, "uri": base_url + path}
        return {
            "data": [self._view(r, result.resource, tree, full=False) for r in records],
            "next_page": next_page,
        }


def parse_limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        # NOTE: Asana also returns 400 here, but its exact message is not documented.
        raise ApiError(400, f"limit: Must be an integer from 1 to 100, got {raw!r}")
    return int(raw)


def parse_time(name: str, raw: str) -> int:
    """Parse an ISO 8601 date-time (or date) query value into epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as error:
        raise ApiError(
            400, f"{name}: Not a valid date-time: {raw!r}; use a form like 2024-05-24T16:00:00.000Z"
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_bool(name: str, raw: str | None) -> bool | None:
    if raw is None:
        return None
    if raw in ("true", "false"):
        return raw == "true"
    raise ApiError(400, f"{name}: Not a boolean: {raw!r}; use true or false")


# --------------------------------------------------------------------------------------------
# Lookups and visibility


def _check_long(name: str, raw: str) -> str:
    if not raw.isdigit():
        raise ApiError(400, f"{name}: Not a Long")
    return raw


def _lookup(table: dict[str, Record], resource: str, raw: str, numeric: bool = True) -> Record:
    if numeric:
        _check_long(resource, raw)
    record = table.get(raw)
    if record is None:
        raise ApiError(404, f"{resource}: Unknown object: {raw}")
    return record


def _require_workspace(request: ApiRequest, workspace_gid: str, resource: str) -> None:
    if workspace_gid not in request.visible_workspaces:
        raise ApiError(403, f"You do not have access to this {resource}.")


def _workspace(api: Api, request: ApiRequest, raw: str) -> Record:
    if raw == "":
        raise ApiError(400, "workspace: Missing input")
    workspace = _lookup(api.store.workspaces, "workspace", raw, numeric=False)
    _require_workspace(request, workspace["gid"], "workspace")
    return workspace


def _visible_object(
    api: Api, request: ApiRequest, table: dict[str, Record], resource: str, raw: str
) -> Record:
    record = _lookup(table, resource, raw)
    _require_workspace(request, _record_workspace(api, resource, record), resource)
    return record


def _record_workspace(api: Api, resource: str, record: Record) -> str:
    if resource == "team":
        return record["organization"]["gid"]
    if resource == "section":
        return api.store.projects[record["project"]["gid"]]["workspace"]["gid"]
    if resource == "story":
        return api.store.tasks[record["target"]["gid"]]["workspace"]["gid"]
    return record["workspace"]["gid"]


def _user(api: Api, request: ApiRequest, raw: str) -> Record:
    gid = request.me_gid if raw == "me" else raw
    user = _lookup(api.store.users, "user", gid)
    if not {w["gid"] for w in user["workspaces"]} & request.visible_workspaces:
        raise ApiError(403, "You do not have access to this user.")
    return user


def _sorted_source(
    table: dict[str, Record], keys: list[int], keep: Callable[[Record], bool] | None = None
) -> Callable[[int | None], Iterator[Record]]:
    """Yield records of `keys` (sorted int gids) after a cursor, skipping those `keep` rejects."""

    def source(after: int | None) -> Iterator[Record]:
        start = 0 if after is None else bisect.bisect_right(keys, after)
        for key in keys[start:]:
            record = table.get(str(key))
            if record is not None and (keep is None or keep(record)):
                yield record

    return source


# --------------------------------------------------------------------------------------------
# Handlers


def list_workspaces(api: Api, request: ApiRequest) -> ListResult:
    # Workspace gids may be any string, so the page cursor is the position in this short list.
    visible = [w for w in api.store.workspaces.values() if w["gid"] in request.visible_workspaces]
    positions = {w["gid"]: position for position, w in enumerate(visible)}

    def source(after: int | None) -> Iterator[Record]:
        start = 0 if after is None else after + 1
        yield from visible[start:]

    return ListResult("workspace", source, cursor=lambda record: positions[record["gid"]])


def get_workspace(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult("workspace", _workspace(api, request, request.path_params["workspace_gid"]))


def list_users(api: Api, request: ApiRequest) -> ListResult:
    raw = request.params.get("workspace")
    store = api.store
    if raw is not None:
        workspace = _workspace(api, request, raw)
        return ListResult(
            "user", _sorted_source(store.users, store.workspace_users[workspace["gid"]])
        )
    keys = sorted(
        int(g)
        for g, u in store.users.items()
        if {w["gid"] for w in u["workspaces"]} & request.visible_workspaces
    )
    return ListResult("user", _sorted_source(store.users, keys))


def list_workspace_users(api: Api, request: ApiRequest) -> ListResult:
    workspace = _workspace(api, request, request.path_params["workspace_gid"])
    return ListResult(
        "user", _sorted_source(api.store.users, api.store.workspace_users[workspace["gid"]])
    )


def get_user(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult("user", _user(api, request, request.path_params["user_gid"]))


def list_workspace_teams(api: Api, request: ApiRequest) -> ListResult:
    workspace = _workspace(api, request, request.path_params["workspace_gid"])
    if not workspace["is_organization"]:
        # NOTE: Asana's exact wording for teams of a plain workspace is not documented.
        raise ApiError(400, f"workspace: Not an organization: {workspace['gid']}")
    return ListResult(
        "team", _sorted_source(api.store.teams, api.store.workspace_teams[workspace["gid"]])
    )


def list_user_teams(api: Api, request: ApiRequest) -> ListResult:
    _user(api, request, request.path_params["user_gid"])
    raw = request.params.get("organization")
    if raw is None:
        raise ApiError(400, "organization: Missing input")
    workspace = _workspace(api, request, raw)
    if not workspace["is_organization"]:
        raise ApiError(400, f"organization: Not an organization: {workspace['gid']}")
    # Every user is a member of every team in this data set.
    return ListResult(
        "team", _sorted_source(api.store.teams, api.store.workspace_teams[workspace["gid"]])
    )


def get_team(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "team",
        _visible_object(api, request, api.store.teams, "team", request.path_params["team_gid"]),
    )


def _archived_filter(request: ApiRequest) -> Callable[[Record], bool] | None:
    archived = parse_bool("archived", request.params.get("archived"))
    if archived is None:
        return None
    return lambda project: project["archived"] == archived


def list_projects(api: Api, request: ApiRequest) -> ListResult:
    store = api.store
    keep = _archived_filter(request)
    if "team" in request.params:
        team = _visible_object(api, request, store.teams, "team", request.params["team"])
        return ListResult(
            "project", _sorted_source(store.projects, store.team_projects[team["gid"]], keep)
        )
    if "workspace" in request.params:
        workspace = _workspace(api, request, request.params["workspace"])
        return ListResult(
            "project",
            _sorted_source(store.projects, store.workspace_projects[workspace["gid"]], keep),
        )
    keys = sorted(
        int(g)
        for g, p in store.projects.items()
        if p["workspace"]["gid"] in request.visible_workspaces
    )
    return ListResult("project", _sorted_source(store.projects, keys, keep))


def list_workspace_projects(api: Api, request: ApiRequest) -> ListResult:
    workspace = _workspace(api, request, request.path_params["workspace_gid"])
    return ListResult(
        "project",
        _sorted_source(
            api.store.projects,
            api.store.workspace_projects[workspace["gid"]],
            _archived_filter(request),
        ),
    )


def list_team_projects(api: Api, request: ApiRequest) -> ListResult:
    team = _visible_object(api, request, api.store.teams, "team", request.path_params["team_gid"])
    return ListResult(
        "project",
        _sorted_source(
            api.store.projects, api.store.team_projects[team["gid"]], _archived_filter(request)
        ),
    )


def get_project(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "project",
        _visible_object(
            api, request, api.store.projects, "project", request.path_params["project_gid"]
        ),
    )


def list_sections(api: Api, request: ApiRequest) -> ListResult:
    project = _visible_object(
        api, request, api.store.projects, "project", request.path_params["project_gid"]
    )
    return ListResult(
        "section", _sorted_source(api.store.sections, api.store.project_sections[project["gid"]])
    )


def get_section(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "section",
        _visible_object(
            api, request, api.store.sections, "section", request.path_params["section_gid"]
        ),
    )


def list_tags(api: Api, request: ApiRequest) -> ListResult:
    store = api.store
    if "workspace" in request.params:
        workspace = _workspace(api, request, request.params["workspace"])
        return ListResult("tag", _sorted_source(store.tags, store.workspace_tags[workspace["gid"]]))
    keys = sorted(
        int(g) for g, t in store.tags.items() if t["workspace"]["gid"] in request.visible_workspaces
    )
    return ListResult("tag", _sorted_source(store.tags, keys))


def list_workspace_tags(api: Api, request: ApiRequest) -> ListResult:
    workspace = _workspace(api, request, request.path_params["workspace_gid"])
    return ListResult(
        "tag", _sorted_source(api.store.tags, api.store.workspace_tags[workspace["gid"]])
    )


def get_tag(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "tag", _visible_object(api, request, api.store.tags, "tag", request.path_params["tag_gid"])
    )


def _task_filter(api: Api, request: ApiRequest) -> Callable[[Record], bool] | None:
    """Build the modified_since and completed_since filter of a task listing."""
    store = api.store
    checks: list[Callable[[Record], bool]] = []
    raw_modified = request.params.get("modified_since")
    if raw_modified is not None:
        # Inclusive: a task modified exactly at the given instant is listed.
        since = parse_time("modified_since", raw_modified)
        checks.append(lambda task: store.task_modified_ms[task["gid"]] >= since)
    raw_completed = request.params.get("completed_since")
    if raw_completed is not None:
        if raw_completed == "now":
            checks.append(lambda task: not task["completed"])
        else:
            completed_since = parse_time("completed_since", raw_completed)

            def incomplete_or_recent(task: Record) -> bool:
                completed_ms = store.task_completed_ms.get(task["gid"])
                return not task["completed"] or (
                    completed_ms is not None and completed_ms >= completed_since
                )

            checks.append(incomplete_or_recent)
    if not checks:
        return None
    return lambda task: all(check(task) for check in checks)


def list_tasks(api: Api, request: ApiRequest) -> ListResult:
    params = request.params
    store = api.store
    containers = [
        name for name in ("project", "section", "tag", "user_task_list") if name in params
    ]
    has_assignee, has_workspace = "assignee" in params, "workspace" in params
    if not containers and not has_assignee and not has_workspace:
        raise ApiError(400, NO_TASK_FILTER_MESSAGE)
    pair = has_assignee and has_workspace
    if len(containers) + (1 if pair else 0) != 1 or (has_assignee != has_workspace):
        raise ApiError(400, TASK_FILTER_MESSAGE)
    keep = _task_filter(api, request)
    if pair:
        workspace = _workspace(api, request, params["workspace"])
        user = _user(api, request, params["assignee"])
        keys = store.assigned_tasks[(workspace["gid"], user["gid"])]
        return ListResult("task", _sorted_source(store.tasks, keys, keep))
    name = containers[0]
    return _container_tasks(api, request, name, params[name], keep)


def _container_tasks(
    api: Api, request: ApiRequest, name: str, raw: str, keep: Callable[[Record], bool] | None
) -> ListResult:
    store = api.store
    if name == "project":
        project = _visible_object(api, request, store.projects, "project", raw)
        keys = store.project_tasks[project["gid"]]
    elif name == "section":
        section = _visible_object(api, request, store.sections, "section", raw)
        keys = store.section_tasks[section["gid"]]
    elif name == "tag":
        tag = _visible_object(api, request, store.tags, "tag", raw)
        keys = store.tag_tasks[tag["gid"]]
    else:
        task_list = _visible_object(api, request, store.user_task_lists, "user_task_list", raw)
        keys = store.assigned_tasks[(task_list["workspace"]["gid"], task_list["owner"]["gid"])]
    return ListResult("task", _sorted_source(store.tasks, keys, keep))


def _container_route(name: str, path_param: str) -> Handler:
    def handler(api: Api, request: ApiRequest) -> ListResult:
        return _container_tasks(
            api, request, name, request.path_params[path_param], _task_filter(api, request)
        )

    return handler


def list_subtasks(api: Api, request: ApiRequest) -> ListResult:
    task = _visible_object(api, request, api.store.tasks, "task", request.path_params["task_gid"])
    return ListResult("task", _sorted_source(api.store.tasks, api.store.subtasks[task["gid"]]))


def get_task(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "task",
        _visible_object(api, request, api.store.tasks, "task", request.path_params["task_gid"]),
    )


def list_stories(api: Api, request: ApiRequest) -> ListResult:
    task = _visible_object(api, request, api.store.tasks, "task", request.path_params["task_gid"])
    return ListResult(
        "story", _sorted_source(api.store.stories, api.store.task_stories[task["gid"]])
    )


def get_story(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "story",
        _visible_object(api, request, api.store.stories, "story", request.path_params["story_gid"]),
    )


def get_user_task_list_of_user(api: Api, request: ApiRequest) -> ObjectResult:
    user = _user(api, request, request.path_params["user_gid"])
    raw = request.params.get("workspace")
    if raw is None:
        raise ApiError(400, "workspace: Missing input")
    workspace = _workspace(api, request, raw)
    task_list = api.store.user_task_list_for(user["gid"], workspace["gid"])
    if task_list is None:
        raise ApiError(404, f"user_task_list: Unknown object: {user['gid']}")
    return ObjectResult("user_task_list", task_list)


def get_user_task_list(api: Api, request: ApiRequest) -> ObjectResult:
    return ObjectResult(
        "user_task_list",
        _visible_object(
            api,
            request,
            api.store.user_task_lists,
            "user_task_list",
            request.path_params["user_task_list_gid"],
        ),
    )


ROUTES: list[tuple[str, Handler]] = [
    ("/workspaces", list_workspaces),
    ("/workspaces/{workspace_gid}", get_workspace),
    ("/workspaces/{workspace_gid}/users", list_workspace_users),
    ("/workspaces/{workspace_gid}/teams", list_workspace_teams),
    ("/workspaces/{workspace_gid}/projects", list_workspace_projects),
    ("/workspaces/{workspace_gid}/tags", list_workspace_tags),
    ("/users", list_users),
    ("/users/{user_gid}", get_user),
    ("/users/{user_gid}/teams", list_user_teams),
    ("/users/{user_gid}/user_task_list", get_user_task_list_of_user),
    ("/teams/{team_gid}", get_team),
    ("/teams/{team_gid}/projects", list_team_projects),
    ("/projects", list_projects),
    ("/projects/{project_gid}", get_project),
    ("/projects/{project_gid}/sections", list_sections),
    ("/projects/{project_gid}/tasks", _container_route("project", "project_gid")),
    ("/sections/{section_gid}", get_section),
    ("/sections/{section_gid}/tasks", _container_route("section", "section_gid")),
    ("/tags", list_tags),
    ("/tags/{tag_gid}", get_tag),
    ("/tags/{tag_gid}/tasks", _container_route("tag", "tag_gid")),
    ("/user_task_lists/{user_task_list_gid}", get_user_task_list),
    (
        "/user_task_lists/{user_task_list_gid}/tasks",
        _container_route("user_task_list", "user_task_list_gid"),
    ),
    ("/tasks", list_tasks),
    ("/tasks/{task_gid}", get_task),
    ("/tasks/{task_gid}/subtasks", list_subtasks),
    ("/tasks/{task_gid}/stories", list_stories),
    ("/stories/{story_gid}", get_story),
]
