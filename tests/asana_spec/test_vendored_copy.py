"""The vendored spec matches the shared copy beside the clone."""

from __future__ import annotations

import hashlib

import pytest

from tests.asana_spec import SHARED_SPEC, VENDORED_SPEC


def test_vendored_spec_matches_shared_copy() -> None:
    if not SHARED_SPEC.is_file():
        pytest.skip(f"no shared copy of the spec at {SHARED_SPEC} to compare with")
    vendored = hashlib.sha256(VENDORED_SPEC.read_bytes()).hexdigest()
    shared = hashlib.sha256(SHARED_SPEC.read_bytes()).hexdigest()
    assert vendored == shared, "tests/asana_spec/asana_oas.yaml differs from the shared spec"
