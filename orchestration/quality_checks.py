"""Great Expectations suites as blocking Dagster asset checks: bad data stops before it moves on.

A failing raw check stops dbt; a failing mart check stops the Superset publication, so the
dashboards keep the last good data.
"""

import dagster as dg

from expectations.results import record
from expectations.suites import SUITES, SuiteOutcome, data_docs_index, validate
from orchestration.metadata import markdown_table
from orchestration.settings import load_settings


def _check_result(outcome: SuiteOutcome, data_docs: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "expectations_evaluated": len(outcome.expectations),
            "expectations_failed": len(outcome.failed),
            "failed": markdown_table(
                ["expectation", "column", "unexpected", "sample values / observed"],
                [[e.expectation, e.column, e.unexpected_count, e.sample_values or e.observed] for e in outcome.failed],
            ),
            "results": markdown_table(
                ["expectation", "column", "passed", "unexpected", "sample values / observed"],
                [
                    [e.expectation, e.column, e.success, e.unexpected_count, e.sample_values or e.observed]
                    for e in outcome.expectations
                ],
            ),
            "data_docs": dg.MetadataValue.path(data_docs),
        },
    )


def _suite_check(suite_name: str) -> dg.AssetChecksDefinition:
    suite = SUITES[suite_name]

    @dg.asset_check(
        asset=dg.AssetKey([suite.schema, suite.table]),
        name=f"great_expectations_{suite.table}",
        blocking=True,
        description=f"Great Expectations suite {suite_name} (expectations/suites.py); results in ops.quality_results.",
    )
    def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        settings = load_settings()
        gx_dir = settings.home / "gx"
        outcome = validate(suite_name, settings.warehouse.url("postgresql+psycopg2"), gx_dir)
        record(settings.warehouse.url(), outcome, context.run.run_id)
        return _check_result(outcome, str(data_docs_index(gx_dir)))

    return check


quality_checks = [_suite_check(name) for name in SUITES]
