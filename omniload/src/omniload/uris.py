"""Parsing and validation of the source URI, destination URI and destination table.

Source: ``asana://WORKSPACE_GID[?access_token=TOKEN&api_url=URL]``: both query parameters are
optional and may come in any order. Without ``access_token`` the token comes from
``ASANA_ACCESS_TOKEN``.

Destination: SQLAlchemy's DuckDB form. Everything after ``duckdb://`` is the file path, with one
leading ``/`` removed because SQLAlchemy writes an empty host followed by ``/`` before the database:

| URI | file |
|---|---|
| ``duckdb://./work.db`` | ``work.db`` in the current folder |
| ``duckdb:///work.db``, ``duckdb://work.db`` | the same |
| ``duckdb:///data/work.db`` | ``data/work.db`` under the current folder |
| ``duckdb:////abs/path/work.db`` | ``/abs/path/work.db`` |
| ``duckdb:///:memory:`` | rejected: an in-memory database is lost when the run ends |
"""

from __future__ import annotations

import dataclasses
import os
import re
from urllib.parse import parse_qsl, unquote, urlsplit

from omniload.errors import DestinationError, InvalidInputError
from omniload.redact import Redactor

DEFAULT_API_URL = "https://app.asana.com/api/1.0"
SOURCE_FORM = "asana://WORKSPACE_GID[?access_token=TOKEN&api_url=URL]"
DESTINATION_FORM = "duckdb:///relative/path.db or duckdb:////absolute/path.db"
RESERVED_SCHEMA = "_omniload"

_WORKSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SOURCE_PARAMETERS = ("access_token", "api_url")
# Characters of Asana personal access tokens, such as ``2/1234567890/1234567890:abcdef...`` or
# ``0/abcdef...``. Anything else, such as '?' or '=', is most often another parameter typed into
# the token's value.
# NOTE: OAuth access tokens are assumed to use the same characters; no sample was checked.
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9/:._-]+")
# Parameter names and schemes are echoed in errors only when they look like names, not tokens.
_PARAMETER_NAME = re.compile(r"[A-Za-z_+.-]{1,30}")
_MAX_IDENTIFIER_LENGTH = 63


@dataclasses.dataclass(frozen=True)
class SourceUri:
    """The parts of an ``asana://`` URI."""

    workspace: str
    access_token: str | None
    api_url: str


@dataclasses.dataclass(frozen=True)
class DestinationTable:
    """A ``schema.table`` destination name."""

    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}"


def redact_uri(uri: str) -> str:
    """Return `uri` with its access token and any user info masked, for echoing."""
    return Redactor()(uri)


def parse_source_uri(uri: str) -> SourceUri:
    """Parse an ``asana://`` URI; raise InvalidInputError on any defect.

    The errors echo neither the URI nor its path or parameter values, because a token typed in
    the wrong place would otherwise be printed.
    """

    def invalid(reason: str) -> InvalidInputError:
        return InvalidInputError(f"Invalid --source-uri: {reason}. Expected {SOURCE_FORM}.")

    if not uri.strip():
        raise InvalidInputError(f"Missing --source-uri: expected {SOURCE_FORM}.")
    if uri != uri.strip():
        raise invalid("it starts or ends with whitespace")

    parts = urlsplit(uri)
    if not parts.scheme or "://" not in uri:
        raise invalid("the scheme asana:// is missing")
    if parts.scheme.lower() != "asana":
        scheme = parts.scheme if _PARAMETER_NAME.fullmatch(parts.scheme) else "other"
        raise invalid(f"unsupported scheme {scheme + '://'!r}, only asana:// is supported")
    if "@" in parts.netloc:
        raise invalid(
            "user info before the workspace is not supported, so pass the token in the "
            "access_token query parameter or in ASANA_ACCESS_TOKEN"
        )
    if not parts.netloc:
        raise invalid("the workspace gid is missing")
    if "&" in parts.netloc and not parts.query:
        raise invalid("the query parameters must start with '?', not '&'")
    if not _WORKSPACE.fullmatch(parts.netloc):
        raise invalid("the workspace gid may contain only letters, digits, '_', '.' and '-'")
    if parts.path not in ("", "/"):
        raise invalid("unexpected path after the workspace gid")
    if parts.fragment:
        raise invalid("a '#' fragment is not supported")

    parameters: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _SOURCE_PARAMETERS:
            shown = repr(name) if _PARAMETER_NAME.fullmatch(name) else "with an unusual name"
            raise invalid(
                f"unknown parameter {shown}, supported ones are {', '.join(_SOURCE_PARAMETERS)}"
            )
        if name in parameters:
            raise invalid(f"parameter {name!r} is given twice")
        parameters[name] = value
    if parts.query and not parameters:
        raise invalid("the query string has no name=value parameters")

    token = parameters.get("access_token")
    if token is not None:
        check_access_token(token, origin="the access_token value", in_uri=True)
    api_url = parse_api_url(parameters.get("api_url", DEFAULT_API_URL))
    return SourceUri(workspace=parts.netloc, access_token=token, api_url=api_url)


