"""Injected faults: rate limits, concurrency limit, 500, 503, dropped connections and latency."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.asana_server import AdminError, AsanaServer

from .conftest import Client

RATE_LIMIT_MESSAGE = (
    "You've made too many requests and hit a rate limit. "
    "Please retry after the given amount of time."
)


def test_rate_limit_answers_429_with_retry_after(make_asana_server: Any, make_client: Any) -> None:
    api = make_client(make_asana_server(rpm=3))
    statuses = [api.get("/workspaces").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = api.get("/workspaces")
    assert response.status_code == 429
    assert response.json()["errors"][0]["message"] == RATE_LIMIT_MESSAGE
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60


def test_rate_limit_is_per_token(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(rpm=2)
    full = make_client(server)
    limited = make_client(server, server.limited_token)
    assert [full.get("/workspaces").status_code for _ in range(3)] == [200, 200, 429]
    assert limited.get("/workspaces").status_code == 200


def test_rate_limit_without_retry_after(make_asana_server: Any, make_client: Any) -> None:
    api = make_client(make_asana_server(rpm=1, retry_after=False))
    assert api.get("/workspaces").status_code == 200
    response = api.get("/workspaces")
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert response.json()["errors"][0]["message"] == RATE_LIMIT_MESSAGE


def test_rate_limit_switched_at_run_time(asana_server: AsanaServer, client: Client) -> None:
    assert client.get("/workspaces").status_code == 200
    asana_server.admin.set_faults(rpm=1)
    assert client.get("/workspaces").status_code == 200
    assert client.get("/workspaces").status_code == 429
    asana_server.admin.set_faults(rpm=None)
    assert client.get("/workspaces").status_code == 200


def test_rejected_requests_are_counted(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(rpm=1)
    api = make_client(server)
    for _ in range(4):
        api.get("/workspaces")
    assert server.admin.counts() == {"GET /workspaces": 4}


def test_concurrency_limit_answers_429(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(max_concurrent=1, latency_ms=1500)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def call() -> None:
        api = Client(server, server.token)
        barrier.wait()
        statuses.append(api.get("/workspaces").status_code)
        api.close()

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 429]


def test_fifty_concurrent_requests_succeed(make_asana_server: Any) -> None:
    server = make_asana_server(latency_ms=300)
    barrier = threading.Barrier(50)

    def call(_: int) -> int:
        with requests.Session() as session:
            barrier.wait()
            response = session.get(
                server.base_url + "/workspaces",
                timeout=30,
                headers={"Authorization": f"Bearer {server.token}"},
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(call, range(50)))
    assert statuses == [200] * 50


def test_p500_returns_server_error_with_phrase(make_asana_server: Any, make_client: Any) -> None:
    api = make_client(make_asana_server(p500=1.0))
    response = api.get("/workspaces")
    assert response.status_code == 500
    error = response.json()["errors"][0]
    assert error["message"] == "Server Error"
    assert len(error["phrase"].split()) == 5


def test_p503_returns_service_unavailable(make_asana_server: Any, make_client: Any) -> None:
    api = make_client(make_asana_server(p503=1.0))
    response = api.get("/workspaces")
    assert response.status_code == 503
    assert response.json()["errors"][0]["message"].startswith("Service Unavailable")


def test_failures_follow_the_seed(make_asana_server: Any, make_client: Any) -> None:
    sequences = []
    for _ in range(2):
        api = make_client(make_asana_server(seed=11, p500=0.3, p503=0.3))
        sequences.append([api.get("/workspaces").status_code for _ in range(30)])
    assert sequences[0] == sequences[1]
    assert {200, 500, 503} <= set(sequences[0])


def test_dropped_connection_truncates_body(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(p_drop=1.0)
    api = make_client(server)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        api.get("/workspaces")
    server.admin.set_faults(p_drop=0.0)
    assert api.get("/workspaces").status_code == 200


def test_dropped_connection_sends_partial_json(make_asana_server: Any) -> None:
    server = make_asana_server(p_drop=1.0)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request(
        "GET", "/api/1.0/workspaces", headers={"Authorization": f"Bearer {server.token}"}
    )
    response = connection.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as raised:
        response.read()
    partial = raised.value.partial
    assert partial.startswith(b'{"data":[')
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial)
    connection.close()


def test_latency_delays_responses(make_asana_server: Any, make_client: Any) -> None:
    server = make_asana_server(latency_ms=3000)
    api = make_client(server)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.session.get(server.base_url + "/workspaces", timeout=0.5)
    server.admin.set_faults(latency_ms=0)
    assert api.get("/workspaces").status_code == 200


def test_keep_alive_reuses_connection(asana_server: AsanaServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", asana_server.port, timeout=10)
    headers = {"Authorization": f"Bearer {asana_server.token}"}
    connection.request("GET", "/api/1.0/workspaces", headers=headers)
    first = connection.getresponse()
    first.read()
    local_port = connection.sock.getsockname()[1]
    for _ in range(3):
        connection.request("GET", "/api/1.0/workspaces", headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["data"]
        assert connection.sock.getsockname()[1] == local_port
    assert first.version == 11
    connection.close()


def test_bad_fault_setting_is_rejected(asana_server: AsanaServer) -> None:
    with pytest.raises(AdminError, match="p500 must be a probability"):
        asana_server.admin.set_faults(p500=1.5)
    with pytest.raises(AdminError, match="unknown fault setting"):
        asana_server.admin.set_faults(p404=0.5)
    assert asana_server.admin.faults()["p500"] == 0.0


def test_admin_routes_skip_faults(make_asana_server: Any) -> None:
    server = make_asana_server(p500=1.0, rpm=1)
    for _ in range(3):
        assert server.admin.counts() == {}


def test_waiting_retry_after_lifts_limit(make_asana_server: Any, make_client: Any) -> None:
    api = make_client(make_asana_server(rpm=2, rate_window_seconds=2))
    assert [api.get("/workspaces").status_code for _ in range(2)] == [200, 200]
    rejected = api.get("/workspaces")
    assert rejected.status_code == 429
    wait = int(rejected.headers["Retry-After"])
    assert 1 <= wait <= 2
    time.sleep(wait)
    assert api.get("/workspaces").status_code == 200


def test_client_reset_logs_no_traceback(
    asana_server: AsanaServer, capfd: pytest.CaptureFixture[str]
) -> None:
    connection = socket.create_connection(("127.0.0.1", asana_server.port), timeout=10)
    connection.sendall(b"GET /api/1.0/workspaces HTTP/1.1\r\nHost: x\r\n")
    # SO_LINGER with a zero timeout makes close() send a reset instead of a FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
    assert asana_server.admin.counts() == {}
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err
