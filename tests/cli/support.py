"""Helpers for the end-to-end tests: running the installed omniload and reading ground truth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

OMNILOAD = str(Path(sys.executable).parent / "omniload")
TABLES = ("workspaces", "users", "teams", "projects", "sections", "tags", "tasks", "stories")
# The column compared with the ground truth besides gid, per table.
LABEL_COLUMN = {table: "name" for table in TABLES} | {"stories": "text"}


def clean_environment(**extra: str) -> dict[str, str]:
    """Return os.environ without omniload's and Asana's variables, plus `extra`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OMNILOAD_", "TAP_ASANA_", "TARGET_DUCKDB_"))
        and name != "ASANA_ACCESS_TOKEN"
    }
    return environment | extra


def run_omniload(
    arguments: list[str], cwd: Path, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `omniload` script with `arguments` in `cwd`, capturing its output."""
    return subprocess.run(  # noqa: S603
        [OMNILOAD, *arguments],
        cwd=cwd,
        env=environment or clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def ingest_arguments(
    source_uri: str, table: str, dest_uri: str = "duckdb://./work.db",
    dest_table: str | None = None, *extra: str,
) -> list[str]:
    """Return the arguments of the README's example command for `table`."""
    return [
        "ingest",
        "--source-uri", source_uri,
        "--source-table", table,
        "--dest-uri", dest_uri,
        "--dest-table", dest_table or f"public.{table}",
        *extra,
    ]


def expected_rows(snapshot: dict[str, list[dict[str, Any]]], table: str,
                  workspace: str) -> dict[str, dict[str, Any]]:
    """Return the server's ground truth for `table` in `workspace`, by gid.

    Tasks are listed per project, so a task in no project (a subtask added to none) is not
    extracted; stories follow the extracted tasks.
    """
    projects = {
        row["gid"] for row in snapshot["projects"] if row["workspace"]["gid"] == workspace
    }
    tasks = {
        row["gid"]: row
        for row in snapshot["tasks"]
        if any(project["gid"] in projects for project in row.get("projects") or [])
    }
    selected: list[dict[str, Any]]
    if table == "workspaces":
        selected = [row for row in snapshot["workspaces"] if row["gid"] == workspace]
    elif table == "users":
        selected = [
            row for row in snapshot["users"]
            if any(item["gid"] == workspace for item in row.get("workspaces") or [])
        ]
    elif table == "teams":
        selected = [row for row in snapshot["teams"] if row["organization"]["gid"] == workspace]
    elif table == "projects":
        selected = [row for row in snapshot["projects"] if row["gid"] in projects]
    elif table == "sections":
        selected = [row for row in snapshot["sections"] if row["project"]["gid"] in projects]
    elif table == "tags":
        selected = [row for row in snapshot["tags"] if row["workspace"]["gid"] == workspace]
    elif table == "tasks":
        selected = list(tasks.values())
    elif table == "stories":
        selected = [row for row in snapshot["stories"] if row["target"]["gid"] in tasks]
    else:
        raise ValueError(f"unknown table {table!r}")
    return {row["gid"]: row for row in selected}


def loaded_rows(path: Path, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Return `columns` of every row of `table` in the DuckDB file at `path`, ordered by gid."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        selection = ", ".join(f'"{column}"' for column in columns)
        return connection.execute(f"SELECT {selection} FROM {table} ORDER BY gid").fetchall()  # noqa: S608
    finally:
        connection.close()
