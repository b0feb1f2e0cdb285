"""AsanaStream: the base of every stream (URL, auth, paging, fields, errors, fan-out)."""

from __future__ import annotations

import decimal
import email.utils
import json
import logging
import random
import sys
import time
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from http import HTTPStatus
from importlib import resources
from urllib.parse import urlparse

import backoff
import requests
from singer_sdk import RESTStream, SchemaDirectory, StreamSchema
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.jsonpath import extract_jsonpath
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.streams.rest import HTTPRequest
from urllib3.exceptions import NewConnectionError

from tap_asana import schemas
from tap_asana.concurrency import ordered_chunks

if t.TYPE_CHECKING:
    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_asana.tap import TapAsana

# Asana's maximum page size.
PAGE_SIZE = 100

# Bytes of raw pages buffered for listings ahead of the one being emitted. Pages of one
# listing come one after another, so listings must run ahead to hide latency, and this
# bounds the memory they take (a page of 100 tasks with all fields is about 0.6 MB).
PREFETCH_BUFFER_BYTES = 256 * 1024 * 1024

# The start of singer-sdk's ERROR line when a stream's sync raises.
SDK_SYNC_FAILURE = "An unhandled error occurred while syncing"

# How many times one listing may restart after its pagination offset expired.
MAX_LISTING_RESTARTS = 3

# Waits between retries without Retry-After: doubling from 1 s up to 60 s, each scaled
# by a random factor in [0.5, 1) so that worker threads do not retry in step.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0

RETRIABLE_STATUSES = frozenset(
    {
        HTTPStatus.TOO_MANY_REQUESTS,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        HTTPStatus.BAD_GATEWAY,
        HTTPStatus.SERVICE_UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT,
    }
)

# Advice appended to the message of a client error, by status code.
CLIENT_ERROR_HINTS = {
    HTTPStatus.BAD_REQUEST: "Check the workspace_gid, start_date and api_url settings.",
    HTTPStatus.UNAUTHORIZED: (
        "Check access_token: Asana did not accept it (missing, mistyped, expired or "
        "revoked). Create a new personal access token in Asana's developer console."
    ),
    HTTPStatus.PAYMENT_REQUIRED: "This data needs a paid Asana plan; deselect the stream.",
    HTTPStatus.FORBIDDEN: (
        "The token's user cannot read this object. Use a token of a member of the "
        "workspace, or set workspace_gid to a workspace that the token can read."
    ),
    HTTPStatus.NOT_FOUND: (
        "The object does not exist or the token's user cannot see it. Check "
        "workspace_gid, and that api_url is Asana's API root ending in /api/1.0."
    ),
}

# Asana's message for a 404 on a path that is no API endpoint at all.
NO_ROUTE_MESSAGE = "No matching route for request"
NO_ROUTE_HINT = (
    "The api_url setting looks wrong: it must be Asana's API root, ending in /api/1.0."
)

RETRIABLE_EXCEPTIONS = (
    RetriableAPIError,
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def is_unreachable(exc: BaseException) -> bool:
    """Return whether no connection could be opened (refused, unknown host).

    Such errors fail at once: waiting does not fix a wrong api_url. A connection that
    opened and then dropped, or timed out, is retried instead.
    """
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.ConnectTimeout
    ):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def unreachable_reason(exc: BaseException) -> str:
    """Return the socket error behind a failed connection, without the URL."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    cause = getattr(reason, "__cause__", None) or getattr(reason, "__context__", None)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return type(reason).__name__


class ExpiredOffsetError(FatalAPIError):
    """Asana rejected a pagination offset, which expires some minutes after issue."""


class ObjectNotFoundError(FatalAPIError):
    """Asana returned 404 for an object that does not exist or that the token cannot see.

    `path` is the URL path of the request and `reason` is Asana's error message.
    """

    def __init__(self, message: str, path: str, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Listing:
    """One paginated GET: a path under api_url and its query, without paging."""

    path: str
    params: dict[str, str] = field(default_factory=dict)


class NextPageOffsetPaginator(BaseAPIPaginator[str | None]):
    """Follow `next_page.offset` of Asana's list responses until it is null."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        return next_page_offset(response.content)


