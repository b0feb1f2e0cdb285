"""The one Asana request omniload makes itself: checking that the workspace exists."""

from __future__ import annotations

import time
from urllib.parse import quote

import requests

from omniload.errors import SourceError

_TIMEOUT_SECONDS = 30
# Attempts when the API cannot be reached at all, which is most often a wrong api_url.
_ATTEMPTS = 4
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# How long rate limits and server errors are retried: tap-asana's default retry_time_budget.
_RETRY_BUDGET_SECONDS = 600
# Maximum wait between two attempts without Retry-After, because Asana's rate window is 60 s.
_MAX_WAIT_SECONDS = 60


def _asana_message(response: requests.Response) -> str:
    """Return the first message of an Asana error body, or the HTTP reason."""
    try:
        errors = response.json().get("errors") or []
        message = errors[0].get("message") if errors else None
    except (ValueError, AttributeError, IndexError):
        message = None
    return str(message or response.reason or "no message")


def _connection_problem(error: requests.RequestException) -> str:
    """Name why a request got no response, such as 'connection refused', without the URL."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    reason = getattr(error.args[0], "reason", None) if error.args else None
    cause = getattr(reason, "__cause__", None) or getattr(reason, "__context__", None)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror.lower()
    return type(error).__name__


def lookup_workspace(api_url: str, workspace: str, token: str) -> str:
    """Return the workspace's name; raise SourceError if it is unknown or not accessible.

    Rate limits (honouring Retry-After) and server errors are retried for up to
    `_RETRY_BUDGET_SECONDS`, as tap-asana retries them, because a transient fault or a quota
    used up by an earlier job should not end the run. Connection failures are tried
    `_ATTEMPTS` times.
    """
    url = f"{api_url}/workspaces/{quote(workspace, safe='')}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    deadline = time.monotonic() + _RETRY_BUDGET_SECONDS
    connection_failures = 0
    retries = 0
    while True:
        try:
            response = requests.get(
                url, headers=headers, params={"opt_fields": "name"}, timeout=_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            connection_failures += 1
            if connection_failures == _ATTEMPTS:
                raise SourceError(
                    f"Cannot reach the Asana API at {api_url}: {_connection_problem(error)}. "
                    "Check api_url and the network."
                ) from error
            time.sleep(2 ** (connection_failures - 1))
            continue
        if response.status_code not in _RETRY_STATUSES:
            break
        retry_after = response.headers.get("Retry-After", "")
        wait = float(retry_after) if retry_after.isdigit() else min(2**retries, _MAX_WAIT_SECONDS)
        retries += 1
        if time.monotonic() + wait > deadline:
            break
        time.sleep(wait)

    status = response.status_code
    if status == 200:
        try:
            return str(response.json()["data"].get("name") or workspace)
        except (ValueError, KeyError, AttributeError, TypeError) as error:
            raise SourceError(
                f"Unexpected response from {api_url} for workspace {workspace!r}: not an Asana "
                "workspace object. Check api_url."
            ) from error
    message = _asana_message(response)
    if status == 401:
        raise SourceError(
            f"Asana rejected the access token (401 {message}): check the token and that it "
            "has not expired."
        )
    if status == 403:
        raise SourceError(
            f"The access token cannot read workspace {workspace!r} (403 {message}): use a "
            "token of a member of that workspace."
        )
    if status == 404 and "no matching route" in message.lower():
        # Asana returns this message for a path it has no endpoint for, not for an unknown
        # workspace.
        raise SourceError(
            f"The api_url {api_url} looks wrong: it returned 404 {message} for "
            f"/workspaces/{{gid}}. api_url must end in /api/1.0, such as "
            "https://app.asana.com/api/1.0."
        )
    if status in (400, 404):
        raise SourceError(
            f"Workspace {workspace!r} not found ({status} {message}): check the gid in "
            "--source-uri."
        )
    raise SourceError(
        f"Looking up workspace {workspace!r} at {api_url} failed with HTTP {status}: "
        f"{message.rstrip('.')}."
    )
