"""Stories in full mode (every task, every run) and incremental mode (changed tasks only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import TapRun, catalog_selecting, run_tap, server_config

PROJECTS = 4


@pytest.fixture
def server() -> Iterator[AsanaServer]:
    knobs = dict(seed=13, projects=PROJECTS, tasks_per_project=20, stories_per_task=2)
    with AsanaServer(ServerConfig(**knobs)) as running:
        yield running


def sync(server: AsanaServer, tmp_path: Path, state: dict | None = None, **settings: Any) -> TapRun:
    config = server_config(server, **settings)
    catalog = catalog_selecting(tmp_path, config, {"tasks", "stories"})
    server.admin.reset_counts()
    run = run_tap(tmp_path, config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    run.request_counts = server.admin.counts()
    return run


def stories_of_project_tasks(server: AsanaServer) -> set[str]:
    snapshot = server.admin.snapshot()
    in_projects = {task["gid"] for task in snapshot["tasks"] if task.get("projects")}
    return {story["gid"] for story in snapshot["stories"] if story["target"]["gid"] in in_projects}


def test_full_mode_rereads_stories_of_unchanged_tasks(server: AsanaServer, tmp_path: Path) -> None:
    first = sync(server, tmp_path)
    second = sync(server, tmp_path, state=first.final_state())

    expected = stories_of_project_tasks(server)
    assert {story["gid"] for story in first.records("stories")} == expected
    # The tasks bookmark skips unchanged tasks, but the stories table is reloaded whole.
    assert len(second.records("tasks")) <= PROJECTS
    assert {story["gid"] for story in second.records("stories")} == expected
    assert "ACTIVATE_VERSION" in second.message_types("stories")


def test_full_mode_lists_tasks_with_gids_only(server: AsanaServer, tmp_path: Path) -> None:
    run = sync(server, tmp_path)
    tasks = {task["gid"] for task in run.records("tasks")}
    # One page of tasks per project for each of the two streams, then one stories
    # listing per task.
    assert run.request_counts["GET /tasks"] == 2 * PROJECTS
    assert run.request_counts["GET /tasks/{task_gid}/stories"] == len(tasks)


def test_incremental_mode_reads_changed_tasks_only(server: AsanaServer, tmp_path: Path) -> None:
    first = sync(server, tmp_path, stories_mode="incremental")
    assert {s["gid"] for s in first.records("stories")} == stories_of_project_tasks(server)
    assert "ACTIVATE_VERSION" not in first.message_types("stories")
    bookmarks = first.final_state()["bookmarks"]["stories"]["partitions"]
    assert len(bookmarks) == PROJECTS

    project = bookmarks[0]["context"]["project_gid"]
    new_stories = set(server.admin.add_stories(3, project=project))
    second = sync(server, tmp_path, state=first.final_state(), stories_mode="incremental")

    emitted = {story["gid"]: story for story in second.records("stories")}
    assert new_stories <= set(emitted)
    snapshot = server.admin.snapshot()
    task_of = {story["gid"]: story["target"]["gid"] for story in snapshot["stories"]}
    changed_tasks = {task_of[gid] for gid in new_stories}
    for story in emitted.values():
        assert story["task_gid"] == task_of[story["gid"]]
    # Stories are read for the changed tasks, plus at most the task at each project's
    # bookmark, since modified_since is inclusive.
    listed = second.request_counts["GET /tasks/{task_gid}/stories"]
    assert len(changed_tasks) <= listed <= len(changed_tasks) + PROJECTS
    assert "ACTIVATE_VERSION" not in second.message_types("stories")


def test_incremental_mode_ignores_a_full_mode_catalog(server: AsanaServer, tmp_path: Path) -> None:
    # A catalog discovered in full mode declares no replication key for stories.
    catalog = catalog_selecting(tmp_path, server_config(server), {"stories"})
    config = server_config(server, stories_mode="incremental")
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert run.records("stories")
    assert "ACTIVATE_VERSION" not in run.message_types("stories")
    assert run.final_state()["bookmarks"]["stories"]["partitions"]


def test_full_mode_follows_start_date(server: AsanaServer, tmp_path: Path) -> None:
    snapshot = server.admin.snapshot()
    tasks = [task for task in snapshot["tasks"] if task.get("projects")]
    times = sorted(task["modified_at"] for task in tasks)
    start_date = times[len(times) // 2]

    run = sync(server, tmp_path, start_date=start_date)

    recent = {task["gid"] for task in tasks if task["modified_at"] >= start_date}
    assert {task["gid"] for task in run.records("tasks")} == recent
    expected = {s["gid"] for s in snapshot["stories"] if s["target"]["gid"] in recent}
    assert {story["gid"] for story in run.records("stories")} == expected
    assert {story["task_gid"] for story in run.records("stories")} <= recent
