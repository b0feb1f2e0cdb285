"""Helpers of the runner: error summaries, private files, executables and discovery."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path

import pytest
from omniload.errors import ExtractError, SetupError
from omniload.runner import Discovery, find_executable, summarize_error, write_private_json

TAP_STDERR = [
    "2026-12-04 21:35:31,691 | INFO     | tap-asana                      | tap-asana v0.1.0",
    "2026-12-04 21:35:31,733 | ERROR    | tap-asana.projects             | An unhandled error "
    "occurred while syncing 'projects'",
    "2026-12-04 21:35:31,736 | ERROR    | tap-asana                      | GET /api/1.0/projects "
    "failed with 401 Unauthorized: Not Authorized. Check access_token.",
]
TARGET_STDERR = [
    "2026-12-04 21:35:14,377 | INFO     | target-duckdb                  | Widening column gid",
    "target-duckdb: error: DuckDB error: Catalog Error: Can only modify view with ALTER VIEW "
    "statement (set TARGET_DUCKDB_DEBUG=1 for a traceback)",
]
TRACEBACK_STDERR = [
    "Traceback (most recent call last):",
    '  File "/x/y.py", line 3, in <module>',
    "    main()",
    "    ^^^^^^",
    "ValueError: invalid literal for int() with base 10: 'x'",
]


def test_summary_takes_last_error_line() -> None:
    assert summarize_error(TAP_STDERR, "tap-asana") == (
        "GET /api/1.0/projects failed with 401 Unauthorized: Not Authorized. Check access_token."
    )


def test_summary_drops_program_prefix_and_hint() -> None:
    assert summarize_error(TARGET_STDERR, "target-duckdb") == (
        "DuckDB error: Catalog Error: Can only modify view with ALTER VIEW statement"
    )


def test_summary_of_traceback_is_exception() -> None:
    assert summarize_error(TRACEBACK_STDERR, "tap-asana") == (
        "ValueError: invalid literal for int() with base 10: 'x'"
    )


def test_summary_without_output() -> None:
    assert summarize_error(["", "  "], "tap-asana") == "no error message"


def test_private_json_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "config.json"

    write_private_json(path, {"access_token": "x"})

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == '{"access_token": "x"}'


def test_private_json_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{}")

    with pytest.raises(FileExistsError):
        write_private_json(path, {"access_token": "x"})


def test_missing_executable_names_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")

    with pytest.raises(SetupError) as raised:
        find_executable("tap-nowhere")

    assert "pip install ./tap-nowhere" in raised.value.message


def _fake_tap(tmp_path: Path, body: str) -> str:
    """Write an executable that replaces `tap-asana --discover` in a test."""
    script = tmp_path / "fake-tap"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(0o700)
    return str(script)


def test_discovery_returns_the_catalog(tmp_path: Path) -> None:
    # Larger than a pipe's buffer, so the catalog must be read while the tap writes it.
    streams = [{"tap_stream_id": f"s{index}", "schema": {}} for index in range(5000)]
    body = f"import json\nprint(json.dumps({{'streams': {streams!r}}}))"
    discovery = Discovery(_fake_tap(tmp_path, body), tmp_path / "c.json", None)

    catalog = discovery.catalog()

    assert [entry["tap_stream_id"] for entry in catalog["streams"]][-1] == "s4999"
    assert len(catalog["streams"]) == 5000


def test_discovery_failure_names_the_tap_error(tmp_path: Path) -> None:
    body = "print('tap-asana: error: access_token is missing', file=sys.stderr)\nsys.exit(2)"
    discovery = Discovery(_fake_tap(tmp_path, body), tmp_path / "c.json", None)

    with pytest.raises(ExtractError) as raised:
        discovery.catalog()

    assert "exit 2" in raised.value.message
    assert "access_token is missing" in raised.value.message


def test_discovery_stop_ends_a_running_tap(tmp_path: Path) -> None:
    discovery = Discovery(_fake_tap(tmp_path, "time.sleep(60)"), tmp_path / "c.json", None)
    started = time.monotonic()

    discovery.stop()

    assert time.monotonic() - started < 30
    assert discovery._process.returncode is not None
