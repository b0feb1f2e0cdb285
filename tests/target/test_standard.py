"""singer-sdk's standard target tests, each followed by a check of what landed in DuckDB.

Every test of `singer_sdk.testing.target_tests` runs except one, skipped below with
its reason. Each subclass adds `validate()`, which the SDK calls after the test.
"""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetArrayData,
    TargetCamelcaseComplexSchema,
    TargetCamelcaseTest,
    TargetCliPrintsTest,
    TargetDuplicateRecords,
    TargetEncodedStringData,
    TargetInvalidSchemaTest,
    TargetNoPrimaryKeys,
    TargetOptionalAttributes,
    TargetPrimaryKeyUpdates,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
    TargetRecordMissingOptionalFields,
    TargetRecordMissingRequiredProperty,
    TargetSchemaNoProperties,
    TargetSchemaUpdates,
    TargetSpecialCharsInAttributes,
)

from target_duckdb.target import TargetDuckDB
from tests.target.helpers import column_types, query, table_names

DATABASE = "standard.duckdb"


class _Checks:
    """Helpers for validate(); `resource` is the test's tmp_path."""

    resource: t.Any

    @property
    def database(self) -> Path:
        return Path(self.resource) / DATABASE

    def rows(self, sql: str) -> list[tuple]:
        return query(self.database, sql)


class ArrayData(_Checks, TargetArrayData):
    def validate(self) -> None:
        assert column_types(self.database, "main", "test_array_data") == {"id": "BIGINT", "fruits": "JSON"}
        rows = self.rows("SELECT id, fruits FROM test_array_data ORDER BY id")
        assert [row[0] for row in rows] == [1, 2, 3, 4]
        assert json.loads(rows[3][1]) == ["orange", "banana", "apple", "pear"]


class CamelcaseComplexSchema(_Checks, TargetCamelcaseComplexSchema):
    def validate(self) -> None:
        types = column_types(self.database, "main", "ForecastingTypeToCategory")
        # anyOf of a date-time string and a plain string can hold any string.
        assert types["CreatedDate"] == "VARCHAR"
        assert types["IsDeleted"] == "BOOLEAN"
        assert types["DisplayPosition"] == "BIGINT"
        assert self.rows('SELECT count(*) FROM "ForecastingTypeToCategory"') == [(0,)]


class Camelcase(_Checks, TargetCamelcaseTest):
    def validate(self) -> None:
        assert column_types(self.database, "main", "TestCamelcase") == {
            "Id": "VARCHAR",
            "clientName": "VARCHAR",
        }
        assert self.rows('SELECT "Id", "clientName" FROM "TestCamelcase" ORDER BY 1') == [
            ("1", "Gitter Windows Desktop App"),
            ("2", "Gitter iOS App"),
        ]


class CliPrints(TargetCliPrintsTest):
    def validate(self) -> None:
        about = self.target._get_about_info()  # noqa: SLF001
        settings = set(about.settings["properties"])
        assert {"path", "default_target_schema", "stream_settings", "state_table", "load_method", "hard_delete"} <= settings


class DuplicateRecords(_Checks, TargetDuplicateRecords):
    def validate(self) -> None:
        assert self.rows("SELECT id, metric FROM test_duplicate_records ORDER BY id") == [(1, 100), (2, 20)]


class EncodedStringData(_Checks, TargetEncodedStringData):
    def validate(self) -> None:
        strings = dict(self.rows("SELECT id, info FROM test_strings"))
        assert len(strings) == 11
        assert strings[2] == "απλή συμβολοσειρά"
        assert strings[6] == 'various " \\ / \n escape sequences'
        assert strings[10] == "Double quoting: \\u0000 \\u0041 \\u0001"
        objects = dict(self.rows("SELECT id, info FROM test_strings_in_objects"))
        assert json.loads(objects[3])["value"] == "简单的字串"
        arrays = dict(self.rows("SELECT id, strings FROM test_strings_in_arrays"))
        assert json.loads(arrays[2]) == ["chaîne simple", 'quoted "string"']


class InvalidSchema(_Checks, TargetInvalidSchemaTest):
    def validate(self) -> None:
        assert not self.database.exists() or table_names(self.database) == set()


class NoPrimaryKeys(_Checks, TargetNoPrimaryKeys):
    def validate(self) -> None:
        assert self.rows("SELECT id, metric FROM test_no_pk ORDER BY id") == [(1, 11), (2, 22), (3, 33)]


class OptionalAttributes(_Checks, TargetOptionalAttributes):
    def validate(self) -> None:
        assert self.rows("SELECT id, optional FROM test_optional_attributes ORDER BY id") == [
            (1, "This is optional"),
            (2, None),
            (3, "Also optional"),
            (4, None),
        ]


