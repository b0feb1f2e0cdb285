"""DuckDBSink: collects one stream's records in JSONL files for the loader."""

from __future__ import annotations

import os
import typing as t

from singer_sdk.sinks import BatchSink

from target_duckdb import types
from target_duckdb.batches import MESSAGES, RECORDS, Column, Source, StreamSpec
from target_duckdb.naming import column_names, split_table

if t.TYPE_CHECKING:
    from target_duckdb.target import TargetDuckDB

# Size of the write buffer of each stream's JSONL file.
_WRITE_BUFFER_BYTES = 1 << 20


class DuckDBSink(BatchSink):
    """Writes a stream's RECORD lines to a JSONL file; the loader reads it with DuckDB.

    A new sink starts when the stream's SCHEMA or key properties change, so every
    file is read with the schema its records were sent with.
    """

    def __init__(
        self,
        target: TargetDuckDB,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        self._duckdb_target = target
        super().__init__(target, stream_name, schema, key_properties)
        self.spec = self._build_spec()
        self._sources: list[Source] = []
        self._file: t.BinaryIO | None = None
        self._current: Source | None = None
        self.pending_rows = 0
        self.pending_bytes = 0

    def get_validator(self) -> None:  # type: ignore[override]
        """Return no Python validator: DuckDB checks every value against its column type.

        The loader reads each file with explicit column types, so a value that does
        not fit (a word in an integer property, a malformed date-time) fails the load
        with the stream, property and value named.
        """
        return None

    def _build_spec(self) -> StreamSpec:
        settings = self._duckdb_target.stream_settings(self.stream_name)
        default_schema = self.config.get("default_target_schema") or "main"
        schema_name, table = split_table(settings.get("table") or self.stream_name, default_schema)
        properties: dict[str, t.Any] = self.schema.get("properties") or {}
        names = column_names(properties)
        columns = tuple(
            Column(property=name, name=names[name], type=types.column_type(definition))
            for name, definition in properties.items()
        )
        missing = [key for key in self.key_properties if key not in properties]
        if missing:
            msg = (
                f"Key properties {missing} of stream '{self.stream_name}' are not in its schema. "
                "Declare them under 'properties' in the SCHEMA message."
            )
            from target_duckdb.errors import TargetError  # noqa: PLC0415

            raise TargetError(msg)
        return StreamSpec(
            stream=self.stream_name,
            schema_name=schema_name,
            table=table,
            columns=columns,
            key_properties=tuple(self.key_properties),
            add_metadata=self.include_sdc_metadata_properties,
            hard_delete=bool(self.config.get("hard_delete")),
        )

    # Writing

    def _open(self) -> t.BinaryIO:
        if self._file is None:
            path = self._duckdb_target.new_spool_path(self.stream_name)
            self._file = open(path, "wb", buffering=_WRITE_BUFFER_BYTES)  # noqa: SIM115
            self._current = Source(spec=self.spec, paths=[path], kind=MESSAGES)
            self._sources.append(self._current)
        return self._file

    def write_line(self, line: bytes, line_number: int) -> None:
        """Append one RECORD message line, as received, to the stream's file."""
        handle = self._file or self._open()
        handle.write(line)
        if not line.endswith(b"\n"):
            handle.write(b"\n")
        assert self._current is not None
        self._current.rows += 1
        self._current.line_numbers.append(line_number)
        self.pending_rows += 1
        self.pending_bytes += len(line)

    def add_batch_file(self, path: str, compression: str, size: int) -> None:
        """Queue a singer-sdk BATCH file of raw records after the lines written so far.

        Consecutive BATCH files with the same compression share one source, so DuckDB
        reads them in one statement.
        """
        self._close_file()
        last = self._sources[-1] if self._sources else None
        if last is not None and last.kind == RECORDS and last.compression == compression:
            last.paths.append(path)
        else:
            self._sources.append(Source(spec=self.spec, paths=[path], kind=RECORDS, compression=compression))
        self.pending_bytes += size

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._current = None

    def take_sources(self) -> list[Source]:
        """Close the current file and return every source not yet loaded."""
        self._close_file()
        sources, self._sources = self._sources, []
        self.pending_rows = 0
        self.pending_bytes = 0
        return sources

    def discard(self) -> None:
        """Close and delete this sink's files without loading them."""
        for source in self.take_sources():
            if source.kind == MESSAGES:
                for path in source.paths:
                    try:
                        os.remove(path)
                    except FileNotFoundError:
                        pass

    def process_batch(self, context: dict) -> None:
        """Do nothing: the target hands this sink's files to the loader thread instead."""
