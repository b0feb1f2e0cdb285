"""Tap extraction: our tap-asana against PyPI's tap-asana 2.5.1, side by side.

Both extract the ``tasks`` stream from the local Asana server, which adds a latency to every
request and limits requests per minute. The server is restarted before every run, so each run
starts with empty counters and an empty rate-limit window. Figures: wall seconds, requests the
server counted, RECORD messages emitted and distinct gids among them (tap-asana 2.5.1 emits a
task that sits in two projects twice).

    python -m benchmarks.tap --projects 20 --tasks-per-project 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from benchmarks import anchors
from benchmarks.harness import RESULTS_DIR, WORK_DIR, Contender, compare, save
from benchmarks.local_server import (
    BenchServer,
    latency_floor_s,
    rate_limit_floor_s,
    server_projects_for,
)

LAUNCHERS = Path(__file__).resolve().parent / "launchers"
OURS_TAP = [str(Path(sys.executable).with_name("tap-asana"))]
METRICS = ["wall_s", "requests", "records", "distinct_gids", "peak_rss_bytes",
           "rate_limit_floor_s", "latency_floor_s"]


def count_records(path: Path, stream: str) -> dict:
    """Count RECORD messages of ``stream`` in a Singer output file, and their distinct gids."""
    records = 0
    gids: set[str] = set()
    with path.open("rb") as messages:
        for line in messages:
            if b'"RECORD"' not in line:
                continue
            message = json.loads(line)
            if message.get("type") == "RECORD" and message.get("stream") == stream:
                records += 1
                gids.add(str(message["record"].get("gid")))
    return {"records": records, "distinct_gids": len(gids)}


def select_streams(catalog: dict, names: set[str]) -> dict:
    """Mark the streams in ``names`` selected and every other stream deselected."""
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in names
        for item in entry.get("metadata", []):
            if item.get("breadcrumb") == []:
                item.setdefault("metadata", {})["selected"] = selected
                break
        else:
            entry.setdefault("metadata", []).append(
                {"breadcrumb": [], "metadata": {"selected": selected}})
    return catalog


def discover_catalog(command: list[str], config: Path, env: dict, out: Path,
                     stream: str) -> Path:
    """Run ``command --discover`` once and write a catalog selecting only ``stream``."""
    result = subprocess.run([*command, "--config", str(config), "--discover"],
                            capture_output=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"discovery failed for {command[0]}: "
                           f"{result.stderr.decode('utf-8', 'replace')[-2000:]}")
    catalog = select_streams(json.loads(result.stdout), {stream})
    out.write_text(json.dumps(catalog))
    return out


def run(
    projects: int,
    tasks_per_project: int,
    rounds: int,
    latency_ms: int,
    rpm: int,
    anchor_command: list[str] | None = None,
    work: Path = WORK_DIR / "tap",
    results_dir: Path = RESULTS_DIR,
    command: str = "",
) -> dict:
    """Run the extraction comparison, save its result and return the payload."""
    work.mkdir(parents=True, exist_ok=True)
    if anchor_command is None:
        anchor_bin = anchors.ensure("tap-asana")
        anchor_command = [str(anchor_bin / "python"), str(LAUNCHERS / "tap_asana_anchor.py")]
    knobs = {"projects": server_projects_for(projects), "tasks_per_project": tasks_per_project,
             "latency_ms": latency_ms, "rpm": rpm}

    with BenchServer(knobs) as server:
        server.restart()
        base_env = {**os.environ, "ASANA_ACCESS_TOKEN": server.token}

        ours_config = work / "ours-config.json"
        anchor_config = work / "anchor-config.json"

        def write_configs() -> None:
            ours_config.write_text(json.dumps({
                "access_token": server.token, "workspace_gid": server.workspace_gid,
                "api_url": server.base_url, "start_date": "2000-01-01T00:00:00Z"}))
            # tap-asana 2.5.1 requires the OAuth settings; the launcher replaces the refresh.
            anchor_config.write_text(json.dumps({
                "start_date": "2000-01-01T00:00:00Z", "client_id": "unused",
                "client_secret": "unused", "redirect_uri": "http://127.0.0.1/unused",
                "refresh_token": "unused", "access_token": server.token}))

        write_configs()
        anchor_env = {"ANCHOR_API_URL": server.base_url}
        ours_catalog = discover_catalog(OURS_TAP, ours_config, base_env,
                                        work / "ours-catalog.json", "tasks")
        anchor_catalog = discover_catalog(anchor_command, anchor_config,
                                          {**base_env, **anchor_env},
                                          work / "anchor-catalog.json", "tasks")

        def prepare() -> None:
            server.restart()
            write_configs()

        def collect(measurement, out: Path) -> dict:
            requests = server.total_requests()
            figures = {"requests": requests, **count_records(out, "tasks")}
            figures["rate_limit_floor_s"] = rate_limit_floor_s(requests, rpm, latency_ms / 1000)
            figures["latency_floor_s"] = latency_floor_s(server.max_task_pages(),
                                                         latency_ms / 1000)
            return figures

        ours_out, anchor_out = work / "ours.singer", work / "anchor.singer"
        contenders = [
            Contender(
                name="tap-asana 2.5.1",
                pipeline=lambda: [[*anchor_command, "--config", str(anchor_config),
                                   "--catalog", str(anchor_catalog)]],
                stdout_path=anchor_out,
                env=lambda: {"ASANA_ACCESS_TOKEN": server.token,
                             "ANCHOR_API_URL": server.base_url},
                prepare=prepare,
                collect=lambda m: collect(m, anchor_out),
            ),
            Contender(
                name="ours",
                pipeline=lambda: [[*OURS_TAP, "--config", str(ours_config),
                                   "--catalog", str(ours_catalog)]],
                stdout_path=ours_out,
                prepare=prepare,
                collect=lambda m: collect(m, ours_out),
            ),
        ]
        params = {**knobs, "workspace_projects": projects,
                  "tasks": projects * tasks_per_project}
        result = compare("tap-tasks", contenders, rounds, METRICS, baseline="tap-asana 2.5.1",
                         params=params, command=command)
    save(result.payload, f"tap-tasks-{projects * tasks_per_project}", results_dir)
    return result.payload


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--tasks-per-project", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each contender")
    parser.add_argument("--latency-ms", type=int, default=300)
    parser.add_argument("--rpm", type=int, default=1500, help="requests per minute limit")
    parser.add_argument("--anchor-command", default=None,
                        help="command replacing the PyPI anchor (a stand-in for quick tests)")
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR / "tap")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    anchor = shlex.split(args.anchor_command) if args.anchor_command else None
    arguments = argv if argv is not None else sys.argv[1:]
    run(args.projects, args.tasks_per_project, args.rounds, args.latency_ms, args.rpm, anchor,
        args.work_dir, args.results_dir, ("python -m benchmarks.tap " + shlex.join(arguments)).strip())


if __name__ == "__main__":
    main()
