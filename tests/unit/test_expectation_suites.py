"""The Great Expectations suites are built from the dbt manifest: every mart and raw table has one, each
dbt test of a translated kind becomes its expectation, and a rule changed in the dbt project only
changes the built suite."""

import ast
import re
import shutil
import subprocess

import dagster as dg
import pytest
import yaml

from expectations.gx_project import gx_expectations
from expectations.suites import Expectation, load_suites, read_manifest, suites_from_manifest
from orchestration.dbt_cli import DBT_EXECUTABLE, dbt_project, prepare_manifest
from orchestration.settings import DBT_PROJECT_DIR

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"


@pytest.fixture(scope="module")
def manifest():
    prepare_manifest()
    return read_manifest(dbt_project.manifest_path)


@pytest.fixture(scope="module")
def suites(manifest):
    return suites_from_manifest(manifest)


def _has(suite, type_: str, **kwargs) -> bool:
    return any(e.type == type_ and all(e.kwargs.get(k) == v for k, v in kwargs.items()) for e in suite.expectations)


def _documented_columns() -> dict[str, set[str]]:
    models = yaml.safe_load((MARTS_DIR / "_marts.yml").read_text())["models"]
    return {f"marts.{model['name']}": {column["name"] for column in model["columns"]} for model in models}


def test_every_mart_model_and_the_raw_tables_have_a_suite(suites):
    raw_tables = {"raw.order_lines", "raw.exchange_rates"}
    forecast_tables = {"forecast.daily_forecast", "forecast.model_accuracy", "forecast.forecast_archive"}
    assert set(suites) == {f"marts.{path.stem}" for path in MARTS_DIR.glob("*.sql")} | raw_tables | forecast_tables


def test_tables_are_those_of_the_manifest_and_marts_are_checked_in_their_candidate_schema(suites, manifest):
    kpi_daily = manifest["nodes"]["model.ecommerce_analytics.kpi_daily"]
    suite = suites["marts.kpi_daily"]
    assert (suite.schema, suite.table, suite.candidate_schema) == ("marts", kpi_daily["alias"], kpi_daily["schema"])
    suffix = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["schema_suffix"]
    assert suite.candidate_schema == f"marts{suffix}" != "marts"
    raw = suites["raw.order_lines"]
    assert (raw.schema, raw.candidate_schema) == ("raw", "raw")


def test_every_suite_builds_into_a_gx_suite(suites):
    import great_expectations as gx

    for name, suite in suites.items():
        assert suite.expectations, name
        built = gx_expectations(suite)
        assert len(gx.ExpectationSuite(name=name, expectations=built).expectations) == len(suite.expectations)
        # A description tells a failed expectation's rule apart in the checks' metadata and ops.quality_results.
        assert all(expectation.description for expectation in built), name


def test_mart_expectations_name_documented_columns(suites):
    documented = _documented_columns()
    for name, suite in suites.items():
        if not name.startswith("marts."):
            continue
        for expectation in suite.expectations:
            kwargs = expectation.kwargs
            columns = [kwargs.get(key) for key in ("column", "column_A", "column_B")] + list(kwargs.get("column_list") or [])
            unknown = {column for column in columns if column} - documented[name]
            assert not unknown, f"{name}: {expectation.type} names undocumented columns {unknown}"


def test_no_suite_reads_another_table(suites):
    # Reconciliations between tables are dbt singular tests (dbt_project/tests), checked there once.
    queries = [
        e.kwargs["unexpected_rows_query"]
        for s in suites.values()
        for e in s.expectations
        if e.type == "UnexpectedRowsExpectation"
    ]
    assert queries
    for query in queries:
        assert "{batch}" in query
        assert not re.search(r"\b(raw|staging|intermediate|marts)(_candidate)?\.", query), query


