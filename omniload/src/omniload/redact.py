"""Removal of access tokens from every text omniload prints or stores."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

MASK = "***"

# Query parameters and key-value pairs whose values are secrets, as in `access_token=...`.
_SECRET_PAIR = re.compile(
    r"(?P<name>[A-Za-z_]*(?:token|secret|password|authorization)[A-Za-z_]*)"
    r"(?P<sep>=|\"\s*:\s*\")"
    r"(?!TOKEN\b)(?P<value>[^&\s\"',;}]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<name>Bearer\s+)(?P<value>[^\s\"',;}]+)", re.IGNORECASE)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<value>[^/@\s]+)@")


class Redactor:
    """Replace known secrets and anything shaped like a credential with a mask."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add_secret(self, secret: str | None) -> None:
        """Mask every later occurrence of `secret`, including its URL-encoded form."""
        if not secret:
            return
        self._secrets.add(secret)
        self._secrets.add(quote(secret, safe=""))
        self._secrets.add(quote_plus(secret))

    def __call__(self, text: str) -> str:
        # Longest secrets first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        text = _SECRET_PAIR.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
        text = _BEARER.sub(lambda m: f"{m['name']}{MASK}", text)
        return _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