def parse_body(body: bytes) -> dict[str, t.Any]:
    """Parse a JSON response body, keeping decimal numbers exact."""
    return json.loads(body, parse_float=decimal.Decimal)


def next_page_offset(body: bytes) -> str | None:
    """Return `next_page.offset` of a list response body, or None on the last page.

    Asana writes `next_page` after `data`, so only the end of the body is parsed, and a
    worker thread need not parse a whole page that the main thread parses again. A body
    of another shape is parsed whole. Raises ValueError when the body is not complete
    JSON, as after a connection dropped mid-body.
    """
    start = body.rfind(b'"next_page"')
    if start != -1:
        try:
            tail = json.loads(b"{" + body[start:])
        except ValueError:
            tail = None
        if isinstance(tail, dict) and set(tail) == {"next_page"}:
            return (tail["next_page"] or {}).get("offset")
    payload = parse_body(body)
    return ((payload.get("next_page") if isinstance(payload, dict) else None) or {}).get("offset")


def asana_error_message(response: requests.Response) -> str:
    """Return the `message` fields of an Asana error body, or the start of the body."""
    try:
        errors = response.json().get("errors") or []
        messages = [str(error["message"]) for error in errors if error.get("message")]
    except (ValueError, AttributeError, TypeError, KeyError):
        messages = []
    if messages:
        return "; ".join(messages)
    text = response.text.strip().replace("\n", " ")
    return text[:200] if text else "no error message in the response"


