"""The source and destination URI grammar, table by table."""

from __future__ import annotations

import os

import pytest
from omniload.errors import InvalidInputError
from omniload.uris import (
    DEFAULT_API_URL,
    parse_destination_table,
    parse_destination_uri,
    parse_source_uri,
    redact_uri,
)

CWD = "/srv/loads"

DESTINATIONS = [
    ("duckdb://./work.db", "/srv/loads/work.db"),
    ("duckdb:///work.db", "/srv/loads/work.db"),
    ("duckdb://work.db", "/srv/loads/work.db"),
    ("duckdb:///data/work.db", "/srv/loads/data/work.db"),
    ("duckdb://./data/../work.db", "/srv/loads/work.db"),
    ("duckdb:////abs/path/work.db", "/abs/path/work.db"),
    ("duckdb:////abs/path/work.duckdb", "/abs/path/work.duckdb"),
    ("DuckDB:///work.db", "/srv/loads/work.db"),
    ("duckdb:///my%20work.db", "/srv/loads/my work.db"),
    ("duckdb://../work.db", "/srv/work.db"),
]


@pytest.mark.parametrize(("uri", "expected"), DESTINATIONS)
def test_destination_uri_resolves_to_path(uri: str, expected: str) -> None:
    assert parse_destination_uri(uri, cwd=CWD) == expected


BAD_DESTINATIONS = [
    ("duckdb:///:memory:", "in-memory"),
    ("duckdb://:memory:", "in-memory"),
    ("duckdb://", "path is missing"),
    ("duckdb:///", "path is missing"),
    ("duckdb:///work.db?access_mode=read_only", "query parameters"),
    ("duckdb:///data/", "names a folder"),
    ("sqlite:///work.db", "unsupported scheme"),
    ("duckdb+motherduck:///work.db", "unsupported scheme"),
    ("./work.db", "scheme duckdb:// is missing"),
    ("", "Missing --dest-uri"),
    (" duckdb:///work.db", "whitespace"),
]


@pytest.mark.parametrize(("uri", "fragment"), BAD_DESTINATIONS)
def test_destination_uri_rejects_invalid(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_destination_uri(uri, cwd=CWD)
    assert fragment in raised.value.message


SOURCES = [
    ("asana://1234567890?access_token=abc", "1234567890", "abc", DEFAULT_API_URL),
    ("asana://workspace-1337?access_token=fake_token", "workspace-1337", "fake_token",
     DEFAULT_API_URL),
    ("asana://1234567890", "1234567890", None, DEFAULT_API_URL),
    ("asana://1234567890/", "1234567890", None, DEFAULT_API_URL),
    ("ASANA://42?access_token=2%2F123%3Aabc", "42", "2/123:abc", DEFAULT_API_URL),
    ("asana://42?access_token=t&api_url=http://127.0.0.1:8080/api/1.0/", "42", "t",
     "http://127.0.0.1:8080/api/1.0"),
    ("asana://42?api_url=http%3A%2F%2F127.0.0.1%3A8080%2Fapi%2F1.0", "42", None,
     "http://127.0.0.1:8080/api/1.0"),
]


@pytest.mark.parametrize(("uri", "workspace", "token", "api_url"), SOURCES)
def test_source_uri_parts(uri: str, workspace: str, token: str | None, api_url: str) -> None:
    source = parse_source_uri(uri)
    assert source.workspace == workspace
    assert source.access_token == token
    assert source.api_url == api_url


BAD_SOURCES = [
    ("workspace-1337?access_token=s3cret", "scheme asana:// is missing"),
    ("https://app.asana.com/0/42?access_token=s3cret", "unsupported scheme"),
    ("asana://?access_token=s3cret", "workspace gid is missing"),
    ("asana:42?access_token=s3cret", "scheme asana:// is missing"),
    ("asana://user:s3cret@42", "user info"),
    ("asana://42:8080?access_token=s3cret", "may contain only"),
    ("asana://42/projects?access_token=s3cret", "unexpected path"),
    ("asana://42?access_token=s3cret#top", "fragment"),
    ("asana://42?token=s3cret", "unknown parameter 'token'"),
    ("asana://42?access_token=s3cret&access_token=s3cret", "given twice"),
    ("asana://42?access_token=", "is empty"),
    ("asana://42?access_token=s3%20cret", "whitespace"),
    ("asana://42?access_token=s3cret&api_url=ftp://example.invalid", "not an http"),
    ("asana://42?access_token=s3cret&api_url=http://", "not an http"),
    ("asana://42?access_token=s3cret&api_url=127.0.0.1:8080", "not an http"),
    ("asana://42?access_token=2/1:s3cret?api_url=http://127.0.0.1:8080/api/1.0",
     "the access_token value contains '?'. Separate the parameters of --source-uri with '&'"),
    ("asana://42?access_token=s3cret%3Fapi_url%3Dx", "the access_token value contains '?'"),
    ("asana://42?access_token=s3cret=api_url", "the access_token value contains '='"),
    ("asana://42?access_token=s3cret%24%25", "characters that Asana tokens never contain"),
    ("asana://42?access_token=s3cret%22", "expected only letters, digits, '/', ':', '-'"),
    ("asana://42&api_url=http://127.0.0.1:8080/api/1.0", "must start with '?', not '&'"),
]


@pytest.mark.parametrize(("uri", "fragment"), BAD_SOURCES)
def test_source_uri_rejects_invalid(uri: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_source_uri(uri)
    assert fragment in raised.value.message
    assert "s3cret" not in raised.value.message


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("asana://42?access_token=abc&api_url=http://h", "asana://42?access_token=***&api_url=http://h"),
        ("asana://u:pw@42", "asana://***@42"),
        ("asana://42?api_url=http://h&access_token=abc", "asana://42?api_url=http://h&access_token=***"),
    ],
)
def test_redact_uri_masks_credentials(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


@pytest.mark.parametrize(
    ("name", "schema", "table"),
    [("public.tasks", "public", "tasks"), ("raw_asana.Tasks_2", "raw_asana", "Tasks_2"),
     ("_stage.t", "_stage", "t")],
)
def test_destination_table_splits(name: str, schema: str, table: str) -> None:
    parsed = parse_destination_table(name)
    assert (parsed.schema, parsed.table) == (schema, table)


@pytest.mark.parametrize(
    "name",
    ["tasks", "a.b.c", ".tasks", "public.", 'public."tasks"', "public.tasks;drop",
     "public.my tasks", "1schema.tasks", "_omniload.state", "_OMNILOAD.tasks",
     "public." + "t" * 64],
)
def test_destination_table_rejects_invalid(name: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_destination_table(name)
    assert "--dest-table" in raised.value.message


def test_relative_destination_uses_working_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_destination_uri("duckdb:///work.db") == os.path.join(str(tmp_path), "work.db")


ASANA_SHAPED_TOKENS = ["2/1204857/1208888:9f8e7d6c5b4a", "0/5f3a9c1e", "1/a-b_c.d"]


@pytest.mark.parametrize("token", ASANA_SHAPED_TOKENS)
def test_source_uri_accepts_asana_tokens(token: str) -> None:
    assert parse_source_uri(f"asana://42?access_token={token}").access_token == token


def test_user_info_error_reads_cleanly() -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_source_uri("asana://s3cret@workspace-1337?api_url=http://127.0.0.1:9/api/1.0")

    shown = redact_uri(raised.value.message)
    assert "***" not in shown
    assert "access_token query parameter" in shown
    assert "s3cret" not in shown
