"""Locate Asana's OpenAPI spec for the tests: `$ASANA_OAS_PATH`, else the vendored copy."""

from __future__ import annotations

import os
from pathlib import Path

VENDORED_SPEC = Path(__file__).resolve().parent / "asana_oas.yaml"
# The copy that the project's shared material keeps beside a clone, when there is one.
SHARED_SPEC = Path(__file__).resolve().parents[3] / "shared" / "asana-api" / "asana_oas.yaml"


def spec_path() -> Path:
    """Return the spec file the tests read."""
    override = os.environ.get("ASANA_OAS_PATH")
    return Path(override) if override else VENDORED_SPEC
