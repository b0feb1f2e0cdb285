"""The eight Asana streams."""

from __future__ import annotations

import typing as t

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE, REPLICATION_INCREMENTAL

from tap_asana.client import AsanaStream, Listing, ObjectNotFoundError, to_asana_timestamp
from tap_asana.concurrency import ordered_map

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

# Key of a partition's state under which singer-sdk keeps the bookmark of a partition
# being synced (singer-sdk 0.54), and which it promotes to the bookmark at the end.
PROGRESS_MARKERS = "progress_markers"


class WorkspacesStream(AsanaStream):
    """Workspaces and organizations the token can read, or only `workspace_gid`."""

    name = "workspaces"
    path = "/workspaces"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the workspaces listed once for the whole run."""
        yield from self.workspaces()


class UsersStream(AsanaStream):
    """Users of every synced workspace; a user in several workspaces is one record."""

    name = "users"
    path = "/users"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return each user once, in the order of the first workspace that lists it."""
        seen: set[str] = set()
        listings = self.fan_out(
            self.workspaces(),
            lambda workspace: self.listing(self.path, workspace=workspace["gid"]),
        )
        for _workspace, users in listings:
            for user in users:
                if user["gid"] not in seen:
                    seen.add(user["gid"])
                    yield user


class TeamsStream(AsanaStream):
    """Teams of every synced organization; plain workspaces have none."""

    name = "teams"
    path = "/workspaces/{workspace_gid}/teams"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the teams of each organization, skipping plain workspaces."""
        organizations = []
        for workspace in self.workspaces():
            if workspace.get("is_organization"):
                organizations.append(workspace)
            else:
                self.logger.info(
                    "Skipping teams of workspace %s (%s): it is not an organization",
                    workspace["gid"],
                    workspace.get("name"),
                )
        listings = self.fan_out(
            organizations,
            lambda workspace: self.listing(self.path.format(workspace_gid=workspace["gid"])),
        )
        for workspace, teams in listings:
            for team in teams:
                team["workspace_gid"] = workspace["gid"]
                yield team


class ProjectsStream(AsanaStream):
    """Projects of every synced workspace, archived ones included."""

    name = "projects"
    path = "/projects"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the projects of each workspace with its `workspace_gid`."""
        listings = self.fan_out(
            self.workspaces(),
            lambda workspace: self.listing(self.path, workspace=workspace["gid"]),
        )
        for workspace, projects in listings:
            for project in projects:
                project["workspace_gid"] = workspace["gid"]
                yield project


class TagsStream(AsanaStream):
    """Tags of every synced workspace."""

    name = "tags"
    path = "/tags"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the tags of each workspace with its `workspace_gid`."""
        listings = self.fan_out(
            self.workspaces(),
            lambda workspace: self.listing(self.path, workspace=workspace["gid"]),
        )
        for workspace, tags in listings:
            for tag in tags:
                tag["workspace_gid"] = workspace["gid"]
                yield tag


class SectionsStream(AsanaStream):
    """Sections of every project, with `project_gid` and `workspace_gid`."""

    name = "sections"
    path = "/projects/{project_gid}/sections"

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the sections of each project, listing projects concurrently."""
        listings = self.fan_out(
            self.projects(),
            lambda project: self.listing(self.path.format(project_gid=project["project_gid"])),
        )
        for project, sections in listings:
            for section in self.skip_if_deleted("project", project["project_gid"], sections):
                section.update(project)
                yield section


class PartitionPrefetcher:
    """Fetch the listings of upcoming partitions while earlier ones are emitted.

    singer-sdk calls `get_records` once per partition, in the order of `partitions`.
    The listing of each partition is built in the calling (main) thread, because that
    reads the stream state, and fetched in worker threads ahead of its turn.
    """

    def __init__(
        self,
        stream: AsanaStream,
        partitions: list[dict],
        make_listing: t.Callable[[dict], Listing],
    ) -> None:
        self._stream = stream
        self._make_listing = make_listing
        self._results = stream.fan_out(partitions, make_listing)

    def take(self, context: Context) -> t.Iterator[dict]:
        """Return the records of `context`, which should be the next partition."""
        partition, records = next(self._results, (None, None))
        if partition == dict(context) and records is not None:
            return records
        # Not the expected partition (a caller synced one context directly).
        return iter(self._stream.fetch(self._make_listing(dict(context))))


