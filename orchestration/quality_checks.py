"""Great Expectations suites as blocking Dagster asset checks: a failure stops the publication."""

from __future__ import annotations

import dagster as dg

from expectations.suites import SUITES, SuiteOutcome, validate
from orchestration.metadata import markdown_table
from orchestration.settings import load_settings


def _check_result(outcome: SuiteOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "expectations_evaluated": len(outcome.expectations),
            "expectations_failed": len(outcome.failed),
            "results": markdown_table(
                ["expectation", "column", "passed", "unexpected", "sample values / observed"],
                [
                    [e.expectation, e.column, e.success, e.unexpected_count, e.sample_values or e.observed]
                    for e in outcome.expectations
                ],
            ),
        },
    )


def _suite_check(suite_name: str) -> dg.AssetChecksDefinition:
    schema, table, _ = SUITES[suite_name]

    @dg.asset_check(
        asset=dg.AssetKey([schema, table]),
        name=f"great_expectations_{table}",
        blocking=True,
        description=f"Great Expectations suite {suite_name} (expectations/suites.py).",
    )
    def check() -> dg.AssetCheckResult:
        warehouse = load_settings().warehouse
        return _check_result(validate(suite_name, warehouse.url("postgresql+psycopg2")))

    return check


quality_checks = [_suite_check(name) for name in SUITES]
