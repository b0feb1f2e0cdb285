"""Edges of the data: bookmarks, shared timestamps, moved and deleted tasks, archived projects
and an empty workspace, each loaded by the real CLI and checked against the server.

The admin API has no route to move a task, archive a project or give a task a chosen
`modified_at`. So `_store_edit` changes the in-process server's data under its lock, and every
read still goes over HTTP.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from omniload.errors import ExitCode
from tests.asana_server import AsanaServer
from tests.asana_server.data import Store, format_timestamp, now_ms
from tests.reliability.support import (
    WORKSPACE,
    MakeServer,
    assert_matches_truth,
    ingest,
    run_cli,
    source_uri,
    stored_state,
    table_names,
    table_rows,
    truth,
)


@contextmanager
def _store_edit(server: AsanaServer) -> Iterator[Store]:
    with server.store.lock:
        yield server.store


def _load(server: AsanaServer, folder: Path, table: str, *extra: str) -> str:
    result = run_cli(ingest(source_uri(server), table, None, *extra), folder)
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    return result.stdout


def _summary(stdout: str, table: str) -> dict[str, int]:
    """Return the inserted, updated and deleted counts of the summary line of `table`."""
    line = next(line for line in stdout.splitlines() if line.startswith(f"{table}:"))
    return {word: int(number) for number, word in re.findall(r"(\d+) (inserted|updated|deleted)", line)}


def _milliseconds(timestamp: str) -> int:
    moment = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


def test_task_modified_at_bookmark_is_loaded(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    _load(server, tmp_path, "tasks")
    state = next(iter(stored_state(tmp_path / "work.db").values()))
    partition = state["bookmarks"]["tasks"]["partitions"][0]
    project, bookmark = partition["context"]["project_gid"], partition["replication_key_value"]
    candidates = [
        task for task in truth(server, "tasks").values()
        if [item["gid"] for item in task["projects"]] == [project] and task["modified_at"] < bookmark
    ]
    chosen = candidates[0]["gid"]
    # The task changes after the run but gets exactly the stored bookmark as its modified_at.
    with _store_edit(server) as store:
        store.tasks[chosen] = {**store.tasks[chosen], "name": "changed at the bookmark",
                               "modified_at": bookmark}
        store.task_modified_ms[chosen] = _milliseconds(bookmark)

    stdout = _load(server, tmp_path, "tasks")

    assert table_rows(tmp_path / "work.db", "public.tasks")[chosen]["name"] == "changed at the bookmark"
    assert _summary(stdout, "public.tasks")["inserted"] == 0
    assert_matches_truth(tmp_path / "work.db", server, "tasks")


def test_many_tasks_share_one_modified_at(make_asana_server: MakeServer, tmp_path: Path) -> None:
    # 130 tasks in one project listing: the shared timestamp spans a page boundary.
    server = make_asana_server(workspace_gid=WORKSPACE, projects=2, tasks_per_project=130)
    _load(server, tmp_path, "tasks")
    project = next(row["gid"] for row in truth(server, "projects").values())
    members = [task["gid"] for task in truth(server, "tasks").values()
               if any(item["gid"] == project for item in task["projects"])]
    touched = server.admin.touch_tasks(gids=members)
    stamps = {task["modified_at"] for gid, task in truth(server, "tasks").items() if gid in touched}

    stdout = _load(server, tmp_path, "tasks")
    again = _load(server, tmp_path, "tasks")

    assert len(touched) > 100
    assert len(stamps) == 1
    assert _summary(stdout, "public.tasks")["updated"] >= len(touched)
    assert _summary(again, "public.tasks")["inserted"] == 0
    assert_matches_truth(tmp_path / "work.db", server, "tasks")


def _move_task(server: AsanaServer, gid: str, source: str, destination: str) -> None:
    """Move a task from project `source` into the first section of `destination`."""
    with _store_edit(server) as store:
        task = dict(store.tasks[gid])
        key = int(gid)
        for membership in task["memberships"]:
            if membership["project"]["gid"] == source:
                store.section_tasks[membership["section"]["gid"]].remove(key)
        store.project_tasks[source].remove(key)
        section = next(row for row in store.sections.values() if row["project"]["gid"] == destination)
        memberships = [item for item in task["memberships"] if item["project"]["gid"] != source]
        memberships.append({"project": store.ref(store.projects[destination]),
                            "section": store.ref(section)})
        bisect.insort(store.project_tasks[destination], key)
        bisect.insort(store.section_tasks[section["gid"]], key)
        stamp = now_ms()
        task.update(memberships=memberships, projects=[item["project"] for item in memberships],
                    modified_at=format_timestamp(stamp))
        store.tasks[gid] = task
        store.task_modified_ms[gid] = stamp


def test_task_moved_between_projects(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    _load(server, tmp_path, "tasks")
    projects = sorted(truth(server, "projects"))
    task = next(task for task in truth(server, "tasks").values()
                if [item["gid"] for item in task["projects"]] == [projects[0]] and not task["parent"])
    _move_task(server, task["gid"], projects[0], projects[1])

    _load(server, tmp_path, "tasks")

    row = table_rows(tmp_path / "work.db", "public.tasks")[task["gid"]]
    assert [item["gid"] for item in json.loads(row["projects"])] == [projects[1]]
    assert_matches_truth(tmp_path / "work.db", server, "tasks")


@pytest.mark.slow
def test_deleted_task_stays_until_full_refresh(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    _load(server, tmp_path, "tasks")
    deleted = set(server.admin.delete_tasks(count=2))

    _load(server, tmp_path, "tasks")
    after_merge = set(table_rows(tmp_path / "work.db", "public.tasks"))
    _load(server, tmp_path, "tasks", "--full-refresh")
    after_refresh = set(table_rows(tmp_path / "work.db", "public.tasks"))

    # Asana lists no deleted tasks, so an incremental merge cannot see a deletion.
    assert deleted <= after_merge
    assert not deleted & after_refresh
    assert_matches_truth(tmp_path / "work.db", server, "tasks")


@pytest.mark.slow
def test_project_archived_between_runs(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE)
    _load(server, tmp_path, "projects")
    _load(server, tmp_path, "tasks")
    project = next(row for row in truth(server, "projects").values() if not row["archived"])
    with _store_edit(server) as store:
        store.projects[project["gid"]] = {**store.projects[project["gid"]], "archived": True}
    server.admin.touch_tasks(count=2, project=project["gid"])

    _load(server, tmp_path, "projects")
    _load(server, tmp_path, "tasks")

    assert table_rows(tmp_path / "work.db", "public.projects")[project["gid"]]["archived"] is True
    assert_matches_truth(tmp_path / "work.db", server, "projects")
    assert_matches_truth(tmp_path / "work.db", server, "tasks")


def test_workspace_with_zero_projects(make_asana_server: MakeServer, tmp_path: Path) -> None:
    server = make_asana_server(workspace_gid=WORKSPACE, projects=0)
    outputs: dict[str, Any] = {}

    for table in ("tasks", "stories"):
        outputs[table] = _summary(_load(server, tmp_path, table), f"public.{table}")

    assert outputs == {table: {"inserted": 0, "updated": 0, "deleted": 0} for table in outputs}
    names = table_names(tmp_path / "work.db")
    for table in outputs:
        assert f"public.{table}" in names
        assert table_rows(tmp_path / "work.db", f"public.{table}") == {}
