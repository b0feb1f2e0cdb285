"""The one Asana request omniload makes itself: checking that the workspace exists."""

from __future__ import annotations

import time
from urllib.parse import quote

import requests

from omniload.errors import SourceError

_TIMEOUT_SECONDS = 30
_ATTEMPTS = 4
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _asana_message(response: requests.Response) -> str:
    """Return the first message of an Asana error body, or the HTTP reason."""
    try:
        errors = response.json().get("errors") or []
        message = errors[0].get("message") if errors else None
    except (ValueError, AttributeError, IndexError):
        message = None
    return str(message or response.reason or "no message")


def lookup_workspace(api_url: str, workspace: str, token: str) -> str:
    """Return the workspace's name; raise SourceError if it is unknown or not accessible.

    Retries rate limits (honouring Retry-After) and server errors a few times, because this
    request runs before extraction and a transient fault should not end the run.
    """
    url = f"{api_url}/workspaces/{quote(workspace, safe='')}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    response = None
    for attempt in range(_ATTEMPTS):
        try:
            response = requests.get(
                url, headers=headers, params={"opt_fields": "name"}, timeout=_TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            if attempt + 1 == _ATTEMPTS:
                raise SourceError(
                    f"Cannot reach the Asana API at {api_url}: {type(error).__name__}. "
                    "Check api_url and the network."
                ) from error
            time.sleep(2**attempt)
            continue
        if response.status_code not in _RETRY_STATUSES or attempt + 1 == _ATTEMPTS:
            break
        retry_after = response.headers.get("Retry-After", "")
        time.sleep(float(retry_after) if retry_after.isdigit() else 2**attempt)

    assert response is not None
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
    if status in (400, 404):
        raise SourceError(
            f"Workspace {workspace!r} not found ({status} {message}): check the gid in "
            "--source-uri."
        )
    raise SourceError(
        f"Looking up workspace {workspace!r} at {api_url} failed with HTTP {status}: {message}."
    )