class ProjectPartitionedStream(AsanaStream):
    """A stream with one state partition per project (`{"project_gid": ...}`)."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._partitions: list[dict] | None = None
        self._workspace_of: dict[str, str] = {}
        self._prefetcher: PartitionPrefetcher | None = None

    @property
    def partitions(self) -> list[dict] | None:
        """Return one partition per project of the synced workspaces."""
        if self._partitions is None:
            projects = self.projects()
            self._workspace_of = {p["project_gid"]: p["workspace_gid"] for p in projects}
            self._partitions = [{"project_gid": p["project_gid"]} for p in projects]
        return self._partitions

    def project_listing(self, context: Context) -> Listing:
        """Return the listing fetched for one project partition."""
        raise NotImplementedError

    def partition_records(self, context: Context) -> t.Iterator[dict]:
        """Return the prefetched listing of `context`, after writing finished state.

        The partition's bookmark will not pass the time this run started. A task
        modified while its project was being listed may be missing from the listing,
        and the next run must still ask for it, though newer tasks were seen.
        NOTE: the start time comes from this machine's clock; if that clock runs ahead
        of Asana's, changes made within the difference can be missed.
        """
        self.write_finished_partitions_state()
        self.state_manager.write_replication_key_signpost(
            to_asana_timestamp(self.run_started_at), context=context
        )
        if self._prefetcher is None:
            self._prefetcher = PartitionPrefetcher(
                self, self.partitions or [], self.project_listing
            )
        return self._prefetcher.take(context)


class TasksStream(ProjectPartitionedStream):
    """Tasks of every project, incremental on `modified_at` with a bookmark per project.

    A task in several projects is emitted once per run, under the first project that
    lists it; the other projects' bookmarks still advance past it.

    NOTE: deleted tasks never appear in `modified_since` listings, and this stream
    sends no ACTIVATE_VERSION, so a deleted task stays in the target.
    """

    name = "tasks"
    path = "/tasks"
    replication_key = "modified_at"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # gid -> modified_at of each task emitted in this run.
        self._emitted: dict[str, str] = {}

    def project_listing(self, context: Context) -> Listing:
        """Return `GET /tasks?project=...&modified_since=...` for one project."""
        query = {"project": context["project_gid"]}
        if since := self.bookmark_for(context):
            query["modified_since"] = since
        return self.listing(self.path, **query)

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the tasks of one project that this run has not emitted yet."""
        if context is None:
            return
        workspace_gid = self._workspace_of.get(context["project_gid"])
        try:
            for task in self.partition_records(context):
                modified_at = task.get("modified_at") or ""
                previous = self._emitted.get(task["gid"])
                if previous is not None and previous >= modified_at:
                    if modified_at:
                        self.state_manager.increment_state(
                            task, context=context, replication_key="modified_at"
                        )
                    continue
                self._emitted[task["gid"]] = modified_at
                if workspace_gid is not None:
                    task["workspace_gid"] = workspace_gid
                yield task
        except ObjectNotFoundError as exc:
            self.log_deleted_parent("project", context["project_gid"], exc)
            # Drop the progress that singer-sdk would turn into the new bookmark, so the
            # project keeps its previous bookmark.
            self.get_context_state(context).pop(PROGRESS_MARKERS, None)


