"""Opaque, signed offset tokens for paginated lists.

A token records the query it belongs to, the gid of the last record on its page and when it was
issued. Collections are ordered by gid, so the next page starts after that gid. A record deleted
between pages is skipped, and no record is served twice. A record added between pages appears on
a later page when its gid sorts after the cursor, which is always the case for new records.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

INVALID_MESSAGE = "offset: Your pagination token is invalid."
EXPIRED_MESSAGE = "offset: Your pagination token has expired."


class OffsetError(ValueError):
    """An offset that is unknown, malformed, issued for another query, or expired."""


class OffsetCodec:
    """Issue and check offset tokens signed with a per-server secret."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._secret = secrets.token_bytes(32)

    def issue(self, query_key: str, last_gid: int) -> str:
        payload = json.dumps(
            {"q": self._digest(query_key), "after": last_gid, "iat": time.time()},
            separators=(",", ":"),
        ).encode()
        body = base64.urlsafe_b64encode(payload).rstrip(b"=")
        signature = base64.urlsafe_b64encode(self._sign(body)).rstrip(b"=")
        return (body + b"." + signature).decode()

    def check(self, token: str, query_key: str) -> int:
        """Return the gid after which the page starts, or raise OffsetError."""
        body, _, signature = token.encode().partition(b".")
        if not body or not signature:
            raise OffsetError(INVALID_MESSAGE)
        try:
            expected = base64.urlsafe_b64encode(self._sign(body)).rstrip(b"=")
            if not hmac.compare_digest(expected, signature):
                raise OffsetError(INVALID_MESSAGE)
            payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except (ValueError, TypeError) as error:
            raise OffsetError(INVALID_MESSAGE) from error
        if payload.get("q") != self._digest(query_key):
            raise OffsetError(INVALID_MESSAGE)
        if time.time() - payload["iat"] >= self.ttl_seconds:
            raise OffsetError(EXPIRED_MESSAGE)
        return int(payload["after"])

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:16]

    @staticmethod
    def _digest(query_key: str) -> str:
        return hashlib.sha256(query_key.encode()).hexdigest()[:16]
