"""`tap-asana | target-duckdb` in a plain OS pipe: a tap that fails midway replaces no table."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import catalog_selecting, server_config

BIN_DIR = Path(sys.executable).parent
DATA = dict(seed=23, projects=3, tasks_per_project=15, stories_per_task=1)
# With one request at a time, the directory listings and the first stories listings fit
# in this many requests a minute. The next request gets a 429 and fails the stream.
FAILING_RPM = 15
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class PipeRun:
    tap_returncode: int
    target_returncode: int
    tap_stderr: str
    target_stderr: str


def run_pipe(folder: Path, server: AsanaServer, database: Path) -> PipeRun:
    """Run `tap-asana --config ... --catalog ... | target-duckdb --config ...` as a shell does."""
    folder.mkdir()
    tap_config = server_config(server, max_concurrent_requests=1, retry_time_budget=0)
    catalog = catalog_selecting(folder, tap_config, {"stories"})
    (folder / "tap.json").write_text(json.dumps(tap_config))
    (folder / "catalog.json").write_text(json.dumps(catalog))
    target_config = {"path": str(database), "activate_version_completes_stream": True}
    (folder / "target.json").write_text(json.dumps(target_config))

    with open(folder / "tap.err", "w") as tap_err, open(folder / "target.err", "w") as target_err:
        # Both commands are this checkout's own console scripts with files the test wrote.
        tap = subprocess.Popen(  # noqa: S603
            [str(BIN_DIR / "tap-asana"), "--config", str(folder / "tap.json"),
             "--catalog", str(folder / "catalog.json")],
            stdout=subprocess.PIPE,
            stderr=tap_err,
        )
        target = subprocess.Popen(  # noqa: S603
            [str(BIN_DIR / "target-duckdb"), "--config", str(folder / "target.json")],
            stdin=tap.stdout,
            stdout=subprocess.DEVNULL,
            stderr=target_err,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        try:
            target.wait(timeout=TIMEOUT_SECONDS)
            tap.wait(timeout=TIMEOUT_SECONDS)
        finally:
            for process in (tap, target):
                if process.poll() is None:
                    process.kill()
                    process.wait()
    return PipeRun(
        tap.returncode,
        target.returncode,
        (folder / "tap.err").read_text(),
        (folder / "target.err").read_text(),
    )


def stories(database: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute("SELECT gid, task_gid FROM main.stories ORDER BY gid").fetchall()


def test_failed_tap_keeps_previous_table(tmp_path: Path) -> None:
    database = tmp_path / "asana.duckdb"
    with AsanaServer(ServerConfig(**DATA)) as server:
        first = run_pipe(tmp_path / "first", server, database)
        truth = server.admin.snapshot(["tasks", "stories"])
    # The tap reads the stories of tasks that are in a project.
    in_projects = {task["gid"] for task in truth["tasks"] if task.get("projects")}
    expected_gids = {
        story["gid"] for story in truth["stories"] if story["target"]["gid"] in in_projects
    }
    assert first.tap_returncode == 0, first.tap_stderr[-3000:]
    assert first.target_returncode == 0, first.target_stderr[-3000:]
    loaded = stories(database)
    assert {gid for gid, _task in loaded} == expected_gids

    # The same data again, but a rate limit now stops the tap midway through the stream.
    with AsanaServer(ServerConfig(**DATA, rpm=FAILING_RPM)) as server:
        second = run_pipe(tmp_path / "second", server, database)

    assert second.tap_returncode == 1
    assert "429" in second.tap_stderr
    assert second.target_returncode == 1
    error_lines = [line for line in second.target_stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1
    assert "closing ACTIVATE_VERSION of stream 'stories'" in error_lines[0]
    assert "Traceback" not in second.target_stderr
    assert stories(database) == loaded
