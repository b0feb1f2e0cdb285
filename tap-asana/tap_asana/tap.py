"""TapAsana: settings, shared HTTP resources and the stream list."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import sys
import typing as t
from decimal import Decimal
from functools import cached_property

import orjson
import requests
from dotenv import find_dotenv, load_dotenv
from requests.adapters import HTTPAdapter
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError, FatalAPIError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib.encoding import SingerMessageType

from tap_asana.client import Directory
from tap_asana.concurrency import RequestLimiter
from tap_asana.settings import (
    ConfigSourceError,
    check_integer_variables,
    convert_number_strings,
    read_config_file,
    setting_errors,
    summarize,
)
from tap_asana.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    import click
    from singer_sdk.singerlib import Message

    from tap_asana.client import AsanaStream

DEFAULT_API_URL = "https://app.asana.com/api/1.0"

# Asana allows 50 concurrent GET requests per token.
ASANA_MAX_CONCURRENT_READS = 50
# Below Asana's limit, so another client of the same token still has room for 10 reads.
DEFAULT_CONCURRENT_REQUESTS = 40


class RecordBufferingWriter(SingerWriter):
    """Write Singer messages to stdout, flushing after every message except RECORD.

    singer-sdk flushes after each message, which cost a system call per record. Records
    still reach the target before the STATE message that covers them, because STATE
    messages flush the buffer they were written after.
    """

    def write_message(self, message: Message) -> None:
        """Write one message; flush unless it is a RECORD."""
        sys.stdout.write(self.format_message(message) + "\n")
        if message.type != SingerMessageType.RECORD:
            sys.stdout.flush()

    def serialize_message(self, message: Message) -> str:
        """Return the message as one line of JSON, written by orjson.

        singer-sdk's simplejson encoder took about a third of the main thread's time in a
        profile of the tasks stream. The output is the same JSON, except that characters
        outside ASCII are written as UTF-8 instead of `\\u` escapes. Messages orjson
        cannot write (an integer wider than 64 bits), and text for a stdout that cannot
        take it, go through singer-sdk's encoder.
        """
        try:
            text = orjson.dumps(message.to_dict(), default=_json_default).decode()
        except (TypeError, orjson.JSONEncodeError):
            return super().serialize_message(message)
        if not text.isascii() and not _stdout_takes_utf8():
            return super().serialize_message(message)
        return text


def _json_default(value: object) -> object:
    """Write a Decimal as the number it holds, and other objects as singer-sdk does."""
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else None
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep="T")
    return str(value)


def _stdout_takes_utf8() -> bool:
    encoding = getattr(sys.stdout, "encoding", None)
    # A stream without an encoding, such as io.StringIO, takes any text.
    return encoding is None or encoding.lower().replace("-", "").replace("_", "") == "utf8"


class _UnsortedStreamNoteFilter(logging.Filter):
    """Drop singer-sdk's warning that an unsorted stream's progress is not resumable.

    singer-sdk logs it once per partition, so a tasks sync of 20 projects printed it 20
    times. tap-asana stores a project's bookmark once its listing is complete, and an
    interrupted run starts again from the last stored bookmarks, as documented.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Stream is assumed to be unsorted")


logging.getLogger("singer_sdk").addFilter(_UnsortedStreamNoteFilter())