def test_segment_names_are_those_of_the_dbt_macros(suites):
    macros = (DBT_PROJECT_DIR / "macros" / "rfm.sql").read_text()
    # rfm_segment: the names the case expression assigns, SQL-quoted.
    assigned = [name.replace("''", "'") for name in re.findall(r"(?:then|else) '((?:[^']|'')*)'", macros)]
    # rfm_segment_names: the list segment_summary shows, in display order.
    listed = ast.literal_eval(re.search(r"rfm_segment_names\(\).*?return\((\[.*?\])\)", macros, re.S).group(1))
    assert sorted(assigned) == sorted(listed)
    for name in ("marts.customer_segments", "marts.segment_summary", "marts.customer_value_by_score"):
        assert _has(suites[name], "ExpectColumnValuesToBeInSet", column="segment", value_set=listed), name
    # segment_summary has a row for every segment.
    assert _has(suites["marts.segment_summary"], "ExpectColumnDistinctValuesToContainSet", column="segment", value_set=listed)


def test_the_issue_asks_for_these_expectations(suites):
    segments = suites["marts.customer_segments"]
    for score in ("r_score", "f_score", "m_score"):
        assert _has(segments, "ExpectColumnValuesToBeInSet", column=score, value_set=[1, 2, 3, 4, 5]), score
        assert _has(segments, "ExpectColumnValuesToNotBeNull", column=score), score
    assert _has(
        suites["marts.cohort_retention"], "ExpectColumnValuesToBeBetween", column="retention_rate", min_value=0, max_value=1
    )
    assert _has(suites["marts.fct_orders"], "ExpectColumnValuesToBeInSet", column="order_status")
    assert _has(suites["marts.revenue_trends"], "ExpectCompoundColumnsToBeUnique", column_list=["grain", "period_start"])
    assert _has(suites["marts.kpi_daily"], "ExpectColumnPairValuesAToBeGreaterThanB", column_A="orders", column_B="guest_orders")
    for name in ("marts.kpi_daily", "marts.dim_date"):
        assert any(e.description.startswith("Every day from the first") for e in suites[name].expectations), name
    raw = suites["raw.order_lines"]
    assert _has(raw, "ExpectTableColumnsToMatchSet", exact_match=True)
    assert _has(raw, "ExpectTableRowCountToBeBetween", min_value=1)
    assert _has(raw, "ExpectColumnValuesToBeBetween", column="unit_price", min_value=0)


def _test_node(
    name: str, attached: str | None, depends_on: list[str], column: str | None, kwargs: dict, severity="ERROR"
) -> dict:
    return {
        "resource_type": "test",
        "unique_id": f"test.p.{name}_{depends_on[-1]}_{column}",
        "name": f"{name}_{column}",
        "attached_node": attached,
        "column_name": column,
        "depends_on": {"nodes": depends_on},
        "test_metadata": {"name": name, "kwargs": {"column_name": column, **kwargs}},
        "config": {"severity": severity},
    }


def test_each_dbt_test_kind_translates_into_its_expectation():
    mart, view, source = "model.p.orders", "model.p.stg_orders", "source.p.shop.lines"
    manifest = {
        "sources": {source: {"schema": "raw", "identifier": "lines", "columns": {"id": {}, "qty": {}}}},
        "nodes": {
            mart: {"resource_type": "model", "config": {"schema": "marts"}, "schema": "marts_candidate", "alias": "orders"},
            view: {
                "resource_type": "model",
                "config": {"schema": "staging"},
                "schema": "staging_candidate",
                "alias": "stg_orders",
            },
            **{
                node["unique_id"]: node
                for node in (
                    _test_node("not_null", mart, [mart], "id", {}),
                    _test_node("unique", mart, [mart], "id", {}),
                    _test_node("unique_combination_of_columns", mart, [mart], None, {"combination_of_columns": ["a", "b"]}),
                    _test_node("accepted_values", mart, [mart], "status", {"values": ["done", "Can''t"]}),
                    _test_node("accepted_range", mart, [mart], "share", {"min_value": 0, "max_value": 1}),
                    _test_node("accepted_range", mart, [mart], "returns", {"max_value": 0}),
                    _test_node("at_least_column", mart, [mart], "last_day", {"other_column": "first_day"}),
                    _test_node("has_rows", mart, [mart], None, {}),
                    # A source's tests name it only among their dependencies.
                    _test_node("not_null", None, [source], "qty", {}),
                    # Not translated: warnings do not gate, relationships read two tables, views are not gated.
                    _test_node("accepted_values", mart, [mart], "channel", {"values": ["web"]}, severity="warn"),
                    _test_node("relationships", mart, [view, mart], "id", {"to": "ref('stg_orders')", "field": "id"}),
                    _test_node("not_null", view, [view], "id", {}),
                )
            },
        },
    }
    suites = suites_from_manifest(manifest)
    assert set(suites) == {"marts.orders", "raw.lines"}
    assert suites["marts.orders"].candidate_schema == "marts_candidate"
    assert sorted(((e.type, dict(e.kwargs)) for e in suites["marts.orders"].expectations), key=repr) == sorted(
        [
            ("ExpectColumnValuesToBeBetween", {"column": "returns", "max_value": 0}),
            ("ExpectColumnValuesToBeBetween", {"column": "share", "min_value": 0, "max_value": 1}),
            ("ExpectColumnValuesToBeInSet", {"column": "status", "value_set": ["done", "Can't"]}),
            (
                "ExpectColumnPairValuesAToBeGreaterThanB",
                {"column_A": "last_day", "column_B": "first_day", "or_equal": True, "ignore_row_if": "either_value_is_missing"},
            ),
            ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
            ("ExpectColumnValuesToNotBeNull", {"column": "id"}),
            ("ExpectColumnValuesToBeUnique", {"column": "id"}),
            ("ExpectCompoundColumnsToBeUnique", {"column_list": ["a", "b"]}),
        ],
        key=repr,
    )
    assert suites["raw.lines"].expectations == [
        Expectation(
            "ExpectTableColumnsToMatchSet",
            {"column_set": ["id", "qty"], "exact_match": True},
            description="The columns are those the dbt source documents.",
        ),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "qty"}, description="dbt test not_null_qty"),
    ]


