"""Compare rows a third-party target wrote with the local Asana server's ground truth."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from tests.cli.support import expected_rows

STREAMS = ("workspaces", "users", "teams", "projects", "sections", "tags", "tasks", "stories")
SAMPLES_PER_STREAM = 5


def expected_records(snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Return per stream the server records a run over every workspace extracts.

    The rules per workspace are those of the omniload end-to-end tests: tasks are listed per
    project, so a subtask in no project is not extracted, and stories follow the tasks.
    """
    expected: dict[str, list[dict[str, Any]]] = {}
    for stream in STREAMS:
        by_gid: dict[str, dict[str, Any]] = {}
        for workspace in snapshot["workspaces"]:
            by_gid.update(expected_rows(snapshot, stream, workspace["gid"]))
        expected[stream] = list(by_gid.values())
    return expected


def sample(records: list[dict[str, Any]], count: int = SAMPLES_PER_STREAM) -> list[dict[str, Any]]:
    """Return up to ``count`` records spread over the list: first, last and evenly between."""
    ordered = sorted(records, key=lambda record: record["gid"])
    if len(ordered) <= count:
        return ordered
    step = (len(ordered) - 1) / (count - 1)
    return [ordered[round(index * step)] for index in range(count)]


def normalize(loaded: Any, expected: Any) -> tuple[Any, Any]:
    """Bring a loaded scalar and the server's JSON value to one comparable form.

    The server sends ISO 8601 strings and JSON numbers. Targets store date-times as timestamps
    (target-postgres without time zone, in UTC), dates as dates and numbers as decimals.
    """
    if isinstance(loaded, dt.datetime) and isinstance(expected, str):
        parsed = dt.datetime.fromisoformat(expected)
        if loaded.tzinfo is None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return loaded, parsed
    if isinstance(loaded, dt.date) and isinstance(expected, str):
        return loaded, dt.date.fromisoformat(expected)
    if isinstance(loaded, decimal.Decimal | float) and isinstance(expected, int | float):
        return float(loaded), float(expected)
    if isinstance(loaded, str) and isinstance(expected, int | float | bool):
        return loaded, str(expected)
    return loaded, expected


def scalar_mismatches(
    loaded_row: dict[str, Any], expected: dict[str, Any]
) -> list[tuple[str, Any, Any]]:
    """Return (column, loaded, expected) for every scalar field that differs.

    Only fields that are scalars on the server and columns in the table are compared. Tests
    check nested objects with their own assertions, because taps request a subset of their fields.
    """
    mismatches = []
    for column, loaded in loaded_row.items():
        if column.startswith("_sdc_") or column not in expected:
            continue
        value = expected[column]
        if isinstance(value, dict | list):
            continue
        left, right = normalize(loaded, value)
        if left != right:
            mismatches.append((column, loaded, value))
    return mismatches


def tasks_in_several_projects(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [task for task in tasks if len({p["gid"] for p in task.get("projects") or []}) > 1]


def extracted_records(server: Any) -> dict[str, list[dict[str, Any]]]:
    """Return ``expected_records`` of the server's current snapshot."""
    return expected_records(server.admin.snapshot())


def pick_tasks(server: Any, count: int, with_stories: bool = False) -> list[str]:
    """Return gids of ``count`` extracted leaf tasks (no subtasks), spread over the gid range.

    Mutations go through these gids because the server's own random pick may choose a subtask
    in no project, which the tap never extracts.
    """
    expected = extracted_records(server)
    story_targets = {story["target"]["gid"] for story in expected["stories"]}
    candidates = [
        task
        for task in expected["tasks"]
        if task["num_subtasks"] == 0 and (not with_stories or task["gid"] in story_targets)
    ]
    return [task["gid"] for task in sample(candidates, count)]
