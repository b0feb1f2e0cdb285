"""Validation of the `omniload ingest` options and the run they describe."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omniload import asana, runner, state
from omniload.console import Console, Progress
from omniload.errors import InvalidInputError
from omniload.tables import STRATEGIES, Table, lookup_table
from omniload.uris import (
    SOURCE_FORM,
    DestinationTable,
    SourceUri,
    check_access_token,
    check_destination_path,
    parse_destination_table,
    parse_destination_uri,
    parse_source_uri,
    redact_uri,
)

# Private folders are named <prefix><pid>-<random>, so a later run can find those of dead runs.
PRIVATE_DIR_PREFIX = "omniload-"

TOKEN_VARIABLE = "ASANA_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token


@dataclasses.dataclass(frozen=True)
class IngestOptions:
    """The options as typed, before validation; `origins` names where each came from."""

    source_uri: str | None
    source_table: str | None
    dest_uri: str | None
    dest_table: str | None
    incremental_strategy: str | None
    full_refresh: bool
    interval_start: str | None
    interval_end: str | None
    progress: str | None
    origins: dict[str, str]


@dataclasses.dataclass(frozen=True)
class IngestRequest:
    """A validated ingest: everything needed to run without asking the user again."""

    source: SourceUri
    source_uri_shown: str
    access_token: str
    table: Table
    path: str
    destination: DestinationTable
    strategy: str
    full_refresh: bool
    interval_start: dt.datetime | None
    interval_end: dt.datetime | None
    interactive_progress: bool

    @property
    def is_interval_run(self) -> bool:
        """Whether --interval-start or --interval-end was given."""
        return self.interval_start is not None or self.interval_end is not None

    @property
    def reads_state(self) -> bool:
        """Whether the run resumes from the stored state.

        A replace needs a full extraction, and an interval run extracts its own window.
        """
        return self.strategy != "replace" and not self.is_interval_run

    @property
    def writes_state(self) -> bool:
        """Whether the run stores its final state for the next run.

        An interval run is a one-off window and must not move the bookmarks of the regular
        runs. A replace stores its state, because the table then contains everything up to it.
        """
        return not self.is_interval_run


def _required(value: str | None, option: str, variable: str, form: str) -> str:
    if value is None or not value.strip():
        raise InvalidInputError(f"Missing {option} (or {variable}): expected {form}.")
    return value


def _parse_time(value: str, option: str, origin: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"Invalid {option} {value!r}{origin}: expected an ISO 8601 date or date-time, such "
            "as 2024-05-01 or 2024-05-01T12:00:00Z."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _validate_interval(
    options: IngestOptions, table: Table, origin: Callable[[str], str]
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the parsed --interval-start and --interval-end, checking that they apply."""
    bounds: dict[str, dt.datetime] = {}
    for name, value in (("interval_start", options.interval_start),
                        ("interval_end", options.interval_end)):
        if value is None:
            continue
        option = "--" + name.replace("_", "-")
        if not table.supports_interval:
            raise InvalidInputError(
                f"{option}{origin(name)} does not apply to table {table.name!r}: it filters "
                "tasks by modified_at, so use it with --source-table tasks only."
            )
        if options.full_refresh:
            raise InvalidInputError(
                f"{option}{origin(name)} cannot be combined with --full-refresh, which "
                "extracts everything: drop one of them."
            )
        bounds[name] = _parse_time(value, option, origin(name))

    start, end = bounds.get("interval_start"), bounds.get("interval_end")
    if start is not None and end is not None and start >= end:
        raise InvalidInputError(
            f"Invalid interval: --interval-start {options.interval_start!r} is not before "
            f"--interval-end {options.interval_end!r}."
        )
    return start, end