class TapAsana(Tap):
    """Singer tap for Asana, built on singer-sdk."""

    name = "tap-asana"
    message_writer_class = RecordBufferingWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "access_token",
            th.StringType(min_length=1),
            required=True,
            secret=True,
            title="Access token",
            description="Asana personal access token or OAuth access token.",
        ),
        th.Property(
            "workspace_gid",
            th.StringType(min_length=1),
            title="Workspace gid",
            description=(
                "Sync only this workspace. Leave unset to sync every workspace the "
                "token can read."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType(),
            title="Start date",
            description=(
                "Earliest task modified_at to sync on a first run (ISO 8601). Leave "
                "unset to sync all tasks."
            ),
        ),
        th.Property(
            "api_url",
            th.StringType(pattern=r"^https?://\S+$"),
            default=DEFAULT_API_URL,
            title="API URL",
            description="Root of the Asana REST API.",
        ),
        th.Property(
            "stories_mode",
            th.StringType(),
            allowed_values=["full", "incremental"],
            default="full",
            title="Stories mode",
            description=(
                "`full` reads the stories of every task and replaces the table; "
                "`incremental` reads only the stories of tasks modified since the "
                "last run, to be merged on gid."
            ),
        ),
        th.Property(
            "request_timeout",
            th.NumberType(exclusive_minimum=0),
            default=60,
            title="Request timeout",
            description="Seconds to wait for Asana's response to one request.",
        ),
        th.Property(
            "max_concurrent_requests",
            th.IntegerType(minimum=1, maximum=ASANA_MAX_CONCURRENT_READS),
            default=DEFAULT_CONCURRENT_REQUESTS,
            title="Maximum concurrent requests",
            description=(
                "Requests in flight at once, from 1 to 50 (Asana's limit for reads "
                "per token)."
            ),
        ),
        th.Property(
            "max_requests_per_minute",
            th.IntegerType(minimum=1),
            title="Maximum requests per minute",
            description=(
                "Space requests evenly to stay under this rate. Leave unset to rely on "
                "Asana's 429 answers; set 150 for a free workspace (paid plans allow "
                "1,500)."
            ),
        ),
        th.Property(
            "retry_time_budget",
            th.NumberType(minimum=0),
            default=600,
            title="Retry time budget",
            description=(
                "Seconds one request may spend retrying after rate limits (429), "
                "server errors (500, 502, 503, 504), timeouts and dropped connections "
                "before the sync fails."
            ),
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType(),
            default=True,
            title="Emit ACTIVATE_VERSION messages",
            description=(
                "Send ACTIVATE_VERSION for full-table streams so that targets replace "
                "those tables instead of appending to them."
            ),
        ),
    ).to_dict()

    def discover_streams(self) -> list[AsanaStream]:
        """Return one instance of each stream."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @cached_property
    def max_workers(self) -> int:
        """Return how many listings the tap fetches at once."""
        return int(self.config["max_concurrent_requests"])

    @cached_property
    def requests_session(self) -> requests.Session:
        """Return the HTTP session shared by all streams and worker threads."""
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.max_workers)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    @cached_property
    def limiter(self) -> RequestLimiter:
        """Return the limiter that every request of this run passes through."""
        return RequestLimiter(
            self.max_workers, self.config.get("max_requests_per_minute")
        )

    @cached_property
    def directory(self) -> Directory:
        """Return the workspaces and projects of this run, listed on first use."""
        return Directory(self.config.get("workspace_gid"))

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Check the settings against the config schema and parse start_date.

        Replaces singer-sdk's check, which logs one line per error and shows the value
        of secret settings. Missing settings get their defaults, as in singer-sdk.
        NOTE: this overrides a private method of singer-sdk 0.54; check it on upgrades.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        convert_number_strings(schema, self._config)
        errors = setting_errors(schema, self._config)
        if errors and raise_errors:
            raise ConfigValidationError(summarize(errors), errors=errors, schema=schema)
        if errors:
            self.logger.warning("%s", summarize(errors))
        return errors

    @classmethod
    def cb_config(
        cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]
    ) -> t.Any:
        """Read the --config files and variables, ending the run with one error line.

        `--config ENV` reads TAP_ASANA_* environment variables, and those of a .env file
        in the working folder or above it that the environment does not set.
        """
        settings: dict[str, t.Any] = {}
        try:
            for path in value:
                if path == "ENV":
                    load_dotenv_of_working_folder()
                    check_integer_variables(cls.config_jsonschema, cls._env_var_prefix)
                else:
                    settings |= read_config_file(path)
        except ConfigSourceError as exc:
            cls.logger.error("%s", exc, exc_info=cls.logger.isEnabledFor(logging.DEBUG))
            ctx.exit(1)
        # The files were read above; the SDK gets only the ENV marker so that it reads
        # none of them a second time.
        config_input = super().cb_config(ctx, param, tuple(p for p in value if p == "ENV"))
        config_input.config = settings | config_input.config
        return config_input

    @classproperty
    def _env_var_config(cls) -> dict[str, t.Any]:
        """Return the settings in TAP_ASANA_* variables, .env already loaded by cb_config.

        singer-sdk would look for a .env file upward from its own install folder, so a
        virtualenv inside a checkout would read the checkout's .env from any folder.
        """
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        return parse_environment_config(schema, cls._env_var_prefix, dotenv_path=os.devnull)

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        """Run the tap; an Asana error or invalid settings end it with one log line.

        The exit code is then 1. The traceback is logged too when the log level is
        DEBUG (`TAP_ASANA_LOGLEVEL=DEBUG`).
        """
        try:
            for option in ("state", "catalog"):
                if kwargs.get(option) is not None:
                    kwargs[option] = _checked_json_file(option, kwargs[option])
            if kwargs.get("catalog") is not None:
                catalog = json.loads(kwargs["catalog"].getvalue())
                for warning in _catalog_warnings(catalog):
                    cls.logger.warning("%s", warning)
            super().invoke(*args, **kwargs)
        except (FatalAPIError, ConfigValidationError) as exc:
            cls.logger.error(
                "%s", exc, exc_info=cls.logger.isEnabledFor(logging.DEBUG)
            )
            sys.exit(1)


_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"

# Advice for a --state or --catalog file that is not a JSON object.
_FILE_HINTS = {
    "state": "Pass the STATE a previous run emitted, or leave --state out for a full extraction.",
    "catalog": "Write one with `tap-asana --config CONFIG --discover > catalog.json`.",
}


def _state_problem(state: dict[str, t.Any]) -> str | None:
    """Describe what is wrong with the shape of a Singer state, or return None."""
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return "has a 'bookmarks' value that is not an object"
    for stream, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            return f"has a bookmark for stream '{stream}' that is not an object"
        partitions = bookmark.get("partitions", [])
        if not isinstance(partitions, list) or not all(isinstance(p, dict) for p in partitions):
            return f"has 'partitions' of stream '{stream}' that are not a list of objects"
    return None


def _catalog_problem(catalog: dict[str, t.Any]) -> str | None:
    """Describe what is wrong with the shape of a Singer catalog, or return None."""
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        return "has no 'streams' list"
    for position, entry in enumerate(streams, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("tap_stream_id"), str):
            return f"has stream {position} without a 'tap_stream_id'"
        schema = entry.get("schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            return f"has stream '{entry['tap_stream_id']}' without a schema with 'properties'"
    return None


def _catalog_warnings(catalog: dict[str, t.Any]) -> list[str]:
    """Return warnings for a catalog that names unknown streams or selects none."""
    known = [stream_type.name for stream_type in STREAM_TYPES]
    names = [entry["tap_stream_id"] for entry in catalog["streams"]]
    warnings = []
    unknown = [name for name in names if name not in known]
    if unknown:
        warnings.append(
            f"The catalog names streams that tap-asana does not have, which are skipped: "
            f"{', '.join(unknown)}. Its streams are {', '.join(known)}."
        )
    entries = [entry for entry in catalog["streams"] if entry["tap_stream_id"] in known]
    if not any(_root_selected(entry) for entry in entries):
        warnings.append(
            "The catalog selects no stream of tap-asana, so nothing is extracted. Set "
            '"selected": true in the root metadata (breadcrumb []) of the streams to extract.'
        )
    return warnings


def _root_selected(entry: dict[str, t.Any]) -> bool:
    """Return whether a catalog entry's root metadata selects it; True without root metadata."""
    for item in entry.get("metadata") or []:
        if isinstance(item, dict) and item.get("breadcrumb") == []:
            metadata = item.get("metadata") or {}
            if metadata.get("inclusion") == "automatic":
                return True
            if "selected" in metadata:
                return bool(metadata["selected"])
            return bool(metadata.get("selected-by-default", False))
    return True


def load_dotenv_of_working_folder() -> None:
    """Set variables from the nearest .env file at or above the working folder.

    Variables already set in the environment keep their values.
    """
    found = find_dotenv(usecwd=True)
    if found:
        load_dotenv(found, override=False)


def _checked_json_file(option: str, handle: t.IO[str]) -> t.IO[str]:
    """Return the file's text as a new handle, or raise ConfigValidationError.

    The error names the file and the fix when the text is not a JSON object.
    """
    name = getattr(handle, "name", "-")
    text = handle.read()
    try:
        value = json.loads(text)
    except ValueError as exc:
        problem = f"is not valid JSON ({exc})"
    else:
        if isinstance(value, dict):
            shape = _state_problem(value) if option == "state" else _catalog_problem(value)
            if shape is None:
                return io.StringIO(text)
            problem = shape
        else:
            problem = f"holds a JSON {_JSON_KINDS.get(type(value), 'value')}, not an object"
    msg = f"--{option} file '{name}' {problem}. {_FILE_HINTS[option]}"
    raise ConfigValidationError(msg)


if __name__ == "__main__":
    TapAsana.cli()
