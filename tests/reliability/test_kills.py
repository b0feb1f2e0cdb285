"""SIGKILL at named phases of a replace run and of a merge run loses nothing.

Each case starts from the same loaded DuckDB file, changes tasks on the server, starts
`omniload ingest --debug` and waits until the run has provably reached a phase: a request
counted by the server (latency keeps the run there), a child process seen in /proc, or a log
line of the target. Then it kills omniload's process group, or only the target or the tap.

After the kill: a killed replace leaves the previous table as it was, a killed merge leaves
either the previous rows or all the new ones, the stored state never covers a task the table
lacks, no process, lock or staging table is left, and a plain re-run matches the server.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from omniload.errors import ExitCode

from tests.asana_server import AsanaServer, ServerConfig
from tests.reliability.support import (
    WORKSPACE,
    LiveRun,
    TokenScan,
    assert_matches_truth,
    assert_only_tables,
    assert_state_not_ahead,
    error_lines,
    ingest,
    run_cli,
    source_uri,
    stored_state,
    table_names,
    table_rows,
    wait_for_exit,
)

# Latency that keeps every request in flight long enough for the test to see it and kill.
HOLD_MS = 2500
TABLE = "public.tasks"


@dataclass(frozen=True)
class Phase:
    """A point of a run that the test can confirm before it kills."""

    name: str
    latency_ms: int
    reached: Callable[[LiveRun, AsanaServer, str], None]
    # Whether the final load may have committed when the kill lands.
    may_commit: bool = False
    # Whether the final load has certainly committed.
    committed: bool = False


def _counted(server: AsanaServer, route: str) -> Callable[[], bool]:
    return lambda: server.admin.counts().get(route, 0) > 0


def _in_workspace_lookup(run: LiveRun, server: AsanaServer, strategy: str) -> None:
    run.wait_until(_counted(server, "GET /workspaces/{workspace_gid}"), "looking up the workspace")
    # Discovery may run meanwhile; extraction (tap-asana with --catalog) must not have started.
    extracting = [c for c in run.descendants().values() if "tap-asana" in c and "--catalog" in c]
    assert not extracting, "extraction had already started"


def _in_discovery(run: LiveRun, server: AsanaServer, strategy: str) -> None:
    run.wait_until(
        lambda: any("--discover" in command for command in run.descendants().values()),
        "running tap-asana --discover",
    )


def _in_project_listing(run: LiveRun, server: AsanaServer, strategy: str) -> None:
    run.wait_until(_counted(server, "GET /projects"), "listing projects")
    run.wait_until(lambda: run.child("target-duckdb") is not None, "starting target-duckdb")


def _in_task_listing(run: LiveRun, server: AsanaServer, strategy: str) -> None:
    run.wait_until(_counted(server, "GET /tasks"), "listing tasks")
    run.wait_until(lambda: run.child("target-duckdb") is not None, "starting target-duckdb")


def _in_final_load(run: LiveRun, server: AsanaServer, strategy: str) -> None:
    # target-duckdb logs this line after the end of its input, right before the last load.
    run.wait_for_line("completed processing")


def _after_commit(run: LiveRun, server: AsanaServer, strategy: str) -> None:
    # The loader logs its work only after COMMIT returned.
    fragment = "Replaced public.tasks with" if strategy == "replace" else "Loaded "
    run.wait_for_line(fragment)


PHASES = {
    phase.name: phase
    for phase in (
        Phase("workspace lookup", HOLD_MS, _in_workspace_lookup),
        Phase("discovery", 0, _in_discovery),
        Phase("project listing", HOLD_MS, _in_project_listing),
        Phase("task listing", HOLD_MS, _in_task_listing),
        Phase("final load", 0, _in_final_load, may_commit=True),
        Phase("after commit", 0, _after_commit, may_commit=True, committed=True),
    )
}
ARGUMENTS = {"replace": ("--full-refresh",), "merge": ()}


@pytest.fixture(scope="module")
def server() -> Iterator[AsanaServer]:
    with AsanaServer(ServerConfig(workspace_gid=WORKSPACE, projects=4, tasks_per_project=25)) as running:
        yield running


@pytest.fixture(scope="module")
def loaded_file(server: AsanaServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with public.tasks loaded by a merge run, and its stored state."""
    folder = tmp_path_factory.mktemp("baseline")
    result = run_cli(ingest(source_uri(server), "tasks"), folder)
    assert result.returncode == ExitCode.OK, result.stderr
    return folder / "work.db"


def _prepare(server: AsanaServer, loaded_file: Path, folder: Path) -> Path:
    """Copy the loaded file into `folder` and change tasks on the server, so that the next
    run has new and changed rows to load."""
    server.admin.set_faults(latency_ms=0)
    shutil.copy(loaded_file, folder / "work.db")
    server.admin.touch_tasks(count=4)
    server.admin.add_tasks(count=2)
    server.admin.reset_counts()
    return folder / "work.db"