def to_asana_timestamp(value: str | datetime) -> str:
    """Format a timestamp the way Asana writes them: UTC, milliseconds, `Z`.

    A value without a time zone is taken as UTC; a date alone means its midnight UTC.
    """
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Return the wait in seconds that a Retry-After header requests, or None without one."""
    if response is None:
        return None
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


class AsanaStream(RESTStream):
    """Base stream: one Asana list endpoint, fetched page by page with opt_fields.

    Subclasses declare `name`, `path` and, when the list needs them, `query_params`.
    The schema comes from `schemas/<name>.json` and the fields requested from
    `schemas/opt_fields.json`; both are generated together from Asana's OpenAPI spec.
    """

    records_jsonpath = "$.data[*]"
    primary_keys = ("gid",)
    schema = StreamSchema(SchemaDirectory(schemas))

    # Records are parsed JSON, so their values already have JSON types; conforming every
    # nested value cost most of the tap's CPU time. Top-level keys are still checked:
    # one the schema lacks is dropped with a warning. Nested objects allow extra keys.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    # Set by singer-sdk's Stream.__init__; annotated for the shared session and limits.
    _tap: TapAsana

    @property
    def url_base(self) -> str:
        """Return the API root from the `api_url` setting, without a trailing slash."""
        return str(self.config["api_url"]).rstrip("/")

    @cached_property
    def authenticator(self) -> BearerTokenAuthenticator:
        """Return the bearer-token authenticator for `access_token`."""
        return BearerTokenAuthenticator(token=self.config["access_token"])

    @property
    def requests_session(self) -> requests.Session:
        """Return the session shared by every stream and worker thread of the tap."""
        return self._tap.requests_session

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """Return the per-request timeout in seconds (`request_timeout`)."""
        return float(self.config["request_timeout"])

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """Log a message; singer-sdk's note on a sync failed by an API error goes to DEBUG.

        The tap ends such a run with one ERROR line naming the request and the fix, so
        singer-sdk's "An unhandled error occurred while syncing" would be a second one.
        """
        failure = sys.exc_info()[1]
        if level == logging.ERROR and message.startswith(SDK_SYNC_FAILURE) and isinstance(
            failure, FatalAPIError
        ):
            level = logging.DEBUG
        super().log(message, *args, level=level, **kwargs)

    @property
    def emit_activate_version_messages(self) -> bool:
        """Return whether full-table syncs send ACTIVATE_VERSION (on by default)."""
        return bool(self.config.get("emit_activate_version_messages", True))

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        """Send the closing ACTIVATE_VERSION of a full-table sync, then finalize its state.

        singer-sdk 0.54.9 sends ACTIVATE_VERSION only before the first record, and its
        `Stream.sync` cannot be overridden. `Tap.sync_all` calls this method right after
        `sync` returns, which it does only once every partition has synced without error.
        A second message with the same version marks the version as
        complete (target-duckdb's `activate_version_completes_stream` waits for it). A
        target that deletes the rows of older versions does nothing more on a repeat.
        """
        if state is None and self._stream_version is not None:
            self._write_activate_version_message(self._stream_version)
            self._stream_version = None
        super().finalize_state_progress_markers(state)

    @property
    def partitions(self) -> list[dict] | None:
        """Return no partitions: only streams with per-parent state define them."""
        return None

    @cached_property
    def opt_fields(self) -> list[str]:
        """Return the fields this stream requests, generated with its schema."""
        text = resources.files(schemas).joinpath("opt_fields.json").read_text("utf-8")
        return list(json.loads(text)[self.name])

    def get_new_paginator(self) -> NextPageOffsetPaginator:
        """Return a paginator on `next_page.offset`."""
        return NextPageOffsetPaginator()

    # Requests

    def listing(self, path: str, **query: str) -> Listing:
        """Return the listing of `path` with this stream's opt_fields and `query`."""
        return Listing(path, {"opt_fields": ",".join(self.opt_fields), **query})

    def fetch(self, listing: Listing) -> list[dict]:
        """Return every record of a listing, each gid once."""
        return list(self.records_of(self.iter_listing(listing)))

    def records_of(self, bodies: t.Iterable[bytes]) -> t.Iterator[dict]:
        """Parse the page bodies of one listing and yield its records, each gid once.

        A listing restarted after an expired offset sends its first pages again; the
        records already yielded are skipped.
        """
        seen: set[str] = set()
        for body in bodies:
            for record in extract_jsonpath(self.records_jsonpath, parse_body(body)):
                gid = record.get("gid")
                if gid is None:
                    yield record
                elif gid not in seen:
                    seen.add(gid)
                    yield record

    def iter_listing(self, listing: Listing) -> t.Iterator[bytes]:
        """Yield the raw body of each page of a listing, following `next_page` to the end.

        Safe to call from worker threads. When Asana rejects an expired pagination
        offset, the listing starts again from its first page.
        """
        for restart in range(MAX_LISTING_RESTARTS + 1):
            try:
                yield from self._iter_pages(listing)
                return
            except ExpiredOffsetError as exc:
                if restart == MAX_LISTING_RESTARTS:
                    raise
                self.logger.warning(
                    "Restarting the listing of %s from its first page: %s",
                    listing.path,
                    exc,
                )

    def fetch_one(self, listing: Listing) -> dict:
        """Return the single object at a path such as `/workspaces/{gid}`."""
        send = self.request_decorator(self._send)
        response = send(self._prepare_get(listing.path, listing.params))
        return dict(parse_body(response.content)["data"])

    def _iter_pages(self, listing: Listing) -> t.Iterator[bytes]:
        paginator = self.get_new_paginator()
        send = self.request_decorator(self._send)
        while not paginator.finished:
            params: dict[str, t.Any] = {**listing.params, "limit": PAGE_SIZE}
            if paginator.current_value:
                params["offset"] = paginator.current_value
            response = send(self._prepare_get(listing.path, params))
            yield response.content
            paginator.advance(response)

    def _prepare_get(self, path: str, params: dict[str, t.Any]) -> requests.PreparedRequest:
        http_request = HTTPRequest(
            url=self.url_base + path,
            params=params,
            headers=self.http_headers,
            # Keep opt_fields readable in logs and proxies: `a,b.c` instead of `a%2Cb.c`.
            safe_query_chars=",.",
        )
        return self.build_prepared_request(
            method="GET",
            url=http_request.url,
            params=http_request.encode_params(),
            headers=http_request.headers,
        )

    def _send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send one request within the tap's limits and return the checked response."""
        with self._tap.limiter:
            response = self._request(prepared, None)
        try:
            next_page_offset(response.content)
        except ValueError as exc:
            # A connection dropped mid-body can leave a truncated JSON document.
            msg = f"invalid JSON in the response to GET {urlparse(response.url).path}"
            raise RetriableAPIError(msg, response) from exc
        return response

    # Error policy: the only place that decides between retrying and failing.

    def validate_response(self, response: requests.Response) -> None:
        """Raise RetriableAPIError or FatalAPIError for an error response.

        429 and 500/502/503/504 are retried. A 400 about the pagination offset raises
        ExpiredOffsetError so that the listing restarts, and a 404 for an object raises
        ObjectNotFoundError, which child listings catch. Other errors fail at once.
        """
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return
        message = self.response_error_message(response)
        if status in RETRIABLE_STATUSES:
            raise RetriableAPIError(message, response)
        if status == HTTPStatus.BAD_REQUEST and self._is_offset_error(response):
            raise ExpiredOffsetError(message)
        reason = asana_error_message(response)
        if status == HTTPStatus.NOT_FOUND and NO_ROUTE_MESSAGE not in reason:
            raise ObjectNotFoundError(message, urlparse(response.url).path, reason)
        raise FatalAPIError(message)

    @staticmethod
    def _is_offset_error(response: requests.Response) -> bool:
        sent_offset = "offset=" in (urlparse(response.url).query or "")
        text = asana_error_message(response).lower()
        return sent_offset and "offset" in text and "pagination token" in text

    def response_error_message(self, response: requests.Response) -> str:
        """Return a one-line error: status, path, Asana's message and what to do.

        Only the URL path is shown, because the query (opt_fields, offsets) is long and
        adds nothing useful. The token is sent in a header, never in the URL.
        """
        status = response.status_code
        path = urlparse(response.url).path or "?"
        reason = asana_error_message(response)
        message = f"GET {path} failed with {status} {response.reason}: {reason}"
        hint = CLIENT_ERROR_HINTS.get(status)  # type: ignore[call-overload]
        if status == HTTPStatus.NOT_FOUND and NO_ROUTE_MESSAGE in reason:
            hint = NO_ROUTE_HINT
        return f"{message.rstrip('.')}. {hint}" if hint else message

    def request_decorator(self, func: t.Callable) -> t.Callable:
        """Retry `func` on retriable errors until `retry_time_budget` seconds have passed."""
        decorated = backoff.on_exception(
            self._retry_waits,
            RETRIABLE_EXCEPTIONS,
            max_tries=None,
            max_time=float(self.config["retry_time_budget"]),
            jitter=None,
            on_backoff=self.backoff_handler,
            giveup=is_unreachable,
            raise_on_giveup=True,
            # backoff_handler logs each retry; the give-up becomes the fatal error below.
            logger=None,
        )(func)

        def call_with_budget(*args: t.Any, **kwargs: t.Any) -> t.Any:
            try:
                return decorated(*args, **kwargs)
            except RETRIABLE_EXCEPTIONS as exc:
                if is_unreachable(exc):
                    msg = (
                        f"Could not connect to {self.url_base}: {unreachable_reason(exc)}. "
                        "Check api_url and the network connection."
                    )
                    raise FatalAPIError(msg) from exc
                raise FatalAPIError(self._give_up_message(exc)) from exc

        return call_with_budget

    def _retry_waits(self) -> t.Generator[float, BaseException | None, None]:
        """Yield the wait before each retry; backoff sends in the exception first."""
        attempt = 0
        exc = yield  # type: ignore[misc]
        while True:
            attempt += 1
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", None)
            wait = None
            if status in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE):
                wait = retry_after_seconds(response)
            if wait is not None and status == HTTPStatus.TOO_MANY_REQUESTS:
                # Asana limits per token, so every worker waits, not only this one.
                self._tap.limiter.pause_until(time.monotonic() + wait)
            if wait is None:
                ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                wait = ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - not for security
            exc = yield wait

    def backoff_handler(self, details: Details) -> None:
        """Log each retry with the path, the wait and the error, never the URL query."""
        exc = details.get("exception")
        self.logger.warning(
            "Retrying in %.1f s (attempt %d): %s",
            details.get("wait") or 0.0,
            details.get("tries", 0) + 1,
            self._describe_error(exc),
        )

    def _describe_error(self, exc: BaseException | None) -> str:
        if isinstance(exc, RetriableAPIError):
            return str(exc)
        request = getattr(exc, "request", None)
        path = urlparse(getattr(request, "url", None) or "").path or "?"
        return f"GET {path} failed: {type(exc).__name__}"

    def _give_up_message(self, exc: BaseException) -> str:
        budget = float(self.config["retry_time_budget"])
        return (
            f"{self._describe_error(exc)}. Gave up after retrying for {budget:g} s; "
            "raise retry_time_budget, or lower max_concurrent_requests or "
            "max_requests_per_minute if Asana is rate-limiting the token."
        )

    # Records

    def generate_child_contexts(
        self,
        record: dict,
        context: Context | None,
    ) -> t.Iterable[Context | None]:
        """Drop partition keys that singer-sdk copied into a record but the schema lacks.

        singer-sdk adds each key of the state partition (for example `project_gid` of
        the tasks stream) to the record just before calling this hook. A task can sit
        in several projects, so such a key would be wrong, and it is not in the schema.
        """
        properties = self.schema["properties"]
        for key in context or {}:
            if key not in properties:
                record.pop(key, None)
        return super().generate_child_contexts(record, context)

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        """Return the records of this stream's single listing at `path`."""
        yield from self.fetch(self.listing(self.path))

    # Fan-out over parents

    def fan_out(
        self,
        parents: t.Iterable[dict],
        make_listing: t.Callable[[dict], Listing],
    ) -> t.Iterator[tuple[dict, t.Iterator[dict]]]:
        """Yield `(parent, records)` for each parent, fetching listings concurrently.

        `make_listing` runs in the calling thread. Worker threads fetch raw pages, and
        the records are parsed here, in the calling thread, when their turn comes. Each
        `records` iterator must be consumed before the next pair is requested.
        """
        listings = ((parent, make_listing(parent)) for parent in parents)
        pairs = ordered_chunks(
            lambda pair: self.iter_listing(pair[1]),
            listings,
            workers=self._tap.max_workers,
            max_buffered_bytes=PREFETCH_BUFFER_BYTES,
        )
        for (parent, _listing), bodies in pairs:
            yield parent, self.records_of(bodies)

    def skip_if_deleted(
        self, kind: str, gid: str, records: t.Iterable[dict]
    ) -> t.Iterator[dict]:
        """Yield the records of a child listing, or stop if its parent has been deleted.

        The tap listed the parent (a project or task) moments before, so a 404 on its
        child listing means that the parent was deleted, or made invisible to the token,
        during the run. The parent is skipped with a warning. A 404 on a later page
        stops the listing after the records already yielded.
        """
        try:
            yield from records
        except ObjectNotFoundError as exc:
            self.log_deleted_parent(kind, gid, exc)

    def log_deleted_parent(self, kind: str, gid: str, exc: ObjectNotFoundError) -> None:
        """Log that the child listing of a deleted parent is skipped."""
        self.logger.warning(
            "Skipping %s %s: GET %s failed with 404 (%s), so it was deleted or hidden "
            "from the token after the tap listed it",
            kind,
            gid,
            exc.path,
            exc.reason,
        )

    def workspaces(self) -> list[dict]:
        """Return the workspaces to sync (every one the token can read, or `workspace_gid`)."""
        return self._tap.directory.workspaces(self)

    def projects(self) -> list[dict]:
        """Return `{"project_gid", "workspace_gid"}` for every project to sync."""
        return self._tap.directory.projects(self)

    # Incremental helpers

    def bookmark_for(self, context: Context | None) -> str | None:
        """Return where a sync of `context` starts: its bookmark or `start_date`.

        This mirrors singer-sdk's starting value, which the SDK writes only when the
        partition's turn comes; prefetching needs it earlier. The result is in
        Asana's `...Z` form, or None for "from the beginning".
        """
        state = self.get_context_state(context)
        value = None
        if state.get("replication_key") == self.replication_key:
            value = state.get("replication_key_value")
        start_date = self.config.get("start_date")
        if start_date:
            value = self.compare_start_date(value, start_date) if value else start_date
        return to_asana_timestamp(value) if value else None

    @property
    def run_started_at(self) -> datetime:
        """Return when the tap started, by this machine's clock."""
        return datetime.fromtimestamp(self._tap.initialized_at / 1000, tz=UTC)

    def write_finished_partitions_state(self) -> None:
        """Send a STATE message for the partitions that have finished so far.

        singer-sdk finalizes each partition's bookmark when it ends but writes STATE
        only every 10,000 records, so a run stopped midway would lose the finished
        partitions' progress without this. In BATCH mode nothing is written: records
        are still in batch files then, and STATE must not run ahead of them.
        """
        if self.get_batch_config(self.config) is None:
            self._tap.state_writer.write_state(self.tap_state)


