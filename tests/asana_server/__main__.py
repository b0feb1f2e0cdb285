"""Run the local Asana server standalone until SIGINT or SIGTERM.

Example: python -m tests.asana_server --port 8080 --tasks 2000
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
from types import FrameType

from .config import ServerConfig
from .server import AsanaServer


def _probability(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {raw}")
    return value


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {raw}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.asana_server",
        description="Serve a generated Asana workspace on 127.0.0.1 (API under /api/1.0, admin "
        "under /_admin). Prints one JSON line with base_url, token and workspace_gids.",
    )
    parser.add_argument(
        "--port",
        type=_non_negative,
        default=8080,
        help="TCP port on 127.0.0.1; 0 picks a free one (default 8080)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the generated data (default 1)"
    )
    parser.add_argument(
        "--projects", type=_non_negative, default=4, help="number of projects (default 4)"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--tasks", type=_non_negative, help="total number of tasks, spread evenly over the projects"
    )
    size.add_argument(
        "--tasks-per-project",
        type=_non_negative,
        default=25,
        help="tasks created per project (default 25)",
    )
    parser.add_argument(
        "--stories-per-task",
        type=_non_negative,
        default=2,
        help="mean number of stories per task (default 2)",
    )
    parser.add_argument(
        "--users", type=_non_negative, default=8, help="number of users (default 8)"
    )
    parser.add_argument("--token", help="full-access token (default: random)")
    parser.add_argument(
        "--limited-token", help="token that can read only the organization (default: random)"
    )
    parser.add_argument("--workspace-gid", help="gid of the organization workspace, any string")
    parser.add_argument("--plain-workspace-gid", help="gid of the plain workspace, any string")
    parser.add_argument(
        "--offset-ttl",
        type=float,
        default=900.0,
        help="lifetime of pagination offsets in seconds (default 900)",
    )
    parser.add_argument(
        "--max-unpaginated",
        type=_non_negative,
        default=1000,
        help="largest list served without limit (default 1000)",
    )
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0, help="delay per API request in ms"
    )
    parser.add_argument(
        "--rpm",
        type=_non_negative,
        default=0,
        help="requests per minute per token before 429; 0 means no limit",
    )
    parser.add_argument(
        "--rate-window-seconds",
        type=float,
        default=60.0,
        help="length of the sliding window that --rpm counts over, in seconds (default 60)",
    )
    parser.add_argument(
        "--no-retry-after", action="store_true", help="send 429 without Retry-After"
    )
    parser.add_argument(
        "--max-concurrent",
        type=_non_negative,
        default=50,
        help="concurrent API requests per token before 429 (default 50)",
    )
    parser.add_argument(
        "--p500", type=_probability, default=0.0, help="probability of a 500 per request"
    )
    parser.add_argument(
        "--p503", type=_probability, default=0.0, help="probability of a 503 per request"
    )
    parser.add_argument(
        "--p-drop",
        type=_probability,
        default=0.0,
        help="probability of closing the connection halfway through a response",
    )
    parser.add_argument("--ready-file", help="also write the JSON line to this file once listening")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    tasks_per_project = args.tasks_per_project
    if args.tasks is not None:
        tasks_per_project = math.ceil(args.tasks / args.projects) if args.projects else 0
    try:
        config = ServerConfig(
            seed=args.seed,
            projects=args.projects,
            tasks_per_project=tasks_per_project,
            stories_per_task=args.stories_per_task,
            users=args.users,
            token=args.token,
            limited_token=args.limited_token,
            workspace_gid=args.workspace_gid,
            plain_workspace_gid=args.plain_workspace_gid,
            port=args.port,
            offset_ttl=args.offset_ttl,
            max_unpaginated=args.max_unpaginated,
            latency_ms=args.latency_ms,
            rpm=args.rpm or None,
            rate_window_seconds=args.rate_window_seconds,
            retry_after=not args.no_retry_after,
            max_concurrent=args.max_concurrent,
            p500=args.p500,
            p503=args.p503,
            p_drop=args.p_drop,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        server = AsanaServer(config).start()
    except OSError as error:
        print(
            f"error: cannot listen on 127.0.0.1:{args.port}: {error.strerror}; "
            "choose another --port, or 0 for a free one",
            file=sys.stderr,
        )
        return 2

    stopped = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    line = json.dumps(server.describe())
    if args.ready_file:
        temporary = args.ready_file + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")
        os.replace(temporary, args.ready_file)
    print(
        f"Asana server at {server.base_url} (workspaces {', '.join(server.workspace_gids)}); "
        "stop with Ctrl+C",
        file=sys.stderr,
        flush=True,
    )
    print(line, flush=True)
    while not stopped.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
