"""TargetDuckDB: the Singer target class, its settings and message handling."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
import time
import typing as t
from pathlib import Path
from urllib.parse import unquote, urlparse

import click
import duckdb
import orjson
from dotenv import find_dotenv, load_dotenv
from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import (
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import (
    PluginCapabilities,
    TargetCapabilities,
    TargetLoadMethods,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.target_base import Target

from target_duckdb.batches import APPEND, MERGE, REPLACE, STRATEGIES, FlushJob, Source
from target_duckdb.errors import TargetError
from target_duckdb.loader import Loader
from target_duckdb.reader import RawLineReader
from target_duckdb.sinks import DuckDBSink

DEBUG_ENV = "TARGET_DUCKDB_DEBUG"
# Spool folders are named <prefix><pid>-<random>, so a later run can find those of dead processes.
SPOOL_PREFIX = "target-duckdb-spool-"
DEFAULT_BATCH_SIZE_ROWS = 100_000
DEFAULT_BATCH_SIZE_BYTES = 64 * 1024 * 1024
# The first batch of a stream whose table is new or empty may hold this many times
# batch_size_bytes: it loads without a TEMP table, and one large commit writes each
# row once where several smaller ones rewrite the table's last row group.
FIRST_LOAD_BYTES_FACTOR = 4
DEFAULT_MEMORY_LIMIT = "256MB"

# Errors the user can fix from the message alone; they are reported as one line.
USER_ERRORS = (
    TargetError,
    InvalidInputLine,
    RecordsWithoutSchemaException,
    MissingKeyPropertiesError,
)


class TargetDuckDB(Target):
    """Load Singer streams into DuckDB tables: replace, merge or append."""

    name = "target-duckdb"
    default_sink_class = DuckDBSink
    message_reader_class = RawLineReader

    capabilities: t.ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.HARD_DELETE,
        TargetCapabilities.TARGET_SCHEMA,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "path",
            th.StringType(),
            required=True,
            description="DuckDB database file; it and its parent folders are created if missing.",
        ),
        th.Property(
            "default_target_schema",
            th.StringType(),
            default="main",
            description="Schema for streams whose name has no 'schema.' prefix; created if missing.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType(),
            default=DEFAULT_BATCH_SIZE_ROWS,
            description="Load a batch once one stream has this many records waiting.",
        ),
        th.Property(
            "batch_size_bytes",
            th.IntegerType(),
            default=DEFAULT_BATCH_SIZE_BYTES,
            description="Load a batch once this many bytes of records are waiting, over all streams.",
        ),
        th.Property(
            "stream_settings",
            th.ObjectType(additional_properties=th.ObjectType(
                th.Property("table", th.StringType(), description="'schema.table' or 'table'."),
                th.Property("strategy", th.StringType(allowed_values=list(STRATEGIES))),
            )),
            description=(
                "Per stream name: {'table': 'schema.table', 'strategy': 'replace'|'merge'|'append'}. "
                "Both keys are optional; 'strategy' overrides the loading rules."
            ),
        ),
        th.Property(
            "state_table",
            th.StringType(),
            description=(
                "Table ('schema.table') that receives each emitted STATE, in the same "
                "transaction as the rows it covers. Used with state_key."
            ),
        ),
        th.Property(
            "state_key",
            th.StringType(),
            description="Value of the key column for this run's row in state_table.",
        ),
        th.Property(
            "summary_path",
            th.StringType(),
            description="When set, a JSON file with rows inserted, updated, deleted and seconds per table is written there at the end.",
        ),
        th.Property(
            "load_method",
            th.StringType(allowed_values=[method.value for method in TargetLoadMethods]),
            description=(
                "'append-only', 'upsert' or 'overwrite' for every stream that sent no "
                "ACTIVATE_VERSION. When unset, streams with key properties are merged "
                "and the others appended."
            ),
        ),
        th.Property(
            "hard_delete",
            th.BooleanType(),
            default=False,
            description=(
                "Delete rows whose record has _sdc_deleted_at set (merge), or leave such "
                "records out (append and replace)."
            ),
        ),
        th.Property(
            "memory_limit",
            th.StringType(),
            default=DEFAULT_MEMORY_LIMIT,
            description=(
                "DuckDB's memory_limit for this connection, such as '256MB' or '2GB'. "
                "Past it DuckDB spills to a temporary folder beside the database file."
            ),
        ),
        th.Property(
            "activate_version_completes_stream",
            th.BooleanType(),
            default=False,
            description=(
                "Replace the table of a stream that sent ACTIVATE_VERSION only once a closing "
                "ACTIVATE_VERSION arrived: one after the stream's last RECORD or BATCH and after "
                "a first ACTIVATE_VERSION. If the input ends before that, the table is kept as it "
                "was, the other streams are loaded, no STATE is emitted and the target fails. "
                "For taps that send ACTIVATE_VERSION at the start and the end of a stream."
            ),
        ),
        th.Property(
            "temp_dir",
            th.StringType(),
            description="Folder for the JSONL files of batches waiting to load; default is the system temporary folder.",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._loader: Loader | None = None
        self._spool_dir: str | None = None
        self._spool_counter = 0
        self._fast_sinks: dict[str, DuckDBSink | None] = {}
        self._versioned: set[str] = set()
        # Per input stream: whether its latest RECORD, BATCH or ACTIVATE_VERSION message
        # was a closing ACTIVATE_VERSION (see activate_version_completes_stream).
        self._version_closed: dict[str, bool] = {}
        # Input stream of each stream in _versioned, which stream maps may have renamed.
        self._version_source: dict[str, str] = {}
        # Streams with rows already handed to the loader to merge or append.
        self._loaded_streams: set[str] = set()
        # Streams whose table had no rows when their first SCHEMA arrived.
        self._first_loads: set[str] = set()
        self._checked_tables: set[str] = set()
        self._pending_bytes = 0
        self._submitted_state: dict | None = None
        self._first_pending_at: float | None = None
        self._rows_limit = int(self.config.get("batch_size_rows") or DEFAULT_BATCH_SIZE_ROWS)
        self._bytes_limit = int(self.config.get("batch_size_bytes") or DEFAULT_BATCH_SIZE_BYTES)
        reader = t.cast("RawLineReader", self.message_reader)
        reader.on_error = self._abort
        reader.fast_record = self._fast_record
        self._check_settings()

    # Settings

    def _check_settings(self) -> None:
        settings = self.config.get("stream_settings") or {}
        for stream, values in settings.items():
            strategy = (values or {}).get("strategy")
            if strategy is not None and strategy not in STRATEGIES:
                msg = (
                    f"Invalid strategy {strategy!r} for stream '{stream}' in stream_settings: "
                    f"use one of {', '.join(STRATEGIES)}."
                )
                raise TargetError(msg)
        if bool(self.config.get("state_table")) != bool(self.config.get("state_key")):
            msg = "Settings state_table and state_key must be set together."
            raise TargetError(msg)

    def stream_settings(self, stream: str) -> dict[str, t.Any]:
        """Return the stream_settings entry of a stream, or an empty dict."""
        settings = self.config.get("stream_settings") or {}
        return dict(settings.get(stream) or {})

    def strategy(self, sink: DuckDBSink) -> str:
        """Return how a stream is loaded: replace, merge or append."""
        explicit = self.stream_settings(sink.stream_name).get("strategy")
        if explicit:
            if explicit == MERGE and not sink.key_properties:
                msg = (
                    f"Stream '{sink.stream_name}' has strategy 'merge' but no key properties. "
                    "Send key_properties in its SCHEMA message or use 'append'."
                )
                raise TargetError(msg)
            return str(explicit)
        if sink.stream_name in self._versioned:
            return REPLACE
        method = self.config.get("load_method")
        if method == TargetLoadMethods.OVERWRITE:
            return REPLACE
        if method == TargetLoadMethods.APPEND_ONLY:
            return APPEND
        return MERGE if sink.key_properties else APPEND

    # Files and the loader

    def new_spool_path(self, stream: str) -> str:
        """Return a new file path for a stream's waiting records."""
        if self._spool_dir is None:
            folder = self.config.get("temp_dir") or tempfile.gettempdir()
            _remove_stale_spools(folder)
            self._spool_dir = tempfile.mkdtemp(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", dir=folder)
        self._spool_counter += 1
        safe = "".join(character if character.isalnum() else "_" for character in stream)[:40]
        return os.path.join(self._spool_dir, f"{self._spool_counter:06d}-{safe}.jsonl")

    def _get_loader(self) -> Loader:
        if self._loader is None:
            self._loader = Loader(
                path=str(self.config["path"]),
                state_table=self.config.get("state_table"),
                state_key=self.config.get("state_key"),
                default_schema=self.config.get("default_target_schema") or "main",
                memory_limit=self.config.get("memory_limit"),
                sync_started_at=self.initialized_at,
                emit_state=self._write_state_message,
                logger=self.logger,
            )
            self._loader.start()
        return self._loader

    def _abort(self) -> None:
        """Stop after an error: finish loading batches already complete, keep nothing else."""
        for sink in [*self._sinks_to_clear, *self._sinks_active.values()]:
            sink.discard()  # type: ignore[attr-defined]
        if self._loader is not None:
            self._loader.join()
            self._loader.close()
            self._loader = None
        self._remove_spool()

    def _remove_spool(self) -> None:
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)
            self._spool_dir = None

    # Messages

    def _process_schema_message(self, message_dict: dict) -> None:
        super()._process_schema_message(message_dict)
        if self._loader is None and Path(str(self.config["path"])).expanduser().exists():
            # Opening an existing file now reports a lock held by another process before
            # any input is read. A new file is created only when the first batch loads,
            # so input rejected before that leaves no file behind.
            self._get_loader()
        stream = message_dict["stream"]
        maps = self.mapper.stream_maps[stream]
        fast = (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == stream
            and not maps[0].flattening_enabled
        )
        self._fast_sinks[stream] = t.cast("DuckDBSink", self._sinks_active[stream]) if fast else None
        for sink in t.cast("list[DuckDBSink]", list(self._sinks_active.values())):
            if sink.stream_name in self._checked_tables:
                continue
            self._checked_tables.add(sink.stream_name)
            if self.strategy(sink) != REPLACE and (self._loader is None or not self._loader.has_rows(sink.spec)):
                self._first_loads.add(sink.stream_name)

    def _fast_record(self, stream: str, line: bytes, line_number: int) -> bool:
        """Write a RECORD line of a stream without maps as is; return False to parse it instead.

        DuckDB parses the line when the batch loads and the loader checks the key
        properties, so errors in these lines name their line number then.
        """
        sink = self._fast_sinks.get(stream)
        if sink is None:
            return False
        self._version_closed[stream] = False
        sink.write_line(line, line_number)
        self._after_write(sink, len(line))
        return True

    def _process_record_message(self, message_dict: dict) -> None:
        stream = message_dict.get("stream")
        record = message_dict.get("record")
        reader = t.cast("RawLineReader", self.message_reader)
        if not isinstance(stream, str) or not isinstance(record, dict):
            msg = f"Line {reader.line_number}: a RECORD message needs a 'stream' name and a 'record' object."
            raise InvalidInputLine(msg)
        if stream not in self.mapper.stream_maps:
            msg = (
                f"Line {reader.line_number}: RECORD for stream '{stream}' arrived before its SCHEMA "
                "message. The tap must send SCHEMA first."
            )
            raise RecordsWithoutSchemaException(msg)

        self._version_closed[stream] = False
        sink = self._fast_sinks.get(stream)
        if sink is not None:
            self._check_keys(sink, record, reader.line_number)
            sink.write_line(reader.raw_line, reader.line_number)
            self._after_write(sink, len(reader.raw_line))
            return

        for stream_map in self.mapper.stream_maps[stream]:
            transformed = stream_map.transform(copy.copy(record))
            if transformed is None:
                continue
            mapped_sink = t.cast("DuckDBSink", self.get_sink(stream_map.stream_alias))
            self._check_keys(mapped_sink, transformed, reader.line_number)
            line = orjson.dumps(
                {
                    "type": "RECORD",
                    "stream": stream_map.stream_alias,
                    "record": transformed,
                    "time_extracted": message_dict.get("time_extracted"),
                    "version": message_dict.get("version"),
                },
                default=str,
                option=orjson.OPT_APPEND_NEWLINE,
            )
            mapped_sink.write_line(line, reader.line_number)
            self._after_write(mapped_sink, len(line))

    @staticmethod
    def _check_keys(sink: DuckDBSink, record: dict, line_number: int) -> None:
        for key in sink.key_properties:
            if record.get(key) is None:
                msg = (
                    f"Line {line_number}: record of stream '{sink.stream_name}' is missing its "
                    f"key property '{key}' (or it is null). Every record needs its key properties."
                )
                raise MissingKeyPropertiesError(msg)

    def _after_write(self, sink: DuckDBSink, size: int) -> None:
        self._pending_bytes += size
        if self._first_pending_at is None:
            self._first_pending_at = time.monotonic()
        limit = self._bytes_limit
        if sink.stream_name in self._first_loads and sink.stream_name not in self._loaded_streams:
            limit *= FIRST_LOAD_BYTES_FACTOR
        if sink.pending_rows >= self._rows_limit or self._pending_bytes >= limit:
            self.flush()

    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        self._latest_state = message_dict["value"]
        age = time.monotonic() - self._first_pending_at if self._first_pending_at else 0.0
        if age > self._MAX_RECORD_AGE_IN_MINUTES * 60:
            self.flush()

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "version"})
        stream = message_dict["stream"]
        if stream not in self.mapper.stream_maps:
            msg = f"ACTIVATE_VERSION for stream '{stream}' arrived before its SCHEMA message."
            raise RecordsWithoutSchemaException(msg)
        # The first ACTIVATE_VERSION of a stream opens its version, and one that follows
        # any message of the stream closes it.
        self._version_closed[stream] = stream in self._version_closed
        if not self.config.get("process_activate_version_messages", True):
            self.logger.info("Ignoring ACTIVATE_VERSION for '%s' as configured", stream)
            return
        for stream_map in self.mapper.stream_maps[stream]:
            alias = stream_map.stream_alias
            if alias in self._loaded_streams and alias not in self._versioned:
                # NOTE: replacing now would delete the rows this run already committed,
                # so such a stream keeps its strategy and old rows are not removed.
                self.logger.warning(
                    "ACTIVATE_VERSION for '%s' arrived after some of its rows were loaded; "
                    "the stream is not replaced in this run",
                    alias,
                )
                continue
            self._versioned.add(alias)
            self._version_source[alias] = stream

    def _process_batch_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "encoding", "manifest"})
        stream = message_dict["stream"]
        if stream not in self.mapper.stream_maps:
            msg = f"BATCH for stream '{stream}' arrived before its SCHEMA message."
            raise RecordsWithoutSchemaException(msg)
        self._version_closed[stream] = False
        encoding = message_dict["encoding"] or {}
        if encoding.get("format") != "jsonl":
            msg = (
                f"BATCH for stream '{stream}' has format {encoding.get('format')!r}; "
                "this target reads only 'jsonl' batch files."
            )
            raise TargetError(msg)
        compression = "gzip" if encoding.get("compression") == "gzip" else "none"
        sink = self._fast_sinks.get(stream)
        if sink is None:
            msg = f"BATCH for stream '{stream}' cannot pass through stream maps or flattening; send RECORD messages instead."
            raise TargetError(msg)
        for url in message_dict["manifest"]:
            path = _local_path(url)
            if not os.path.isfile(path):
                msg = f"Batch file '{url}' of stream '{stream}' not found; it must be a local file."
                raise TargetError(msg)
            size = os.path.getsize(path)
            sink.add_batch_file(path, compression, size)
            self._after_write(sink, size)

    # Flushing

    def _unfinished_streams(self) -> list[str]:
        """Return the replaced streams that sent ACTIVATE_VERSION but not the closing one.

        Empty unless activate_version_completes_stream is set. A stream merged or
        appended by its stream_settings strategy is not checked, because its rows
        only add to the table.
        """
        if not self.config.get("activate_version_completes_stream"):
            return []
        return sorted(
            alias
            for alias, source in self._version_source.items()
            if self.stream_settings(alias).get("strategy", REPLACE) == REPLACE
            and not self._version_closed.get(source, False)
        )

    def _job(self, *, final: bool, abandoned: t.Collection[str] = ()) -> FlushJob:
        """Take every waiting source and the latest STATE into a job for the loader.

        The tables of `abandoned` streams stay as they are, their waiting records are
        dropped and the job emits no STATE, because the latest STATE may cover them.
        """
        sinks = t.cast("list[DuckDBSink]", [*self._sinks_to_clear, *self._sinks_active.values()])
        self._sinks_to_clear = []

        sources: list[Source] = []
        dropped: list[Source] = []
        strategies: dict[str, str] = {}
        for sink in sinks:
            sink_sources = sink.take_sources()
            if sink.stream_name in abandoned:
                dropped.extend(sink_sources)
                continue
            if sink_sources:
                strategies[sink.stream_name] = self.strategy(sink)
                sources.extend(sink_sources)
                if strategies[sink.stream_name] != REPLACE:
                    self._loaded_streams.add(sink.stream_name)

        state = None
        if self._latest_state is not None and self._latest_state != self._submitted_state:
            state = copy.deepcopy(self._latest_state)
            self._submitted_state = state

        replace_specs = {}
        table_specs = []
        if final:
            for sink in t.cast("list[DuckDBSink]", list(self._sinks_active.values())):
                if sink.stream_name in abandoned:
                    continue
                if self.strategy(sink) == REPLACE:
                    replace_specs[sink.stream_name] = sink.spec
                else:
                    table_specs.append(sink.spec)
        self._pending_bytes = 0
        self._first_pending_at = None
        files = [
            path
            for source in [*sources, *dropped]
            if source.kind == "messages"
            for path in source.paths
        ]
        return FlushJob(
            sources=sources,
            strategies=strategies,
            state=None if abandoned else state,
            emit_state=not abandoned,
            final=final,
            replace_specs=replace_specs,
            table_specs=table_specs,
            files_to_remove=files,
        )

    def flush(self) -> None:
        """Hand every waiting record to the loader thread."""
        job = self._job(final=False)
        if job.sources or job.state is not None:
            self._get_loader().submit(job)

    def process_endofpipe(self) -> None:
        """Load what is left, replace the tables of replaced streams, then emit STATE.

        With activate_version_completes_stream set, a stream whose closing
        ACTIVATE_VERSION is missing keeps its table, and the target then fails.
        """
        unfinished = self._unfinished_streams()
        try:
            job = self._job(final=True, abandoned=unfinished)
            needs_loader = job.sources or job.replace_specs or job.table_specs or job.state is not None
            if needs_loader or self._loader is not None:
                loader = self._get_loader()
                loader.submit(job)
                loader.join()
                loader.raise_error()
                summary_path = self.config.get("summary_path")
                if summary_path:
                    loader.write_summary(str(summary_path))
                loader.close()
                self._loader = None
        except BaseException:
            self._abort()
            raise
        finally:
            self._remove_spool()
        if unfinished:
            names = ", ".join(f"'{stream}'" for stream in unfinished)
            if len(unfinished) == 1:
                subject = f"stream {names}; the tap probably failed, so its table was"
            else:
                subject = f"streams {names}; the tap probably failed, so their tables were"
            msg = (
                f"Input ended before the closing ACTIVATE_VERSION of {subject} kept as it was "
                "and no STATE was emitted. Fix the tap's error and run again."
            )
            raise TargetError(msg)

    def _write_state_message(self, state: dict) -> None:
        state_json = json.dumps(state)
        self.logger.debug("Emitting completed target state %s", state_json)
        sys.stdout.write(f"{state_json}\n")
        sys.stdout.flush()

    def _handle_termination(self, signum: int, frame: t.Any) -> None:  # pragma: no cover
        """Stop on SIGTERM or SIGINT without loading waiting rows; replaced tables stay as they were."""
        self.logger.error("Received signal %d; stopping without loading the waiting records", signum)
        raise SystemExit(128 + signum)

    # CLI

    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> t.Any:
        """Read the --config files and variables; an unreadable file ends in one error line.

        `--config ENV` reads TARGET_DUCKDB_* variables, and those of a .env file in the
        working folder or above it that the environment does not set.
        """
        settings: dict[str, t.Any] = {}
        for path in value:
            if path == "ENV":
                found = find_dotenv(usecwd=True)
                if found:
                    load_dotenv(found, override=False)
            else:
                settings |= _read_config_file(path)
        # Each file is read once, above, so a named pipe works too; the SDK gets only ENV.
        config_input = super().cb_config(ctx, param, tuple(p for p in value if p == "ENV"))
        config_input.config = settings | config_input.config
        return config_input

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:  # noqa: N805
        """Return the settings in TARGET_DUCKDB_* variables, .env already loaded by cb_config.

        singer-sdk would look for a .env file upward from its own install folder, so a
        virtualenv inside a checkout would read the checkout's .env from any folder.
        """
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        return parse_environment_config(schema, cls._env_var_prefix, dotenv_path=os.devnull)

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: t.Any = None,
        file_input: t.IO[str] | None = None,
    ) -> None:
        """Run the target; report a failure as one line on stderr and exit with status 1.

        Set TARGET_DUCKDB_DEBUG=1 to get the traceback instead.
        """
        if os.environ.get(DEBUG_ENV):
            super().invoke(about=about, about_format=about_format, config=config, file_input=file_input)
            return
        try:
            super().invoke(about=about, about_format=about_format, config=config, file_input=file_input)
        except USER_ERRORS as exc:
            _fail(str(exc))
        except duckdb.Error as exc:
            _fail(f"DuckDB error: {_one_line(str(exc))}")
        except (OSError, ValueError) as exc:
            _fail(f"{type(exc).__name__}: {_one_line(str(exc))}")


def _read_config_file(path: str) -> dict[str, t.Any]:
    """Return the settings of a --config file; end the run with one error line if unreadable."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        reason = "no such file"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    except ValueError as exc:
        reason = f"not valid JSON ({exc})"
    else:
        if isinstance(value, dict):
            return value
        reason = "not a JSON object"
    _fail(
        f"Cannot read --config file '{path}': {reason}. Pass a JSON file of settings, "
        "or ENV to read TARGET_DUCKDB_* variables."
    )


def _remove_stale_spools(folder: str) -> None:
    """Delete spool folders left by target processes that were killed and no longer run."""
    for entry in Path(folder).glob(f"{SPOOL_PREFIX}*-*"):
        pid_text = entry.name[len(SPOOL_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or not entry.is_dir():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            continue


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str) -> t.NoReturn:
    click.echo(f"target-duckdb: error: {_one_line(message)} (set {DEBUG_ENV}=1 for a traceback)", err=True)
    sys.exit(1)


def _local_path(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else url
    msg = f"Batch file '{url}' is not a local file; only file:// URLs and paths are supported."
    raise TargetError(msg)


__all__ = ["TargetDuckDB"]