def check_access_token(token: str, origin: str, in_uri: bool = False) -> None:
    """Raise InvalidInputError, without echoing the token, if it is empty or malformed.

    `in_uri` is true for a token from --source-uri, where a '?' or '=' in it most often means
    that the next parameter was joined with '?' instead of '&'.
    """
    if not token:
        raise InvalidInputError(f"Invalid access token: {origin} is empty.")
    if any(character.isspace() or not character.isprintable() for character in token):
        raise InvalidInputError(
            f"Invalid access token: {origin} contains whitespace or control characters."
        )
    if _TOKEN_CHARACTERS.fullmatch(token):
        return
    for character, problem in (("?", "'?'"), ("=", "'=' (parameter text such as api_url=)")):
        if in_uri and character in token:
            raise InvalidInputError(
                f"Invalid access token: {origin} contains {problem}. Separate the parameters "
                f"of --source-uri with '&', as in {SOURCE_FORM}."
            )
    raise InvalidInputError(
        f"Invalid access token: {origin} contains characters that Asana tokens never contain; "
        "expected only letters, digits, '/', ':', '-', '_' and '.'."
    )


def parse_api_url(api_url: str) -> str:
    """Check that `api_url` is an absolute http(s) URL and return it without a trailing slash."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f"Invalid --source-uri: api_url {redact_uri(api_url)!r} is not an "
            "http:// or https:// URL with a host, such as https://app.asana.com/api/1.0."
        )
    if parts.query or parts.fragment:
        raise InvalidInputError(
            "Invalid --source-uri: api_url must not have a query or fragment; "
            "percent-encode it as api_url=https%3A%2F%2F... if it contains '&'."
        )
    return api_url.rstrip("/")


def parse_destination_uri(uri: str, cwd: str | None = None) -> str:
    """Return the absolute DuckDB file path that `uri` names (see the module docstring)."""
    if not uri.strip():
        raise InvalidInputError(f"Missing --dest-uri: expected {DESTINATION_FORM}.")

    def invalid(reason: str) -> InvalidInputError:
        return InvalidInputError(
            f"Invalid --dest-uri {redact_uri(uri)!r}: {reason}. Expected {DESTINATION_FORM}."
        )

    if uri != uri.strip():
        raise invalid("it starts or ends with whitespace")
    scheme, separator, rest = uri.partition("://")
    if not separator:
        raise invalid("the scheme duckdb:// is missing")
    if scheme.lower() != "duckdb":
        raise invalid(f"unsupported scheme {scheme + '://'!r}, only duckdb:// is supported")
    if "?" in rest or "#" in rest:
        raise invalid("query parameters and fragments are not supported")

    path = unquote(rest[1:] if rest.startswith("/") else rest)
    if not path:
        raise invalid("the file path is missing")
    if path in (":memory:", "./:memory:") or path.startswith(":memory:"):
        raise invalid("an in-memory database is lost when the run ends, so name a file")
    if "\x00" in path:
        raise invalid("the file path contains a NUL character")
    if path.endswith(("/", os.sep)):
        raise invalid("the path names a folder, not a file")
    return os.path.abspath(os.path.join(cwd or os.getcwd(), path))


def check_destination_path(path: str) -> None:
    """Raise DestinationError unless `path` can be created or opened for writing."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        what = "is not a folder" if os.path.exists(parent) else "does not exist"
        raise DestinationError(
            f"Destination folder {parent} {what}: create it first or fix --dest-uri."
        )
    if os.path.isdir(path):
        raise DestinationError(f"Destination {path} is a folder: name a DuckDB file in it.")
    if os.path.exists(path):
        if not os.access(path, os.R_OK | os.W_OK):
            raise DestinationError(
                f"Destination file {path} is not readable and writable by this user."
            )
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise DestinationError(
            f"Destination folder {parent} is not writable by this user, so "
            f"{os.path.basename(path)} "
            "cannot be created there."
        )


def parse_destination_table(name: str) -> DestinationTable:
    """Parse ``schema.table``; each part is a plain identifier (letters, digits, underscore)."""
    if not name.strip():
        raise InvalidInputError(
            "Missing --dest-table: expected schema.table, such as public.tasks."
        )
    parts = name.split(".")
    if len(parts) != 2:
        raise InvalidInputError(
            f"Invalid --dest-table {name!r}: expected exactly one '.' between schema and table, "
            "such as public.tasks."
        )
    for part in parts:
        if not _IDENTIFIER.fullmatch(part) or len(part) > _MAX_IDENTIFIER_LENGTH:
            raise InvalidInputError(
                f"Invalid --dest-table {name!r}: {part!r} must start with a letter or '_', contain "
                f"only letters, digits and '_', and have at most {_MAX_IDENTIFIER_LENGTH} "
                "characters."
            )
    schema, table = parts
    if schema.lower() == RESERVED_SCHEMA:
        raise InvalidInputError(
            f"Invalid --dest-table {name!r}: schema {RESERVED_SCHEMA} contains omniload's state, "
            "choose another schema."
        )
    return DestinationTable(schema=schema, table=table)
