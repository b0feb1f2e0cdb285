"""The tap-asana command: --about, settings from the environment, invalid settings."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import TapRun, catalog_selecting, run_tap

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


# A port on this machine that nothing listens on, so that no test reaches another host
# even if the tap got past its checks.
NOWHERE = "http://127.0.0.1:9/api/1.0"
TOKEN = "0/test-token-not-to-be-shown"  # noqa: S105 - a fake token for these tests


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line]


def assert_one_clear_error(run: TapRun) -> str:
    """Check that the run failed with one error line and no traceback; return the line."""
    assert run.returncode == 1, run.stderr
    errors = error_lines(run.stderr)
    assert len(errors) == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert TOKEN not in run.stderr
    assert TOKEN not in run.stdout
    assert '"type":"RECORD"' not in run.stdout.replace(" ", "")
    return errors[0]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"start_date": "last week"},
            "start_date 'last week' is not an ISO 8601 date-time such as 2024-01-31T00:00:00Z",
        ),
        ({"start_date": "2024-13-01"}, "start_date '2024-13-01' is not an ISO 8601 date-time"),
        ({"request_timeout": -1}, "request_timeout -1 is not a number of seconds greater than 0"),
        ({"request_timeout": 0}, "request_timeout 0 is not a number of seconds greater than 0"),
        ({"max_concurrent_requests": 0}, "max_concurrent_requests 0 is not an integer from 1"),
        ({"max_concurrent_requests": 51}, "max_concurrent_requests 51 is not an integer from 1"),
        ({"max_concurrent_requests": 2.5}, "max_concurrent_requests 2.5 is not an integer"),
        ({"max_requests_per_minute": -3}, "max_requests_per_minute -3 is not an integer of 1"),
        ({"retry_time_budget": -1}, "retry_time_budget -1 is not a number of seconds, 0 or more"),
        ({"stories_mode": "ful"}, "stories_mode 'ful' is not one of full, incremental"),
        ({"api_url": "127.0.0.1:9/api/1.0"}, "api_url '127.0.0.1:9/api/1.0' is not an http"),
        ({"emit_activate_version_messages": "yes"}, "emit_activate_version_messages 'yes'"),
        ({"workspace_gid": ""}, "workspace_gid '' is not a non-empty string"),
    ],
)
def test_invalid_setting_fails_in_one_line(
    tmp_path: Path, settings: dict[str, object], expected: str
) -> None:
    run = run_tap(tmp_path, {"access_token": TOKEN, "api_url": NOWHERE, **settings})
    line = assert_one_clear_error(run)
    assert expected in line


def test_invalid_settings_share_one_line(tmp_path: Path) -> None:
    config = {
        "access_token": TOKEN,
        "api_url": NOWHERE,
        "stories_mode": "sometimes",
        "max_concurrent_requests": 99,
        "request_timeout": -5,
    }
    line = assert_one_clear_error(run_tap(tmp_path, config))
    assert "3 invalid settings" in line
    assert "stories_mode 'sometimes'" in line
    assert "max_concurrent_requests 99" in line
    assert "request_timeout -5" in line


def test_invalid_token_value_is_not_shown(tmp_path: Path) -> None:
    secret = 424242424242
    line = assert_one_clear_error(run_tap(tmp_path, {"access_token": secret, "api_url": NOWHERE}))
    assert "access_token (value not shown)" in line
    assert str(secret) not in line


def test_missing_token_is_named(tmp_path: Path) -> None:
    line = assert_one_clear_error(run_tap(tmp_path, {"api_url": NOWHERE}))
    assert "Missing setting access_token" in line
    assert "TAP_ASANA_ACCESS_TOKEN" in line


def assert_fails_at_the_closed_port(run: TapRun) -> None:
    """Check that the settings passed and the run failed at its first request."""
    assert run.returncode == 1, run.stderr
    errors = error_lines(run.stderr)
    assert "Could not connect to" in errors[-1]
    assert "is not" not in run.stderr
    assert "Traceback" not in run.stderr


def test_valid_start_date_forms_pass_the_check(tmp_path: Path) -> None:
    for start_date in ("2024-01-31", "2024-01-31T00:00:00Z", "2024-01-31T02:00:00+02:00"):
        config = {"access_token": TOKEN, "api_url": NOWHERE, "start_date": start_date}
        assert_fails_at_the_closed_port(run_tap(tmp_path, config, timeout=60))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "Config file {path} not found"),
        ('{"access_token": "' + TOKEN + '", ', "Config file {path} is not valid JSON"),
        ("[1, 2]", "Config file {path} contains a JSON list"),
        ("", "Config file {path} is not valid JSON"),
    ],
)
def test_unusable_config_file_fails_in_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "settings.json"
    if content is not None:
        path.write_text(content)
    run = run_tap(tmp_path, None, args=("--config", str(path)))
    line = assert_one_clear_error(run)
    assert expected.format(path=path) in line


def test_config_directory_fails_in_one_line(tmp_path: Path) -> None:
    run = run_tap(tmp_path, None, args=("--config", str(tmp_path)))
    line = assert_one_clear_error(run)
    assert f"Could not read config file {tmp_path}" in line


def test_invalid_integer_variable_fails_in_one_line(tmp_path: Path) -> None:
    env = {
        "TAP_ASANA_ACCESS_TOKEN": TOKEN,
        "TAP_ASANA_API_URL": NOWHERE,
        "TAP_ASANA_MAX_CONCURRENT_REQUESTS": "ten",
    }
    run = run_tap(tmp_path, None, args=("--config", "ENV"), env=env)
    line = assert_one_clear_error(run)
    assert "TAP_ASANA_MAX_CONCURRENT_REQUESTS 'ten' is not an integer from 1 to 50" in line


def test_number_variable_is_converted(tmp_path: Path) -> None:
    env = {
        "TAP_ASANA_ACCESS_TOKEN": TOKEN,
        "TAP_ASANA_API_URL": NOWHERE,
        "TAP_ASANA_REQUEST_TIMEOUT": "2.5",
    }
    run = run_tap(tmp_path, None, args=("--config", "ENV"), env=env, timeout=60)
    assert_fails_at_the_closed_port(run)


def test_debug_level_adds_the_config_traceback(tmp_path: Path) -> None:
    config = {"access_token": TOKEN, "api_url": NOWHERE, "start_date": "last week"}
    run = run_tap(tmp_path, config, env={"TAP_ASANA_LOGLEVEL": "DEBUG"})
    assert run.returncode == 1
    assert "Traceback" in run.stderr
    assert "start_date 'last week'" in run.stderr
    assert TOKEN not in run.stderr


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


def test_config_from_named_pipe_is_read_once(tmp_path: Path) -> None:
    # omniload hands the settings over through a named pipe, which yields its content once:
    # a second read of the same path would block until the timeout below.
    pipe = tmp_path / "config.pipe"
    os.mkfifo(pipe)
    settings = {"access_token": "pipe-token", "api_url": "http://127.0.0.1:9/api/1.0"}

    def serve_once() -> None:
        with pipe.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps(settings))

    writer = threading.Thread(target=serve_once, daemon=True)
    writer.start()
    run = run_tap(tmp_path, None, args=("--config", str(pipe), "--discover"), timeout=60)
    writer.join(timeout=5)

    assert run.returncode == 0, run.stderr
    streams = {entry["tap_stream_id"] for entry in json.loads(run.stdout)["streams"]}
    assert "tasks" in streams


@pytest.mark.parametrize(
    ("option", "content", "expected"),
    [
        ("--state", "{bad", "--state file '{path}' is not valid JSON"),
        ("--state", "[1, 2]", "--state file '{path}' holds a JSON array, not an object"),
        ("--catalog", "", "--catalog file '{path}' is not valid JSON"),
        ("--catalog", '"streams"', "--catalog file '{path}' holds a JSON string, not an object"),
        ("--state", '{"bookmarks": "x"}', "'bookmarks' value that is not an object"),
        ("--state", '{"bookmarks": {"tasks": "x"}}', "bookmark for stream 'tasks' that is not"),
        (
            "--state",
            '{"bookmarks": {"tasks": {"partitions": "x"}}}',
            "'partitions' of stream 'tasks' that are not a list of objects",
        ),
        ("--catalog", '{"streams": "x"}', "--catalog file '{path}' has no 'streams' list"),
        ("--catalog", '{"streams": [{"schema": {}}]}', "has stream 1 without a 'tap_stream_id'"),
        (
            "--catalog",
            '{"streams": [{"tap_stream_id": "tasks", "schema": {}}]}',
            "has stream 'tasks' without a schema with 'properties'",
        ),
    ],
)
def test_bad_state_or_catalog_file(
    tmp_path: Path, option: str, content: str, expected: str
) -> None:
    path = tmp_path / "input.json"
    path.write_text(content, encoding="utf-8")
    config = {"access_token": TOKEN, "api_url": NOWHERE}

    line = assert_one_clear_error(run_tap(tmp_path, config, args=(option, str(path))))

    assert expected.format(path=path) in line
    assert ("leave --state out" if option == "--state" else "--discover > catalog.json") in line


def test_env_config_reads_dotenv_of_working_folder(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAP_ASANA_STORIES_MODE=sometimes\n", encoding="utf-8")
    env = {"TAP_ASANA_ACCESS_TOKEN": TOKEN, "TAP_ASANA_API_URL": NOWHERE}

    line = assert_one_clear_error(run_tap(tmp_path, None, args=("--config", "ENV"), env=env))

    assert "stories_mode 'sometimes' is not one of full, incremental" in line


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TAP_ASANA_STORIES_MODE=sometimes\n", encoding="utf-8")
    env = {
        "TAP_ASANA_ACCESS_TOKEN": TOKEN,
        "TAP_ASANA_API_URL": NOWHERE,
        "TAP_ASANA_STORIES_MODE": "incremental",
    }

    run = run_tap(tmp_path, None, args=("--config", "ENV", "--discover"), env=env)

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["streams"]


def warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| WARNING" in line]


def test_catalog_selecting_nothing_is_warned(tmp_path: Path) -> None:
    catalog = {"streams": [{"tap_stream_id": "tasks", "schema": {"properties": {}}, "metadata": [
        {"breadcrumb": [], "metadata": {"selected": False}},
    ]}]}
    config = {"access_token": TOKEN, "api_url": NOWHERE}

    run = run_tap(tmp_path, config, catalog=catalog)

    assert run.returncode == 0, run.stderr
    warnings = warning_lines(run.stderr)
    assert len(warnings) == 1
    assert "The catalog selects no stream of tap-asana, so nothing is extracted" in warnings[0]


def test_catalog_naming_unknown_stream_is_warned(tmp_path: Path) -> None:
    catalog = {"streams": [{"tap_stream_id": "taskz", "schema": {"properties": {}}}]}
    config = {"access_token": TOKEN, "api_url": NOWHERE}

    run = run_tap(tmp_path, config, catalog=catalog)

    warnings = warning_lines(run.stderr)
    assert any("does not have, which are skipped: taskz." in line for line in warnings)
    assert any("selects no stream" in line for line in warnings)
