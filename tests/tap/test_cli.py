"""The tap-asana command: --about, settings from the environment, invalid settings."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import catalog_selecting, run_tap

SETTINGS = [
    "access_token",
    "workspace_gid",
    "start_date",
    "api_url",
    "stories_mode",
    "request_timeout",
    "max_concurrent_requests",
    "max_requests_per_minute",
    "retry_time_budget",
    "emit_activate_version_messages",
]


def test_about_markdown_lists_every_setting(tmp_path: Path) -> None:
    run = run_tap(tmp_path, None, args=("--about", "--format=markdown"))
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ")]
    for setting in SETTINGS:
        assert any(row.startswith(f"| {setting} |") for row in rows), setting


def test_about_json_is_stable(tmp_path: Path) -> None:
    run = run_tap(tmp_path, None, args=("--about", "--format=json"))
    assert run.returncode == 0, run.stderr
    about = json.loads(run.stdout)
    assert about["name"] == "tap-asana"
    assert "activate-version" in about["capabilities"]
    assert "state" in about["capabilities"]
    properties = about["settings"]["properties"]
    assert list(properties)[: len(SETTINGS)] == SETTINGS
    assert about["settings"]["required"] == ["access_token"]
    assert properties["access_token"]["secret"] is True
    assert properties["api_url"]["default"] == "https://app.asana.com/api/1.0"
    assert properties["stories_mode"]["default"] == "full"
    assert properties["stories_mode"]["enum"] == ["full", "incremental"]
    assert properties["max_concurrent_requests"]["maximum"] == 50
    assert properties["emit_activate_version_messages"]["default"] is True


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(seed=23, projects=2, tasks_per_project=5)) as server:
        env = {"TAP_ASANA_ACCESS_TOKEN": server.token, "TAP_ASANA_API_URL": server.base_url}
        catalog = catalog_selecting(
            tmp_path, {"access_token": server.token, "api_url": server.base_url}, {"workspaces"}
        )
        run = run_tap(tmp_path, None, catalog=catalog, args=("--config", "ENV"), env=env)
        assert run.returncode == 0, run.stderr
        assert sorted(w["gid"] for w in run.records("workspaces")) == sorted(server.workspace_gids)
        assert server.token.split("/", 1)[1] not in run.stderr + run.stdout


def test_invalid_settings_are_named(tmp_path: Path) -> None:
    config = {"access_token": "x", "stories_mode": "sometimes", "max_concurrent_requests": 99}
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert "config['stories_mode']" in run.stderr
    assert "config['max_concurrent_requests']" in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_token_is_named(tmp_path: Path) -> None:
    run = run_tap(tmp_path, {"api_url": "http://127.0.0.1:9/api/1.0"})
    assert run.returncode == 1
    assert "'access_token' is a required property" in run.stderr


def test_unreachable_api_url_fails_at_once(tmp_path: Path) -> None:
    # A port on this machine that nothing listens on.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api_url = f"http://127.0.0.1:{port}/api/1.0"
    run = run_tap(tmp_path, {"access_token": "x", "api_url": api_url}, timeout=60)
    assert run.returncode == 1
    last_line = run.stderr.rstrip().splitlines()[-1]
    assert f"Could not connect to {api_url}: connection refused" in last_line
    assert "Check api_url" in last_line
    assert "Retrying" not in run.stderr
