"""Fixtures for the local server's own tests: Asana's OpenAPI spec as JSON Schema, and a client."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.asana_server import AsanaServer
from tests.asana_spec import spec_path

SPEC_PATH = spec_path()
SPEC_URI = "urn:asana-oas"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def translate_nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true`, which JSON Schema ignores, as schemas that allow null.

    A schema with a `type` gets `"null"` added to it. A schema without one, typically
    `allOf: [{$ref: X}, {nullable: true}]` where the referenced object rejects null, becomes
    `anyOf: [{type: null}, <the schema>]`; a nullable `allOf` member counts for the whole.
    """
    if isinstance(node, list):
        return [translate_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    members = node.get("allOf")
    nullable = node.get("nullable") is True
    out = {
        key: translate_nullable(value)
        for key, value in node.items()
        if key not in ("nullable", "allOf")
    }
    if isinstance(members, list):
        nullable = nullable or any(
            isinstance(m, dict) and m.get("nullable") is True for m in members
        )
        out["allOf"] = [
            translate_nullable({k: v for k, v in m.items() if k != "nullable"})
            if isinstance(m, dict)
            else m
            for m in members
        ]
    if not nullable:
        return out
    if "type" in out and "allOf" not in out and "$ref" not in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [{"type": "null"}, out]}


def flatten_properties(schemas: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the properties of a component schema, following `allOf` and `$ref` chains."""
    schema = schemas[name]
    properties: dict[str, Any] = {}
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            properties.update(flatten_properties(schemas, part["$ref"].rsplit("/", 1)[1]))
        else:
            properties.update(part.get("properties", {}))
    return properties


def is_opt_in(prop: dict[str, Any]) -> bool:
    """Tell whether a property's description, or an allOf member's, marks it "[Opt In]"."""
    texts = [prop.get("description", "")]
    texts += [
        member.get("description", "")
        for member in prop.get("allOf", [])
        if isinstance(member, dict)
    ]
    return any("[Opt In]" in text for text in texts)


class Spec:
    """Asana's OpenAPI document with validators for its component schemas."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.raw_schemas: dict[str, Any] = document["components"]["schemas"]
        translated = translate_nullable(copy.deepcopy(document))
        self.registry: Registry = Registry().with_resource(
            SPEC_URI, Resource.from_contents(translated, default_specification=DRAFT4)
        )
        checker = jsonschema.FormatChecker()
        # Asana writes every date-time as `2024-05-24T19:50:18.053Z`; accept nothing looser.
        checker.checks("date-time")(
            lambda value: not isinstance(value, str) or bool(TIMESTAMP.match(value))
        )
        checker.checks("date")(lambda value: not isinstance(value, str) or bool(DATE.match(value)))
        # The spec types `email_domains` items as `uri` yet gives `asana.com` as the example, so a
        # bare domain name passes too.
        checker.checks("uri")(
            lambda value: (
                not isinstance(value, str) or _is_absolute_uri(value) or bool(DOMAIN.match(value))
            )
        )
        self.format_checker = checker
        self._validators: dict[str, jsonschema.Draft4Validator] = {}

    def validator(self, name: str) -> jsonschema.Draft4Validator:
        if name not in self._validators:
            self._validators[name] = jsonschema.Draft4Validator(
                {"$ref": f"{SPEC_URI}#/components/schemas/{name}"},
                registry=self.registry,
                format_checker=self.format_checker,
            )
        return self._validators[name]

    def errors(self, name: str, instance: Any) -> list[str]:
        """Return readable validation errors of `instance` against component schema `name`."""
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in self.validator(name).iter_errors(instance)
        ]

    def properties(self, name: str) -> dict[str, Any]:
        return flatten_properties(self.raw_schemas, name)

    def opt_in_fields(self, name: str) -> set[str]:
        return {key for key, prop in self.properties(name).items() if is_opt_in(prop)}


def _is_absolute_uri(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.scheme) and (bool(parts.netloc) or parts.scheme in ("mailto", "urn"))


@pytest.fixture(scope="session")
def spec() -> Spec:
    """The spec, loaded once per session because parsing 66,000 lines of YAML is slow."""
    if not SPEC_PATH.is_file():
        pytest.fail(f"Asana's OpenAPI spec not found at {SPEC_PATH}; set ASANA_OAS_PATH to it")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return Spec(yaml.load(handle, Loader=loader))  # noqa: S506 (a safe loader)


class Client:
    """A requests session bound to one server and token."""

    def __init__(self, server: AsanaServer, token: str | None) -> None:
        self.server = server
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> requests.Response:
        url = path if path.startswith("http") else self.server.base_url + path
        return self.session.get(url, params=params or None, timeout=30)

    def data(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def all_pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Follow next_page to the end with limit 100 unless given; return all records."""
        params.setdefault("limit", 100)
        response = self.get(path, **params)
        records = []
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            records.extend(body["data"])
            if body["next_page"] is None:
                return records
            response = self.get(body["next_page"]["uri"])

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def make_client() -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(server: AsanaServer, token: str | None = None) -> Client:
        """Return a client of `server` sending `token`, by default the full-access one."""
        client = Client(server, server.token if token is None else token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(asana_server: AsanaServer, make_client: Callable[..., Client]) -> Client:
    return make_client(asana_server)
