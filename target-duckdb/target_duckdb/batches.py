"""Units of work passed from the message reader to the loader thread."""

from __future__ import annotations

import array
import dataclasses
import typing as t

# Sources hold either Singer message lines (each record nested under "record") or
# the raw records of a singer-sdk BATCH file (one JSON object per line).
MESSAGES = "messages"
RECORDS = "records"

REPLACE = "replace"
MERGE = "merge"
APPEND = "append"
STRATEGIES = (REPLACE, MERGE, APPEND)


@dataclasses.dataclass(frozen=True)
class Column:
    """One table column: the record property it holds, its name and its declared type."""

    property: str
    name: str
    type: str


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """A stream's table, columns, key and options, as of the SCHEMA its records were sent with."""

    stream: str
    schema_name: str
    table: str
    columns: tuple[Column, ...]
    key_properties: tuple[str, ...]
    add_metadata: bool
    hard_delete: bool

    @property
    def key_columns(self) -> list[str]:
        """Column names of the key properties."""
        by_property = {column.property: column.name for column in self.columns}
        return [by_property[key] for key in self.key_properties]

    @property
    def needs_json_paths(self) -> bool:
        """Whether a DuckDB STRUCT cannot have these properties as fields.

        That is so when two properties differ only in case, or one has an empty name.
        """
        folded = {column.property.lower() for column in self.columns}
        return len(folded) != len(self.columns) or "" in folded


# A row's sequence number is (file index << FILE_SHIFT) + its 1-based ordinal in the file.
FILE_SHIFT = 32


@dataclasses.dataclass
class Source:
    """JSONL files to load into a stream's table: one MESSAGES file, or BATCH files in order."""

    spec: StreamSpec
    paths: list[str]
    kind: str
    rows: int = 0
    compression: str = "auto"
    # Input line number of each row of a MESSAGES file, for error messages.
    line_numbers: array.array = dataclasses.field(default_factory=lambda: array.array("Q"))

    def describe_row(self, sequence: int) -> str:
        """Return where the row with this sequence number came from, for an error message."""
        index, ordinal = divmod(sequence, 1 << FILE_SHIFT)
        if self.kind == MESSAGES and 0 < ordinal <= len(self.line_numbers):
            return f"Line {self.line_numbers[ordinal - 1]}"
        return f"Record {ordinal} of batch file '{self.paths[index]}'"


@dataclasses.dataclass
class FlushJob:
    """Sources to load in one transaction, and the STATE they complete."""

    sources: list[Source]
    strategies: dict[str, str]
    state: dict | None
    # False when the job must emit no STATE at all, not even one held from earlier jobs.
    emit_state: bool = True
    final: bool = False
    # Streams to replace at the end of the input, with the spec to create their table.
    replace_specs: dict[str, StreamSpec] = dataclasses.field(default_factory=dict)
    # Streams whose table must exist with every declared column, even without rows.
    table_specs: list[StreamSpec] = dataclasses.field(default_factory=list)
    files_to_remove: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TableFigures:
    """Per-table counts for the summary file."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, t.Any]:
        """Return the figures as the summary file stores them."""
        return {
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_deleted": self.deleted,
            "seconds": round(self.seconds, 3),
        }
