"""Quick mode of every benchmark: the whole code path at tiny sizes, with stand-in anchors.

The PyPI anchors are replaced by stand-in commands with the same interface (arguments,
environment variables and outputs) that run our own parts. So these tests need no download,
and they check only that the scripts still work end to end. They assert figures that do not
depend on timing: rows, records, requests, stored results and the generated page.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from benchmarks import e2e, harness, report, scale, tap, target
from benchmarks.harness import Contender, compare, run_pipeline
from benchmarks.launchers import loopback_guard
from benchmarks.local_server import BenchServer, server_projects_for
from benchmarks.singer_stream import write_stream

BIN = Path(sys.executable).parent

# Stand-in for tap-asana 2.5.1 behind its launcher: reads the launcher's environment variables
# and the anchor's OAuth-style config, then runs our tap with equivalent settings.
TAP_STANDIN = """
import json, os, sys, subprocess
args = sys.argv[1:]
config_path = args[args.index("--config") + 1]
anchor = json.load(open(config_path))
ours = {"access_token": os.environ["ASANA_ACCESS_TOKEN"], "api_url": os.environ["ANCHOR_API_URL"],
        "start_date": anchor["start_date"]}
converted = config_path + ".ours.json"
json.dump(ours, open(converted, "w"))
args[args.index("--config") + 1] = converted
sys.exit(subprocess.call([TAP, *args]))
"""

# Stand-in for ingestr behind its launcher: takes ingestr's arguments, moves the token from the
# URI to ASANA_ACCESS_TOKEN and the API root from ANCHOR_API_URL into the URI, runs omniload.
INGESTR_STANDIN = """
import os, sys, subprocess
from urllib.parse import urlsplit, parse_qs
args = sys.argv[1:]
position = args.index("--source-uri") + 1
uri = urlsplit(args[position])
token = parse_qs(uri.query)["access_token"][0]
args[position] = f"asana://{uri.hostname}?api_url={os.environ['ANCHOR_API_URL']}"
env = dict(os.environ, ASANA_ACCESS_TOKEN=token)
args = [a for a in args if a != "--yes"] + ["--yes", "--progress", "log"]
sys.exit(subprocess.call([OMNILOAD, *args], env=env))
"""


@pytest.fixture(autouse=True)
def short_run_timeout(monkeypatch):
    """Fail a hung contender after two minutes instead of the benchmarks' hour."""
    monkeypatch.setattr(harness, "RUN_TIMEOUT_S", 120.0)


def _standin(tmp_path: Path, name: str, source: str) -> list[str]:
    """Write a stand-in script that finds our console scripts next to this interpreter."""
    script = tmp_path / f"{name}.py"
    header = f"TAP = {str(BIN / 'tap-asana')!r}\nOMNILOAD = {str(BIN / 'omniload')!r}\n"
    script.write_text(header + textwrap.dedent(source))
    return [sys.executable, str(script)]


def _listed_tasks(projects: int, tasks_per_project: int) -> int:
    """Count the tasks a project listing returns on a server like the benchmark's."""
    knobs = {"projects": server_projects_for(projects), "tasks_per_project": tasks_per_project}
    with BenchServer(knobs) as server:
        server.restart()
        return len(server.listed_task_gids())


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def test_stream_generator_changes_only_a_fraction(tmp_path):
    fresh = write_stream(tmp_path / "fresh", 200)
    changed = write_stream(tmp_path / "changed", 200, changed_fraction=0.3)

    def records(path: Path) -> dict[str, dict]:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        return {m["record"]["gid"]: m["record"] for m in lines if m["type"] == "RECORD"}

    before, after = records(fresh.records), records(changed.records)
    assert before.keys() == after.keys()
    differing = sum(before[gid] != after[gid] for gid in before)
    assert 30 <= differing <= 90
    batch_lines = [json.loads(line) for line in fresh.batch.read_text().splitlines()]
    manifest = [uri for m in batch_lines if m["type"] == "BATCH" for uri in m["manifest"]]
    batch_gids = [json.loads(line)["gid"] for uri in manifest
                  for line in Path(uri.removeprefix("file://")).read_text().splitlines()]
    assert sorted(batch_gids) == sorted(before)


def test_harness_measures_pipeline_and_alternates(tmp_path):
    order: list[str] = []
    contenders = [
        Contender(name=name, pipeline=lambda: [[sys.executable, "-c", "print('x' * 10)"],
                                               [sys.executable, "-c",
                                                "import sys; sys.stdin.read()"]],
                  prepare=lambda name=name: order.append(name),
                  collect=lambda m: {"extra": 1})
        for name in ("A", "B")
    ]
    result = compare("harness-check", contenders, rounds=3, metrics=["wall_s", "extra"],
                     baseline="A", log=lambda line: None)
    assert order == ["A", "B", "A", "B", "A", "B"]
    assert len(result.runs) == 6
    assert result.medians["B"]["extra"] == 1
    assert all(run["peak_rss_bytes"] > 0 for run in result.runs)
    assert "wall_s" in result.payload["ratios_vs_baseline"]["B"]


def test_harness_reports_failing_contender(tmp_path):
    failing = run_pipeline([[sys.executable, "-c", "import sys; sys.exit(3)"]])
    assert failing.returncodes == [3]


