"""Error policy: rate limits, server errors, dropped connections, expired offsets, fatal errors."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from tap_asana.client import next_page_offset, retry_after_seconds

from tests.asana_server import AsanaServer, ServerConfig
from tests.tap.support import TapRun, catalog_selecting, run_tap, server_config

SMALL = dict(seed=17, projects=3, tasks_per_project=15, stories_per_task=1)
# Rate-limit tests wait at least a second per refusal, so they use less data.
TINY = dict(seed=17, projects=2, tasks_per_project=6, stories_per_task=1)


def assert_complete(run: TapRun, server: AsanaServer) -> None:
    """The run succeeded and every table contains each server record exactly once."""
    assert run.returncode == 0, run.stderr[-3000:]
    snapshot = server.admin.snapshot()
    for stream in ("workspaces", "users", "teams", "projects", "sections", "tags"):
        gids = Counter(record["gid"] for record in run.records(stream))
        assert set(gids) == {row["gid"] for row in snapshot[stream]}, stream
        assert max(gids.values()) == 1, stream
    in_projects = {t["gid"] for t in snapshot["tasks"] if t.get("projects")}
    tasks = Counter(record["gid"] for record in run.records("tasks"))
    assert set(tasks) == in_projects
    assert max(tasks.values()) == 1
    stories = Counter(record["gid"] for record in run.records("stories"))
    expected_stories = {
        s["gid"] for s in snapshot["stories"] if s["target"]["gid"] in in_projects
    }
    assert set(stories) == expected_stories
    assert max(stories.values()) == 1


def retry_lines(run: TapRun, status: str) -> list[str]:
    return [line for line in run.stderr.splitlines() if "Retrying in" in line and status in line]


def error_lines(run: TapRun) -> list[str]:
    """Return the ERROR lines; singer-sdk's note naming the failed stream is logged at DEBUG."""
    return [line for line in run.stderr.splitlines() if "| ERROR" in line]


def test_rate_limit_waits_for_retry_after(tmp_path: Path) -> None:
    # The server allows 2 requests in flight and returns 429 with Retry-After: 1 beyond.
    with AsanaServer(ServerConfig(**TINY, max_concurrent=2, latency_ms=50)) as server:
        run = run_tap(tmp_path, server_config(server, max_concurrent_requests=4))
        assert_complete(run, server)
        lines = retry_lines(run, "429")
        assert lines
        assert all("Retrying in 1.0 s" in line for line in lines)


def test_rate_limit_without_retry_after_backs_off(tmp_path: Path) -> None:
    knobs = dict(**TINY, max_concurrent=2, latency_ms=50, retry_after=False)
    with AsanaServer(ServerConfig(**knobs)) as server:
        run = run_tap(tmp_path, server_config(server, max_concurrent_requests=4))
        assert_complete(run, server)
        assert retry_lines(run, "429")


def test_concurrency_cap_keeps_within_the_servers_limit(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL, max_concurrent=3, latency_ms=30)) as server:
        run = run_tap(tmp_path, server_config(server, max_concurrent_requests=3))
        assert_complete(run, server)
        assert not retry_lines(run, "429")


def test_server_errors_are_retried(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL, p500=0.15, p503=0.1)) as server:
        run = run_tap(tmp_path, server_config(server))
        assert_complete(run, server)
        assert retry_lines(run, "500")
        assert retry_lines(run, "503")


def test_dropped_connections_are_retried(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL, p_drop=0.15)) as server:
        run = run_tap(tmp_path, server_config(server))
        assert_complete(run, server)
        assert [line for line in run.stderr.splitlines() if "Retrying in" in line]


def test_retries_stop_at_the_time_budget(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL, p500=1.0)) as server:
        run = run_tap(tmp_path, server_config(server, retry_time_budget=2))
        assert run.returncode == 1
        errors = error_lines(run)
        assert len(errors) == 1
        assert "500" in errors[0]
        assert "Gave up after retrying for 2 s" in errors[0]
        assert "retry_time_budget" in errors[0]
        assert run.stderr.rstrip().endswith(errors[0].split("| ERROR", 1)[1].split("| ", 1)[1])
        assert "Traceback" not in run.stderr


