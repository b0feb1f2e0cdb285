"""Objects deleted while the tap runs: their child listings are skipped, the run goes on."""

from __future__ import annotations

import threading
import time
import typing as t
from pathlib import Path

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import TapRun, catalog_selecting, run_tap, server_config

STORIES_ROUTE = "GET /tasks/{task_gid}/stories"
DELETED_TASKS = 8


def last_leaf_tasks(server: AsanaServer, count: int) -> list[str]:
    """Return the `count` highest task gids of the project among tasks without subtasks.

    The stories stream reads tasks in gid order, so these tasks' stories come last.
    """
    tasks = server.admin.snapshot(["tasks"])["tasks"]
    parents = {task["parent"]["gid"] for task in tasks if task.get("parent")}
    leaves = [task["gid"] for task in tasks if task.get("projects") and task["gid"] not in parents]
    return sorted(leaves, key=int)[-count:]


def run_deleting(
    server: AsanaServer,
    tmp_path: Path,
    config: dict,
    catalog: dict,
    when: tuple[str, int],
    delete: t.Callable[[], list[str]],
) -> tuple[TapRun, list[str]]:
    """Run the tap; call `delete` once the server has counted `when` = (route, requests).

    Return the run and the gids `delete` returned.
    """
    route, requests = when
    done = threading.Event()
    deleted: list[str] = []

    def watch() -> None:
        while not done.is_set():
            if server.admin.counts().get(route, 0) >= requests:
                deleted.extend(delete())
                return
            time.sleep(0.01)

    deleter = threading.Thread(target=watch)
    deleter.start()
    try:
        run = run_tap(tmp_path, config, catalog=catalog)
    finally:
        done.set()
        deleter.join()
    return run, deleted


def test_tasks_deleted_mid_run_are_skipped(tmp_path: Path) -> None:
    # One project, so the stories of the highest task gids are read last. Latency and
    # two requests in flight keep the stories stream running for a few seconds.
    knobs = dict(seed=29, projects=1, tasks_per_project=60, stories_per_task=2, latency_ms=100)
    with AsanaServer(ServerConfig(**knobs)) as server:
        config = server_config(server, max_concurrent_requests=2)
        catalog = catalog_selecting(tmp_path, config, {"stories"})
        victims = last_leaf_tasks(server, DELETED_TASKS)
        server.admin.reset_counts()

        run, deleted = run_deleting(
            server, tmp_path, config, catalog, (STORIES_ROUTE, 4),
            lambda: server.admin.delete_tasks(gids=victims),
        )
        snapshot = server.admin.snapshot(["tasks", "stories"])

    assert run.returncode == 0, run.stderr[-3000:]
    assert deleted == victims

    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    skipped = [line for line in warnings if "Skipping task" in line]
    assert len(skipped) == DELETED_TASKS, "\n".join(warnings)
    for gid in victims:
        lines = [line for line in skipped if f"Skipping task {gid}:" in line]
        assert len(lines) == 1, gid
        assert f"GET /api/1.0/tasks/{gid}/stories failed with 404" in lines[0]
        assert "was deleted or hidden from the token" in lines[0]
        assert "Check workspace_gid" not in lines[0]

    stories = run.records("stories")
    emitted_tasks = {story["task_gid"] for story in stories}
    assert not emitted_tasks & set(victims)
    remaining = {task["gid"] for task in snapshot["tasks"] if task.get("projects")}
    expected = {s["gid"] for s in snapshot["stories"] if s["target"]["gid"] in remaining}
    assert {story["gid"] for story in stories} == expected
    assert run.message_types("stories")[-1] == "ACTIVATE_VERSION"


def test_project_deleted_mid_run_is_skipped(tmp_path: Path) -> None:
    # One request in flight, so the projects' task listings run one after another in gid
    # order, and the last project is deleted before its listing starts.
    knobs = dict(seed=31, projects=5, tasks_per_project=20, latency_ms=100)
    with AsanaServer(ServerConfig(**knobs)) as server:
        organization = server.workspace_gids[0]
        config = server_config(server, max_concurrent_requests=1, workspace_gid=organization)
        catalog = catalog_selecting(tmp_path, config, {"tasks"})
        projects = server.admin.snapshot(["projects"])["projects"]
        victim = max((p["gid"] for p in projects if p["workspace"]["gid"] == organization), key=int)
        server.admin.reset_counts()

        run, deleted = run_deleting(
            server, tmp_path, config, catalog, ("GET /tasks", 1),
            lambda: server.admin.delete_projects(gids=[victim]),
        )
        snapshot = server.admin.snapshot(["tasks", "projects"])

    assert run.returncode == 0, run.stderr[-3000:]
    assert deleted == [victim]
    assert victim not in {project["gid"] for project in snapshot["projects"]}
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    skipped = [line for line in warnings if f"Skipping project {victim}:" in line]
    assert len(skipped) == 1, "\n".join(warnings)
    assert "failed with 404" in skipped[0]

    emitted = [task["gid"] for task in run.records("tasks")]
    assert len(emitted) == len(set(emitted))
    expected = {
        task["gid"]
        for task in snapshot["tasks"]
        if task.get("projects") and task["workspace"]["gid"] == organization
    }
    assert set(emitted) == expected
    partitions = run.final_state()["bookmarks"]["tasks"]["partitions"]
    bookmarked = {p["context"]["project_gid"] for p in partitions if "replication_key_value" in p}
    assert victim not in bookmarked
    assert len(bookmarked) == len(partitions) - 1
