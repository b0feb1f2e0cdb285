"""Connection details of the PostgreSQL server the ecosystem tests load into."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class PostgresServer:
    """Connection details of the PostgreSQL server the tests load into."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def connect(self, **kwargs: Any) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.database,
            connect_timeout=5,
            **kwargs,
        )

    def target_config(self, schema: str, **overrides: Any) -> dict[str, Any]:
        """Return a meltanolabs-target-postgres config that loads into ``schema``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "default_target_schema": schema,
            **overrides,
        }


@contextmanager
def fresh_schema(postgres_server: PostgresServer, label: str) -> Iterator[str]:
    """Yield the name of a new, unused schema and drop it with its tables afterwards."""
    schema = f"t_{re.sub(r'[^a-z0-9]+', '_', label.lower())[:30]}_{uuid.uuid4().hex[:8]}"
    try:
        yield schema
    finally:
        with postgres_server.connect(autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