def test_failed_stream_sends_no_closing_activate_version(tmp_path: Path) -> None:
    # The rate limit lets the first stories listings through, then every request gets a
    # 429 whose Retry-After exceeds the retry budget of 0 s, so the stream fails midway.
    with AsanaServer(ServerConfig(**SMALL, rpm=15)) as server:
        config = server_config(server, max_concurrent_requests=1, retry_time_budget=0)
        catalog = catalog_selecting(tmp_path, config, {"stories"})
        run = run_tap(tmp_path, config, catalog=catalog)
        server.admin.set_faults(rpm=0)
        rerun = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 1
    assert "429" in error_lines(run)[0]
    types = run.message_types("stories")
    assert types[0:2] == ["SCHEMA", "ACTIVATE_VERSION"]
    assert "RECORD" in types
    assert types.count("ACTIVATE_VERSION") == 1
    # Without the rate limit the same stream completes and sends the closing one.
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.message_types("stories")[-1] == "ACTIVATE_VERSION"
    assert rerun.message_types("stories").count("ACTIVATE_VERSION") == 2


def tasks_only(server: AsanaServer, tmp_path: Path, **settings: Any) -> tuple[dict, dict]:
    config = server_config(server, max_concurrent_requests=1, **settings)
    return config, catalog_selecting(tmp_path, config, {"tasks"})


def test_expired_offset_restarts_the_listing(tmp_path: Path) -> None:
    knobs = dict(seed=19, projects=1, tasks_per_project=250, latency_ms=100, offset_ttl=0.0)
    with AsanaServer(ServerConfig(**knobs)) as server:
        config, catalog = tasks_only(server, tmp_path)
        server.admin.reset_counts()

        # Every offset expires at once until the server has rejected one. The third
        # request (the restart) arrives only after that rejection. From then on offsets
        # live long enough for the restarted listing to finish.
        def extend_offset_lifetime_after_first_rejection() -> None:
            while server.admin.counts().get("GET /tasks", 0) < 3:
                threading.Event().wait(0.01)
            server.admin.set_settings(offset_ttl=900)

        watcher = threading.Thread(target=extend_offset_lifetime_after_first_rejection, daemon=True)
        watcher.start()
        run = run_tap(tmp_path, config, catalog=catalog)
        watcher.join(timeout=60)

        assert run.returncode == 0, run.stderr[-3000:]
        restarts = [line for line in run.stderr.splitlines() if "Restarting the listing" in line]
        assert restarts
        assert "pagination token has expired" in restarts[0]
        gids = Counter(record["gid"] for record in run.records("tasks"))
        in_project = {t["gid"] for t in server.admin.snapshot()["tasks"] if t.get("projects")}
        assert len(in_project) > 100, "the listing must span pages"
        assert set(gids) == in_project
        assert max(gids.values()) == 1


def test_offsets_that_keep_expiring_fail_clearly(tmp_path: Path) -> None:
    knobs = dict(seed=19, projects=1, tasks_per_project=150, offset_ttl=0.0)
    with AsanaServer(ServerConfig(**knobs)) as server:
        config, catalog = tasks_only(server, tmp_path)
        run = run_tap(tmp_path, config, catalog=catalog)
        assert run.returncode == 1
        errors = error_lines(run)
        assert len(errors) == 1
        assert "400" in errors[0]
        assert "pagination token has expired" in errors[0]


def test_wrong_token_fails_with_401(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL)) as server:
        wrong = "0/" + "f" * 32
        run = run_tap(tmp_path, server_config(server, access_token=wrong))
        assert run.returncode == 1
        errors = error_lines(run)
        assert len(errors) == 1
        assert "GET /api/1.0/workspaces failed with 401" in errors[0]
        assert "Not Authorized" in errors[0]
        assert "Check access_token" in errors[0]
        assert "Traceback" not in run.stderr
        assert wrong not in run.stderr + run.stdout


