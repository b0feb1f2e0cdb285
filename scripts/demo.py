"""Load all eight Asana tables from a local Asana server into DuckDB with omniload, then query them.

Run from the repository root, after installing requirements-dev.txt into .venv:

    .venv/bin/python scripts/demo.py [--dest output/demo.duckdb]

The local server (tests/asana_server) serves generated data on 127.0.0.1 and stops when the demo
ends. The token reaches omniload through ASANA_ACCESS_TOKEN, so the printed commands contain none.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from tests.asana_server import AsanaServer, ServerConfig  # noqa: E402

TABLES = ("workspaces", "users", "teams", "projects", "sections", "tags", "tasks", "stories")
WORKSPACE = "workspace-1337"


def demo_config() -> ServerConfig:
    """Return the local server's configuration: generated data with a fixed seed."""
    return ServerConfig(workspace_gid=WORKSPACE, projects=6, tasks_per_project=40)


def omniload_executable() -> str:
    """Return the omniload script installed next to this interpreter."""
    script = Path(sys.executable).parent / "omniload"
    return str(script) if script.exists() else "omniload"


def run_ingest(server: AsanaServer, table: str, dest_uri: str) -> None:
    """Run `omniload ingest` for one table, printing the command first."""
    command = [
        omniload_executable(), "ingest",
        "--source-uri", f"asana://{WORKSPACE}?api_url={server.base_url}",
        "--source-table", table,
        "--dest-uri", dest_uri,
        "--dest-table", f"asana.{table}",
        "--progress", "log",
        "--yes",
    ]
    print(f"\n$ {shlex.join(['omniload', *command[1:]])}", flush=True)
    environment = {**os.environ, "ASANA_ACCESS_TOKEN": server.token}
    completed = subprocess.run(command, env=environment, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise SystemExit(f"omniload ingest --source-table {table} failed with exit code "
                         f"{completed.returncode}")


def show_results(path: Path) -> None:
    """Print the rows per table and the open tasks per project."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        print(f"\nRows per table in {path}:")
        for table in TABLES:
            (rows,) = connection.execute(f"SELECT count(*) FROM asana.{table}").fetchone()  # noqa: S608
            print(f"  asana.{table:<11} {rows:>6}")

        print("\nOpen tasks per project (a task in two projects counts in both):")
        query = """
            SELECT p.name AS project, count(*) AS open_tasks
            FROM asana.tasks AS t,
                 unnest(CAST(t.projects AS JSON[])) AS membership(project)
            JOIN asana.projects AS p ON p.gid = membership.project ->> 'gid'
            WHERE NOT t.completed
            GROUP BY p.name
            ORDER BY open_tasks DESC, project
        """
        for project, open_tasks in connection.execute(query).fetchall():
            print(f"  {open_tasks:>4}  {project}")
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default="output/demo.duckdb",
                        help="DuckDB file to create, relative to the repository root")
    arguments = parser.parse_args()

    destination = (REPOSITORY / arguments.dest).resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    for stale in (destination, destination.with_name(destination.name + ".wal")):
        stale.unlink(missing_ok=True)
    dest_uri = f"duckdb:///{os.path.relpath(destination, REPOSITORY)}"

    os.chdir(REPOSITORY)
    with AsanaServer(demo_config()) as server:
        print(f"Local Asana server: {server.base_url} (workspace {WORKSPACE})")
        for table in TABLES:
            run_ingest(server, table, dest_uri)

        changed = first_task_gids(destination, count=5)
        server.admin.touch_tasks(gids=changed)
        print(f"\nRenamed {len(changed)} tasks on the server. The second tasks run fetches only "
              "tasks modified since the first; Asana's modified_since is inclusive, so the last "
              "task of each project comes again:")
        run_ingest(server, "tasks", dest_uri)
    show_results(destination)


def first_task_gids(path: Path, count: int) -> list[str]:
    """Return the gids of the first `count` loaded tasks."""
    connection = duckdb.connect(str(path), read_only=True)
    try:
        rows = connection.execute("SELECT gid FROM asana.tasks ORDER BY gid LIMIT ?", [count])
        return [gid for (gid,) in rows.fetchall()]
    finally:
        connection.close()


if __name__ == "__main__":
    main()