class PrimaryKeyUpdates(_Checks, TargetPrimaryKeyUpdates):
    def validate(self) -> None:
        assert self.rows("SELECT id, name, email FROM example_stream ORDER BY id") == [
            (1, "Alice", "alice@example.com"),
            (2, "Bob", "bob@example.com"),
        ]


class RecordBeforeSchema(_Checks, TargetRecordBeforeSchemaTest):
    def validate(self) -> None:
        assert not self.database.exists() or table_names(self.database) == set()


class RecordMissingKeyProperty(_Checks, TargetRecordMissingKeyProperty):
    def validate(self) -> None:
        names = table_names(self.database) if self.database.exists() else set()
        if "main.test_record_missing_key_property" in names:
            assert self.rows("SELECT count(*) FROM test_record_missing_key_property") == [(0,)]


class RecordMissingOptionalFields(_Checks, TargetRecordMissingOptionalFields):
    def validate(self) -> None:
        assert self.rows("SELECT id, optional FROM record_missing_fields ORDER BY id") == [
            (1, "now you see me"),
            (2, None),
        ]


class RecordMissingRequiredProperty(_Checks, TargetRecordMissingRequiredProperty):
    def validate(self) -> None:
        assert self.rows("SELECT id, metric FROM test_record_missing_required_property") == [(None, 3215)]


class SchemaNoProperties(_Checks, TargetSchemaNoProperties):
    def validate(self) -> None:
        with_properties = self.rows("SELECT object_store FROM test_object_schema_with_properties")
        assert sorted(json.loads(value)["metric"] for (value,) in with_properties) == [187, 203]
        without = self.rows("SELECT object_store FROM test_object_schema_no_properties")
        assert sorted(json.loads(value)["metric"] for (value,) in without) == [1, 2]


class SchemaUpdates(_Checks, TargetSchemaUpdates):
    def validate(self) -> None:
        types = column_types(self.database, "main", "test_schema_updates")
        assert types == {
            "id": "BIGINT",
            "a1": "DOUBLE",
            "a2": "VARCHAR",
            "a3": "BOOLEAN",
            "a4": "JSON",
            "a5": "JSON",
            "a6": "BIGINT",
        }
        rows = self.rows("SELECT id, a3, a6 FROM test_schema_updates ORDER BY id")
        assert rows == [
            (1, None, None),
            (2, True, None),
            (3, False, None),
            (4, True, None),
            (5, False, 985),
            (6, True, 341),
        ]


class SpecialCharsInAttributes(_Checks, TargetSpecialCharsInAttributes):
    def validate(self) -> None:
        rows = self.rows('SELECT "_id", d FROM "test:SpecialChars!in?attributes"')
        assert len(rows) == 1
        assert json.loads(rows[0][1])["agent:os:version"] == "10.13.1"


# Not run: TargetMultipleStateMessages. It expects the STATE messages that
# singer-sdk's own drain schedule emits (after fixed record counts), and singer-sdk
# leaves it out of its target suite too. This target emits the latest STATE after
# each committed batch; tests/target/test_state.py covers that order.
STANDARD_TESTS = [
    ArrayData,
    CamelcaseComplexSchema,
    Camelcase,
    CliPrints,
    DuplicateRecords,
    EncodedStringData,
    InvalidSchema,
    NoPrimaryKeys,
    OptionalAttributes,
    PrimaryKeyUpdates,
    RecordBeforeSchema,
    RecordMissingKeyProperty,
    RecordMissingOptionalFields,
    RecordMissingRequiredProperty,
    SchemaNoProperties,
    SchemaUpdates,
    SpecialCharsInAttributes,
]

_StandardTests = get_target_test_class(
    TargetDuckDB,
    config={"path": "unused.duckdb"},
    include_target_tests=False,
    custom_suites=[SingerTestSuite(kind="target", tests=STANDARD_TESTS)],
)


class TestTargetDuckDBStandard(_StandardTests):  # type: ignore[misc,valid-type]
    """The standard suite, each test on a fresh DuckDB file."""

    @pytest.fixture
    def resource(self, tmp_path: Path) -> Path:
        return tmp_path

    @pytest.fixture
    def runner(self, tmp_path: Path) -> TargetTestRunner:
        return TargetTestRunner(
            target_class=TargetDuckDB,
            config={"path": str(tmp_path / DATABASE)},
            parse_env_config=False,
        )


def test_standard_suite_covers_every_sdk_test() -> None:
    from singer_sdk.testing import target_tests  # noqa: PLC0415

    sdk_tests = {
        cls.name
        for cls in vars(target_tests).values()
        if isinstance(cls, type) and getattr(cls, "name", None) and cls.__module__ == target_tests.__name__
    }
    covered = {cls.name for cls in STANDARD_TESTS}
    assert sdk_tests - covered == {"multiple_state_messages"}


