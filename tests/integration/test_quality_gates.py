"""The Great Expectations gates on the real stack: every suite passes on the pipeline's data, a defect
of each kind fails the expectation written for it, and a failed mart suite stops the publication."""

import numbers
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg.types.json import Jsonb
from test_dbt_models import dbt_build

from expectations.gx_project import SuiteOutcome, validate
from expectations.suites import load_suites
from orchestration.dbt_cli import dbt_project, prepare_manifest

pytestmark = pytest.mark.integration

GAP = "Every day from the first to the last"
# The dbt singular tests that reconcile revenue across tables; GX suites check one table each.
RECONCILIATIONS = ("assert_revenue_reconciles_from_raw_to_marts", "assert_kpi_daily_matches_order_lines_each_day")

# Defects: (table, rows picked, change). The rows picked must be the same after the change.
FIRST_CUSTOMER = "customer_id = (select min(customer_id) from marts.customer_segments)"
RETENTION_ABOVE_1 = (
    "marts.cohort_retention",
    "(cohort_month, months_since_first_order) = (select cohort_month, months_since_first_order"
    " from marts.cohort_retention where months_since_first_order = 1 order by cohort_month limit 1)",
    "update {table} set retention_rate = 1.5 where {where}",
)
LINE_AMOUNT_OFF_BY_A_CENT = (
    "marts.fct_order_lines",
    "order_line_id = (select min(order_line_id) from marts.fct_order_lines)",
    "update {table} set line_amount = line_amount + 0.01 where {where}",
)


@pytest.fixture(scope="module")
def suites():
    prepare_manifest()
    return load_suites(dbt_project.manifest_path)


def _validate(stack, *names: str, keep_results: int | None = None) -> dict[str, SuiteOutcome]:
    specs = [load_suites(dbt_project.manifest_path)[name] for name in names]
    options = {} if keep_results is None else {"keep_results": keep_results}
    outcomes = validate(specs, stack.settings.warehouse.url("postgresql+psycopg2"), stack.settings.home / "gx", **options)
    return {outcome.suite: outcome for outcome in outcomes}


@contextmanager
def _defect(stack, table: str, where: str, change: str) -> Iterator[None]:
    """Damage the rows `where` picks with `change`, committed (GX validates on its own connection),
    and put them back afterwards. `where` must pick the same rows after the change."""
    with stack.warehouse(autocommit=True) as conn:
        (rows,) = conn.execute(f"select json_agg(t) from {table} as t where {where}").fetchone()
        assert rows, f"no row of {table} where {where}"
        conn.execute(change.format(table=table, where=where))
        try:
            yield
        finally:
            with conn.transaction():
                conn.execute(f"delete from {table} where {where}")
                conn.execute(f"insert into {table} select * from jsonb_populate_recordset(null::{table}, %s)", (Jsonb(rows),))


def _sample(value):
    # Numbers come back as int, float or Decimal depending on the column type.
    return float(value) if isinstance(value, numbers.Number) else value


def _failed(outcome: SuiteOutcome) -> list[tuple]:
    return [(e.expectation, e.column, e.description, e.unexpected_count, e.sample_values) for e in outcome.failed]


def test_the_pipeline_gated_every_table_and_all_suites_passed(stack, suites):
    with stack.warehouse() as conn:
        first_run = conn.execute(
            "select suite, bool_and(success) from ops.quality_results"
            " where run_id = (select run_id from ops.quality_results order by evaluated_at limit 1) group by suite"
        ).fetchall()
    assert dict(first_run) == dict.fromkeys(suites, True)


def test_the_gx_project_keeps_only_the_latest_results_of_each_suite(stack):
    gx_dir = stack.settings.home / "gx"
    stores = [
        gx_dir / "gx" / "uncommitted" / "validations",
        gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations",
    ]

    def run_times(schema: str, table: str) -> list[list[str]]:
        return [sorted(path.name for path in (store / schema / table).glob("*/*/")) for store in stores]

    others_before = run_times("marts", "kpi_daily")
    _validate(stack, "marts.dim_date")
    before = run_times("marts", "dim_date")
    _validate(stack, "marts.dim_date", keep_results=1)
    after = run_times("marts", "dim_date")
    assert len(before[0]) >= 2 and before[0] == before[1]
    # The latest result stays, as JSON and as its Data Docs page; other suites keep theirs.
    assert after == [[max(before[0] + after[0])]] * 2 and after[0][0] not in before[0]
    assert run_times("marts", "kpi_daily") == others_before


def test_every_suite_passes_on_the_pipeline_data(stack, suites):
    outcomes = _validate(stack, *suites)
    assert {name: _failed(outcome) for name, outcome in outcomes.items() if not outcome.success} == {}


@pytest.mark.parametrize(
    ("table", "where", "change", "expected"),
    [
        pytest.param(
            "marts.customer_segments",
            FIRST_CUSTOMER,
            "update {table} set segment = 'Bogus' where {where}",
            ("expect_column_values_to_be_in_set", "segment", None, 1, ["Bogus"]),
            id="unknown-segment",
        ),
        pytest.param(
            "marts.customer_segments",
            FIRST_CUSTOMER,
            "update {table} set m_score = 6 where {where}",
            ("expect_column_values_to_be_in_set", "m_score", None, 1, [6]),
            id="score-above-5",
        ),
        pytest.param(
            *RETENTION_ABOVE_1,
            ("expect_column_values_to_be_between", "retention_rate", None, 1, [1.5]),
            id="retention-above-1",
        ),
        pytest.param(
            "marts.kpi_daily",
            "order_date = (select min(order_date) + 1 from marts.kpi_daily)",
            "delete from {table} where {where}",
            ("unexpected_rows_expectation", None, GAP, 1, []),
            id="missing-day",
        ),
    ],
)
def test_a_defect_fails_the_expectation_written_for_it(stack, table, where, change, expected):
    with _defect(stack, table, where, change):
        outcome = _validate(stack, table)[table]
    assert not outcome.success
    expectation, column, description, unexpected_count, samples = expected
    matching = [
        e
        for e in outcome.failed
        if e.expectation == expectation and e.column == column and (description is None or description in e.description)
    ]
    assert len(matching) == 1, _failed(outcome)
    assert matching[0].unexpected_count == unexpected_count
    assert [_sample(value) for value in matching[0].sample_values] == samples


def test_revenue_off_by_a_cent_fails_the_dbt_reconciliations_not_a_gx_suite(stack, tmp_path):
    """Reconciliations are checked once, by dbt: the table-level rules of the GX suites still hold
    (the amount is wrong, not its shape), both reconciling dbt tests fail."""
    with _defect(stack, *LINE_AMOUNT_OFF_BY_A_CENT):
        outcomes = _validate(stack, "marts.fct_order_lines", "marts.kpi_daily")
        result = dbt_build(stack.settings.warehouse.url(), tmp_path, "--select", *RECONCILIATIONS)
    assert {name: outcome.success for name, outcome in outcomes.items()} == {
        "marts.fct_order_lines": True,
        "marts.kpi_daily": True,
    }
    assert result.returncode != 0
    failed = [line for line in result.stdout.splitlines() if "FAIL" in line]
    assert all(any(test in line for line in failed) for test in RECONCILIATIONS), result.stdout[-4000:]
