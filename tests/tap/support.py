"""Run tap-asana as a user does (its console entry point in a subprocess) and read its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.asana_server import AsanaServer

# Keep retries short in tests; the default budget is ten minutes.
TEST_RETRY_BUDGET = 60


@dataclass
class TapRun:
    """The outcome of one tap run: exit code, raw streams and parsed Singer messages."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    # Requests per route that the server counted during the run, when the test asked.
    request_counts: dict[str, int] = field(default_factory=dict)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def schema(self, stream: str) -> dict[str, Any]:
        schemas = [
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        ]
        assert schemas, f"no SCHEMA message for {stream}"
        return schemas[-1]

    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    def final_state(self) -> dict[str, Any]:
        states = self.states()
        assert states, "the tap sent no STATE message"
        return states[-1]

    def message_types(self, stream: str) -> list[str]:
        return [m["type"] for m in self.messages if m.get("stream") == stream]

    def records_by_stream(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                grouped[message["stream"]].append(message["record"])
        return grouped


def server_config(server: AsanaServer, **settings: Any) -> dict[str, Any]:
    """Tap settings pointing at `server`, plus `settings`."""
    return {
        "access_token": server.token,
        "api_url": server.base_url,
        "retry_time_budget": TEST_RETRY_BUDGET,
        **settings,
    }


def tap_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tap_asana", *args]


def run_tap(
    tmp_path: Path,
    config: dict[str, Any] | None,
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> TapRun:
    """Run `tap-asana --config ...` and parse what it printed on stdout."""
    command = list(tap_command(*args))
    if config is not None:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        command += ["--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_ASANA_")}
    process_env.update(env or {})
    # The command is this interpreter running tap_asana, with arguments the test chose. It
    # runs in tmp_path because singer-sdk also reads a .env file from the working folder,
    # and the README has users create one in the checkout.
    completed = subprocess.run(  # noqa: S603
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=process_env,
        check=False,
        cwd=tmp_path,
    )
    messages = []
    if not set(args) & {"--discover", "--about"}:
        messages = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return TapRun(completed.returncode, completed.stdout, completed.stderr, messages)


def catalog_selecting(tmp_path: Path, config: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """Discover the catalog and select only `streams`."""
    discovered = run_tap(tmp_path, config, args=("--discover",))
    assert discovered.returncode == 0, discovered.stderr
    catalog = json.loads(discovered.stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def tasks_bookmarks(state: dict[str, Any]) -> dict[str, str]:
    """Return project gid -> tasks bookmark from a STATE value."""
    partitions = state.get("bookmarks", {}).get("tasks", {}).get("partitions", [])
    return {
        p["context"]["project_gid"]: p["replication_key_value"]
        for p in partitions
        if "replication_key_value" in p
    }
