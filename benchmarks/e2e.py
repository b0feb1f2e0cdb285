"""End to end: ``omniload ingest`` against ingestr 0.14.155, side by side, and incremental runs.

Each run loads one Asana table from the local Asana server (latency per request and a
requests-per-minute limit) into a fresh DuckDB file. The server is restarted before every run,
so each run starts with empty counters and an empty rate-limit window. Figures: wall seconds,
requests the server counted, rows in the DuckDB table and distinct gids.

The ``incremental`` comparison loads tasks once, changes a fraction of them on the server, and
measures the second run. The first run's seconds and requests are stored beside it.

    python -m benchmarks.e2e tasks --projects 20 --tasks-per-project 1000
    python -m benchmarks.e2e stories --projects 20 --tasks-per-project 100
    python -m benchmarks.e2e incremental --projects 20 --tasks-per-project 1000 --changed 0.01
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from benchmarks import anchors, harness
from benchmarks.harness import RESULTS_DIR, WORK_DIR, BenchmarkError, Contender, compare, save
from benchmarks.local_server import (
    BenchServer,
    latency_floor_s,
    rate_limit_floor_s,
    server_projects_for,
)

LAUNCHERS = Path(__file__).resolve().parent / "launchers"
OURS_CLI = [str(Path(sys.executable).with_name("omniload"))]
DEST_TABLE = "public.{table}"
METRICS = ["wall_s", "requests", "rows", "distinct_gids", "peak_rss_bytes",
           "rate_limit_floor_s", "latency_floor_s"]
INCREMENTAL_METRICS = ["wall_s", "requests", "rows", "distinct_gids", "peak_rss_bytes",
                       "first_run_wall_s", "first_run_requests", "changed_tasks"]


def table_counts(db_path: Path, qualified: str) -> dict:
    """Count rows and distinct gids in ``schema.table`` of a DuckDB file (zeros if absent)."""
    schema, table = qualified.split(".", 1)
    if not db_path.exists():
        return {"rows": 0, "distinct_gids": 0}
    with duckdb.connect(str(db_path), read_only=True) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?", [schema, table]).fetchone()[0]
        if not exists:
            return {"rows": 0, "distinct_gids": 0}
        rows, gids = con.execute(
            f'select count(*), count(distinct gid) from "{schema}"."{table}"'  # noqa: S608
        ).fetchone()
    return {"rows": rows, "distinct_gids": gids}


class Sides:
    """Command lines of both contenders for one server, table and DuckDB file per side."""

    def __init__(self, server: BenchServer, work: Path, table: str,
                 anchor_command: list[str]) -> None:
        self.server = server
        self.work = work
        self.table = table
        self.anchor_command = anchor_command
        self.dest_table = DEST_TABLE.format(table=table)

    def db_path(self, side: str) -> Path:
        return self.work / f"{side}.duckdb"

    def ours(self) -> list[str]:
        source = f"asana://{self.server.workspace_gid}?api_url={self.server.base_url}"
        return [*OURS_CLI, "ingest", "--source-uri", source, "--source-table", self.table,
                "--dest-uri", f"duckdb:///{self.db_path('ours')}",
                "--dest-table", self.dest_table, "--progress", "log", "--yes"]

    def ours_env(self) -> dict[str, str]:
        return {"ASANA_ACCESS_TOKEN": self.server.token}

    def anchor(self) -> list[str]:
        # ingestr reads the token only from the URI.
        source = f"asana://{self.server.workspace_gid}?access_token={self.server.token}"
        return [*self.anchor_command, "ingest", "--source-uri", source,
                "--source-table", self.table,
                "--dest-uri", f"duckdb:///{self.db_path('ingestr')}",
                "--dest-table", self.dest_table, "--yes"]

    def anchor_env(self) -> dict[str, str]:
        return {"ANCHOR_API_URL": self.server.base_url,
                "INGESTR_DISABLE_TELEMETRY": "true", "RUNTIME__DLTHUB_TELEMETRY": "false"}

    def remove_db(self, side: str) -> None:
        for path in (self.db_path(side), self.db_path(side).with_suffix(".duckdb.wal")):
            path.unlink(missing_ok=True)


def _anchor_command(anchor_command: list[str] | None) -> list[str]:
    if anchor_command is not None:
        return anchor_command
    anchor_bin = anchors.ensure("ingestr")
    return [str(anchor_bin / "python"), str(LAUNCHERS / "ingestr_anchor.py")]


def run_load(
    table: str,
    projects: int,
    tasks_per_project: int,
    rounds: int,
    latency_ms: int,
    rpm: int,
    anchor_command: list[str] | None = None,
    work: Path = WORK_DIR / "e2e",
    results_dir: Path = RESULTS_DIR,
    command: str = "",
) -> dict:
    """Compare one full load of ``table`` by both tools; save and return the payload."""
    work = work / table
    work.mkdir(parents=True, exist_ok=True)
    knobs = {"projects": server_projects_for(projects), "tasks_per_project": tasks_per_project,
             "latency_ms": latency_ms, "rpm": rpm}
    with BenchServer(knobs) as server:
        sides = Sides(server, work, table, _anchor_command(anchor_command))

        def contender(name: str, side: str, pipeline, env) -> Contender:
            def prepare() -> None:
                server.restart()
                sides.remove_db(side)

            def collect(measurement) -> dict:
                requests = server.total_requests()
                # Stories add one more page in sequence: a task's stories follow its listing.
                chain = server.max_task_pages() + (1 if table == "stories" else 0)
                return {"requests": requests,
                        "rate_limit_floor_s": rate_limit_floor_s(requests, rpm,
                                                                 latency_ms / 1000),
                        "latency_floor_s": latency_floor_s(chain, latency_ms / 1000),
                        **table_counts(sides.db_path(side), sides.dest_table)}

            return Contender(name=name, pipeline=lambda: [pipeline()], env=env,
                             prepare=prepare, collect=collect, redact=[server.token])

        contenders = [
            contender("ingestr 0.14.155", "ingestr", sides.anchor, sides.anchor_env),
            contender("omniload", "ours", sides.ours, sides.ours_env),
        ]
        params = {**knobs, "workspace_projects": projects,
                  "tasks": projects * tasks_per_project, "table": table}
        result = compare(f"e2e-{table}", contenders, rounds, METRICS,
                         baseline="ingestr 0.14.155", params=params, command=command)
    save(result.payload, f"e2e-{table}-{projects * tasks_per_project}", results_dir)
    return result.payload


def run_incremental(
    projects: int,
    tasks_per_project: int,
    rounds: int,
    latency_ms: int,
    rpm: int,
    changed: float,
    anchor_command: list[str] | None = None,
    work: Path = WORK_DIR / "e2e",
    results_dir: Path = RESULTS_DIR,
    command: str = "",
    with_anchor: bool = True,
) -> dict:
    """Compare a second tasks run after ``changed`` of the tasks changed; save the payload.

    Without the anchor only omniload runs, and its figures are compared with its own first run.
    """
    work = work / "incremental"
    work.mkdir(parents=True, exist_ok=True)
    knobs = {"projects": server_projects_for(projects), "tasks_per_project": tasks_per_project,
             "latency_ms": latency_ms, "rpm": rpm}
    touched = max(1, round(projects * tasks_per_project * changed))
    with BenchServer(knobs) as server:
        anchor = _anchor_command(anchor_command) if with_anchor else ["unused"]
        sides = Sides(server, work, "tasks", anchor)

        def contender(name: str, side: str, pipeline, env) -> Contender:
            first: dict = {}

            def prepare() -> None:
                server.restart()
                sides.remove_db(side)
                start = time.perf_counter()
                result = subprocess.run(pipeline(), env={**os.environ, **env()},
                                        capture_output=True, check=False,
                                        timeout=harness.RUN_TIMEOUT_S)
                if result.returncode != 0:
                    raise BenchmarkError(
                        f"first run of {name} failed: "
                        f"{result.stderr.decode('utf-8', 'replace')[-2000:]}")
                first["wall_s"] = time.perf_counter() - start
                first["requests"] = server.total_requests()
                # Let modified_at move past the first run's newest timestamp.
                time.sleep(1.1)
                server.touch_tasks(touched)
                first["baseline"] = server.total_requests()

            def collect(measurement) -> dict:
                return {"requests": server.total_requests() - first["baseline"],
                        "first_run_wall_s": first["wall_s"],
                        "first_run_requests": first["requests"],
                        "changed_tasks": touched,
                        **table_counts(sides.db_path(side), sides.dest_table)}

            return Contender(name=name, pipeline=lambda: [pipeline()], env=env,
                             prepare=prepare, collect=collect, redact=[server.token])

        contenders = [contender("omniload", "ours", sides.ours, sides.ours_env)]
        if with_anchor:
            contenders.insert(0, contender("ingestr 0.14.155", "ingestr", sides.anchor,
                                           sides.anchor_env))
        params = {**knobs, "workspace_projects": projects,
                  "tasks": projects * tasks_per_project, "changed_fraction": changed}
        result = compare("e2e-incremental", contenders, rounds, INCREMENTAL_METRICS,
                         baseline=contenders[0].name, params=params, command=command)
    save(result.payload, f"e2e-incremental-{projects * tasks_per_project}", results_dir)
    return result.payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comparison", choices=["tasks", "stories", "incremental"])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks-per-project", type=int, default=None,
                        help="default: 1000 for tasks and incremental, 100 for stories")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender")
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--rpm", type=int, default=1500, help="requests per minute limit")
    parser.add_argument("--changed", type=float, default=0.01,
                        help="fraction of tasks changed before the incremental run")
    parser.add_argument("--without-anchor", action="store_true",
                        help="incremental only: run omniload alone (ingestr 0.14.155 fully "
                             "reloads tasks by default, so its second run repeats its first)")
    parser.add_argument("--anchor-command", default=None,
                        help="command replacing the PyPI anchor (a stand-in for quick tests)")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR / "e2e")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    anchor = shlex.split(args.anchor_command) if args.anchor_command else None
    arguments = argv if argv is not None else sys.argv[1:]
    command = ("python -m benchmarks.e2e " + shlex.join(arguments)).strip()
    per_project = args.tasks_per_project or (100 if args.comparison == "stories" else 1000)
    if args.comparison == "incremental":
        run_incremental(args.projects, per_project, args.rounds, args.latency_ms, args.rpm,
                        args.changed, anchor, args.work_dir, args.results_dir, command,
                        with_anchor=not args.without_anchor)
    else:
        if args.without_anchor:
            parser.error("--without-anchor applies only to the incremental comparison")
        run_load(args.comparison, args.projects, per_project, args.rounds, args.latency_ms,
                 args.rpm, anchor, args.work_dir, args.results_dir, command)


if __name__ == "__main__":
    main()
