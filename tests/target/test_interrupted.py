"""A target killed mid-input (SIGKILL) leaves replaced tables and committed batches intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.target.helpers import activate_version, lines, query, record, run_cli, schema, state, table_names

USER = {"gid": {"type": "string"}, "name": {"type": "string"}}
ITEM = {"id": {"type": "integer"}}


def _wait_for_log(process: subprocess.Popen[str], fragment: str) -> list[str]:
    """Read the target's stderr until a line contains `fragment`; return the lines read."""
    assert process.stderr is not None
    seen: list[str] = []
    for line in process.stderr:
        seen.append(line)
        if fragment in line:
            return seen
    raise AssertionError("target ended before logging " + repr(fragment) + ":\n" + "".join(seen))


def test_killed_replace_keeps_old_table(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    config = {"path": str(tmp_path / "kill.duckdb"), "batch_size_rows": 2, "temp_dir": str(spool)}
    old = [schema("users", USER, ["gid"]), activate_version("users")]
    old += [record("users", {"gid": f"old{n}", "name": "before"}) for n in range(3)]
    old += [schema("items", ITEM, ["id"]), record("items", {"id": 1})]
    assert run_cli(tmp_path, config, old).returncode == 0

    config_path = tmp_path / "kill-config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TARGET_DUCKDB")}
    with subprocess.Popen(  # noqa: S603 - runs this checkout's own target
        [sys.executable, "-m", "target_duckdb", "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    ) as process:
        try:
            assert process.stdin is not None
            new = [schema("users", USER, ["gid"]), activate_version("users")]
            new += [record("users", {"gid": f"new{n}", "name": "after"}) for n in range(4)]
            new += [schema("items", ITEM, ["id"]), record("items", {"id": 2}), record("items", {"id": 3})]
            new.append(state({"items": 3}))
            process.stdin.write(lines(new))
            process.stdin.flush()
            # The replace has staged rows and the items batch has committed; input is still open.
            _wait_for_log(process, "Loaded 2 rows of stream 'items'")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == -signal.SIGKILL
    users = query(config["path"], "SELECT gid, name FROM users ORDER BY gid")
    assert users == [("old0", "before"), ("old1", "before"), ("old2", "before")]
    assert query(config["path"], "SELECT id FROM items ORDER BY id") == [(1,), (2,), (3,)]
    assert table_names(config["path"]) == {"main.users", "main.items"}
    assert list(spool.iterdir()), "the killed target left no spool folder to clean"

    # The next run works on the same file, completes the replace and removes the
    # killed run's spool folder.
    rerun = [schema("users", USER, ["gid"]), activate_version("users"), record("users", {"gid": "new0", "name": "after"})]
    assert run_cli(tmp_path, config, rerun).returncode == 0
    assert query(config["path"], "SELECT gid FROM users") == [("new0",)]
    assert list(spool.iterdir()) == []


def test_state_waits_for_replace_commit(tmp_path: Path) -> None:
    config = {"path": str(tmp_path / "order.duckdb"), "batch_size_rows": 1}
    messages = [
        schema("items", ITEM, ["id"]),
        record("items", {"id": 1}),
        state({"step": 1}),
        schema("users", USER, ["gid"]),
        activate_version("users"),
        record("users", {"gid": "a", "name": "A"}),
        record("items", {"id": 2}),
        state({"step": 2}),
        record("items", {"id": 3}),
        state({"step": 3}),
    ]
    result = run_cli(tmp_path, config, messages)
    assert result.returncode == 0, result.stderr
    emitted = [json.loads(line) for line in result.stdout.splitlines()]
    # STATE 1 was complete before the replace began; later ones wait for its commit.
    assert emitted[-1] == {"step": 3}
    assert {"step": 2} not in emitted
    assert emitted == sorted(emitted, key=lambda value: value["step"])