class Directory:
    """The workspaces and projects of one run, listed once and shared by all streams."""

    def __init__(self, workspace_gid: str | None) -> None:
        self._workspace_gid = workspace_gid
        self._workspaces: list[dict] | None = None
        self._projects: list[dict] | None = None

    def workspaces(self, stream: AsanaStream) -> list[dict]:
        """Return the full workspace records to sync, listing them on first use."""
        if self._workspaces is None:
            params = {"opt_fields": ",".join(_workspace_opt_fields())}
            if self._workspace_gid is None:
                self._workspaces = stream.fetch(Listing("/workspaces", params))
            else:
                # One GET, to which Asana returns 403 or 404 if the token cannot read it.
                path = f"/workspaces/{self._workspace_gid}"
                self._workspaces = [stream.fetch_one(Listing(path, params))]
        return [dict(workspace) for workspace in self._workspaces]

    def projects(self, stream: AsanaStream) -> list[dict]:
        """Return `{"project_gid", "workspace_gid"}` for every project, archived included."""
        if self._projects is None:
            if self._workspaces is None and self._workspace_gid is not None:
                # Listing projects needs only the gid, so a run without the workspaces
                # stream saves one request's latency. If the token cannot read the
                # workspace, Asana returns 403 or 404 for the listing too.
                workspaces = [{"gid": self._workspace_gid}]
            else:
                workspaces = self.workspaces(stream)
            fetched = stream.fan_out(
                workspaces,
                lambda workspace: Listing("/projects", {"workspace": workspace["gid"]}),
            )
            self._projects = [
                {"project_gid": project["gid"], "workspace_gid": workspace["gid"]}
                for workspace, projects in fetched
                for project in projects
            ]
            stream.logger.info(
                "Found %d projects in %d workspaces", len(self._projects), len(workspaces)
            )
        return [dict(project) for project in self._projects]


def _workspace_opt_fields() -> list[str]:
    text = resources.files(schemas).joinpath("opt_fields.json").read_text("utf-8")
    return list(json.loads(text)["workspaces"])