def test_workspace_without_access_fails_with_403(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL)) as server:
        plain = server.workspace_gids[1]
        config = server_config(server, access_token=server.limited_token, workspace_gid=plain)
        run = run_tap(tmp_path, config)
        assert run.returncode == 1
        errors = error_lines(run)
        assert len(errors) == 1
        assert f"GET /api/1.0/workspaces/{plain} failed with 403" in errors[0]
        assert "You do not have access" in errors[0]
        assert "workspace_gid" in errors[0]
        assert "Traceback" not in run.stderr


def test_unknown_workspace_fails_with_404(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL)) as server:
        run = run_tap(tmp_path, server_config(server, workspace_gid="424242"))
        assert run.returncode == 1
        errors = error_lines(run)
        assert len(errors) == 1
        assert "GET /api/1.0/workspaces/424242 failed with 404" in errors[0]
        assert "Unknown object" in errors[0]
        assert "Check workspace_gid" in errors[0]


def test_wrong_api_url_fails_with_404(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**SMALL)) as server:
        config = server_config(server, api_url=server.root_url + "/api/2.0")
        run = run_tap(tmp_path, config)
        assert run.returncode == 1
        errors = error_lines(run)
        assert len(errors) == 1
        assert "404" in errors[0]
        assert "No matching route for request" in errors[0]
        assert "api_url setting looks wrong" in errors[0]
        assert "ending in /api/1.0" in errors[0]
        assert "workspace_gid" not in errors[0]


def test_no_output_contains_the_token(tmp_path: Path) -> None:
    knobs = dict(**SMALL, max_concurrent=2, p500=0.1, p_drop=0.1)
    with AsanaServer(ServerConfig(**knobs)) as server:
        config = server_config(server, max_concurrent_requests=6)
        runs = [
            run_tap(tmp_path, config, env={"TAP_ASANA_LOGLEVEL": "DEBUG"}),
            run_tap(tmp_path, {**config, "workspace_gid": "424242"}),
            run_tap(tmp_path, config, args=("--about", "--format=json")),
            run_tap(tmp_path, config, args=("--discover",)),
        ]
        assert runs[0].returncode == 0, runs[0].stderr[-3000:]
        assert "DEBUG" in runs[0].stderr
        secret = server.token.split("/", 1)[1]
        for run in runs:
            assert secret not in run.stdout
            assert secret not in run.stderr


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("0", 0.0),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_header_forms(header: str, expected: float | None) -> None:
    response = requests.Response()
    response.status_code = 429
    if header:
        response.headers["Retry-After"] = header
    assert retry_after_seconds(response) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"data":[{"gid":"1"}],"next_page":{"offset":"abc","path":"/x","uri":"u"}}', "abc"),
        (b'{"data":[{"gid":"1"}],"next_page":null}', None),
        (b'{"data":[{"gid":"1","name":"next_page"}],"next_page":null}', None),
        (b'{"next_page":{"offset":"first"},"data":[{"name":"next_page"}]}', "first"),
        (b'{"data":[]}', None),
    ],
)
def test_next_page_offset_body_forms(body: bytes, expected: str | None) -> None:
    assert next_page_offset(body) == expected


def test_truncated_body_is_invalid() -> None:
    body = b'{"data":[{"gid":"1"}],"next_page":{"offset":"abc"}}'
    with pytest.raises(ValueError):
        next_page_offset(body[: len(body) // 2])


def test_debug_level_adds_the_traceback(tmp_path: Path) -> None:
    with AsanaServer(ServerConfig(**TINY)) as server:
        config = server_config(server, access_token="0/" + "e" * 32)
        run = run_tap(tmp_path, config, env={"TAP_ASANA_LOGLEVEL": "DEBUG"})
        assert run.returncode == 1
        assert "Traceback" in run.stderr
        assert "failed with 401" in run.stderr
