"""Settings of the local Asana server: data size, tokens and fault injection."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass


@dataclass
class FaultSettings:
    """Fault injection switches, each of which the admin API can also change at run time.

    Probabilities are per request, drawn from an RNG seeded by the server seed.
    """

    latency_ms: int = 0
    # Requests per token per rate window, a sliding window of 60 seconds as at Asana. None or 0
    # disables the limit.
    rpm: int | None = None
    # Length of the rate window in seconds. Tests shorten it to see a limit lift quickly.
    rate_window_seconds: float = 60.0
    # When False, a 429 carries no Retry-After header.
    retry_after: bool = True
    # Concurrent API requests per token before 429; Asana allows 50 concurrent reads.
    max_concurrent: int = 50
    p500: float = 0.0
    p503: float = 0.0
    # Probability of sending the headers and part of the body, then closing the connection.
    p_drop: float = 0.0

    def update(self, **changes: object) -> None:
        """Apply changes by field name, rejecting unknown names and out-of-range values."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"unknown fault setting(s): {', '.join(unknown)}; known: {sorted(known)}"
            )
        for name, value in changes.items():
            setattr(self, name, _coerce_fault(name, value))


def _coerce_fault(name: str, value: object) -> object:
    if name == "retry_after":
        if not isinstance(value, bool):
            raise ValueError(f"retry_after must be true or false, got {value!r}")
        return value
    if name == "rpm":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"rpm must be a non-negative integer or null, got {value!r}")
        return value or None
    if name == "rate_window_seconds":
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"rate_window_seconds must be a positive number, got {value!r}")
        return float(value)
    if name in ("latency_ms", "max_concurrent"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        return value
    # Probabilities.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")
    return float(value)


@dataclass
class ServerConfig:
    """Everything that shapes one server: generated data, tokens, limits and faults.

    Tokens left as None are replaced by random ones when the configuration is created.
    """

    seed: int = 1
    projects: int = 4
    tasks_per_project: int = 25
    stories_per_task: int = 2
    users: int = 8
    teams: int = 3
    tags: int = 6
    sections_per_project: int = 3
    # Full-access token, and a second token that can read only the organization workspace.
    token: str | None = None
    limited_token: str | None = None
    # Replace the organization's (or the plain workspace's) numeric gid with any string.
    workspace_gid: str | None = None
    plain_workspace_gid: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    # Lifetime of pagination offsets in seconds. Asana does not document its own, so 15 minutes
    # is an estimate taken from the expiry in a published sample token.
    offset_ttl: float = 900.0
    # A collection larger than this requested without `limit` gets 400 "The result is too large".
    max_unpaginated: int = 1000
    # How to treat names in opt_fields that the resource does not have: "ignore" or "error" (400).
    unknown_opt_fields: str = "ignore"
    # Initial fault settings; see FaultSettings for their meaning.
    latency_ms: int = 0
    rpm: int | None = None
    rate_window_seconds: float = 60.0
    retry_after: bool = True
    max_concurrent: int = 50
    p500: float = 0.0
    p503: float = 0.0
    p_drop: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "projects",
            "tasks_per_project",
            "stories_per_task",
            "users",
            "teams",
            "tags",
            "sections_per_project",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.users < 1 or self.sections_per_project < 1:
            raise ValueError("users and sections_per_project must be at least 1")
        if self.unknown_opt_fields not in ("ignore", "error"):
            raise ValueError(
                f"unknown_opt_fields must be 'ignore' or 'error', got {self.unknown_opt_fields!r}"
            )
        if self.host != "127.0.0.1":
            raise ValueError(
                f"host must be 127.0.0.1 (the server is local only), got {self.host!r}"
            )
        # Validate the fault knobs the same way the admin API does.
        self.fault_settings()
        if self.token is None:
            self.token = "0/" + secrets.token_hex(16)
        if self.limited_token is None:
            self.limited_token = "1/" + secrets.token_hex(16)
        if self.token == self.limited_token:
            raise ValueError("token and limited_token must differ")
        if self.workspace_gid is not None and self.workspace_gid == self.plain_workspace_gid:
            raise ValueError("workspace_gid and plain_workspace_gid must differ")

    def fault_settings(self) -> FaultSettings:
        """Build the run-time fault settings from this configuration."""
        faults = FaultSettings()
        faults.update(**{f.name: getattr(self, f.name) for f in dataclasses.fields(FaultSettings)})
        return faults