class StoriesStream(ProjectPartitionedStream):
    """Stories (comments and activity) of every task in a project.

    `stories_mode` decides the replication. In `full` mode (the default) every task's
    stories are read and the table is replaced. In `incremental` mode only the stories
    of tasks modified since the last run are read. Adding a story updates its task's
    `modified_at`, so the bookmark (one per project) is the newest task `modified_at`
    seen, and no story created before it can be missing.
    """

    name = "stories"
    path = "/tasks/{task_gid}/stories"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._listed_tasks: set[str] = set()

    @property
    def incremental(self) -> bool:
        """Return whether `stories_mode` is `incremental`."""
        return self.config.get("stories_mode") == "incremental"

    @property
    def replication_key(self) -> str | None:  # type: ignore[override]
        """Return `created_at` in incremental mode, else None (full table)."""
        return "created_at" if self.incremental else None

    @replication_key.setter
    def replication_key(self, value: str | None) -> None:
        # stories_mode decides, and a catalog's replication key for stories is ignored.
        # Otherwise a catalog saved in full mode would turn incremental runs into reloads.
        pass

    @property
    def replication_method(self) -> str:
        """Return INCREMENTAL or FULL_TABLE according to `stories_mode`."""
        return REPLICATION_INCREMENTAL if self.incremental else REPLICATION_FULL_TABLE

    @property
    def partitions(self) -> list[dict] | None:
        """Return one partition per project in incremental mode, else none."""
        return super().partitions if self.incremental else None

    def project_listing(self, context: Context) -> Listing:
        """Return the compact listing of one project's tasks changed since its bookmark."""
        query = {"project": context["project_gid"], "opt_fields": "modified_at"}
        if since := self.bookmark_for(context):
            query["modified_since"] = since
        return Listing("/tasks", query)

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the stories of every task (full) or of changed tasks (incremental)."""
        if not self.incremental:
            yield from self._stories_of(self._every_task())
            return
        if context is None:
            return

        try:
            changed = list(self.partition_records(context))
        except ObjectNotFoundError as exc:
            # The project keeps its bookmark: nothing was read, so nothing advances it.
            self.log_deleted_parent("project", context["project_gid"], exc)
            return
        workspace_gid = self._workspace_of.get(context["project_gid"], "")
        new_tasks = []
        for task in changed:
            if task["gid"] not in self._listed_tasks:
                self._listed_tasks.add(task["gid"])
                new_tasks.append((task["gid"], workspace_gid))
        yield from self._stories_of(iter(new_tasks))

        newest = max((task.get("modified_at") or "" for task in changed), default="")
        if newest:
            self.state_manager.increment_state(
                {"created_at": newest}, context=context, replication_key="created_at"
            )

    def _every_task(self) -> t.Iterator[tuple[str, str]]:
        """Yield `(task_gid, workspace_gid)` once for each task of every project.

        With `start_date` set, only tasks modified since then are listed, as in the
        tasks stream, so the stories table covers the same tasks as the tasks table.
        """
        query = {"opt_fields": "gid"}
        if start_date := self.config.get("start_date"):
            query["modified_since"] = to_asana_timestamp(start_date)
        listings = self.fan_out(
            self.projects(),
            lambda project: Listing("/tasks", {"project": project["project_gid"], **query}),
        )
        for project, tasks in listings:
            for task in self.skip_if_deleted("project", project["project_gid"], tasks):
                if task["gid"] not in self._listed_tasks:
                    self._listed_tasks.add(task["gid"])
                    yield task["gid"], project["workspace_gid"]

    def _stories_of(self, tasks: t.Iterator[tuple[str, str]]) -> t.Iterator[dict]:
        """Yield the stories of each task, fetched concurrently, in task order.

        A task deleted after it was listed is skipped with a warning, and none of its
        stories are emitted, because Asana deletes a task's stories with it.
        """
        results = ordered_map(self._fetch_stories, tasks, workers=self._tap.max_workers)
        for (task_gid, workspace_gid), stories in results:
            if isinstance(stories, ObjectNotFoundError):
                self.log_deleted_parent("task", task_gid, stories)
                continue
            for story in stories:
                story["task_gid"] = task_gid
                story["workspace_gid"] = workspace_gid
                yield story

    def _fetch_stories(self, task: tuple[str, str]) -> list[dict] | ObjectNotFoundError:
        """Return every story of a task, or the 404 error if the task has been deleted.

        Runs in a worker thread. The error is returned, not raised, because ordered_map
        stops at the first exception and the other tasks must go on.
        """
        try:
            return self.fetch(self.listing(self.path.format(task_gid=task[0])))
        except ObjectNotFoundError as exc:
            return exc


STREAM_TYPES: list[type[AsanaStream]] = [
    WorkspacesStream,
    UsersStream,
    TeamsStream,
    ProjectsStream,
    SectionsStream,
    TagsStream,
    TasksStream,
    StoriesStream,
]
