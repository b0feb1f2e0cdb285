"""singer-sdk's standard tap tests against the local Asana server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_asana.tap import TapAsana

from tests.asana_server import AsanaServer, ServerConfig

# Filled in by the module fixture below, before the suite's runner syncs: the test class
# is built at import time, when no server runs yet, and keeps a reference to this dict.
CONFIG: dict[str, object] = {
    "access_token": "replaced-when-the-server-starts",
    "api_url": "http://127.0.0.1:9/api/1.0",
}


@pytest.fixture(scope="module", autouse=True)
def local_asana() -> Iterator[AsanaServer]:
    with AsanaServer(ServerConfig(seed=3, projects=3, tasks_per_project=12)) as server:
        CONFIG.update(access_token=server.token, api_url=server.base_url, retry_time_budget=60)
        yield server


_StandardTests = get_tap_test_class(
    TapAsana,
    config=CONFIG,
    # Every stream must return records: no ignore_no_records.
    suite_config=SuiteConfig(max_records_limit=500),
)


# singer-sdk's suite warns, as UserWarning, about schema fields that no record carries,
# such as optional fields left out of the sampled records. That is expected
# for a schema covering every field Asana documents. The checks that records match their
# schema and that every stream returns records still apply.
@pytest.mark.filterwarnings("ignore:Fields in transformed catalog but not in records:UserWarning")
class TestTapAsanaStandard(_StandardTests):  # type: ignore[misc, valid-type]
    """Standard tap, stream and attribute tests."""
