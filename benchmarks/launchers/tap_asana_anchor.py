"""Run PyPI's tap-asana 2.5.1 against a local Asana server.

tap-asana 2.5.1 has no base URL setting and exchanges an OAuth refresh token at
``app.asana.com`` on start. This launcher points the ``asana`` client library at
``ANCHOR_API_URL`` through ``asana.Configuration.set_default`` and replaces the token refresh
with the personal access token in ``ASANA_ACCESS_TOKEN``. The loopback guard makes any other
destination fail. Arguments are passed to tap-asana unchanged (``--config``, ``--catalog``, ...).

Run it with the anchor's own interpreter: ``benchmarks/.venvs/tap-asana/bin/python``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback_guard  # noqa: E402

loopback_guard.install()

import asana  # noqa: E402
import tap_asana  # noqa: E402
import tap_asana.asana  # noqa: E402


def main() -> None:
    api_url = os.environ["ANCHOR_API_URL"]
    token = os.environ["ASANA_ACCESS_TOKEN"]

    configuration = asana.Configuration()
    configuration.host = api_url
    asana.Configuration.set_default(configuration)
    tap_asana.asana.Asana.refresh_access_token = lambda self: token
    tap_asana.main()


if __name__ == "__main__":
    main()