def _check_after_kill(
    server: AsanaServer, path: Path, phase: Phase, before_rows: dict, before_state: dict
) -> str:
    """Check the file after a kill; return "previous" or "new", the version the table has."""
    server.admin.set_faults(latency_ms=0)
    rows = table_rows(path, TABLE)
    assert_only_tables(path, {TABLE})
    assert_state_not_ahead(path, server)
    if rows == before_rows:
        outcome = "previous"
        assert stored_state(path) == before_state, "the state moved but the rows did not"
    else:
        outcome = "new"
        assert phase.may_commit, f"the table changed although the kill came at {phase.name}"
        assert_matches_truth(path, server, "tasks")
    if phase.committed:
        assert outcome == "new", "the commit was logged but the table is the previous one"
    return outcome


def _rerun_converges(server: AsanaServer, folder: Path, strategy: str) -> None:
    result = run_cli(ingest(source_uri(server), "tasks", None, *ARGUMENTS[strategy]), folder)
    assert result.returncode == ExitCode.OK, result.stderr[-3000:]
    if strategy == "merge":
        # The killed run must not send the next one back to a full extraction.
        assert "Resuming from the state stored by the last run." in result.stderr
    assert_matches_truth(folder / "work.db", server, "tasks")
    assert_state_not_ahead(folder / "work.db", server)
    assert_only_tables(folder / "work.db", {TABLE})


def _assert_no_token(server: AsanaServer, folder: Path, run: LiveRun) -> None:
    scan = TokenScan(server.token or "")
    scan.add(run.stdout, run.stderr)
    assert scan.leaks(folder) == []


def _kill_case(
    server: AsanaServer, loaded_file: Path, folder: Path, strategy: str, phase: Phase,
    victim: str,
) -> None:
    path = _prepare(server, loaded_file, folder)
    before_rows = table_rows(path, TABLE)
    before_state = stored_state(path)
    server.admin.set_faults(latency_ms=phase.latency_ms)
    run = LiveRun(ingest(source_uri(server), "tasks", None, "--debug", *ARGUMENTS[strategy]), folder)
    try:
        phase.reached(run, server, strategy)
        if victim == "omniload":
            children = run.kill_group()
            assert run.process.returncode == -signal.SIGKILL
            assert wait_for_exit(children) == [], "a child of omniload outlived it"
        else:
            pid = run.child(victim)
            assert pid is not None, f"{victim} is not running at {phase.name}"
            os.kill(pid, signal.SIGKILL)
            server.admin.set_faults(latency_ms=0)
            code = run.wait()
            expected = ExitCode.LOAD_FAILED if victim == "target-duckdb" else ExitCode.EXTRACT_FAILED
            if not (phase.may_commit and code == ExitCode.OK):
                assert code == expected, run.stderr[-3000:]
                # --debug adds a traceback, but the run still ends in one error line.
                errors = error_lines(run.stderr)
                assert len(errors) == 1, run.stderr[-3000:]
                assert victim in errors[0]
                assert run.stderr_lines[-1] == errors[0]
    finally:
        run.close()

    _check_after_kill(server, path, phase, before_rows, before_state)
    _assert_no_token(server, folder, run)
    _rerun_converges(server, folder, strategy)


# The default run keeps the final-load cases, the ones closest to a commit. The cases that
# hold requests back with latency take longer, so they are marked slow.
DEFAULT_CASES = {("merge", "final load", "omniload"), ("replace", "final load", "omniload"),
                 ("replace", "final load", "target-duckdb")}


def _marks(strategy: str, phase: str, victim: str) -> tuple[pytest.MarkDecorator, ...]:
    return () if (strategy, phase, victim) in DEFAULT_CASES else (pytest.mark.slow,)


CASES = [
    pytest.param(strategy, phase, "omniload", id=f"{strategy} omniload at {phase}",
                 marks=_marks(strategy, phase, "omniload"))
    for strategy in ("replace", "merge")
    for phase in PHASES
] + [
    pytest.param(strategy, phase, "target-duckdb", id=f"{strategy} target at {phase}",
                 marks=_marks(strategy, phase, "target-duckdb"))
    for strategy in ("replace", "merge")
    for phase in ("task listing", "final load")
] + [
    pytest.param(strategy, "task listing", "tap-asana", id=f"{strategy} tap at task listing",
                 marks=pytest.mark.slow)
    for strategy in ("replace", "merge")
]


@pytest.mark.parametrize(("strategy", "phase", "victim"), CASES)
def test_kill_loses_nothing(
    server: AsanaServer, loaded_file: Path, tmp_path: Path, strategy: str, phase: str,
    victim: str,
) -> None:
    _kill_case(server, loaded_file, tmp_path, strategy, PHASES[phase], victim)


@pytest.mark.slow
def test_kill_during_first_load_leaves_no_partial_table(server: AsanaServer, tmp_path: Path) -> None:
    run = LiveRun(ingest(source_uri(server), "tasks", None, "--debug", "--full-refresh"), tmp_path)
    try:
        _in_final_load(run, server, "replace")
        assert wait_for_exit(run.kill_group()) == []
    finally:
        run.close()

    path = tmp_path / "work.db"
    if path.exists():
        assert_only_tables(path, {TABLE})
        if TABLE in table_names(path):
            assert_matches_truth(path, server, "tasks")
    _rerun_converges(server, tmp_path, "replace")
