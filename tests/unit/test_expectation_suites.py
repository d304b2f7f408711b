"""The Great Expectations suites cover every mart, agree with the dbt project and build with GX."""

import ast
import re

import dagster as dg
import pytest
import yaml

from expectations.suites import SEGMENT_NAMES, SUITES
from orchestration.quality_checks import quality_checks
from orchestration.settings import DBT_PROJECT_DIR

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"
MART_SUITES = {name: suite for name, suite in SUITES.items() if suite.schema == "marts"}


@pytest.fixture(scope="module")
def gxe():
    import great_expectations.expectations as gxe

    return gxe


@pytest.fixture(scope="module")
def built(gxe):
    """Every suite's expectations, built as the runner builds them."""
    return {name: suite.expectations(gxe) for name, suite in SUITES.items()}


def _documented_columns() -> dict[str, set[str]]:
    models = yaml.safe_load((MARTS_DIR / "_marts.yml").read_text())["models"]
    return {f"marts.{model['name']}": {column["name"] for column in model["columns"]} for model in models}


def test_every_mart_model_has_a_suite():
    assert set(MART_SUITES) == {f"marts.{path.stem}" for path in MARTS_DIR.glob("*.sql")}


def test_segment_names_are_those_of_the_dbt_macros():
    macros = (DBT_PROJECT_DIR / "macros" / "rfm.sql").read_text()
    # rfm_segment: the names the case expression assigns, SQL-quoted.
    assigned = [name.replace("''", "'") for name in re.findall(r"(?:then|else) '((?:[^']|'')*)'", macros)]
    # rfm_segment_names: the list segment_summary shows, in display order.
    listed = ast.literal_eval(re.search(r"rfm_segment_names\(\).*?return\((\[.*?\])\)", macros, re.S).group(1))
    assert sorted(assigned) == sorted(SEGMENT_NAMES)
    assert listed == SEGMENT_NAMES


def test_every_suite_builds_into_a_gx_suite(built):
    import great_expectations as gx

    for name, expectations in built.items():
        assert expectations, name
        assert len(gx.ExpectationSuite(name=name, expectations=expectations).expectations) == len(expectations)


def test_mart_expectations_name_documented_columns(built):
    documented = _documented_columns()
    for name in MART_SUITES:
        for expectation in built[name]:
            kwargs = expectation.configuration.kwargs
            columns = [kwargs.get(key) for key in ("column", "column_A", "column_B")] + list(kwargs.get("column_list") or [])
            unknown = {column for column in columns if column} - documented[name]
            assert not unknown, f"{name}: {expectation.expectation_type} names undocumented columns {unknown}"


def test_query_expectations_read_their_batch(built, gxe):
    queries = [e for expectations in built.values() for e in expectations if isinstance(e, gxe.UnexpectedRowsExpectation)]
    assert queries
    for expectation in queries:
        assert "{batch}" in expectation.unexpected_rows_query
        # A description tells the failed query apart in the checks' metadata and ops.quality_results.
        assert expectation.description


def test_the_issue_asks_for_these_expectations(built, gxe):
    def has(suite: str, kind: type, **kwargs) -> bool:
        return any(
            isinstance(e, kind) and all(getattr(e, key) == value for key, value in kwargs.items()) for e in built[suite]
        )

    assert has("marts.customer_segments", gxe.ExpectColumnValuesToBeInSet, column="segment", value_set=SEGMENT_NAMES)
    for score in ("r_score", "f_score", "m_score"):
        assert has("marts.customer_segments", gxe.ExpectColumnValuesToBeBetween, column=score, min_value=1, max_value=5)
    assert has("marts.cohort_retention", gxe.ExpectColumnValuesToBeBetween, column="retention_rate", min_value=0, max_value=1)
    for suite in ("marts.kpi_daily", "marts.dim_date"):
        assert any("Every day from the first" in (e.description or "") for e in built[suite]), suite
    for suite in ("marts.fct_order_lines", "marts.kpi_daily", "marts.fct_orders", "marts.segment_summary",
                  "marts.category_performance", "marts.country_performance", "marts.product_performance",
                  "marts.revenue_trends", "marts.sales_daily_by_category_country"):
        assert any("to the cent" in (e.description or "") for e in built[suite]), f"{suite} does not reconcile revenue"


def test_every_suite_is_a_blocking_check_and_the_marts_share_one_op():
    specs = {spec.key: spec for checks in quality_checks for spec in checks.check_specs}
    for suite in SUITES.values():
        key = dg.AssetCheckKey(dg.AssetKey([suite.schema, suite.table]), f"great_expectations_{suite.table}")
        assert specs[key].blocking, key
    # One op, one GX checkpoint and one Data Docs update for all marts: per suite would cost seconds each.
    (marts_op,) = [checks for checks in quality_checks if any(spec.asset_key.path[0] == "marts" for spec in checks.check_specs)]
    assert len(list(marts_op.check_specs)) == len(MART_SUITES)
