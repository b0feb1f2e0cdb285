"""The HTTP server: Asana's API under /api/1.0 and the admin API under /_admin."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .admin import AdminClient
from .api import HELP, Api, ApiError, ApiRequest
from .config import ServerConfig
from .data import Store
from .faults import FaultInjector, Rejection
from .pagination import OffsetCodec

logger = logging.getLogger("tests.asana_server")

API_PREFIX = "/api/1.0"
ADMIN_PREFIX = "/_admin"


class AsanaServer:
    """A local Asana-compatible server on 127.0.0.1, started in a background thread.

    Use it as a context manager, or call start() and stop().
    """

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.store = Store(self.config)
        self.faults = FaultInjector(self.config.fault_settings(), self.config.seed)
        self.codec = OffsetCodec(self.config.offset_ttl)
        self.api = Api(
            self.store,
            self.codec,
            self.config.max_unpaginated,
            strict_fields=self.config.unknown_opt_fields == "error",
        )
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Public attributes -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() first")
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + API_PREFIX

    @property
    def token(self) -> str:
        assert self.config.token is not None
        return self.config.token

    @property
    def limited_token(self) -> str:
        assert self.config.limited_token is not None
        return self.config.limited_token

    @property
    def workspace_gids(self) -> list[str]:
        """The organization's gid, then the plain workspace's."""
        return [self.store.organization_gid, self.store.plain_workspace_gid]

    @property
    def admin(self) -> AdminClient:
        return AdminClient(self.root_url)

    def describe(self) -> dict[str, Any]:
        """The facts a client needs to connect, as printed by the standalone command."""
        return {
            "base_url": self.base_url,
            "admin_url": self.root_url + ADMIN_PREFIX,
            "token": self.token,
            "limited_token": self.limited_token,
            "workspace_gids": self.workspace_gids,
            "port": self.port,
        }

    # Life cycle ----------------------------------------------------------------------------

    def start(self) -> AsanaServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.config.host, self.config.port), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"asana-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Asana server listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        logger.info("Asana server on port %s stopped", httpd.server_address[1])

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called from another thread."""
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> AsanaServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Request accounting --------------------------------------------------------------------

    def count(self, key: str) -> None:
        with self.counts_lock:
            self.counts[key] += 1

    def visible_workspaces(self, token: str) -> frozenset[str] | None:
        """Return the workspaces a token may see, or None when the token is not valid."""
        if token == self.token:
            return frozenset(self.workspace_gids)
        if token == self.limited_token:
            return frozenset({self.store.organization_gid})
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The tap opens up to about 50 connections at once; the default backlog of 5 would stall them.
    request_queue_size = 128
    app: AsanaServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints a traceback to stderr by default. A client that disconnects while
        # the server reads its next request is normal, for example when a test kills the client.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            logger.debug("connection from %s ended: %s", client_address, error)
        else:
            logger.error("failed to handle a request from %s", client_address, exc_info=error)

    def close_connections(self) -> None:
        """Close keep-alive connections still open, so a stopped server serves nothing more."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # Already closed by the client.


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AsanaLocal/1.0"
    sys_version = ""
    # Headers and body go out in separate writes; without this, Nagle's algorithm and delayed
    # ACKs add about 40 ms to each keep-alive response.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries no token: clients send it in the Authorization header.
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)

    # Dispatch --------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        url = urlsplit(self.path)
        try:
            if url.path == ADMIN_PREFIX or url.path.startswith(ADMIN_PREFIX + "/"):
                from .admin_routes import handle_admin

                status, payload = handle_admin(
                    self.server.app, method, url.path[len(ADMIN_PREFIX) :], url.query, body
                )
                self._send_json(status, payload)
                return
            if url.path.startswith(API_PREFIX + "/"):
                self._handle_api(method, url.path[len(API_PREFIX) :], url.query)
                return
            self._send_error(404, "No matching route for request")
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client closed the connection during %s %s", method, url.path)
        except Exception:
            # A bug in the server: log it and respond as Asana does to its own server errors.
            logger.exception("failed to handle %s %s", method, url.path)
            self._send_json(
                500,
                {
                    "errors": [
                        {"message": "Server Error", "phrase": "local server bug, see its log"}
                    ]
                },
            )

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            return self.rfile.read(int(length))
        except ValueError:
            return b""

    def _handle_api(self, method: str, path: str, query: str) -> None:
        app = self.server.app
        matched = app.api.match(path) if method == "GET" else None
        if matched is None:
            app.count(f"{method} (no route)")
            self._send_error(404, "No matching route for request")
            return
        template, path_params, handler = matched
        app.count(f"GET {template}")

        token = _bearer_token(self.headers.get("Authorization"))
        visible = app.visible_workspaces(token) if token is not None else None
        if token is None or visible is None:
            self._send_error(401, "Not Authorized")
            return

        try:
            app.faults.admit(token)
        except Rejection as rejection:
            self._send_rejection(rejection)
            return
        try:
            app.faults.delay()
            app.faults.maybe_fail()
            pairs = parse_qsl(query, keep_blank_values=True)
            request = ApiRequest(
                path=path,
                query=pairs,
                params=dict(pairs),
                path_params=path_params,
                visible_workspaces=visible,
                me_gid=app.store.me_gid,
            )
            payload = app.api.respond(handler, request, app.base_url)
            pretty = request.params.get("opt_pretty") in ("true", "1", "")
            self._send_json(200, payload, pretty=pretty, may_drop=True)
        except Rejection as rejection:
            logger.debug("%s %s: injected %s", method, path, rejection.status)
            self._send_rejection(rejection)
        except ApiError as error:
            logger.debug("%s %s: %s %s", method, path, error.status, error.message)
            self._send_error(error.status, error.message)
        finally:
            app.faults.release(token)

    # Responses -------------------------------------------------------------------------------

    def _send_rejection(self, rejection: Rejection) -> None:
        error: dict[str, str] = {"message": rejection.message}
        if rejection.phrase is not None:
            error["phrase"] = rejection.phrase
        error["help"] = HELP
        self._send_json(rejection.status, {"errors": [error]}, headers=rejection.headers)

    def _send_error(self, status: int, message: str) -> None:
        self._send_json(status, {"errors": [{"message": message, "help": HELP}]})

    def _send_json(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        pretty: bool = False,
        may_drop: bool = False,
    ) -> None:
        body = json.dumps(
            payload,
            ensure_ascii=False,
            indent=2 if pretty else None,
            separators=None if pretty else (",", ":"),
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if may_drop and self.server.app.faults.should_drop():
            # Send half the promised body, then cut the connection.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)


def _bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
