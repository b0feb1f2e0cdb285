"""tap-asana piped into meltanolabs-target-csv, which appends every record it receives."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ecosystem.ground_truth import STREAMS, extracted_records, sample
from tests.ecosystem.plugin_venvs import PluginVenv
from tests.ecosystem.singer_pipe import OWN_BIN_DIR, run_tap_into_target, write_config

pytestmark = pytest.mark.ecosystem

# Task notes can be longer than the csv module's default field limit of 128 KiB.
csv.field_size_limit(sys.maxsize)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def csv_output(
    tmp_path: Path, asana_server: Any, plugin_venv: Callable[[str], PluginVenv]
) -> Path:
    output_dir = tmp_path / "csv"
    output_dir.mkdir()
    tap_config = write_config(
        tmp_path,
        "tap-asana",
        {"access_token": asana_server.token, "api_url": asana_server.base_url},
    )
    target_config = write_config(tmp_path, "target-csv", {"output_path": str(output_dir)})
    target = plugin_venv("target-csv")
    run_tap_into_target(
        [str(OWN_BIN_DIR / "tap-asana"), "--config", str(tap_config)],
        [str(target.executable("target-csv")), "--config", str(target_config)],
        tmp_path,
    )
    return output_dir


def test_one_csv_file_per_stream(csv_output: Path) -> None:
    names = sorted(path.name for path in csv_output.iterdir())

    assert names == sorted(f"{stream}.csv" for stream in STREAMS)


def test_csv_rows_match_server(csv_output: Path, asana_server: Any) -> None:
    truth = extracted_records(asana_server)

    for stream in STREAMS:
        rows = read_csv(csv_output / f"{stream}.csv")
        gids = [row["gid"] for row in rows]
        # target-csv appends, so a record the tap sent twice would show up as two rows.
        assert len(gids) == len(set(gids)), f"{stream}: the tap sent a record twice"
        assert sorted(gids) == sorted(record["gid"] for record in truth[stream]), stream


def test_csv_values_match_server(csv_output: Path, asana_server: Any) -> None:
    truth = extracted_records(asana_server)

    for stream in STREAMS:
        by_gid = {row["gid"]: row for row in read_csv(csv_output / f"{stream}.csv")}
        for expected in sample(truth[stream]):
            row = by_gid[expected["gid"]]
            assert row.get("name", "") == (expected.get("name") or ""), (stream, expected["gid"])
            assert row["resource_type"] == expected["resource_type"], (stream, expected["gid"])


def test_csv_nested_fields_are_json(csv_output: Path, asana_server: Any) -> None:
    truth = {task["gid"]: task for task in extracted_records(asana_server)["tasks"]}

    for row in read_csv(csv_output / "tasks.csv"):
        memberships = json.loads(row["memberships"])
        project_gids = sorted(m["project"]["gid"] for m in memberships)
        assert project_gids == sorted(m["project"]["gid"] for m in truth[row["gid"]]["memberships"])