def test_a_rule_changed_in_the_dbt_project_only_changes_the_built_suite(tmp_path, suites):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    marts_yml = project / "models" / "marts" / "_marts.yml"
    text = marts_yml.read_text()
    # A range: retention may now reach 2; an accepted value: the grain `quarter` joins day, week, month.
    retention = (
        "          - accepted_range:\n              arguments:\n                min_value: 0\n                max_value: 1\n"
    )
    assert text.count(retention) == 2  # customer_share of segment_summary, retention_rate of cohort_retention
    head, tail = text.split("  - name: cohort_retention", 1)
    text = head + "  - name: cohort_retention" + tail.replace(retention, retention.replace("max_value: 1", "max_value: 2"), 1)
    assert "values: [day, week, month]" in text
    text = text.replace("values: [day, week, month]", "values: [day, week, month, quarter]", 1)
    marts_yml.write_text(text)
    subprocess.run(
        [DBT_EXECUTABLE, "parse", "--quiet", "--project-dir", str(project), "--profiles-dir", str(project)], check=True
    )
    changed = load_suites(project / "target" / "manifest.json")
    assert _has(suites["marts.cohort_retention"], "ExpectColumnValuesToBeBetween", column="retention_rate", max_value=1)
    assert _has(
        changed["marts.cohort_retention"], "ExpectColumnValuesToBeBetween", column="retention_rate", min_value=0, max_value=2
    )
    assert not _has(changed["marts.cohort_retention"], "ExpectColumnValuesToBeBetween", column="retention_rate", max_value=1)
    assert _has(
        changed["marts.revenue_trends"],
        "ExpectColumnValuesToBeInSet",
        column="grain",
        value_set=["day", "week", "month", "quarter"],
    )
    # Nothing else moved.
    unchanged = {"marts.cohort_retention", "marts.revenue_trends"}
    assert {n: s for n, s in changed.items() if n not in unchanged} == {n: s for n, s in suites.items() if n not in unchanged}


def test_every_suite_is_a_blocking_check_and_the_marts_share_one_op():
    from orchestration.quality_checks import SUITES, quality_checks

    specs = {spec.key: spec for checks in quality_checks for spec in checks.check_specs}
    for suite in SUITES.values():
        key = dg.AssetCheckKey(dg.AssetKey([suite.schema, suite.table]), f"great_expectations_{suite.table}")
        assert specs[key].blocking, key
    # One op, one GX checkpoint and one Data Docs update for all marts: per suite would cost seconds each.
    (marts_op,) = [checks for checks in quality_checks if any(spec.asset_key.path[0] == "marts" for spec in checks.check_specs)]
    assert len(list(marts_op.check_specs)) == sum(1 for suite in SUITES.values() if suite.schema == "marts")
