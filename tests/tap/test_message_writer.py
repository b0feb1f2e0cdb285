"""The tap's message writer: orjson output that parses to what singer-sdk would write."""

from __future__ import annotations

import datetime
import decimal
import io
import json
from contextlib import redirect_stdout

import pytest
from singer_sdk.singerlib import RecordMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from tap_asana.tap import RecordBufferingWriter

RECORD = {
    "gid": "1206000000000001",
    "name": "Caf\u00e9 launch \U0001f680",
    "completed": False,
    "assignee": None,
    "num_likes": 3,
    "number_value": decimal.Decimal("1234.500000"),
    "ratio": 0.1,
    "tags": [{"gid": "1", "name": "na\u00efve"}],
}
EXTRACTED = datetime.datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=datetime.UTC)


def parsed(line: str) -> dict:
    return json.loads(line, parse_float=decimal.Decimal)


def test_record_parses_to_what_singer_sdk_writes() -> None:
    message = RecordMessage(stream="tasks", record=RECORD, time_extracted=EXTRACTED)

    ours = RecordBufferingWriter().serialize_message(message)
    theirs = SimpleSingerWriter().serialize_message(message)

    assert parsed(ours) == parsed(theirs)
    assert '"number_value":1234.500000' in ours
    assert '"time_extracted":"2026-12-05T01:02:03.456789+00:00"' in ours
    assert "\n" not in ours


def test_integer_wider_than_64_bits_is_still_written() -> None:
    message = RecordMessage(stream="tasks", record={"gid": "1", "big": 2**70})

    line = RecordBufferingWriter().serialize_message(message)

    assert parsed(line)["record"]["big"] == 2**70


def test_state_and_record_lines_reach_stdout_in_order() -> None:
    writer = RecordBufferingWriter()
    output = io.StringIO()
    with redirect_stdout(output):
        writer.write_message(RecordMessage(stream="tasks", record=RECORD))
        writer.write_message(StateMessage(value={"bookmarks": {"tasks": {}}}))

    lines = output.getvalue().splitlines()
    assert [parsed(line)["type"] for line in lines] == ["RECORD", "STATE"]
    assert parsed(lines[0])["record"]["name"] == RECORD["name"]


@pytest.mark.parametrize("value", [decimal.Decimal("NaN"), float("nan")])
def test_not_a_number_is_written_as_null(value: object) -> None:
    message = RecordMessage(stream="tasks", record={"gid": "1", "value": value})

    line = RecordBufferingWriter().serialize_message(message)

    assert parsed(line)["record"]["value"] is None
