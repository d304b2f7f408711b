"""Great Expectations suites as blocking Dagster asset checks: bad data stops before it moves on.

A failing raw check stops dbt; a failing mart check, run on the candidate schemas dbt just built,
stops their publication (orchestration/publication.py), so the dashboards keep the last good data.

The suites of one stage run in one op, through one GX checkpoint with one Data Docs update: a GX
context, checkpoint and Data Docs build per suite would cost seconds each, on every new file. Each
suite still reports as its own check, `great_expectations_<table>`. A blocking check that fails
fails its op, so a failing mart suite holds back every Superset asset, not only its own dataset:
the dashboards then show one consistent state of the marts.
"""

from collections.abc import Iterator

import dagster as dg

from expectations.gx_project import ExpectationOutcome, SuiteOutcome, data_docs_index, validate
from expectations.results import record
from expectations.suites import Suite, load_suites
from orchestration.dbt_cli import dbt_project
from orchestration.metadata import markdown_table
from orchestration.resources import GreatExpectationsResource, WarehouseResource

SUITES = load_suites(dbt_project.manifest_path)


def _check_key(suite: Suite) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey([suite.schema, suite.table]), f"great_expectations_{suite.table}")


def _shown(expectation: ExpectationOutcome) -> object:
    # Samples as plain values: the list's own str() would show Decimal('1.5000').
    if expectation.sample_values:
        return ", ".join(str(value) for value in expectation.sample_values)
    return expectation.observed


def _check_result(outcome: SuiteOutcome, data_docs: str) -> dg.AssetCheckResult:
    key = _check_key(SUITES[outcome.suite])
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "expectations_evaluated": len(outcome.expectations),
            "expectations_failed": len(outcome.failed),
            "failed": markdown_table(
                ["expectation", "column", "description", "unexpected", "sample values / observed"],
                [[e.expectation, e.column, e.description, e.unexpected_count, _shown(e)] for e in outcome.failed],
            ),
            "results": markdown_table(
                ["expectation", "column", "description", "passed", "unexpected", "sample values / observed"],
                [
                    [e.expectation, e.column, e.description, e.success, e.unexpected_count, _shown(e)]
                    for e in outcome.expectations
                ],
            ),
            "data_docs": dg.MetadataValue.path(data_docs),
        },
    )


def _stage_checks(stage: str, suite_names: list[str]) -> dg.AssetChecksDefinition:
    keys = {_check_key(SUITES[name]): name for name in suite_names}

    @dg.multi_asset_check(
        name=f"great_expectations_{stage}",
        specs=[
            dg.AssetCheckSpec(
                name=key.name,
                asset=key.asset_key,
                blocking=True,
                description=f"Great Expectations suite {name} (built from the dbt tests by expectations/suites.py); results in ops.quality_results.",
            )
            for key, name in keys.items()
        ],
        # A run may select some of the checks (e.g. one mart's): only their suites run.
        can_subset=True,
    )
    def checks(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, great_expectations: GreatExpectationsResource
    ) -> Iterator[dg.AssetCheckResult]:
        gx_dir = great_expectations.path
        selected = [name for key, name in keys.items() if key in context.selected_asset_check_keys]
        # The marts are checked where dbt built them, before they are published (write-audit-publish).
        outcomes = validate(
            [SUITES[name] for name in selected], warehouse.url("postgresql+psycopg2"), gx_dir, in_candidate_schemas=True
        )
        record(warehouse.url(), outcomes, context.run.run_id)
        for outcome in outcomes:
            yield _check_result(outcome, str(data_docs_index(gx_dir)))

    return checks


quality_checks = [
    _stage_checks(schema, [name for name, suite in SUITES.items() if suite.schema == schema])
    for schema in dict.fromkeys(suite.schema for suite in SUITES.values())
]