def test_loopback_guard_rejects_other_hosts():
    with pytest.raises(ConnectionRefusedError, match="192.0.2.1"):
        loopback_guard._check(("192.0.2.1", 443))
    loopback_guard._check(("127.0.0.1", 80))
    loopback_guard._check(("::1", 80, 0, 0))


def test_loopback_guard_allows_local_server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    loopback_guard.install()
    try:
        with socket.create_connection(listener.getsockname(), timeout=5):
            pass
        with pytest.raises(socket.gaierror, match="loopback guard"):
            socket.getaddrinfo("app.asana.com", 443)
    finally:
        socket.socket.connect = loopback_guard._original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = loopback_guard._original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = loopback_guard._original_getaddrinfo
        listener.close()


def test_target_benchmark_quick(tmp_path):
    ours = str(BIN / "target-duckdb")
    payloads = target.run(records=40, rounds=1, changed=0.3, anchor_command=[ours],
                          work=tmp_path / "work", results_dir=tmp_path / "results")
    fresh, merge = payloads
    for payload in (fresh, merge):
        assert set(payload["medians"]) == {"target-duckdb 0.8.0", "ours RECORD", "ours BATCH"}
        for figures in payload["medians"].values():
            assert figures["rows"] == 40
            assert figures["distinct_gids"] == 40
    assert all(f["changed_rows"] == 0 for f in fresh["medians"].values())
    assert all(f["changed_rows"] > 0 for f in merge["medians"].values())
    assert (tmp_path / "results" / "target-fresh-40.json").exists()
    assert (tmp_path / "results" / "target-merge-40.json").exists()


def test_scale_benchmark_quick(tmp_path):
    payloads = scale.run([20, 50], rounds=1, work=tmp_path / "work",
                         results_dir=tmp_path / "results")
    assert [p["params"]["records"] for p in payloads] == [20, 50]
    assert payloads[1]["medians"]["ours BATCH"]["rows"] == 50


def test_tap_benchmark_quick(tmp_path):
    standin = _standin(tmp_path, "tap_standin", TAP_STANDIN)
    payload = tap.run(projects=2, tasks_per_project=5, rounds=1, latency_ms=0, rpm=0,
                      anchor_command=standin, work=tmp_path / "work",
                      results_dir=tmp_path / "results")
    expected = _listed_tasks(projects=2, tasks_per_project=5)
    for figures in payload["medians"].values():
        assert figures["requests"] > 0
        assert figures["distinct_gids"] == expected
        assert figures["records"] >= figures["distinct_gids"]
    stored = _load(tmp_path / "results" / "tap-tasks-10.json")
    assert stored["runs"][0]["contender"] == "tap-asana 2.5.1"


@pytest.mark.parametrize("table", ["tasks", "stories"])
def test_e2e_benchmark_quick(tmp_path, table):
    standin = _standin(tmp_path, "ingestr_standin", INGESTR_STANDIN)
    payload = e2e.run_load(table, projects=2, tasks_per_project=4, rounds=1, latency_ms=0,
                           rpm=0, anchor_command=standin, work=tmp_path / "work",
                           results_dir=tmp_path / "results")
    ours, stand = payload["medians"]["omniload"], payload["medians"]["ingestr 0.14.155"]
    if table == "tasks":
        assert ours["rows"] == _listed_tasks(projects=2, tasks_per_project=4)
    assert ours["rows"] > 0
    assert ours["rows"] == ours["distinct_gids"]
    assert stand["rows"] == ours["rows"]
    assert ours["requests"] > 0
    assert "access_token=***" in payload["contenders"]["ingestr 0.14.155"]
    assert re.search(r"[01]/[0-9a-f]{32}", json.dumps(payload)) is None


def test_incremental_benchmark_quick(tmp_path):
    e2e.main(["incremental", "--projects", "2", "--tasks-per-project", "5", "--rounds", "1",
              "--latency-ms", "0", "--rpm", "0", "--changed", "0.2", "--without-anchor",
              "--work-dir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "results")])
    payload = _load(tmp_path / "results" / "e2e-incremental-10.json")
    assert list(payload["medians"]) == ["omniload"]
    ours = payload["medians"]["omniload"]
    assert ours["changed_tasks"] == 2
    assert 0 < ours["requests"] <= ours["first_run_requests"]
    assert ours["rows"] == _listed_tasks(projects=2, tasks_per_project=5)
    assert ours["distinct_gids"] == ours["rows"]


def test_report_renders_every_result(tmp_path):
    results = tmp_path / "results"
    ours = str(BIN / "target-duckdb")
    target.run(records=20, rounds=1, changed=0.5, anchor_command=[ours],
               work=tmp_path / "work", results_dir=results)
    page = report.render(results)
    assert "## Target load: fresh file" in page
    assert "## Target load: merge of a changed stream" in page
    assert "| rows/s |" in page
    assert "python -m benchmarks.target" in page
    assert "cores (" in page


def test_target_benchmark_command_line(tmp_path):
    ours = str(BIN / "target-duckdb")
    target.main(["--records", "15", "--rounds", "1", "--anchor-command", shlex.join([ours]),
                 "--work-dir", str(tmp_path / "work"), "--results-dir", str(tmp_path / "res")])
    stored = _load(tmp_path / "res" / "target-fresh-15.json")
    assert stored["command"].startswith("python -m benchmarks.target --records 15")
    db = tmp_path / "work" / "fresh" / "ours_BATCH" / "out.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from bench.tasks").fetchone()[0] == 15
