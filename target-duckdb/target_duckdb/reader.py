"""A Singer message reader that keeps each raw line and its line number."""

from __future__ import annotations

import json
import re
import sys
import typing as t
from collections import Counter, defaultdict

import orjson
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine


# The start of a RECORD line as singer-sdk and most taps write it. A line that
# matches is handed to the fast path without being parsed in Python; DuckDB parses
# it when the batch loads, and a malformed line is reported then by its number.
RECORD_PREFIX = re.compile(
    rb'\{\s*"type"\s*:\s*"RECORD"\s*,\s*"stream"\s*:\s*"([^"\\]*)"\s*,\s*"record"\s*:\s*\{'
)


class RawLineReader(SingerReader):
    """Read Singer messages as bytes, keeping each raw line and its line number.

    The sink writes a RECORD line to its JSONL file exactly as received, so records
    are never serialised again in Python. Each RECORD line goes first to
    `fast_record(stream, line, number)`, which returns False for a line it does not
    take. Those lines and every other message are parsed with orjson.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.raw_line: bytes = b""
        self.on_error: t.Callable[[], None] | None = None
        self.fast_record: t.Callable[[str, bytes, int], bool] | None = None

    @staticmethod
    def _binary_lines(file_input: t.IO[t.Any]) -> t.Iterator[bytes]:
        buffer = getattr(file_input, "buffer", None)
        if buffer is not None:
            yield from buffer
            return
        for line in file_input:
            yield line.encode("utf-8") if isinstance(line, str) else line

    def process_lines(
        self,
        file_input: t.IO[t.Any] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """Call the callback of each message's type; line numbers start at 1."""
        stats: dict[str, int] = defaultdict(int)
        source = file_input if file_input is not None else sys.stdin
        try:
            for number, line in enumerate(self._binary_lines(source), start=1):
                if not line.strip():
                    continue
                if self.fast_record is not None:
                    match = RECORD_PREFIX.match(line)
                    if match and self.fast_record(match.group(1).decode("utf-8", "replace"), line, number):
                        stats["RECORD"] += 1
                        continue
                self.line_number = number
                self.raw_line = line
                message = self._parse(line, number)
                message_type = message["type"]
                callback = callbacks.get(message_type)
                if callback is None:
                    msg = f"Line {number}: unknown Singer message type {message_type!r}."
                    raise InvalidInputLine(msg)
                callback(message)
                stats[message_type] += 1
        except BaseException:
            if self.on_error is not None:
                self.on_error()
            raise
        return Counter(**stats)

    @staticmethod
    def _parse(line: bytes, number: int) -> dict:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:
                # orjson rejects some valid JSON, such as integers wider than 64 bits.
                message = json.loads(line)
            except ValueError:
                preview = line[:80].decode("utf-8", errors="replace").rstrip()
                msg = (
                    f"Line {number}: invalid JSON ({exc}): {preview!r}. "
                    "Each input line must be one Singer message in JSON."
                )
                raise InvalidInputLine(msg) from None
        if not isinstance(message, dict) or "type" not in message:
            msg = f"Line {number}: a Singer message must be a JSON object with a 'type' key."
            raise InvalidInputLine(msg)
        return message

    def deserialize_json(self, line: str | bytes) -> dict:
        """Parse one line of JSON."""
        return self._parse(line if isinstance(line, bytes) else line.encode("utf-8"), self.line_number)
