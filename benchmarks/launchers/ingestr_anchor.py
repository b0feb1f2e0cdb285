"""Run PyPI's ingestr 0.14.155 against a local Asana server.

ingestr reads Asana through the ``asana`` 3.x client library, whose API root is
``asana.Client.DEFAULT_OPTIONS["base_url"]``. This launcher sets it to ``ANCHOR_API_URL``, allows
plain HTTP for the OAuth session (``OAUTHLIB_INSECURE_TRANSPORT``), turns ingestr's and dlt's
telemetry off, and installs the loopback guard so that nothing leaves the machine. Arguments are
passed to ``ingestr`` unchanged.

Run it with the anchor's own interpreter: ``benchmarks/.venvs/ingestr/bin/python``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
os.environ["INGESTR_DISABLE_TELEMETRY"] = "true"
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

import loopback_guard  # noqa: E402

loopback_guard.install()

import asana  # noqa: E402
from ingestr.main import main  # noqa: E402

if __name__ == "__main__":
    asana.Client.DEFAULT_OPTIONS["base_url"] = os.environ["ANCHOR_API_URL"]
    sys.argv[0] = "ingestr"
    sys.exit(main())