def validate(options: IngestOptions, environ: dict[str, str] | None = None) -> IngestRequest:
    """Check every option before any network request or file change; return the request."""
    environ = dict(os.environ if environ is None else environ)

    def origin(name: str) -> str:
        where = options.origins.get(name)
        return f" (from {where})" if where else ""

    source_text = _required(
        options.source_uri, "--source-uri", "OMNILOAD_SOURCE_URI", SOURCE_FORM
    )
    source = parse_source_uri(source_text)
    token = source.access_token
    if token is None:
        token = environ.get(TOKEN_VARIABLE)
        if token is None:
            raise InvalidInputError(
                f"Missing access token: set {TOKEN_VARIABLE}, or add ?access_token=TOKEN to "
                "--source-uri."
            )
        check_access_token(token, origin=TOKEN_VARIABLE)

    table = lookup_table(
        _required(options.source_table, "--source-table", "OMNILOAD_SOURCE_TABLE", "a table name")
    )
    path = parse_destination_uri(
        _required(options.dest_uri, "--dest-uri", "OMNILOAD_DEST_URI", "duckdb:///path.db")
    )
    destination = parse_destination_table(
        _required(options.dest_table, "--dest-table", "OMNILOAD_DEST_TABLE", "schema.table")
    )

    strategy = options.incremental_strategy
    if strategy is not None and strategy not in STRATEGIES:
        raise InvalidInputError(
            f"Invalid --incremental-strategy {strategy!r}{origin('incremental_strategy')}: "
            f"expected one of {', '.join(STRATEGIES)}."
        )
    if options.full_refresh and strategy in ("merge", "append"):
        raise InvalidInputError(
            f"--full-refresh replaces the table, so it cannot be combined with "
            f"--incremental-strategy {strategy}{origin('incremental_strategy')}: drop one of them."
        )
    strategy = "replace" if options.full_refresh else (strategy or table.default_strategy)

    interval_start, interval_end = _validate_interval(options, table, origin)

    progress = options.progress
    if progress is not None and progress not in ("interactive", "log"):
        raise InvalidInputError(
            f"Invalid --progress {progress!r}{origin('progress')}: expected interactive or log."
        )
    interactive = progress == "interactive" if progress else _stderr_is_terminal()

    return IngestRequest(
        source=source,
        source_uri_shown=redact_uri(source_text),
        access_token=token,
        table=table,
        path=path,
        destination=destination,
        strategy=strategy,
        full_refresh=options.full_refresh,
        interval_start=interval_start,
        interval_end=interval_end,
        interactive_progress=interactive,
    )


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _asana_time(value: dt.datetime) -> str:
    """Format a UTC time as Asana does: ``2024-05-24T19:50:18.053Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def tap_settings(request: IngestRequest) -> dict[str, Any]:
    """Return the tap-asana config for this run."""
    settings: dict[str, Any] = {
        "access_token": request.access_token,
        "workspace_gid": request.source.workspace,
        "api_url": request.source.api_url,
    }
    if request.table.name == "stories":
        settings["stories_mode"] = "incremental" if request.strategy == "merge" else "full"
    if request.interval_start is not None:
        settings["start_date"] = _asana_time(request.interval_start)
    if request.interval_end is not None:
        # Asana's modified_at values share one fixed format, so comparing strings compares times.
        # NOTE: the tap fetches tasks modified after the interval too; they are dropped here.
        settings["stream_maps"] = {
            request.table.name: {
                "__filter__": f"modified_at is None or modified_at <= "
                f"'{_asana_time(request.interval_end)}'"
            }
        }
    return settings


def target_settings(request: IngestRequest, summary_path: Path) -> dict[str, Any]:
    """Return the target-duckdb config for this run."""
    settings: dict[str, Any] = {
        "path": request.path,
        "stream_settings": {
            request.table.name: {"table": str(request.destination), "strategy": request.strategy}
        },
        "summary_path": str(summary_path),
        # tap-asana sends a closing ACTIVATE_VERSION once a full-table stream is complete,
        # so input cut short (omniload killed mid-relay) cannot replace a table.
        "activate_version_completes_stream": True,
    }
    if request.writes_state:
        settings["state_table"] = state.STATE_TABLE
        settings["state_key"] = state.state_key(
            request.source.workspace, request.table.name, request.destination
        )
    return settings


def select_stream(catalog: dict[str, Any], stream_name: str) -> dict[str, Any]:
    """Select `stream_name` and all its properties in `catalog`, and deselect every other stream."""
    found = False
    for entry in catalog.get("streams", []):
        name = entry.get("tap_stream_id") or entry.get("stream")
        chosen = name == stream_name
        found = found or chosen
        for item in entry.get("metadata", []):
            metadata = item.setdefault("metadata", {})
            if not item.get("breadcrumb"):
                metadata["selected"] = chosen
            elif chosen and metadata.get("inclusion") != "unsupported":
                metadata["selected"] = True
    if not found:
        raise InvalidInputError(
            f"tap-asana does not offer a stream named {stream_name!r}: reinstall tap-asana from "
            "this repository."
        )
    return catalog


def read_summary(summary_path: Path) -> list[dict[str, Any]]:
    """Return the per-table figures target-duckdb wrote, or an empty list if it wrote none.

    The file is ``{"tables": {"schema.table": {"rows_inserted": ..., "rows_updated": ...,
    "rows_deleted": ..., "seconds": ...}}}``.
    """
    try:
        data = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        return []
    return [dict(figures, table=name) for name, figures in tables.items()]


def run(request: IngestRequest, console: Console, confirm: Callable[[], None]) -> None:
    """Run the validated ingest: local checks, `confirm`, workspace check, tap into target.

    Everything local (destination folder, lock, stored state, executables) is checked before
    `confirm` is called and before the first network request.
    """
    check_destination_path(request.path)
    key = state.state_key(request.source.workspace, request.table.name, request.destination)
    stored_state = state.read_state(request.path, key if request.reads_state else None)
    state.check_table_origin(request.path, request.table.name, request.destination)
    tap = runner.find_executable("tap-asana")
    target = runner.find_executable("target-duckdb")

    console.info(f"Source: {request.source_uri_shown} (table {request.table.name})")
    console.info(
        f"Destination: {request.path} (table {request.destination}, strategy {request.strategy})"
    )
    confirm()

    echo = console.info if console.debug else None
    environment = dict(os.environ)
    if console.debug:
        environment["TARGET_DUCKDB_DEBUG"] = "1"
    _remove_stale_private_dirs()
    private_dir = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_DIR_PREFIX}{os.getpid()}-"))
    try:
        # The tap reads its settings, which hold the access token, from named pipes.
        settings = tap_settings(request)
        discovery_config = private_dir / "discovery.json"
        release_discovery = _serve_once(discovery_config, settings)
        try:
            # Discovery makes no request, so it runs while the workspace is checked.
            discovery = runner.Discovery(tap, discovery_config, echo, environment)
            try:
                workspace_name = asana.lookup_workspace(
                    request.source.api_url, request.source.workspace, request.access_token
                )
            except BaseException:
                discovery.stop()
                raise
            console.info(f"Workspace {request.source.workspace}: {workspace_name}")
            if request.reads_state:
                console.info(
                    "Resuming from the state stored by the last run."
                    if stored_state
                    else "No stored state for this workspace, table and destination: "
                    "full extraction."
                )
            discovered = discovery.catalog()
        finally:
            release_discovery()
        catalog = select_stream(discovered, request.table.name)
        catalog_path = private_dir / "catalog.json"
        runner.write_private_json(catalog_path, catalog)
        summary_path = private_dir / "summary.json"
        target_config = private_dir / "target.json"
        runner.write_private_json(target_config, target_settings(request, summary_path))

        tap_config = private_dir / "tap.json"
        release_tap_config = _serve_once(tap_config, settings)
        tap_argv = [tap, "--config", str(tap_config), "--catalog", str(catalog_path)]
        if stored_state:
            state_path = private_dir / "state.json"
            runner.write_private_json(state_path, stored_state)
            tap_argv += ["--state", str(state_path)]

        progress = Progress(console, request.interactive_progress)
        pipeline = runner.Pipeline(
            tap_argv, [target, "--config", str(target_config)], echo, environment
        )
        started = time.monotonic()
        try:
            pipeline.run(progress.tick, progress.tick_seconds)
        finally:
            release_tap_config()
            progress.finish(pipeline.counter, (request.table.name,))
        seconds = time.monotonic() - started
        _print_summary(request, console, read_summary(summary_path), pipeline.counter, seconds)
    finally:
        shutil.rmtree(private_dir, ignore_errors=True)


def _remove_stale_private_dirs() -> None:
    """Delete the private folders of omniload runs that were killed and no longer run.

    A run deletes its folder when it ends, but SIGKILL leaves it behind. The folder has
    the catalog, the target's settings and empty named pipes, never the access token.
    """
    for entry in Path(tempfile.gettempdir()).glob(f"{PRIVATE_DIR_PREFIX}*-*"):
        pid_text = entry.name[len(PRIVATE_DIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or not entry.is_dir():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            # Another user's process runs with that pid; its folder is not ours to delete.
            continue


def _serve_once(path: Path, data: Any) -> Callable[[], None]:
    """Create a named pipe at `path` that hands `data` as JSON to the first process opening it.

    A regular file would keep the access token on disk after omniload is killed (SIGKILL),
    because no cleanup runs then. A named pipe keeps no data on disk. Call the returned
    function once the reader is done: it unblocks the writer if no process ever read.
    """
    os.mkfifo(path, 0o600)
    payload = json.dumps(data).encode("utf-8")

    def write() -> None:
        # open() blocks until a reader opens the pipe.
        with contextlib.suppress(BrokenPipeError), open(path, "wb") as handle:
            handle.write(payload)

    writer = threading.Thread(target=write, name=f"serve {path.name}", daemon=True)
    writer.start()

    def release() -> None:
        if writer.is_alive():
            reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            writer.join(5)
            os.close(reader)

    return release


def _print_summary(
    request: IngestRequest,
    console: Console,
    tables: list[dict[str, Any]],
    counter: runner.StreamCounter,
    seconds: float,
) -> None:
    if not tables:
        # NOTE: without target-duckdb's summary only the extracted row count is known.
        rows = counter.counts.get(request.table.name, 0)
        console.result(f"{request.destination}: {rows} rows loaded in {seconds:.1f} s")
        return
    for figures in tables:
        name = figures.get("table") or str(request.destination)
        # The seconds are the whole run's, from starting the tap to the target's last commit.
        console.result(
            f"{name}: {figures.get('rows_inserted', 0)} inserted, "
            f"{figures.get('rows_updated', 0)} updated, {figures.get('rows_deleted', 0)} deleted "
            f"in {seconds:.1f} s"
        )
