"""Great Expectations suites built from the dbt manifest: one per raw source table and per mart.

The rules are declared once, as dbt data tests in the dbt project's YAML (keys, accepted values,
ranges, and a few table-level tests of dbt_project/macros/generic_tests.sql); this module only
translates the table-level ones into expectations. Tables are named by the manifest too: a mart by
its model's schema and alias (the candidate schema dbt builds it into, for write-audit-publish), a
raw table by its source's schema and identifier. Reconciliations between tables are dbt singular
tests (dbt_project/tests), checked there only.

A suite is plain data (expectation class names and arguments): it can be built and inspected
without importing great_expectations, which takes seconds; expectations/gx_project.py runs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The marts are gated between their build and their publication; staging and intermediate are views
# the marts read, and their dbt tests stay dbt's.
GATED_MODEL_SCHEMA = "marts"


@dataclass(frozen=True)
class Expectation:
    """One great_expectations.expectations class by name, with its arguments."""

    type: str
    kwargs: Mapping[str, Any]
    # The dbt test it was translated from: GX shows it with each result, so a failure names its rule.
    description: str | None = None


@dataclass(frozen=True)
class Suite:
    schema: str  # the published schema, as the Dagster asset keys name the table
    table: str
    candidate_schema: str  # where dbt builds the table before publication; the same for a source
    expectations: list[Expectation] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def _quoted_value(value: Any) -> Any:
    # accepted_values quotes its values into SQL itself, so the YAML doubles an apostrophe.
    return value.replace("''", "'") if isinstance(value, str) else value


def _accepted_values(args: Mapping[str, Any]) -> Expectation:
    return Expectation(
        "ExpectColumnValuesToBeInSet",
        {"column": args["column_name"], "value_set": [_quoted_value(value) for value in args["values"]]},
    )


def _every_value_present(args: Mapping[str, Any]) -> Expectation:
    return Expectation(
        "ExpectColumnDistinctValuesToContainSet",
        {"column": args["column_name"], "value_set": [_quoted_value(value) for value in args["values"]]},
    )


def _accepted_range(args: Mapping[str, Any]) -> Expectation:
    bounds = {bound: args[bound] for bound in ("min_value", "max_value") if args.get(bound) is not None}
    return Expectation("ExpectColumnValuesToBeBetween", {"column": args["column_name"], **bounds})


def _at_least_column(args: Mapping[str, Any]) -> Expectation:
    return Expectation(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {
            "column_A": args["column_name"],
            "column_B": args["other_column"],
            "or_equal": True,
            "ignore_row_if": "either_value_is_missing",
        },
    )


def _no_missing_day(args: Mapping[str, Any]) -> Expectation:
    column = args["column_name"]
    # `{batch}` is GX's placeholder for the validated table.
    query = f"""
        select missing.day::date as missing_day
        from (select min({column}) as first_day, max({column}) as last_day from {{batch}}) as bounds
        cross join generate_series(bounds.first_day, bounds.last_day, interval '1 day') as missing (day)
        where not exists (select 1 from {{batch}} as present where present.{column} = missing.day::date)
    """
    return Expectation(
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": query.strip()},
        description=f"Every day from the first to the last {column} has a row.",
    )


# dbt generic test name -> its expectation, from the test's arguments (manifest test_metadata.kwargs).
TRANSLATIONS: dict[str, Callable[[Mapping[str, Any]], Expectation]] = {
    "not_null": lambda args: Expectation("ExpectColumnValuesToNotBeNull", {"column": args["column_name"]}),
    "unique": lambda args: Expectation("ExpectColumnValuesToBeUnique", {"column": args["column_name"]}),
    "unique_combination_of_columns": lambda args: Expectation(
        "ExpectCompoundColumnsToBeUnique", {"column_list": list(args["combination_of_columns"])}
    ),
    "accepted_values": _accepted_values,
    "every_value_present": _every_value_present,
    "accepted_range": _accepted_range,
    "at_least_column": _at_least_column,
    "has_rows": lambda args: Expectation("ExpectTableRowCountToBeBetween", {"min_value": 1}),
    "no_missing_day": _no_missing_day,
}


def read_manifest(manifest_path: Path) -> dict[str, Any]:
    return json.loads(Path(manifest_path).read_text())


def _tested_node(test: Mapping[str, Any]) -> str | None:
    # A model's test names it as attached_node; a source's test only depends on the source.
    return test.get("attached_node") or next(iter(test["depends_on"]["nodes"]), None)


def _described(expectation: Expectation, test: Mapping[str, Any]) -> Expectation:
    if expectation.description:
        return expectation
    return Expectation(expectation.type, expectation.kwargs, description=f"dbt test {test['name']}")


def _empty_suites(manifest: Mapping[str, Any]) -> dict[str, Suite]:
    """A suite for each gated table, by manifest unique id."""
    suites: dict[str, Suite] = {}
    for unique_id, source in manifest["sources"].items():
        # A source's documented columns are the loader's contract (ingestion/CONTRACT.md): no dbt
        # contract enforces them, so the gate does.
        documented = [
            Expectation(
                "ExpectTableColumnsToMatchSet",
                {"column_set": list(source["columns"]), "exact_match": True},
                description="The columns are those the dbt source documents.",
            )
        ]
        expectations = documented if source["columns"] else []
        suites[unique_id] = Suite(source["schema"], source["identifier"], source["schema"], expectations)
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] == "model" and node["config"].get("schema") == GATED_MODEL_SCHEMA:
            suites[unique_id] = Suite(node["config"]["schema"], node["alias"], node["schema"])
    return suites


def _translated_tests(manifest: Mapping[str, Any], suites: Mapping[str, Suite]) -> Iterator[tuple[dict[str, Any], Suite]]:
    """Each dbt test that becomes an expectation, with its table's suite: a kind with a translation,
    on a gated table, failing a build (severity error: a warning gates nothing). Other tests stay dbt's."""
    tests = (node for node in manifest["nodes"].values() if node["resource_type"] == "test" and node.get("test_metadata"))
    for test in sorted(tests, key=lambda test: test["unique_id"]):
        suite = suites.get(_tested_node(test))
        fails_a_build = str(test["config"]["severity"]).lower() == "error"
        if test["test_metadata"]["name"] in TRANSLATIONS and suite is not None and fails_a_build:
            yield test, suite


def suites_from_manifest(manifest: Mapping[str, Any]) -> dict[str, Suite]:
    """Every gated table's suite, by its name (`marts.kpi_daily`), built from its dbt tests."""
    suites = _empty_suites(manifest)
    for test, suite in _translated_tests(manifest, suites):
        arguments = {"column_name": test.get("column_name"), **test["test_metadata"]["kwargs"]}
        suite.expectations.append(_described(TRANSLATIONS[test["test_metadata"]["name"]](arguments), test))
    return {suite.name: suite for suite in suites.values()}


def load_suites(manifest_path: Path) -> dict[str, Suite]:
    return suites_from_manifest(read_manifest(manifest_path))


def dbt_tests_evaluated_by_great_expectations(manifest: Mapping[str, Any]) -> list[str]:
    """The names of the dbt tests the gates evaluate, so that dbt need not evaluate them as well."""
    return sorted(test["name"] for test, _ in _translated_tests(manifest, _empty_suites(manifest)))
