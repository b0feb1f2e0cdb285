"""The standalone command: `python -m tests.asana_server`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 (this interpreter and fixed arguments)
        [sys.executable, "-m", "tests.asana_server", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_standalone_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    process = start(
        "--port",
        "0",
        "--tasks",
        "40",
        "--projects",
        "2",
        "--token",
        "demo-token",
        "--workspace-gid",
        "workspace-1337",
        "--ready-file",
        str(ready),
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        info = json.loads(line)
        assert json.loads(ready.read_text()) == info
        assert info["token"] == "demo-token"  # noqa: S105 (the token passed above)
        assert info["workspace_gids"][0] == "workspace-1337"
        assert info["base_url"].startswith("http://127.0.0.1:")
        response = requests.get(
            info["base_url"] + "/workspaces",
            timeout=10,
            headers={"Authorization": "Bearer demo-token"},
        )
        assert response.status_code == 200
        snapshot = requests.get(info["admin_url"] + "/snapshot", timeout=10).json()
        assert len(snapshot["tasks"]) == 40
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_standalone_stops_on_sigint(tmp_path: Path) -> None:
    process = start("--port", "0", "--tasks", "4")
    try:
        json.loads(process.stdout.readline())  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_standalone_rejects_bad_probability() -> None:
    process = start("--p500", "2")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "--p500: must be between 0 and 1, got 2" in stderr
    assert "Traceback" not in stderr


def test_standalone_reports_busy_port(tmp_path: Path) -> None:
    first = start("--port", "0", "--tasks", "4")
    try:
        port = json.loads(first.stdout.readline())["port"]  # type: ignore[union-attr]
        second = start("--port", str(port), "--tasks", "4")
        _, stderr = second.communicate(timeout=30)
        assert second.returncode == 2
        assert stderr.startswith("error: ")
        assert str(port) in stderr
        assert "Traceback" not in stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


def test_standalone_rpm_knob(tmp_path: Path) -> None:
    process = start("--port", "0", "--tasks", "4", "--rpm", "1", "--no-retry-after")
    try:
        info = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        headers = {"Authorization": f"Bearer {info['token']}"}
        statuses = [
            requests.get(info["base_url"] + "/workspaces", headers=headers, timeout=10)
            for _ in range(2)
        ]
        assert [r.status_code for r in statuses] == [200, 429]
        assert "Retry-After" not in statuses[1].headers
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
