"""Incremental tasks: per-project bookmarks, second runs, start_date and resuming."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tap_asana.client import to_asana_timestamp

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import (
    TapRun,
    catalog_selecting,
    run_tap,
    server_config,
    tap_command,
    tasks_bookmarks,
)

PROJECTS = 5


@pytest.fixture
def server() -> Iterator[AsanaServer]:
    with AsanaServer(ServerConfig(seed=11, projects=PROJECTS, tasks_per_project=40)) as running:
        yield running


def sync_tasks(
    server: AsanaServer, tmp_path: Path, state: dict | None = None, **settings: Any
) -> TapRun:
    config = server_config(server, **settings)
    catalog = catalog_selecting(tmp_path, config, {"tasks"})
    server.admin.reset_counts()
    run = run_tap(tmp_path, config, state=state, catalog=catalog)
    assert run.returncode == 0, run.stderr
    run.request_counts = server.admin.counts()
    return run


def project_tasks(server: AsanaServer) -> dict[str, list[dict[str, Any]]]:
    """Return project gid -> its tasks, from the server's ground truth."""
    by_project: dict[str, list[dict[str, Any]]] = {}
    for task in server.admin.snapshot()["tasks"]:
        for project in task.get("projects") or []:
            by_project.setdefault(project["gid"], []).append(task)
    return by_project


def test_state_has_one_bookmark_per_project(server: AsanaServer, tmp_path: Path) -> None:
    run = sync_tasks(server, tmp_path)
    bookmarks = tasks_bookmarks(run.final_state())
    expected = {
        project: max(task["modified_at"] for task in tasks)
        for project, tasks in project_tasks(server).items()
    }
    # Every project's bookmark is its newest task, including projects whose newest task
    # was emitted under another project because it is in both.
    assert bookmarks == expected
    assert "progress_markers" not in json.dumps(run.final_state())


def test_second_run_costs_one_request_per_project(server: AsanaServer, tmp_path: Path) -> None:
    first = sync_tasks(server, tmp_path)
    bookmarks = tasks_bookmarks(first.final_state())

    second = sync_tasks(server, tmp_path, state=first.final_state())

    assert second.request_counts["GET /tasks"] == PROJECTS
    # modified_since is inclusive, so only tasks at a project's bookmark come back.
    at_bookmark = set(bookmarks.values())
    for task in second.records("tasks"):
        assert task["modified_at"] in at_bookmark
    assert len(second.records("tasks")) <= PROJECTS
    assert tasks_bookmarks(second.final_state()) == bookmarks


def test_changed_and_added_tasks_come_back(server: AsanaServer, tmp_path: Path) -> None:
    first = sync_tasks(server, tmp_path)
    old_bookmarks = tasks_bookmarks(first.final_state())
    touched = set(server.admin.touch_tasks(3))
    added = set(server.admin.add_tasks(2))

    second = sync_tasks(server, tmp_path, state=first.final_state())

    emitted = {task["gid"]: task for task in second.records("tasks")}
    in_projects = {t["gid"] for tasks in project_tasks(server).values() for t in tasks}
    assert (touched & in_projects) <= set(emitted)
    assert added <= set(emitted)
    unchanged = set(emitted) - touched - added
    for gid in unchanged:
        assert emitted[gid]["modified_at"] in set(old_bookmarks.values())
    truth = {t["gid"]: t for t in server.admin.snapshot()["tasks"]}
    for gid in (touched & in_projects) | added:
        assert emitted[gid]["modified_at"] == truth[gid]["modified_at"]
        assert emitted[gid]["name"] == truth[gid]["name"]


def test_first_run_starts_at_start_date(server: AsanaServer, tmp_path: Path) -> None:
    tasks = {t["gid"]: t for tasks in project_tasks(server).values() for t in tasks}
    times = sorted(task["modified_at"] for task in tasks.values())
    cutoff = datetime.fromisoformat(times[len(times) // 2])
    # The same instant written in another time zone: the tap must send it in UTC.
    start_date = cutoff.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00"
    shifted = cutoff.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()

    for value in (start_date, shifted):
        run = sync_tasks(server, tmp_path, start_date=value)
        emitted = {task["gid"] for task in run.records("tasks")}
        expected = {
            gid for gid, task in tasks.items() if task["modified_at"] >= to_asana_timestamp(cutoff)
        }
        assert emitted == expected, value


def test_resume_uses_each_projects_bookmark(server: AsanaServer, tmp_path: Path) -> None:
    by_project = project_tasks(server)
    finished, unfinished = sorted(by_project)[:2]
    newest = max(task["modified_at"] for task in by_project[finished])
    state = {
        "bookmarks": {
            "tasks": {
                "partitions": [
                    {
                        "context": {"project_gid": finished},
                        "replication_key": "modified_at",
                        "replication_key_value": newest,
                    }
                ]
            }
        }
    }

    run = sync_tasks(server, tmp_path, state=state)

    emitted = {task["gid"]: task for task in run.records("tasks")}
    for task in by_project[unfinished]:
        assert task["gid"] in emitted
    from_finished = [t for t in by_project[finished] if t["gid"] in emitted]
    for task in from_finished:
        # Either at the bookmark, or listed earlier under another, unfinished project.
        assert task["modified_at"] == newest or len(task["projects"]) > 1


def test_stopped_run_resumes_without_starting_over(tmp_path: Path) -> None:
    knobs = dict(seed=5, projects=6, tasks_per_project=30, latency_ms=150)
    with AsanaServer(ServerConfig(**knobs)) as server:
        config = server_config(server, max_concurrent_requests=1)
        catalog = catalog_selecting(tmp_path, config, {"tasks"})
        (tmp_path / "config.json").write_text(json.dumps(config))
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        command = tap_command(
            "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")
        )

        # Stop the tap as soon as it reports a finished project.
        saved_state = None
        emitted_before_stop: set[str] = set()
        with subprocess.Popen(  # noqa: S603 - this interpreter running tap_asana
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                message = json.loads(line)
                if message["type"] == "RECORD":
                    emitted_before_stop.add(message["record"]["gid"])
                if message["type"] == "STATE" and tasks_bookmarks(message["value"]):
                    saved_state = message["value"]
                    process.kill()
                    break
            process.wait(timeout=60)
        assert saved_state is not None, "the tap finished before any project did"
        finished = tasks_bookmarks(saved_state)
        assert 0 < len(finished) < 6

        server.admin.reset_counts()
        resumed = run_tap(tmp_path, config, state=saved_state, catalog=catalog)
        assert resumed.returncode == 0, resumed.stderr

        by_project = project_tasks(server)
        all_tasks = {t["gid"] for tasks in by_project.values() for t in tasks}
        resumed_gids = {task["gid"] for task in resumed.records("tasks")}
        assert emitted_before_stop | resumed_gids == all_tasks
        # Finished projects send only tasks at their bookmark (or shared with others).
        for project, bookmark in finished.items():
            for task in by_project[project]:
                if task["gid"] in resumed_gids and len(task["projects"]) == 1:
                    assert task["modified_at"] == bookmark


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-24T16:00:00Z", "2024-05-24T16:00:00.000Z"),
        ("2024-05-24T18:00:00.123456+02:00", "2024-05-24T16:00:00.123Z"),
        ("2024-05-24", "2024-05-24T00:00:00.000Z"),
        ("2024-05-24T16:00:00", "2024-05-24T16:00:00.000Z"),
    ],
)
def test_timestamps_are_sent_in_utc_with_z(value: str, expected: str) -> None:
    assert to_asana_timestamp(value) == expected
